// Modbus register codec: the 16-bit words a read returns ⇄ engineering values, and back for writes.
//
// Modbus defines only 16-bit registers, each sent high byte first (MODBUS Application Protocol
// v1.1b3 §4.2: "MODBUS uses a 'big-Endian' representation"). Anything wider is a vendor convention,
// hence `order`, which names the bytes of the value as they appear in address order:
//   ABCD  big-endian: the most significant word first (the default)
//   CDAB  word-swapped: the least significant word first, each word big-endian (magmeters, many PLCs)
//   BADC  bytes swapped within each word, words most significant first
//   DCBA  fully little-endian
// 64-bit types follow the same two rules (reverse the words, swap the bytes within each word), so
// CDAB for a float64 means the four words in reverse order. A 16-bit type with BADC/DCBA has its
// two bytes swapped. A string is a sequence of characters in address order, so only the byte swap
// applies to it (BADC/DCBA: low byte first); word reversal has no meaning for text and is ignored.
// A bool ignores `order`: its bit number names a bit of the register value as the device documents
// it (bit 0 = least significant), and a coil or input arrives as 0/1 anyway.
//
// Values leave decode as plain JS numbers, chosen to be what a technician expects to see:
// - float32 (the common case for analog values): the shortest decimal, at most 9 significant digits,
//   that converts back to the same float32. A device that holds 0.1f (0.100000001490116…) reports
//   0.1, which is what its engineer typed and what SCADA tools show (Java's Float.toString does the
//   same). Nothing is lost: Math.fround(value) gives back the exact bits the device sent.
// - int64/uint64: decoded exactly through BigInt, then converted to a number, which is exact up to
//   2^53 (Number.MAX_SAFE_INTEGER); beyond that the nearest double is returned (counters never get
//   there in practice; an exact consumer would need a bigint tag type).
// - NaN and ±Infinity from float32/float64 are returned as they are; deciding that a value is bad
//   (quality) is the caller's business, and a device sending NaN usually means "no measurement".
// - scale/offset: value = raw × scale + offset, then rounded to the number of decimals that the exact
//   decimal arithmetic of the operands can produce: decimals(raw) + decimals(scale), or
//   decimals(offset) if more, where decimals(x) counts the digits after the point of x's shortest
//   form (of the float32 form above for float32). The exact result has no digits beyond that
//   position, so the rounding removes only binary noise (123 × 0.01 gives 1.23, not
//   1.2300000000000002) and never real precision. -0 becomes 0.
import { registerSpan, shortestFloat32, type TagType, type WordOrder } from '../../gateway/model/index.ts';

export interface ValueFormat { type: TagType; order?: WordOrder; scale?: number; offset?: number; bit?: number; length?: number }

// One scratch buffer: the codec is synchronous and never re-entered, so sharing it is safe and
// saves an allocation per value per scan. DataView reads and writes big-endian by default, so the
// scratch always holds the value in ABCD order.
const scratch = new DataView(new ArrayBuffer(8));

/**
 * regs: the 16-bit words as read, in address order; the tag's value starts at index `at` (so a
 * driver decodes every tag of a request from the one response, without copying).
 */
export function decodeRegisters(regs: ArrayLike<number>, fmt: ValueFormat, at = 0): number | boolean | string {
  const span = checkFormat(fmt);
  if (regs.length - at < span) {
    throw new RangeError(`${fmt.type} needs ${span} register${span === 1 ? '' : 's'}, got ${Math.max(0, regs.length - at)}`);
  }
  base = at;
  switch (fmt.type) {
    case 'bool': {
      const w = word(regs, 0);
      return fmt.bit === undefined ? w !== 0 : ((w >> fmt.bit) & 1) === 1;
    }
    case 'string': return decodeString(regs, span, fmt.order);
    case 'float32': {
      load(regs, 2, fmt.order);
      const f = shortestFloat32(scratch.getFloat32(0));
      return scaled(f, decimals(f), fmt);
    }
    case 'float64': {
      load(regs, 4, fmt.order);
      const f = scratch.getFloat64(0);
      return scaled(f, decimals(f), fmt);
    }
    default: {
      load(regs, span, fmt.order);
      return scaled(readInteger(fmt.type), 0, fmt);
    }
  }
}

