// Vectors for the Modbus register codec. Expected words never come from the code under test: they
// are literal hex, or Buffer write*BE output rearranged with the byte-permutation tables below,
// which spell each word order out letter by letter.
import t from 'tap';
import { decodeRegisters, encodeValue, type ValueFormat } from '../drivers/modbus/codec.ts';
import type { TagType, WordOrder } from '../config/schema.ts';

const ORDERS: WordOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

// Byte positions in address order, A = most significant byte. 64-bit extends the same two rules:
// CDAB reverses the words, BADC swaps the bytes inside each word, DCBA does both.
const PERMUTATION: Record<number, Record<WordOrder, string>> = {
  2: { ABCD: 'AB', CDAB: 'AB', BADC: 'BA', DCBA: 'BA' },
  4: { ABCD: 'ABCD', CDAB: 'CDAB', BADC: 'BADC', DCBA: 'DCBA' },
  8: { ABCD: 'ABCDEFGH', CDAB: 'GHEFCDAB', BADC: 'BADCFEHG', DCBA: 'HGFEDCBA' },
};

/** Big-endian bytes → the words a device with this order sends. */
function arrange(be: Buffer, order: WordOrder): number[] {
  const letters = PERMUTATION[be.length]?.[order];
  if (!letters) throw new Error(`no permutation for ${be.length} bytes`);
  const bytes = [...letters].map((l) => be[l.charCodeAt(0) - 65] ?? -1);
  const words: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  return words;
}

function be(size: number, write: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(size);
  write(b);
  return b;
}

const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(4, '0')).join(' ');

t.test('DOMAIN.md §2 vector: 123456.0 as float32 = 0x47F12000 in all four orders', async (t) => {
  const vectors: Record<WordOrder, number[]> = {
    ABCD: [0x47f1, 0x2000], CDAB: [0x2000, 0x47f1], BADC: [0xf147, 0x0020], DCBA: [0x0020, 0xf147],
  };
  for (const order of ORDERS) {
    t.equal(decodeRegisters(vectors[order], { type: 'float32', order }), 123456, `decode ${order}`);
    t.same(encodeValue(123456, { type: 'float32', order }), vectors[order], `encode ${order}`);
    t.same(arrange(be(4, (b) => b.writeFloatBE(123456)), order), vectors[order], `permutation table agrees for ${order}`);
  }
  t.equal(decodeRegisters([0x47f1, 0x2000], { type: 'float32' }), 123456, 'order defaults to ABCD');
});

t.test('16-bit integers', async (t) => {
  t.equal(decodeRegisters([0xfffe], { type: 'int16' }), -2);
  t.equal(decodeRegisters([0x8000], { type: 'int16' }), -32768);
  t.equal(decodeRegisters([0x7fff], { type: 'int16' }), 32767);
  t.equal(decodeRegisters([0xfffe], { type: 'uint16' }), 65534);
  t.equal(decodeRegisters([0xffff], { type: 'uint16' }), 65535);
  t.equal(decodeRegisters([0], { type: 'uint16' }), 0);
  t.equal(decodeRegisters([0xfeff], { type: 'int16', order: 'BADC' }), -2, 'BADC swaps the two bytes');
  t.equal(decodeRegisters([0x3412], { type: 'uint16', order: 'DCBA' }), 0x1234, 'DCBA swaps the two bytes');
  t.equal(decodeRegisters([0x1234], { type: 'uint16', order: 'CDAB' }), 0x1234, 'CDAB: one word, nothing to reverse');
  t.equal(decodeRegisters([0x1234, 0xffff], { type: 'uint16' }), 0x1234, 'extra registers are ignored');
  t.same(encodeValue(-2, { type: 'int16' }), [0xfffe]);
  t.same(encodeValue(-2, { type: 'int16', order: 'BADC' }), [0xfeff]);
  t.same(encodeValue(65535, { type: 'uint16' }), [0xffff]);
});

