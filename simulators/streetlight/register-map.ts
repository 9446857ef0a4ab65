// The register map of a streetlight control cabinet's controller (路灯控制柜), as data: the one place
// that says where a signal lives and how it is encoded. The physics produces values by name, this
// file turns them into registers, and the bank's mapped ranges come from it, so the map, the device
// and docs/simulators.md cannot drift apart. Addresses are 0-based PDU addresses (MODBUS Application
// Protocol V1.1b3 §4.4); the encoding helpers are the pump station's, shared by every simulated PLC.
//
// Layout: cabinet-wide signals in a block at 0, one block per loop kind at 100, each loop at a fixed
// stride, so loop n's addresses never depend on how many loops the cabinet has. The blocks are
// separated by unmapped gaps (exception 02), as in a real controller's memory map:
//   co   0…N-1            loop contactor commands (回路接触器), rw, read back as written
//   di   0–1              cabinet door, mains present
//   di 100…100+N-1        loop contactor auxiliary contacts (closed = 1)
//   ir   0–7              phase voltages, frequency, leakage, cabinet temperature, fault word, total power
//   ir 100…100+4N-1       per loop: current, active power, power factor, fault word
//   hr   0…N-1            loop dim levels %, rw, 0–100 (more is refused with exception 03)
//   hr 100…101+2N         cabinet energy, then each loop's energy, uint32 ×0.01 kWh high word first
import { ModbusException } from '../modbus/tcp-server.ts';
import type { SignalDef } from '../pump-station/register-map.ts';

export { bankLayout, readSignal, writeSignal } from '../pump-station/register-map.ts';

export interface StreetlightSignal extends SignalDef {
  /** Highest engineering value a client may write; above it the write is refused with exception 03. */
  max?: number;
}

/** Loops (回路) one controller can switch; cabinets have 2–12, so 16 leaves room. */
export const MAX_LOOPS = 16;

/** Bits of the cabinet fault word (ir:6); 1 = the fault is present. */
export const CABINET_FAULT_BITS = {
  lamp_failure: 0,
  relay_failure: 1,
  over_voltage: 2,
  under_voltage: 3,
  leakage: 4,
  over_temperature: 5,
} as const;

/** Bits of each loop's fault word (ir:103 + 4(n−1)). */
export const LOOP_FAULT_BITS = { lamp_failure: 0, relay_failure: 1 } as const;

export const CABINET_SIGNALS: readonly StreetlightSignal[] = [
  { name: 'phase_a_voltage', table: 'ir', address: 0, type: 'uint16', scale: 0.1, unit: 'V', access: 'r', description: 'phase A voltage (loops 1, 4, 7…)' },
  { name: 'phase_b_voltage', table: 'ir', address: 1, type: 'uint16', scale: 0.1, unit: 'V', access: 'r', description: 'phase B voltage (loops 2, 5, 8…)' },
  { name: 'phase_c_voltage', table: 'ir', address: 2, type: 'uint16', scale: 0.1, unit: 'V', access: 'r', description: 'phase C voltage (loops 3, 6, 9…)' },
  { name: 'mains_frequency', table: 'ir', address: 3, type: 'uint16', scale: 0.01, unit: 'Hz', access: 'r', description: 'mains frequency' },
  { name: 'leakage_current', table: 'ir', address: 4, type: 'uint16', unit: 'mA', access: 'r', description: 'residual (leakage) current of the cabinet, alarm ≥ 30 mA' },
  { name: 'cabinet_temperature', table: 'ir', address: 5, type: 'int16', scale: 0.1, unit: '°C', access: 'r', description: 'temperature inside the cabinet (signed), alarm ≥ 60 °C' },
  ...Object.entries(CABINET_FAULT_BITS).map(([kind, bit]): StreetlightSignal => ({
    name: `fault_${kind}`, table: 'ir', address: 6, bit, type: 'bool', access: 'r', description: `cabinet fault word bit ${bit}: ${kind.replace('_', ' ')}`,
  })),
  { name: 'total_power', table: 'ir', address: 7, type: 'uint16', unit: 'W', access: 'r', description: 'active power of all loops' },
  { name: 'door_open', table: 'di', address: 0, type: 'bool', access: 'r', description: 'cabinet door open (door switch)' },
  { name: 'mains_ok', table: 'di', address: 1, type: 'bool', access: 'r', description: 'mains present (0: supply failed, every contactor drops out)' },
  { name: 'total_energy', table: 'hr', address: 100, type: 'uint32', order: 'ABCD', scale: 0.01, unit: 'kWh', access: 'r', description: 'cumulative active energy of the cabinet' },
];