/**
 * Engineering value → the words to write, in address order: the inverse of decode.
 * raw = (value − offset) / scale, computed exactly on the decimals value, scale and offset print as
 * (BigInt arithmetic), so no binary noise gets in: 1.23 / 0.01 is 123 and 1.005 / 0.01 is 100.5, not
 * 100.49999999999999. Integer types round that quotient half away from zero (101 here), exactly
 * even beyond 2^53; float types take the nearest float64/float32. Throws a RangeError naming the
 * type's range when the raw value does not fit, a TypeError when the value is of the wrong kind. Non-finite numbers are refused for every type: a write is a
 * command to real equipment, and NaN or Infinity there is a mistake, never an intent.
 * For a bit of a register (fmt.bit) the other 15 bits must be preserved, so it needs the register's
 * current value and returns the whole new word. This read-modify-write is not atomic: a driver should
 * prefer function 22 Mask Write Register (Application Protocol §6.16) where the device supports it.
 */
export function encodeValue(value: number | boolean | string, fmt: ValueFormat, currentWord?: number): number[] {
  const span = checkFormat(fmt);
  switch (fmt.type) {
    case 'bool': return [encodeBool(value, fmt.bit, currentWord)];
    case 'string': return encodeString(value, span, fmt.order);
    default: break;
  }
  if (typeof value !== 'number') throw new TypeError(`${fmt.type} takes a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${value} cannot be written to a ${fmt.type} register`);
  const q = quotient(value, fmt);
  const tooBig = (raw: number | bigint, range: string) =>
    new RangeError(`${q ? `raw value ${raw} (from ${value})` : `value ${value}`} does not fit ${fmt.type}: ${range}`);
  if (fmt.type === 'float32' || fmt.type === 'float64') {
    const raw = q ? toFloat(q, value, fmt) : value;
    if (fmt.type === 'float64' && Number.isFinite(raw)) scratch.setFloat64(0, raw);
    else if (fmt.type === 'float32' && Number.isFinite(Math.fround(raw))) scratch.setFloat32(0, raw);
    else throw tooBig(raw, fmt.type === 'float32' ? '±3.4028235e38' : '±1.7976931348623157e308');
  } else {
    writeInteger(fmt.type, q ? roundHalfAway(q.n, q.d) : BigInt(Math.sign(value) * Math.round(Math.abs(value))), tooBig);
  }
  return store(span, fmt.order);
}

// ---- integers -----------------------------------------------------------------------------------

type IntegerType = 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';