interface Vector { type: TagType; value: number; bytes: Buffer; note: string }
const vectors: Vector[] = [
  { type: 'int32', value: -123456789, bytes: be(4, (b) => b.writeInt32BE(-123456789)), note: 'negative int32' },
  { type: 'int32', value: -1, bytes: be(4, (b) => b.writeInt32BE(-1)), note: 'int32 −1' },
  { type: 'int32', value: -2147483648, bytes: be(4, (b) => b.writeInt32BE(-2147483648)), note: 'int32 minimum' },
  { type: 'uint32', value: 3000000000, bytes: be(4, (b) => b.writeUInt32BE(3000000000)), note: 'uint32 above 2^31' },
  { type: 'uint32', value: 4294967295, bytes: be(4, (b) => b.writeUInt32BE(4294967295)), note: 'uint32 maximum' },
  { type: 'float32', value: -1.5, bytes: be(4, (b) => b.writeFloatBE(-1.5)), note: 'negative float32' },
  { type: 'float32', value: 123456, bytes: be(4, (b) => b.writeFloatBE(123456)), note: 'float32 123456' },
  { type: 'int64', value: -1234567890123, bytes: be(8, (b) => b.writeBigInt64BE(-1234567890123n)), note: 'negative int64' },
  { type: 'int64', value: -(2 ** 63), bytes: be(8, (b) => b.writeBigInt64BE(-(2n ** 63n))), note: 'int64 minimum' },
  { type: 'int64', value: -(2 ** 53 - 1), bytes: be(8, (b) => b.writeBigInt64BE(-(2n ** 53n - 1n))), note: 'int64 −(2^53−1)' },
  { type: 'uint64', value: 2 ** 53 - 1, bytes: be(8, (b) => b.writeBigUInt64BE(2n ** 53n - 1n)), note: 'uint64 2^53−1' },
  { type: 'uint64', value: 2 ** 53 - 12345, bytes: be(8, (b) => b.writeBigUInt64BE(2n ** 53n - 12345n)), note: 'uint64 near 2^53' },
  { type: 'uint64', value: 2 ** 53, bytes: be(8, (b) => b.writeBigUInt64BE(2n ** 53n)), note: 'uint64 2^53' },
  { type: 'float64', value: 1234567.891, bytes: be(8, (b) => b.writeDoubleBE(1234567.891)), note: 'float64' },
  { type: 'float64', value: -0.000123, bytes: be(8, (b) => b.writeDoubleBE(-0.000123)), note: 'negative float64' },
];

t.test('32- and 64-bit types in all four orders', async (t) => {
  for (const v of vectors) {
    for (const order of ORDERS) {
      const words = arrange(v.bytes, order);
      const fmt: ValueFormat = { type: v.type, order };
      t.equal(decodeRegisters(words, fmt), v.value, `decode ${v.note} ${order} [${hex(words)}]`);
      t.same(encodeValue(v.value, fmt), words, `encode ${v.note} ${order}`);
    }
  }
});

t.test('64-bit literal words, written out by hand', async (t) => {
  // 1234567.891 = 0x4132D687E4189375 (Python: struct.pack('>d', 1234567.891).hex())
  t.same(encodeValue(1234567.891, { type: 'float64' }), [0x4132, 0xd687, 0xe418, 0x9375]);
  t.same(encodeValue(1234567.891, { type: 'float64', order: 'CDAB' }), [0x9375, 0xe418, 0xd687, 0x4132]);
  t.equal(decodeRegisters([0x9375, 0xe418, 0xd687, 0x4132], { type: 'float64', order: 'CDAB' }), 1234567.891);
  t.equal(decodeRegisters([0x3241, 0x87d6, 0x18e4, 0x7593], { type: 'float64', order: 'BADC' }), 1234567.891);
  t.equal(decodeRegisters([0x7593, 0x18e4, 0x87d6, 0x3241], { type: 'float64', order: 'DCBA' }), 1234567.891);
  t.equal(decodeRegisters([0xffff, 0xffff, 0xffff, 0xffff], { type: 'int64' }), -1);
  t.equal(decodeRegisters([0x001f, 0xffff, 0xffff, 0xffff], { type: 'uint64' }), 9007199254740991);
  t.equal(decodeRegisters([0xffff, 0xffff, 0xffff, 0x001f], { type: 'uint64', order: 'CDAB' }), 9007199254740991);
  t.equal(decodeRegisters([0xffff, 0xffff, 0xffff, 0xffff], { type: 'uint64' }), 2 ** 64,
    'beyond 2^53 the nearest double is returned (documented)');
});