/** One per-loop signal: loop n's address is base + stride × (n − 1). Names are `loopN_<suffix>`. */
export interface LoopSignalTemplate extends Omit<StreetlightSignal, 'name' | 'address'> {
  suffix: string;
  base: number;
  stride: number;
}

export const LOOP_SIGNALS: readonly LoopSignalTemplate[] = [
  { suffix: 'relay', table: 'co', base: 0, stride: 1, type: 'bool', access: 'rw', description: 'loop contactor command: 1 on, 0 off; reads back what was written' },
  { suffix: 'contactor', table: 'di', base: 100, stride: 1, type: 'bool', access: 'r', description: 'loop contactor auxiliary contact: 1 closed (0 while commanded on: relay failure)' },
  { suffix: 'current', table: 'ir', base: 100, stride: 4, type: 'uint16', scale: 0.01, unit: 'A', access: 'r', description: 'loop current' },
  { suffix: 'power', table: 'ir', base: 101, stride: 4, type: 'uint16', unit: 'W', access: 'r', description: 'loop active power' },
  { suffix: 'power_factor', table: 'ir', base: 102, stride: 4, type: 'uint16', scale: 0.001, access: 'r', description: 'loop power factor, 0 while no current flows' },
  ...Object.entries(LOOP_FAULT_BITS).map(([kind, bit]): LoopSignalTemplate => ({
    suffix: kind, table: 'ir', base: 103, stride: 4, bit, type: 'bool', access: 'r', description: `loop fault word bit ${bit}: ${kind.replace('_', ' ')}`,
  })),
  { suffix: 'dim', table: 'hr', base: 0, stride: 1, type: 'uint16', unit: '%', access: 'rw', max: 100, description: 'loop dim level, 0–100 %; above 100 is refused (exception 03)' },
  { suffix: 'energy', table: 'hr', base: 102, stride: 2, type: 'uint32', order: 'ABCD', scale: 0.01, unit: 'kWh', access: 'r', description: 'loop cumulative active energy' },
];

/** The map of a cabinet with `loops` loops: the cabinet signals, then loop 1's, loop 2's… */
export function streetlightMap(loops = 4): StreetlightSignal[] {
  if (!Number.isInteger(loops) || loops < 1 || loops > MAX_LOOPS) throw new RangeError(`loops ${loops}: expected 1–${MAX_LOOPS}`);
  const map: StreetlightSignal[] = [...CABINET_SIGNALS];
  for (let n = 1; n <= loops; n++) {
    for (const { suffix, base, stride, ...rest } of LOOP_SIGNALS) {
      map.push({ ...rest, name: `loop${n}_${suffix}`, address: base + stride * (n - 1) });
    }
  }
  return map;
}

/** Looks a signal up by name. */
export function signalOf(map: readonly StreetlightSignal[], name: string): StreetlightSignal {
  const sig = map.find((s) => s.name === name);
  if (!sig) throw new Error(`no signal ${name} in the streetlight map`);
  return sig;
}

/**
 * The controller's write check: a value above a signal's `max` is refused with exception 03
 * (illegal data value, AP §7) and nothing is written, so a driver that writes then reads back sees
 * the old value and an error, never a silently clamped setpoint.
 */
export function writeCheck(map: readonly StreetlightSignal[]): (table: 'co' | 'hr', address: number, values: readonly number[]) => number | undefined {
  const limited = map.filter((s) => s.access === 'rw' && s.max !== undefined && s.bit === undefined && s.type === 'uint16');
  return (table, address, values) => {
    for (const s of limited) {
      const i = s.address - address;
      if (s.table !== table || i < 0 || i >= values.length) continue;
      if ((values[i] ?? 0) * (s.scale ?? 1) > (s.max ?? Infinity)) return ModbusException.IllegalDataValue;
    }
    return undefined;
  };
}