const INT_RANGE: Record<IntegerType, readonly [bigint, bigint]> = {
  int16: [-(2n ** 15n), 2n ** 15n - 1n],
  uint16: [0n, 2n ** 16n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

function readInteger(type: TagType): number {
  switch (type) {
    case 'int16': return scratch.getInt16(0);
    case 'uint16': return scratch.getUint16(0);
    case 'int32': return scratch.getInt32(0);
    case 'uint32': return scratch.getUint32(0);
    case 'int64': return Number(scratch.getBigInt64(0));
    case 'uint64': return Number(scratch.getBigUint64(0));
    default: throw new TypeError(`${type} is not an integer type`);
  }
}

function writeInteger(type: IntegerType, b: bigint, tooBig: (raw: bigint, range: string) => RangeError): void {
  // Compared as bigint: 2^63 and 2^64 are exact doubles, and a number comparison against
  // 2^63 − 1 (not a double) would wrongly let 2^63 through.
  const [lo, hi] = INT_RANGE[type];
  if (b < lo || b > hi) throw tooBig(b, `${lo} to ${hi}`);
  switch (type) {
    case 'int16': scratch.setInt16(0, Number(b)); break;
    case 'uint16': scratch.setUint16(0, Number(b)); break;
    case 'int32': scratch.setInt32(0, Number(b)); break;
    case 'uint32': scratch.setUint32(0, Number(b)); break;
    case 'int64': scratch.setBigInt64(0, b); break;
    case 'uint64': scratch.setBigUint64(0, b); break;
  }
}

// ---- word order ---------------------------------------------------------------------------------

function arrangement(order: WordOrder | undefined): { reverse: boolean; swap: boolean } {
  const o = order ?? 'ABCD';
  return { reverse: o === 'CDAB' || o === 'DCBA', swap: o === 'BADC' || o === 'DCBA' };
}

const swap16 = (w: number): number => ((w & 0xff) << 8) | (w >> 8);

/** A register as a 16-bit unsigned word; a stray negative from a caller is taken as two's complement. */
/** Index of the value's first word in the array being decoded (set by decodeRegisters; synchronous). */
let base = 0;
const word = (regs: ArrayLike<number>, i: number): number => (regs[base + i] ?? 0) & 0xffff;

/** Puts `n` words as read into the scratch in ABCD order. */
function load(regs: ArrayLike<number>, n: number, order: WordOrder | undefined): void {
  const { reverse, swap } = arrangement(order);
  for (let i = 0; i < n; i++) {
    const w = word(regs, reverse ? n - 1 - i : i);
    scratch.setUint16(2 * i, swap ? swap16(w) : w);
  }
}

/** The inverse of load: both rearrangements are their own inverse, so the same mapping applies. */
function store(n: number, order: WordOrder | undefined): number[] {
  const { reverse, swap } = arrangement(order);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = scratch.getUint16(2 * (reverse ? n - 1 - i : i));
    out.push(swap ? swap16(w) : w);
  }
  return out;
}

// ---- strings ------------------------------------------------------------------------------------

function decodeString(regs: ArrayLike<number>, n: number, order: WordOrder | undefined): string {
  const { swap } = arrangement(order);
  let s = '';
  for (let i = 0; i < n; i++) {
    const w = word(regs, i);
    const [first, second] = swap ? [w & 0xff, w >> 8] : [w >> 8, w & 0xff];
    s += String.fromCharCode(first, second); // Latin-1 bytes are the first 256 code points
  }
  // Devices pad a fixed-size field with NULs or spaces; neither is part of the value.
  return s.replace(/[\0 ]+$/, '');
}

function encodeString(value: number | boolean | string, n: number, order: WordOrder | undefined): number[] {
  if (typeof value !== 'string') throw new TypeError(`string takes a string, got ${describe(value)}`);
  if (value.length > 2 * n) {
    throw new RangeError(`"${value}" has ${value.length} characters; ${n} register${n === 1 ? '' : 's'} hold at most ${2 * n}`);
  }
  const bad = /[^\0-\xff]/.exec(value);
  if (bad) throw new RangeError(`"${bad[0]}" in "${value}" is not an ASCII/Latin-1 character; a register string holds one byte per character`);
  const { swap } = arrangement(order);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    // Unused bytes are NUL, which decode trims, so the round trip gives the same text.
    const hi = value.charCodeAt(2 * i) || 0;
    const lo = value.charCodeAt(2 * i + 1) || 0;
    out.push(swap ? (lo << 8) | hi : (hi << 8) | lo);
  }
  return out;
}

// ---- bits ---------------------------------------------------------------------------------------

function encodeBool(value: number | boolean | string, bit: number | undefined, currentWord: number | undefined): number {
  let on: boolean;
  if (typeof value === 'boolean') on = value;
  else if (value === 0 || value === 1) on = value === 1;
  else if (typeof value === 'number') throw new RangeError(`bool takes true/false or 1/0, got ${value}`);
  else throw new TypeError(`bool takes true/false or 1/0, got ${describe(value)}`);
  if (bit === undefined) return on ? 1 : 0;
  if (currentWord === undefined || !Number.isInteger(currentWord) || currentWord < 0 || currentWord > 0xffff) {
    throw new TypeError(`writing bit ${bit} needs the register's current value (0–65535), got ${String(currentWord)}`);
  }
  return on ? currentWord | (1 << bit) : currentWord & ~(1 << bit) & 0xffff;
}

// ---- scaling and rounding -----------------------------------------------------------------------

function scaled(raw: number, rawDecimals: number, fmt: ValueFormat): number {
  const scale = fmt.scale ?? 1;
  const offset = fmt.offset ?? 0;
  if (scale === 1 && offset === 0) return raw === 0 ? 0 : raw;
  const v = raw * scale + offset;
  if (!Number.isFinite(v)) return v;
  return roundTo(v, Math.max(rawDecimals + decimals(scale), decimals(offset)));
}

