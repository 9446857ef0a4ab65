// The pump-station PLC's register map, as data. It is the one place that says where a signal lives
// and how it is encoded: the physics produces values by name, this file turns them into registers,
// and the bank's mapped ranges are derived from it, so the map, the device and docs/simulators.md
// cannot drift apart. Addresses are 0-based PDU addresses (MODBUS Application Protocol V1.1b3 §4.4).
//
// Layout, as a real PLC program tends to have it: a few contiguous blocks, with unmapped gaps between
// blocks (reading a gap gives exception 02, so a read planner must not bridge them):
//   ir   0–9     analog inputs (levels, gate, motor currents, cabinet temperature, backup level)
//   hr 100–134   meters, drives, counters and heartbeat written by the PLC (100–128), then the
//                setpoints the SCADA may write (129–134: lead pump, start/stop levels, gate command)
//   hr 200–202   one status word per pump (bit 0 run, 1 fault, 2 remote, 3 auto)
//   co   0–9     command pulses (start/stop/auto per pump, fault reset); the PLC clears them
//   di   0–7     float switches, gate limit switches, mains power, cabinet door
import type { BankLayout, RegisterBank, Table } from '../modbus/tcp-server.ts';

export type SignalType = 'bool' | 'int16' | 'uint16' | 'uint32' | 'float32' | 'float64';
/** Word order of multi-register values: ABCD high word first, CDAB low word first. */
export type WordOrder = 'ABCD' | 'CDAB';

export interface SignalDef {
  name: string;
  table: Table;
  address: number;
  /** Bit 0–15 of a register, for status-word bits (`hr:200.0`). */
  bit?: number;
  type: SignalType;
  order?: WordOrder;
  /** Engineering value = raw × scale. */
  scale?: number;
  unit?: string;
  /** `rw`: the SCADA writes it and the PLC program reads it back each scan. */
  access: 'r' | 'rw';
  description: string;
}

