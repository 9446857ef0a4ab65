// The plant's nodes in the server's own namespace (index 1): one Object per process area, one
// Variable per signal of signals.ts, and optionally a flat `Bulk` object of Doubles for load tests.
// Measured values are pushed with setValueFromSource (the source timestamp is when the value
// changed, as an RTU's would be); writable ones are bound to the physics, so a write takes effect
// at once and a read shows what the controller really uses.
import {
  DataType, StatusCodes, Variant, makeEUInformation,
  type Namespace, type StatusCode, type UAObject, type UAVariable,
} from 'node-opcua';
import type { SewagePlantPhysics } from './physics.ts';
import { PLANT_SIGNALS, bulkNodeIdOf, nodeIdOf, type SignalDef, type SignalName, type SignalValue, type WritableSignalName } from './signals.ts';

/** Fastest a client may sample (ms); without it node-opcua samples bound variables once a second. */
export const MIN_SAMPLING_MS = 100;

// UNECE Recommendation 20 common codes, as OPC UA Part 8 §5.6.3 asks for EngineeringUnits.
const UNITS: Record<string, [code: string, symbol: string, name: string]> = {
  m: ['MTR', 'm', 'metre'],
  'm3/h': ['MQH', 'm³/h', 'cubic metre per hour'],
  'mg/L': ['M1', 'mg/L', 'milligram per litre'],
  Hz: ['HTZ', 'Hz', 'hertz'],
  A: ['AMP', 'A', 'ampere'],
  kW: ['KWT', 'kW', 'kilowatt'],
  kWh: ['KWH', 'kW·h', 'kilowatt hour'],
  h: ['HUR', 'h', 'hour'],
  min: ['MIN', 'min', 'minute'],
};

const DATA_TYPES: Record<SignalDef['type'], DataType> = {
  Double: DataType.Double, Boolean: DataType.Boolean, Int32: DataType.Int32,
  UInt16: DataType.UInt16, UInt32: DataType.UInt32, String: DataType.String,
};

export interface PlantAddressSpace {
  nodeIds: Readonly<Record<SignalName, string>>;
  bulkNodeIds: readonly string[];
  /** Pushes what changed since the last call (value or sensor status) with `now` as source time. */
  publish(now: Date): void;
  /** Gives the next `count` bulk variables (round robin) a new value. */
  publishBulk(count: number, now: Date): void;
}

function statusOf(physics: SewagePlantPhysics, name: SignalName): StatusCode {
  switch (physics.sensorFault(name)) {
    case 'bad': return StatusCodes.BadSensorFailure;
    case 'uncertain': return StatusCodes.UncertainLastUsableValue;
    default: return StatusCodes.Good;
  }
}