/**
 * (value − offset) / scale as an exact fraction n / d (d > 0), reading each operand as the decimal
 * it prints as; undefined when there is no scale or offset (raw = value).
 */
function quotient(value: number, fmt: ValueFormat): { n: bigint; d: bigint } | undefined {
  const scale = fmt.scale ?? 1;
  const offset = fmt.offset ?? 0;
  if (scale === 1 && offset === 0) return undefined;
  if (scale === 0) throw new RangeError('scale 0 maps every raw value to the offset and cannot be written');
  const v = toDecimal(value);
  const o = toDecimal(offset);
  const s = toDecimal(scale);
  const e = Math.max(v.e, o.e, s.e);
  const at = (x: { m: bigint; e: number }) => x.m * 10n ** BigInt(e - x.e);
  const n = at(v) - at(o);
  const d = at(s);
  return d < 0n ? { n: -n, d: -d } : { n, d };
}

/** n / d as the nearest double: one correctly rounded division while both fit a double. */
function toFloat(q: { n: bigint; d: bigint }, value: number, fmt: ValueFormat): number {
  const n = Number(q.n);
  const d = Number(q.d);
  // Operands with extreme exponents (1e-320 next to 1.5) make the scaled integers overflow a
  // double; plain floating-point arithmetic is then the best there is.
  return Number.isFinite(n) && Number.isFinite(d) ? n / d : (value - (fmt.offset ?? 0)) / (fmt.scale ?? 1);
}

/** n / d (d > 0) rounded to the nearest integer, halves away from zero. */
function roundHalfAway(n: bigint, d: bigint): bigint {
  const q = ((n < 0n ? -n : n) * 2n + d) / (2n * d);
  return n < 0n ? -q : q;
}

/** x as the exact decimal m × 10^−e of its shortest form: 0.01 → (1, 2), −1.5e-7 → (−15, 8), 1e21 → (10^21, 0). */
function toDecimal(x: number): { m: bigint; e: number } {
  const [mantissa = '0', exponent = '0'] = String(x).split('e');
  const [int = '0', fraction = ''] = mantissa.split('.');
  const e = fraction.length - Number(exponent);
  const m = BigInt(int + fraction);
  return e < 0 ? { m: m * 10n ** BigInt(-e), e: 0 } : { m, e };
}

/** Digits after the decimal point in x's shortest form: 0.01 → 2, 1.5e-7 → 8, 1e21 → 0. */
function decimals(x: number): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return 0;
  const [mantissa = '', exponent = '0'] = String(Math.abs(x)).split('e');
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent));
}

function roundTo(v: number, digits: number): number {
  // toFixed accepts up to 100 digits; beyond that a double has no digits left to round anyway.
  // toFixed rounds the exact binary value (ECMA-262 Number.prototype.toFixed), so no double rounding.
  const r = digits > 100 ? v : Number(v.toFixed(digits));
  return r === 0 ? 0 : r;
}

// ---- format checks ------------------------------------------------------------------------------

/** Throws on a format no register can have; returns the registers the value occupies. */
function checkFormat(fmt: ValueFormat): number {
  if (fmt.bit !== undefined) {
    if (fmt.type !== 'bool') throw new RangeError(`a bit of a register (.${fmt.bit}) is a bool, not ${fmt.type}`);
    if (!Number.isInteger(fmt.bit) || fmt.bit < 0 || fmt.bit > 15) throw new RangeError(`bit ${fmt.bit} does not exist; a register has bits 0–15`);
  }
  if (fmt.type === 'string' && fmt.length !== undefined && (!Number.isInteger(fmt.length) || fmt.length < 1)) {
    throw new RangeError(`a string spans a whole number of registers (1 or more), not ${fmt.length}`);
  }
  if (fmt.scale !== undefined && !Number.isFinite(fmt.scale)) throw new RangeError(`scale must be a finite number, not ${fmt.scale}`);
  if (fmt.offset !== undefined && !Number.isFinite(fmt.offset)) throw new RangeError(`offset must be a finite number, not ${fmt.offset}`);
  return registerSpan(fmt.type, fmt.length);
}

const describe = (v: unknown): string => (typeof v === 'string' ? `"${v}"` : `${typeof v} ${String(v)}`);