export const PUMP_STATION_MAP = [
  // Input registers: analog inputs, uint16 scaled unless noted.
  { name: 'wet_well_level', table: 'ir', address: 0, type: 'uint16', scale: 0.01, unit: 'm', access: 'r', description: 'wet-well level, ultrasonic, 0–8 m' },
  { name: 'inlet_level', table: 'ir', address: 1, type: 'uint16', scale: 0.01, unit: 'm', access: 'r', description: 'level in the inlet sewer upstream of the gate, 0–5 m' },
  { name: 'outlet_level', table: 'ir', address: 2, type: 'uint16', scale: 0.01, unit: 'm', access: 'r', description: 'discharge chamber (river side) level, 0–5 m' },
  { name: 'gate_position', table: 'ir', address: 3, type: 'uint16', scale: 0.1, unit: '%', access: 'r', description: 'inlet gate position, 0 closed – 100 open' },
  { name: 'pump1_current', table: 'ir', address: 4, type: 'uint16', scale: 0.1, unit: 'A', access: 'r', description: 'pump 1 motor current (rated 60 A)' },
  { name: 'pump2_current', table: 'ir', address: 5, type: 'uint16', scale: 0.1, unit: 'A', access: 'r', description: 'pump 2 motor current (rated 60 A)' },
  { name: 'pump3_current', table: 'ir', address: 6, type: 'uint16', scale: 0.1, unit: 'A', access: 'r', description: 'pump 3 motor current (rated 60 A)' },
  { name: 'cabinet_temperature', table: 'ir', address: 7, type: 'int16', scale: 0.1, unit: '°C', access: 'r', description: 'control cabinet temperature (signed)' },
  { name: 'wet_well_level_backup', table: 'ir', address: 8, type: 'float32', order: 'ABCD', unit: 'm', access: 'r', description: 'wet-well level, backup pressure transducer, float32 high word first' },
  // Holding registers written by the PLC: magmeter, energy meter, drives, counters.
  { name: 'outlet_flow', table: 'hr', address: 100, type: 'float32', order: 'CDAB', unit: 'm3/h', access: 'r', description: 'outlet flow (magmeter), float32 word-swapped: low word first' },
  { name: 'total_flow', table: 'hr', address: 102, type: 'float64', order: 'ABCD', unit: 'm3', access: 'r', description: 'cumulative pumped volume (magmeter totaliser)' },
  { name: 'power', table: 'hr', address: 106, type: 'float32', order: 'ABCD', unit: 'kW', access: 'r', description: 'station active power (energy meter)' },
  { name: 'energy', table: 'hr', address: 108, type: 'uint32', order: 'ABCD', unit: 'kWh', access: 'r', description: 'station active energy (energy meter)' },
  { name: 'pump1_frequency', table: 'hr', address: 110, type: 'uint16', scale: 0.01, unit: 'Hz', access: 'r', description: 'pump 1 VFD output frequency, 0–50 Hz' },
  { name: 'pump2_frequency', table: 'hr', address: 111, type: 'uint16', scale: 0.01, unit: 'Hz', access: 'r', description: 'pump 2 VFD output frequency, 0–50 Hz' },
  { name: 'pump3_frequency', table: 'hr', address: 112, type: 'uint16', scale: 0.01, unit: 'Hz', access: 'r', description: 'pump 3 VFD output frequency, 0–50 Hz' },
  { name: 'pump1_vfd_fault', table: 'hr', address: 113, type: 'uint16', access: 'r', description: 'pump 1 VFD fault code, 0 = none (see VFD_FAULT_CODES)' },
  { name: 'pump2_vfd_fault', table: 'hr', address: 114, type: 'uint16', access: 'r', description: 'pump 2 VFD fault code, 0 = none' },
  { name: 'pump3_vfd_fault', table: 'hr', address: 115, type: 'uint16', access: 'r', description: 'pump 3 VFD fault code, 0 = none' },
  { name: 'pump1_run_hours', table: 'hr', address: 116, type: 'uint32', order: 'ABCD', scale: 0.1, unit: 'h', access: 'r', description: 'pump 1 run hours' },
  { name: 'pump2_run_hours', table: 'hr', address: 118, type: 'uint32', order: 'ABCD', scale: 0.1, unit: 'h', access: 'r', description: 'pump 2 run hours' },
  { name: 'pump3_run_hours', table: 'hr', address: 120, type: 'uint32', order: 'ABCD', scale: 0.1, unit: 'h', access: 'r', description: 'pump 3 run hours' },
  { name: 'pump1_starts', table: 'hr', address: 122, type: 'uint32', order: 'ABCD', access: 'r', description: 'pump 1 start count' },
  { name: 'pump2_starts', table: 'hr', address: 124, type: 'uint32', order: 'ABCD', access: 'r', description: 'pump 2 start count' },
  { name: 'pump3_starts', table: 'hr', address: 126, type: 'uint32', order: 'ABCD', access: 'r', description: 'pump 3 start count' },
  { name: 'heartbeat', table: 'hr', address: 128, type: 'uint16', access: 'r', description: 'PLC heartbeat, +1 every second, wraps at 65535' },
  // Holding registers the SCADA writes; the PLC clamps them and writes back what it accepted.
  { name: 'lead_pump', table: 'hr', address: 129, type: 'uint16', access: 'rw', description: 'duty (lead) pump, 1–3; the others follow in order as lag pumps' },
  { name: 'lead_start_level', table: 'hr', address: 130, type: 'uint16', scale: 0.01, unit: 'm', access: 'rw', description: 'lead pump start level (default 2.50 m)' },
  { name: 'lag1_start_level', table: 'hr', address: 131, type: 'uint16', scale: 0.01, unit: 'm', access: 'rw', description: 'first lag pump start level (default 3.20 m)' },
  { name: 'lag2_start_level', table: 'hr', address: 132, type: 'uint16', scale: 0.01, unit: 'm', access: 'rw', description: 'second lag pump start level (default 3.80 m)' },
  { name: 'stop_level', table: 'hr', address: 133, type: 'uint16', scale: 0.01, unit: 'm', access: 'rw', description: 'level at which all auto pumps stop (default 1.20 m)' },
  { name: 'gate_command', table: 'hr', address: 134, type: 'uint16', scale: 0.1, unit: '%', access: 'rw', description: 'inlet gate position command, 0–100 %' },
  // Status words, one per pump.
  { name: 'pump1_run', table: 'hr', address: 200, bit: 0, type: 'bool', access: 'r', description: 'pump 1 running' },
  { name: 'pump1_fault', table: 'hr', address: 200, bit: 1, type: 'bool', access: 'r', description: 'pump 1 tripped (VFD fault)' },
  { name: 'pump1_remote', table: 'hr', address: 200, bit: 2, type: 'bool', access: 'r', description: 'pump 1 selector on REMOTE (SCADA commands honoured)' },
  { name: 'pump1_auto', table: 'hr', address: 200, bit: 3, type: 'bool', access: 'r', description: 'pump 1 in AUTO (level control); 0 = manual' },
  { name: 'pump2_run', table: 'hr', address: 201, bit: 0, type: 'bool', access: 'r', description: 'pump 2 running' },
  { name: 'pump2_fault', table: 'hr', address: 201, bit: 1, type: 'bool', access: 'r', description: 'pump 2 tripped (VFD fault)' },
  { name: 'pump2_remote', table: 'hr', address: 201, bit: 2, type: 'bool', access: 'r', description: 'pump 2 selector on REMOTE' },
  { name: 'pump2_auto', table: 'hr', address: 201, bit: 3, type: 'bool', access: 'r', description: 'pump 2 in AUTO' },
  { name: 'pump3_run', table: 'hr', address: 202, bit: 0, type: 'bool', access: 'r', description: 'pump 3 running' },
  { name: 'pump3_fault', table: 'hr', address: 202, bit: 1, type: 'bool', access: 'r', description: 'pump 3 tripped (VFD fault)' },
  { name: 'pump3_remote', table: 'hr', address: 202, bit: 2, type: 'bool', access: 'r', description: 'pump 3 selector on REMOTE' },
  { name: 'pump3_auto', table: 'hr', address: 202, bit: 3, type: 'bool', access: 'r', description: 'pump 3 in AUTO' },
  // Coils: command pulses. Write 1; the PLC acts on the next scan (if the pump is on REMOTE) and clears it.
  { name: 'pump1_start', table: 'co', address: 0, type: 'bool', access: 'rw', description: 'pump 1 start: switches it to manual and runs it' },
  { name: 'pump1_stop', table: 'co', address: 1, type: 'bool', access: 'rw', description: 'pump 1 stop: switches it to manual and stops it' },
  { name: 'pump1_to_auto', table: 'co', address: 2, type: 'bool', access: 'rw', description: 'pump 1 back to automatic level control' },
  { name: 'pump2_start', table: 'co', address: 3, type: 'bool', access: 'rw', description: 'pump 2 start (manual)' },
  { name: 'pump2_stop', table: 'co', address: 4, type: 'bool', access: 'rw', description: 'pump 2 stop (manual)' },
  { name: 'pump2_to_auto', table: 'co', address: 5, type: 'bool', access: 'rw', description: 'pump 2 back to auto' },
  { name: 'pump3_start', table: 'co', address: 6, type: 'bool', access: 'rw', description: 'pump 3 start (manual)' },
  { name: 'pump3_stop', table: 'co', address: 7, type: 'bool', access: 'rw', description: 'pump 3 stop (manual)' },
  { name: 'pump3_to_auto', table: 'co', address: 8, type: 'bool', access: 'rw', description: 'pump 3 back to auto' },
  { name: 'fault_reset', table: 'co', address: 9, type: 'bool', access: 'rw', description: 'reset tripped VFDs (pumps on REMOTE)' },
  // Discrete inputs: 1 = the condition named is true.
  { name: 'float_hh', table: 'di', address: 0, type: 'bool', access: 'r', description: 'float switch high-high: level ≥ 4.50 m' },
  { name: 'float_h', table: 'di', address: 1, type: 'bool', access: 'r', description: 'float switch high: level ≥ 4.00 m' },
  { name: 'float_l', table: 'di', address: 2, type: 'bool', access: 'r', description: 'float switch low: level ≤ 1.00 m' },
  { name: 'float_ll', table: 'di', address: 3, type: 'bool', access: 'r', description: 'float switch low-low: level ≤ 0.60 m (dry-run interlock stops every pump)' },
  { name: 'gate_open', table: 'di', address: 4, type: 'bool', access: 'r', description: 'inlet gate fully open limit switch' },
  { name: 'gate_closed', table: 'di', address: 5, type: 'bool', access: 'r', description: 'inlet gate fully closed limit switch' },
  { name: 'mains_ok', table: 'di', address: 6, type: 'bool', access: 'r', description: 'mains power present (0 = power failure, pumps stop)' },
  { name: 'door_open', table: 'di', address: 7, type: 'bool', access: 'r', description: 'cabinet door open (intrusion)' },
] as const satisfies readonly SignalDef[];

