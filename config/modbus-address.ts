// Modbus addresses as written in the config (`hr:100`, `ir:0`, `co:3`, `di:7`, `hr:12.5`), and how
// many registers each type spans. Lives in config/ because the loader must check addresses before
// anything runs; the driver reads the same parsed form.
import type { ModbusTable, TagType } from './schema.ts';

export interface ModbusAddress {
  table: ModbusTable;
  /** 0-based register or bit number (the PDU address, not the 4xxxx/3xxxx "reference"). */
  index: number;
  /** Bit 0–15 of a register, for `hr:N.B` / `ir:N.B`. */
  bit?: number;
}

const ADDRESS = /^(hr|ir|co|di):(\d+)(?:\.(\d+))?$/;

/** Parses an address; returns a message a technician understands when it is not one. */
export function parseModbusAddress(text: string): ModbusAddress | { error: string } {
  const m = ADDRESS.exec(text);
  if (!m) return { error: `"${text}" is not an address like hr:100, ir:0, co:3, di:7 or hr:12.5` };
  const table = m[1] as ModbusTable;
  const index = Number(m[2]);
  if (index > 65535) return { error: `register ${index} is beyond 65535, the last Modbus address` };
  if (m[3] === undefined) return { table, index };
  const bit = Number(m[3]);
  if (table === 'co' || table === 'di') return { error: `${table}: is already a single bit; drop ".${m[3]}"` };
  if (bit > 15) return { error: `bit ${bit} does not exist; a register has bits 0–15` };
  return { table, index, bit };
}

/** Registers a value of this type occupies (bits for coils and inputs count as 1). */
export function registerSpan(type: TagType, length?: number): number {
  switch (type) {
    case 'bool': case 'int16': case 'uint16': return 1;
    case 'int32': case 'uint32': case 'float32': return 2;
    case 'int64': case 'uint64': case 'float64': return 4;
    case 'string': return length ?? 1;
  }
}

export const isBitTable = (t: ModbusTable): boolean => t === 'co' || t === 'di';