export function buildAddressSpace(ns: Namespace, objectsFolder: UAObject, physics: SewagePlantPhysics, bulk: number): PlantAddressSpace {
  const folders = new Map<string, UAObject>();
  folders.set('', ns.addObject({
    browseName: 'Plant', nodeId: 's=Plant', organizedBy: objectsFolder,
    description: 'sewage treatment plant with its inlet pump station (cityedge simulator)',
  }));
  /** The Object for a dotted prefix, created with its parents on first use. */
  const folder = (path: string): UAObject => {
    const found = folders.get(path);
    if (found) return found;
    const cut = path.lastIndexOf('.');
    const parent = folder(cut < 0 ? '' : path.slice(0, cut));
    const obj = ns.addObject({ browseName: path.slice(cut + 1), nodeId: `s=Plant.${path}`, componentOf: parent });
    folders.set(path, obj);
    return obj;
  };

  const initial = physics.signals();
  const measured: { name: SignalName; dataType: DataType; node: UAVariable; last: SignalValue; status: StatusCode }[] = [];
  const nodeIds = {} as Record<SignalName, string>;

  for (const def of PLANT_SIGNALS as readonly SignalDef[]) {
    const name = def.name as SignalName;
    const dataType = DATA_TYPES[def.type];
    const cut = name.lastIndexOf('.');
    const base = {
      browseName: name.slice(cut + 1),
      nodeId: `s=Plant.${name}`,
      componentOf: folder(cut < 0 ? '' : name.slice(0, cut)),
      description: def.description,
      dataType: def.type,
      minimumSamplingInterval: MIN_SAMPLING_MS,
    };
    const write = def.write;
    const value = write
      ? {
          get: () => new Variant({ dataType, value: physics.signals()[name] }),
          // node-opcua has already refused a value outside the InstrumentRange with BadOutOfRange
          // and a wrong type with BadTypeMismatch; NaN passes its range check, so check again.
          set: (v: Variant): StatusCode => {
            const n = Number(v.value);
            if (!Number.isFinite(n) || n < write.min || n > write.max) return StatusCodes.BadOutOfRange;
            physics.write(name as WritableSignalName, v.value as number | boolean);
            return StatusCodes.Good;
          },
        }
      : { dataType, value: initial[name] };
    // Explicit both ways: node-opcua's default lets a client overwrite a measured value.
    const level = write ? 'CurrentRead | CurrentWrite' : 'CurrentRead';
    const access = { accessLevel: level, userAccessLevel: level } as const;
    let node: UAVariable;
    if (def.unit !== undefined || (write && def.type !== 'Boolean')) {
      // AnalogItemType: EURange and EngineeringUnits for a display, and an InstrumentRange on
      // writable ones so the server itself answers an out-of-range write with BadOutOfRange.
      const [low, high] = def.range ?? [write!.min, write!.max];
      const unit = def.unit === undefined ? undefined : UNITS[def.unit];
      node = ns.addAnalogDataItem({
        ...base, ...access, value,
        engineeringUnitsRange: { low, high },
        ...(unit ? { engineeringUnits: makeEUInformation(...unit) } : {}),
        ...(write ? { instrumentRange: { low: write.min, high: write.max } } : {}),
      });
    } else {
      node = ns.addVariable({ ...base, ...access, value });
    }
    nodeIds[name] = nodeIdOf(name);
    if (!write) measured.push({ name, dataType, node, last: initial[name], status: StatusCodes.Good });
  }

  const bulkNodes: UAVariable[] = [];
  const bulkNodeIds: string[] = [];
  if (bulk > 0) {
    const bulkFolder = ns.addObject({ browseName: 'Bulk', nodeId: 's=Bulk', organizedBy: objectsFolder, description: 'load-test variables' });
    for (let i = 0; i < bulk; i++) {
      const id = bulkNodeIdOf(i);
      const key = id.slice('ns=1;s=Bulk.'.length);
      bulkNodes.push(ns.addVariable({
        browseName: key, nodeId: `s=Bulk.${key}`, componentOf: bulkFolder, dataType: 'Double',
        minimumSamplingInterval: MIN_SAMPLING_MS, value: { dataType: DataType.Double, value: 0 },
      }));
      bulkNodeIds.push(id);
    }
  }
  const bulkCounts = new Float64Array(bulk);
  let bulkCursor = 0;

  return {
    nodeIds,
    bulkNodeIds,
    publish(now) {
      const values = physics.signals();
      for (const m of measured) {
        const v = values[m.name];
        const status = statusOf(physics, m.name);
        if (v === m.last && status === m.status) continue; // unchanged: keep the time it last changed
        m.node.setValueFromSource(new Variant({ dataType: m.dataType, value: v }), status, now);
        m.last = v;
        m.status = status;
      }
    },
    publishBulk(count, now) {
      for (let k = 0; k < Math.min(count, bulk); k++) {
        const i = bulkCursor;
        bulkCursor = (bulkCursor + 1) % bulk;
        bulkNodes[i]!.setValueFromSource(new Variant({ dataType: DataType.Double, value: ++bulkCounts[i]! }), StatusCodes.Good, now);
      }
    },
  };
}