export type PumpStationSignal = (typeof PUMP_STATION_MAP)[number];
export type SignalName = PumpStationSignal['name'];
export type WritableSignalName = Extract<PumpStationSignal, { access: 'rw' }>['name'];
export type SignalValues = Record<SignalName, number | boolean>;

/** VFD fault codes written to `pumpN_vfd_fault` (a typical drive's list, simplified). */
export const VFD_FAULT_CODES: Readonly<Record<number, string>> = {
  0: 'no fault',
  1: 'overcurrent',
  2: 'overvoltage',
  3: 'undervoltage',
  4: 'drive overheat',
  5: 'motor overload',
  6: 'input phase loss',
  7: 'output phase loss',
  8: 'ground fault',
};

/** Registers (or bits) one signal occupies. */
export function signalSpan(sig: SignalDef): number {
  switch (sig.type) {
    case 'bool': case 'int16': case 'uint16': return 1;
    case 'uint32': case 'float32': return 2;
    case 'float64': return 4;
  }
}

/** The bank's mapped ranges, derived from the map: touching signals form one range. */
export function bankLayout(map: readonly SignalDef[] = PUMP_STATION_MAP): BankLayout {
  const layout: Record<Table, { start: number; count: number }[]> = { co: [], di: [], hr: [], ir: [] };
  const sorted = [...map].sort((a, b) => a.address - b.address);
  for (const sig of sorted) {
    const ranges = layout[sig.table];
    const last = ranges.at(-1);
    const end = sig.address + signalSpan(sig);
    if (last && sig.address <= last.start + last.count) last.count = Math.max(last.count, end - last.start);
    else ranges.push({ start: sig.address, count: end - sig.address });
  }
  return layout;
}