t.test('float32: shortest decimal that is the same float32; NaN and Infinity pass through', async (t) => {
  const f32 = (x: number) => arrange(be(4, (b) => b.writeFloatBE(x)), 'ABCD');
  const tenth = decodeRegisters([0x3dcc, 0xcccd], { type: 'float32' });
  t.equal(tenth, 0.1, '0.1f (0x3DCCCCCD) reads as 0.1');
  t.equal(Math.fround(tenth as number), Math.fround(0.1), 'and still names the exact float32 the device holds');
  t.equal(decodeRegisters(f32(12.3), { type: 'float32' }), 12.3);
  t.equal(decodeRegisters(f32(3.4028234663852886e38), { type: 'float32' }), 3.4028235e38, 'FLT_MAX');
  t.equal(Math.fround(3.4028235e38), 3.4028234663852886e38);
  t.equal(decodeRegisters(f32(1e-45), { type: 'float32' }), 1e-45, 'smallest subnormal');
  t.equal(decodeRegisters([0x4b80, 0x0001], { type: 'float32' }), 16777218, '9 significant digits when needed');
  t.equal(decodeRegisters([0x3f9d, 0xf3b6], { type: 'float32' }), 1.234, '0x3F9DF3B6');
  t.ok(Number.isNaN(decodeRegisters([0x7fc0, 0x0000], { type: 'float32' })), 'NaN');
  t.ok(Number.isNaN(decodeRegisters([0x7fc0, 0x0000], { type: 'float32', scale: 0.1 })), 'NaN stays NaN through scaling');
  t.equal(decodeRegisters([0x7f80, 0x0000], { type: 'float32' }), Infinity);
  t.equal(decodeRegisters([0xff80, 0x0000], { type: 'float32' }), -Infinity);
  t.ok(Number.isNaN(decodeRegisters([0x7ff8, 0, 0, 0], { type: 'float64' })), 'float64 NaN');
  t.equal(decodeRegisters([0xfff0, 0, 0, 0], { type: 'float64' }), -Infinity);
  t.ok(Object.is(decodeRegisters([0x8000, 0x0000], { type: 'float32' }), 0), '-0 reads as 0');
});

t.test('strings: 2 Latin-1 bytes per register, high byte first, padding trimmed', async (t) => {
  // "PUMP-01" then NUL padding: 'P'=50 'U'=55 'M'=4D 'P'=50 '-'=2D '0'=30 '1'=31
  const nulPadded = [0x5055, 0x4d50, 0x2d30, 0x3100, 0x0000];
  t.equal(decodeRegisters(nulPadded, { type: 'string', length: 5 }), 'PUMP-01');
  t.equal(decodeRegisters([0x5055, 0x4d50, 0x2d30, 0x3120, 0x2020], { type: 'string', length: 5 }), 'PUMP-01', 'space padding');
  t.equal(decodeRegisters([0x5055, 0x4d50, 0x2d30, 0x3120, 0x0000], { type: 'string', length: 5 }), 'PUMP-01', 'spaces then NULs');
  t.equal(decodeRegisters([0x4120, 0x4200], { type: 'string', length: 2 }), 'A B', 'inner spaces kept');
  t.equal(decodeRegisters([0x5550, 0x504d, 0x302d, 0x0031], { type: 'string', length: 4, order: 'BADC' }), 'PUMP-01', 'BADC: low byte first');
  t.equal(decodeRegisters([0x5550, 0x504d], { type: 'string', length: 2, order: 'DCBA' }), 'PUMP', 'DCBA: low byte first, words in address order');
  t.equal(decodeRegisters([0x5055, 0x4d50], { type: 'string', length: 2, order: 'CDAB' }), 'PUMP', 'CDAB: text is never word-reversed');
  t.equal(decodeRegisters([0x43e9, 0x0000], { type: 'string', length: 2 }), 'Cé', 'Latin-1 0xE9');
  t.equal(decodeRegisters([0x0000, 0x0000], { type: 'string', length: 2 }), '', 'all padding');
  t.equal(decodeRegisters([0x4142, 0x4344], { type: 'string' }), 'AB', 'length defaults to 1 register');
  t.same(encodeValue('PUMP-01', { type: 'string', length: 5 }), nulPadded, 'encode pads with NUL');
  t.same(encodeValue('PUMP-01', { type: 'string', length: 4, order: 'BADC' }), [0x5550, 0x504d, 0x302d, 0x0031]);
  t.same(encodeValue('Cé', { type: 'string', length: 1 }), [0x43e9]);
});

