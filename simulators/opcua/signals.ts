// The plant's signals as its OPC UA server publishes them: one row per Variable. The node id is
// `ns=1;s=Plant.` + the name, and each dotted part before the last is an Object on the browse path
// (`Plant.Aeration.DO` is /Objects/1:Plant/1:Aeration/1:DO), as a SCADA integrator would lay out
// a plant model by process area. The physics (physics.ts) produces values under the same names.

export type OpcuaType = 'Double' | 'Boolean' | 'Int32' | 'UInt16' | 'UInt32' | 'String';

export interface SignalDef {
  readonly name: string;
  readonly type: OpcuaType;
  /** UNECE code-ish symbol shown as EngineeringUnits (m, m3/h, mg/L…); absent for states and counts. */
  readonly unit?: string;
  /** What the value means, for the Description attribute and docs/simulators.md. */
  readonly description: string;
  /** Writable, within [min, max]; a write outside is refused with BadOutOfRange. */
  readonly write?: { readonly min: number; readonly max: number };
  /** The normal span, published as EURange; every signal with a unit has one (or a `write` range). */
  readonly range?: readonly [number, number];
}

const pump = (n: 1 | 2 | 3) => [
  { name: `InletPS.Pump${n}.Running`, type: 'Boolean', description: `inlet pump ${n} running (contactor closed)` },
  { name: `InletPS.Pump${n}.Speed`, type: 'Double', unit: 'Hz', range: [0, 50], description: `inlet pump ${n} VFD output frequency` },
  { name: `InletPS.Pump${n}.Current`, type: 'Double', unit: 'A', range: [0, 60], description: `inlet pump ${n} motor current (rated 42 A)` },
  { name: `InletPS.Pump${n}.Fault`, type: 'Boolean', description: `inlet pump ${n} tripped (VFD or motor protection)` },
  { name: `InletPS.Pump${n}.RunHours`, type: 'Double', unit: 'h', range: [0, 200_000], description: `inlet pump ${n} run hours` },
  { name: `InletPS.Pump${n}.Starts`, type: 'UInt32', description: `inlet pump ${n} start count` },
  { name: `InletPS.Pump${n}.Remote`, type: 'Boolean', write: { min: 0, max: 1 }, description: `inlet pump ${n} under remote (automatic) control; false takes it out of the duty rotation` },
] as const;

const blower = (n: 1 | 2) => [
  { name: `Aeration.Blower${n}.Running`, type: 'Boolean', description: `aeration blower ${n} running` },
  { name: `Aeration.Blower${n}.Airflow`, type: 'Double', unit: 'm3/h', range: [0, 4000], description: `aeration blower ${n} air flow` },
  { name: `Aeration.Blower${n}.Power`, type: 'Double', unit: 'kW', range: [0, 120], description: `aeration blower ${n} electrical power` },
] as const;

export const PLANT_SIGNALS = [
  { name: 'Name', type: 'String', description: 'plant name' },
  { name: 'InletPS.WetWell.Level', type: 'Double', unit: 'm', range: [0, 6], description: 'inlet pump station wet well level (ultrasonic)' },
  { name: 'InletPS.Inflow', type: 'Double', unit: 'm3/h', range: [0, 3000], description: 'sewage arriving at the inlet pump station' },
  { name: 'InletPS.LeadPump', type: 'Int32', write: { min: 1, max: 3 }, description: 'duty (lead) pump 1–3; the others follow in order as lag pumps' },
  ...pump(1), ...pump(2), ...pump(3),
  { name: 'Aeration.DO', type: 'Double', unit: 'mg/L', range: [0, 20], description: 'aeration tank dissolved oxygen' },
  { name: 'Aeration.DOSetpoint', type: 'Double', unit: 'mg/L', write: { min: 0.5, max: 4.0 }, description: 'dissolved oxygen setpoint of the blower control, 0.5–4.0 mg/L' },
  ...blower(1), ...blower(2),
  { name: 'Clarifier.SludgeBlanket', type: 'Double', unit: 'm', range: [0, 4], description: 'secondary clarifier sludge blanket level above the floor' },
  { name: 'Clarifier.SludgePump.Running', type: 'Boolean', description: 'sludge withdrawal pump running' },
  { name: 'Clarifier.DesludgeInterval', type: 'UInt16', unit: 'min', write: { min: 10, max: 240 }, description: 'minutes between sludge withdrawals (each runs 10 min), 10–240' },
  { name: 'Effluent.Flow', type: 'Double', unit: 'm3/h', range: [0, 3000], description: 'treated effluent flow (magmeter)' },
  { name: 'Effluent.NH3N', type: 'Double', unit: 'mg/L', range: [0, 50], description: 'effluent ammonia nitrogen (online analyser)' },
  { name: 'Effluent.COD', type: 'Double', unit: 'mg/L', range: [0, 500], description: 'effluent chemical oxygen demand (online analyser)' },
  { name: 'Energy.Power', type: 'Double', unit: 'kW', range: [0, 1000], description: 'plant active power' },
  { name: 'Energy.Total', type: 'Double', unit: 'kWh', range: [0, 1e9], description: 'plant active energy' },
] as const satisfies readonly SignalDef[];

export type SignalName = (typeof PLANT_SIGNALS)[number]['name'];
export type WritableSignalName = Extract<(typeof PLANT_SIGNALS)[number], { write: object }>['name'];
export type SignalValue = number | boolean | string;
export type SignalValues = Record<SignalName, SignalValue>;

const byName = new Map<string, SignalDef>(PLANT_SIGNALS.map((s) => [s.name, s]));

export function signalDef(name: string): SignalDef | undefined { return byName.get(name); }

/** The node id a client uses for a signal (string ids, so a technician can read them). */
export const nodeIdOf = (name: string): string => `ns=1;s=Plant.${name}`;

/** Node id of the i-th bulk variable (0-based), `ns=1;s=Bulk.V0000`. */
export const bulkNodeIdOf = (i: number): string => `ns=1;s=Bulk.V${String(i).padStart(4, '0')}`;