const isBitTable = (t: Table): t is 'co' | 'di' => t === 'co' || t === 'di';

// Words of a value in big-endian byte order (MODBUS Application Protocol V1.1b3 §4.2), high word
// first; CDAB reverses the words, which is what "word-swapped" devices send.
function toWords(bytes: Buffer, order: WordOrder | undefined): number[] {
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) words.push(bytes.readUInt16BE(i));
  return order === 'CDAB' ? words.reverse() : words;
}

function fromWords(words: readonly number[], order: WordOrder | undefined): Buffer {
  const ordered = order === 'CDAB' ? [...words].reverse() : words;
  const bytes = Buffer.alloc(ordered.length * 2);
  ordered.forEach((w, i) => bytes.writeUInt16BE(w, 2 * i));
  return bytes;
}

const clampInt = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, Math.round(v)));

/** Register words of an engineering value; out-of-range integers saturate as a PLC's scaling would. */
export function encodeSignal(sig: SignalDef, value: number | boolean): number[] {
  const raw = typeof value === 'boolean' ? Number(value) : value / (sig.scale ?? 1);
  const bytes = Buffer.alloc(signalSpan(sig) * 2);
  switch (sig.type) {
    case 'bool': case 'uint16': return [clampInt(raw, 0, 0xffff)];
    case 'int16': return [clampInt(raw, -0x8000, 0x7fff) & 0xffff];
    case 'uint32': bytes.writeUInt32BE(clampInt(raw, 0, 0xffffffff)); break;
    case 'float32': bytes.writeFloatBE(raw); break;
    case 'float64': bytes.writeDoubleBE(raw); break;
  }
  return toWords(bytes, sig.order);
}

/** Engineering value of register words (the inverse of encodeSignal). */
export function decodeSignal(sig: SignalDef, words: readonly number[]): number {
  const bytes = fromWords(words, sig.order);
  const scale = sig.scale ?? 1;
  switch (sig.type) {
    case 'bool': case 'uint16': return (words[0] ?? 0) * scale;
    case 'int16': return bytes.readInt16BE(0) * scale;
    case 'uint32': return bytes.readUInt32BE(0) * scale;
    case 'float32': return bytes.readFloatBE(0) * scale;
    case 'float64': return bytes.readDoubleBE(0) * scale;
  }
}

export function writeSignal(bank: RegisterBank, sig: SignalDef, value: number | boolean): void {
  if (isBitTable(sig.table)) { bank.writeBits(sig.table, sig.address, [Boolean(value)]); return; }
  if (sig.bit !== undefined) {
    const [word = 0] = bank.readRegisters(sig.table, sig.address, 1);
    const mask = 1 << sig.bit;
    bank.writeRegisters(sig.table, sig.address, [value ? word | mask : word & ~mask & 0xffff]);
    return;
  }
  bank.writeRegisters(sig.table, sig.address, encodeSignal(sig, value));
}

export function readSignal(bank: RegisterBank, sig: SignalDef): number | boolean {
  if (isBitTable(sig.table)) return bank.readBits(sig.table, sig.address, 1)[0] === true;
  const words = bank.readRegisters(sig.table, sig.address, signalSpan(sig));
  if (sig.bit !== undefined) return (((words[0] ?? 0) >> sig.bit) & 1) === 1;
  return decodeSignal(sig, words);
}

/** Looks a signal up by name (for tests and tools that address the map by meaning). */
export function signal(name: SignalName): PumpStationSignal {
  const sig = PUMP_STATION_MAP.find((s) => s.name === name);
  if (!sig) throw new Error(`no signal ${name} in the pump-station map`);
  return sig;
}