t.test('bool: a bit of a register, a whole register, a coil', async (t) => {
  t.equal(decodeRegisters([0x8001], { type: 'bool', bit: 0 }), true, 'bit 0 of 0x8001');
  t.equal(decodeRegisters([0x8001], { type: 'bool', bit: 15 }), true, 'bit 15 of 0x8001');
  t.equal(decodeRegisters([0x8001], { type: 'bool', bit: 1 }), false, 'bit 1 of 0x8001');
  t.equal(decodeRegisters([0x7ffe], { type: 'bool', bit: 0 }), false, 'bit 0 of 0x7FFE');
  t.equal(decodeRegisters([0x7ffe], { type: 'bool', bit: 15 }), false, 'bit 15 of 0x7FFE');
  t.equal(decodeRegisters([0x0100], { type: 'bool', bit: 8, order: 'BADC' }), true, 'order does not move bits');
  t.equal(decodeRegisters([0x0100], { type: 'bool' }), true, 'register ≠ 0');
  t.equal(decodeRegisters([0], { type: 'bool' }), false, 'register = 0');
  t.equal(decodeRegisters([1], { type: 'bool' }), true, 'coil on');
  t.same(encodeValue(true, { type: 'bool', bit: 15 }, 0x0001), [0x8001], 'set bit 15, keep bit 0');
  t.same(encodeValue(false, { type: 'bool', bit: 0 }, 0xffff), [0xfffe], 'clear bit 0, keep the rest');
  t.same(encodeValue(false, { type: 'bool', bit: 15 }, 0xffff), [0x7fff], 'clear bit 15');
  t.same(encodeValue(true, { type: 'bool', bit: 3 }, 0x0008), [0x0008], 'already set');
  t.same(encodeValue(true, { type: 'bool' }), [1]);
  t.same(encodeValue(0, { type: 'bool' }), [0], '0/1 accepted');
  t.throws(() => encodeValue(true, { type: 'bool', bit: 2 }), TypeError, 'a bit write needs the current word');
  t.throws(() => encodeValue(true, { type: 'bool', bit: 2 }, 0x10000), TypeError, 'current word must be 16 bits');
  t.throws(() => encodeValue(2, { type: 'bool' }), RangeError);
  t.throws(() => encodeValue('on', { type: 'bool' }), TypeError);
  t.throws(() => decodeRegisters([1], { type: 'bool', bit: 16 }), RangeError, 'bit 16 does not exist');
  t.throws(() => decodeRegisters([1], { type: 'uint16', bit: 3 }), RangeError, 'a bit is a bool');
});

t.test('scale and offset, without float noise and without losing precision', async (t) => {
  t.equal(decodeRegisters([123], { type: 'uint16', scale: 0.01 }), 1.23, '123 × 0.01');
  t.equal(decodeRegisters([650], { type: 'int16', scale: 0.1, offset: -40 }), 25, 'temperature 650 × 0.1 − 40');
  t.equal(decodeRegisters([0xfe70], { type: 'int16', scale: 0.1, offset: -40 }), -80, '−400 × 0.1 − 40');
  t.equal(decodeRegisters([0], { type: 'uint16', offset: -40 }), -40, 'offset only');
  t.equal(decodeRegisters([3], { type: 'uint16', scale: 0.1, offset: 0.25 }), 0.55, 'offset has more decimals');
  t.equal(decodeRegisters([0xffff, 0xffff], { type: 'uint32', scale: 0.001 }), 4294967.295, 'all ten digits kept');
  t.equal(decodeRegisters([123], { type: 'uint16', scale: 1e-7 }), 0.0000123, 'scale written with an exponent');
  t.equal(decodeRegisters([7], { type: 'uint16', scale: 2.5 }), 17.5);
  t.equal(decodeRegisters([0], { type: 'int16', scale: -0.1 }), 0, 'no -0');
  t.equal(decodeRegisters(arrange(be(4, (b) => b.writeFloatBE(12.3)), 'CDAB'), { type: 'float32', order: 'CDAB', scale: 0.1 }), 1.23, 'float32 12.3 × 0.1');
  t.equal(decodeRegisters(arrange(be(8, (b) => b.writeDoubleBE(1234567.891)), 'ABCD'), { type: 'float64', scale: 0.001 }), 1234.567891);
  // Dividing by a power of ten gives the double nearest the exact decimal: the target.
  for (const [scale, divisor] of [[0.1, 10], [0.01, 100], [0.001, 1000]] as const) {
    let bad = 0;
    for (let raw = 0; raw <= 65535; raw++) if (decodeRegisters([raw], { type: 'uint16', scale }) !== raw / divisor) bad++;
    t.equal(bad, 0, `every uint16 × ${scale} equals raw / ${divisor}`);
  }
});

