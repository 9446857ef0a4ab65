// A value from a command, made into the node's own built-in type before it is written: a server
// answers a Double written to an Int16 node with BadTypeMismatch, and a technician deserves to
// hear "not an integer" from the box instead.
import { CodedError, type Value } from '../../gateway/model/index.ts';

/** Part 6 §5.1.2 built-in types, as node-opcua numbers them. */
const RANGES: Record<number, [string, number, number]> = {
  2: ['SByte', -128, 127], 3: ['Byte', 0, 255], 4: ['Int16', -32768, 32767], 5: ['UInt16', 0, 65535],
  6: ['Int32', -2147483648, 2147483647], 7: ['UInt32', 0, 4294967295],
  8: ['Int64', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], 9: ['UInt64', 0, Number.MAX_SAFE_INTEGER],
};
const BOOLEAN = 1, FLOAT = 10, DOUBLE = 11, STRING = 12;

export function coerceWrite(path: string, dataType: number, v: Value): { dataType: number; value: unknown } {
  const bad = (why: string) => new CodedError('CE_ERR_WRITE_RANGE', `${path}: ${JSON.stringify(v)} ${why}`);
  if (dataType === BOOLEAN) {
    if (typeof v === 'boolean') return { dataType, value: v };
    if (v === 0 || v === 1) return { dataType, value: v === 1 };
    throw bad('is not a boolean (true, false, 0 or 1)');
  }
  if (dataType === STRING) return { dataType, value: String(v) };
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('is not a number');
  if (dataType === FLOAT || dataType === DOUBLE) {
    if (dataType === FLOAT && Math.abs(v) > 3.4028234663852886e38) throw bad('does not fit a Float');
    return { dataType, value: v };
  }
  const range = RANGES[dataType];
  if (!range) throw new CodedError('CE_ERR_WRITE_REFUSED', `${path}: the node's data type (${dataType}) cannot be written from a number`);
  const [name, min, max] = range;
  if (!Number.isInteger(v)) throw bad(`is not an integer; the node is ${name}`);
  if (v < min || v > max) throw bad(`does not fit ${name} (${min}…${max})`);
  // node-opcua takes 64-bit integers as [high, low] words.
  if (dataType === 8 || dataType === 9) return { dataType, value: [Math.floor(v / 0x1_0000_0000) >>> 0, (v % 0x1_0000_0000 + 0x1_0000_0000) % 0x1_0000_0000] };
  return { dataType, value: v };
}