t.test('round trip encode → decode for every type and order', async (t) => {
  const cases: [ValueFormat, number[]][] = [
    [{ type: 'int16' }, [0, 1, -1, 32767, -32768, 1234]],
    [{ type: 'uint16' }, [0, 1, 65535, 40000]],
    [{ type: 'int32' }, [0, -1, 2147483647, -2147483648, 123456789]],
    [{ type: 'uint32' }, [0, 4294967295, 2147483648, 3000000000]],
    [{ type: 'float32' }, [0, 0.1, -1.5, 123456, 3.14159, 1e-30, 3.4028235e38]],
    [{ type: 'int64' }, [0, -1, -(2 ** 53) + 1, 2 ** 53 - 1, -1234567890123]],
    [{ type: 'uint64' }, [0, 1, 2 ** 53 - 1, 2 ** 53, 2 ** 63]],
    [{ type: 'float64' }, [0, 1234567.891, -0.000123, Number.MAX_VALUE, Number.MIN_VALUE]],
    [{ type: 'uint16', scale: 0.01 }, [0, 1.23, 655.35]],
    [{ type: 'int16', scale: 0.1, offset: -40 }, [25, -80, -40, 3236.7]],
    [{ type: 'int32', scale: 0.001 }, [-2147483.648, 1.5]],
    [{ type: 'float32', scale: 0.1 }, [1.23, 4.5]],
    [{ type: 'float64', scale: 0.001 }, [1234.567891]],
  ];
  for (const [base, values] of cases) {
    for (const order of ORDERS) {
      const fmt = { ...base, order };
      for (const v of values) {
        const words = encodeValue(v, fmt);
        t.equal(decodeRegisters(words, fmt), v, `${fmt.type}${fmt.scale ? ` ×${fmt.scale}` : ''} ${order} ${v} [${hex(words)}]`);
      }
    }
  }
  for (const order of ORDERS) {
    const fmt: ValueFormat = { type: 'string', length: 6, order };
    t.equal(decodeRegisters(encodeValue('PS-012 W1', fmt), fmt), 'PS-012 W1', `string ${order}`);
    t.equal(decodeRegisters(encodeValue('', fmt), fmt), '', `empty string ${order}`);
  }
  for (let bit = 0; bit < 16; bit++) {
    const fmt: ValueFormat = { type: 'bool', bit };
    const set = encodeValue(true, fmt, 0x5a5a)[0] ?? -1;
    const clear = encodeValue(false, fmt, 0x5a5a)[0] ?? -1;
    t.equal(decodeRegisters([set], fmt), true, `bit ${bit} set`);
    t.equal(decodeRegisters([clear], fmt), false, `bit ${bit} cleared`);
    t.equal(set & ~(1 << bit), 0x5a5a & ~(1 << bit), `bit ${bit}: other bits kept`);
  }
});

t.test('encode computes raw exactly and rounds integer types half away from zero', async (t) => {
  t.same(encodeValue(1.23, { type: 'uint16', scale: 0.01 }), [123], '1.23 / 0.01 = 123.00000000000001 → 123');
  t.same(encodeValue(1.005, { type: 'uint16', scale: 0.01 }), [101], '1.005 / 0.01 is 100.5 → 101');
  t.same(encodeValue(2.35, { type: 'int16', scale: 0.1 }), [24]);
  t.same(encodeValue(-2.35, { type: 'int16', scale: 0.1 }), [0xffe8], '−23.5 → −24');
  t.same(encodeValue(1.4, { type: 'uint16' }), [1]);
  t.same(encodeValue(25, { type: 'int16', scale: 0.1, offset: -40 }), [650]);
  t.same(encodeValue(-1.5e-7, { type: 'int32', scale: 1e-8 }), [0xffff, 0xfff1], 'exponent notation: −15');
  t.same(encodeValue(4503599627370495.5, { type: 'uint64', scale: 0.5 }), arrange(be(8, (b) => b.writeBigUInt64BE(2n ** 53n - 1n)), 'ABCD'),
    'exact up to 2^53 with a scale');
  t.same(encodeValue(-1234567890123.456, { type: 'int64', scale: 0.001 }), arrange(be(8, (b) => b.writeBigInt64BE(-1234567890123456n)), 'ABCD'),
    'all 16 digits kept');
  t.same(encodeValue(1e20, { type: 'uint64', scale: 10 }), arrange(be(8, (b) => b.writeBigUInt64BE(10n ** 19n)), 'ABCD'),
    'beyond 2^53 the quotient is still exact');
  t.same(encodeValue(-5, { type: 'int16', scale: -0.5 }), [10], 'negative scale');
  t.same(encodeValue(0.3, { type: 'float64', scale: 0.1 }), arrange(be(8, (b) => b.writeDoubleBE(3)), 'ABCD'), '0.3 / 0.1 is 3, not 2.9999999999999996');
});

t.test('encode refuses what does not fit, with a clear RangeError', async (t) => {
  const refuse = (value: number | string, fmt: ValueFormat, message: RegExp, note: string) =>
    t.throws(() => encodeValue(value, fmt), { name: 'RangeError', message }, note);
  refuse(32768, { type: 'int16' }, /32768 does not fit int16: -32768 to 32767/, 'int16 too big');
  refuse(-32769, { type: 'int16' }, /int16/, 'int16 too small');
  refuse(-1, { type: 'uint16' }, /does not fit uint16: 0 to 65535/, 'uint16 negative');
  refuse(65536, { type: 'uint16' }, /uint16/, 'uint16 too big');
  refuse(65535.6, { type: 'uint16' }, /uint16/, 'rounds up out of range');
  refuse(2 ** 31, { type: 'int32' }, /int32/, 'int32 too big');
  refuse(2 ** 32, { type: 'uint32' }, /uint32/, 'uint32 too big');
  refuse(2 ** 63, { type: 'int64' }, /int64: -9223372036854775808 to 9223372036854775807/, 'int64 2^63');
  refuse(-1, { type: 'uint64' }, /uint64/, 'uint64 negative');
  refuse(2 ** 64, { type: 'uint64' }, /uint64/, 'uint64 2^64');
  refuse(1e39, { type: 'float32' }, /float32/, 'beyond float32');
  refuse(655.36, { type: 'uint16', scale: 0.01 }, /raw value 65536 \(from 655.36\) does not fit uint16/, 'scaled out of range');
  refuse(1e300, { type: 'float64', scale: 1e-300 }, /float64/, 'scaled beyond float64');
  t.same(encodeValue(1.5, { type: 'float64', offset: 1e-320 }), arrange(be(8, (b) => b.writeDoubleBE(1.5)), 'ABCD'), 'extreme exponents still encode');
  refuse(NaN, { type: 'float32' }, /NaN/, 'NaN is never written');
  refuse(Infinity, { type: 'float64' }, /Infinity/, 'Infinity is never written');
  refuse(5, { type: 'uint16', scale: 0 }, /scale 0/, 'scale 0 cannot be inverted');
  refuse('PUMP-001', { type: 'string', length: 3 }, /8 characters; 3 registers hold at most 6/, 'string too long');
  refuse('泵站', { type: 'string', length: 3 }, /not an ASCII\/Latin-1 character/, 'not Latin-1');
  t.throws(() => encodeValue('12', { type: 'uint16' }), TypeError, 'a string for a number');
  t.throws(() => encodeValue(12, { type: 'string', length: 2 }), TypeError, 'a number for a string');
});

t.test('decode refuses too few registers', async (t) => {
  t.throws(() => decodeRegisters([0x47f1], { type: 'float32' }), { name: 'RangeError', message: /float32 needs 2 registers, got 1/ });
  t.throws(() => decodeRegisters([1, 2, 3], { type: 'float64' }), RangeError);
  t.throws(() => decodeRegisters([0x4142], { type: 'string', length: 2 }), RangeError);
  t.throws(() => decodeRegisters([], { type: 'bool' }), RangeError);
  t.equal(decodeRegisters(new Uint16Array([0x47f1, 0x2000]), { type: 'float32' }), 123456, 'typed arrays work too');
});

t.test('decoding at an offset into a response reads the same as a copy of the words', async (t) => {
  const response = [0xffff, 0x2000, 0x47f1, 0x1234, 0x4349, 0x5459, 7];
  t.equal(decodeRegisters(response, { type: 'float32', order: 'CDAB' }, 1), 123456);
  t.equal(decodeRegisters(response, { type: 'uint16' }, 3), 0x1234);
  t.equal(decodeRegisters(response, { type: 'string', length: 2 }, 4), 'CITY');
  t.equal(decodeRegisters(response, { type: 'bool', bit: 0 }, 6), true);
  t.equal(decodeRegisters(response, { type: 'int16' }, 0), -1);
  t.throws(() => decodeRegisters(response, { type: 'float64' }, 5), RangeError, 'runs past the response');
});
