// Property tests of the Modbus codec and read planner (issue 9, fuzzing). Codec: every type and word
// order gives back the value written, within the type's range, and refuses what does not fit with a
// RangeError/TypeError naming the type, never with wrong words sent to a pump. Planner: for random
// tag sets the plan reads every tag exactly once, within the protocol's limits, never bridging more
// than max_gap, and never reading the same register twice in one scan.
// Fixed seeds: a failure prints its seed and path, and `fc.assert(…, { seed, path })` replays it.
import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { decodeRegisters, encodeValue, type ValueFormat } from '../drivers/modbus/codec.ts';
import { planReads, splitRequest, type PlanLimits, type PlanTag, type ReadRequest } from '../drivers/modbus/planner.ts';
import type { ModbusTable, TagType, WordOrder } from '../config/schema.ts';

const ORDERS: WordOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];
const order = fc.option(fc.constantFrom(...ORDERS), { nil: undefined });
const words = (n: number) => fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: n, maxLength: n });

const INT_BITS: Record<string, [number, boolean]> = {
  int16: [16, true], uint16: [16, false], int32: [32, true], uint32: [32, false], int64: [64, true], uint64: [64, false],
};
const INT_TYPES = Object.keys(INT_BITS) as TagType[];
const SPAN: Record<string, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, int64: 4, uint64: 4, float32: 2, float64: 4 };

/** Integers the type holds that a double represents exactly (all of them up to 32 bits; beyond 2^53 every double integer). */
function intIn(type: TagType): fc.Arbitrary<number> {
  const [bits, signed] = INT_BITS[type]!;
  if (bits <= 32) return signed ? fc.integer({ min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 }) : fc.integer({ min: 0, max: 2 ** bits - 1 });
  const lo = signed ? -(2 ** 63) : 0;
  const hi = signed ? 2 ** 63 : 2 ** 64; // exclusive: the largest double below is the largest one that fits
  return fc.oneof(fc.maxSafeInteger().filter((n) => n >= lo), fc.double({ min: lo, max: hi, noNaN: true, maxExcluded: true }).map(Math.trunc))
    .map((n) => (n === 0 ? 0 : n));
}

/** Encodes, checks the words are 16-bit and as many as the type spans, decodes them back. */
function roundTrip(value: number | string | boolean, fmt: ValueFormat): unknown {
  const regs = encodeValue(value, fmt);
  if (!regs.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff)) throw new Error(`not 16-bit words: ${regs.join(',')}`);
  return decodeRegisters(regs, fmt);
}

t.test('codec: every integer type and word order gives back the value written', async (t) => {
  for (const type of INT_TYPES) {
    fc.assert(fc.property(intIn(type), order, (v, o) => roundTrip(v, { type, order: o }) === v), { seed: 9101, numRuns: 3000 });
  }
  t.pass('3,000 values per integer type, over ABCD/CDAB/BADC/DCBA, the exact value back (also beyond 2^53 for 64-bit)');
});

t.test('codec: floats come back as the same float32/float64', async (t) => {
  fc.assert(fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), order, (f, o) => {
    const back = roundTrip(f, { type: 'float32', order: o }) as number;
    // The decoded value is the shortest decimal that maps to the same float32 (what SCADA shows).
    return Math.fround(back) === f && String(back).replace(/e.*/, '').replace(/[-.]/g, '').replace(/^0+|0+$/g, '').length <= 9;
  }), { seed: 9102, numRuns: 5000 });
  fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), order, (f, o) => roundTrip(f, { type: 'float64', order: o }) === f),
    { seed: 9103, numRuns: 5000 });
  t.pass('5,000 float32 and 5,000 float64 values, every word order');
});

t.test('codec: text of Latin-1 characters and a bit of a register survive the round trip', async (t) => {
  const latin1 = fc.integer({ min: 1, max: 0xff }).map((c) => String.fromCharCode(c));
  fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), order, fc.array(latin1, { maxLength: 40 }), (length, o, chars) => {
    // Trailing spaces are padding to a device, and trimmed; the text is whatever fits the registers.
    const text = chars.join('').slice(0, 2 * length).replace(/ +$/, '');
    return roundTrip(text, { type: 'string', length, order: o }) === text;
  }), { seed: 9104, numRuns: 3000 });
  fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 15 }), fc.boolean(), (current, bit, on) => {
    const [w] = encodeValue(on, { type: 'bool', bit }, current);
    // The other 15 bits (other pumps' run commands in the same word) are left as they were.
    return decodeRegisters([w!], { type: 'bool', bit }) === on && ((w! ^ current) & ~(1 << bit) & 0xffff) === 0;
  }), { seed: 9105, numRuns: 3000 });
  t.pass('3,000 strings and 3,000 bit writes');
});

t.test('codec: with a scale and offset, what is read is written back as the same words', async (t) => {
  const scale = fc.constantFrom(0.1, 0.01, 0.001, 0.5, 2, 10, -0.1, 0.25, 1);
  const offset = fc.constantFrom(0, -40, -273.15, 0.5, 100, -0.01);
  const small = fc.constantFrom<TagType>('int16', 'uint16', 'int32', 'uint32');
  fc.assert(fc.property(small, order, scale, offset, fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 2, maxLength: 2 }),
    (type, o, s, off, regs) => {
      const fmt: ValueFormat = { type, order: o, scale: s, offset: off };
      const words = regs.slice(0, SPAN[type]);
      const v = decodeRegisters(words, fmt);
      // A setpoint read from the panel and written back unchanged must not move.
      return isDeepStrictEqual(encodeValue(v, fmt), words);
    }), { seed: 9106, numRuns: 5000 });
  t.pass('5,000 registers read, scaled, and written back unchanged');
});

t.test('codec: random words decode to a value of the tag\'s kind; too few words and bad values are refused by name', async (t) => {
  const anyType = fc.constantFrom<TagType>(...INT_TYPES, 'float32', 'float64', 'bool', 'string');
  fc.assert(fc.property(anyType, order, fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 6 }), fc.nat({ max: 3 }),
    (type, o, regs, at) => {
      const fmt: ValueFormat = { type, order: o, ...(type === 'string' ? { length: 2 } : {}) };
      const span = type === 'string' ? 2 : SPAN[type] ?? 1;
      try {
        const v = decodeRegisters(regs, fmt, at);
        const kind = type === 'bool' ? 'boolean' : type === 'string' ? 'string' : 'number';
        return regs.length - at >= span && typeof v === kind;
      } catch (e) {
        return e instanceof RangeError && regs.length - at < span && e.message.startsWith(type);
      }
    }), { seed: 9107, numRuns: 10_000 });
  const anyValue = fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 6 }), fc.boolean(), fc.constantFrom(2 ** 63, 2 ** 64, -(2 ** 63) - 4096, 65536, -32769, 1e39));
  fc.assert(fc.property(anyType, order, anyValue, (type, o, v) => {
    const fmt: ValueFormat = { type, order: o, ...(type === 'string' ? { length: 2 } : {}) };
    try {
      const regs = encodeValue(v, fmt);
      return regs.length === (type === 'string' ? 2 : SPAN[type] ?? 1) && regs.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff);
    } catch (e) {
      // A write the tag cannot hold is refused before anything is sent, with a reason naming the type.
      return (e instanceof RangeError || e instanceof TypeError) && e.message.length > 0 && (e.message.includes(type) || type === 'string' || type === 'bool');
    }
  }), { seed: 9108, numRuns: 10_000 });
  t.pass('10,000 random reads and 10,000 random writes: a value or a named refusal');
});

// ---- planner -----------------------------------------------------------------------------------

const TABLES: ModbusTable[] = ['hr', 'ir', 'co', 'di'];
const isBits = (table: ModbusTable) => table === 'co' || table === 'di';

const limitsArb: fc.Arbitrary<PlanLimits> = fc.record({
  maxRegisters: fc.oneof(fc.constant(125), fc.integer({ min: 1, max: 125 })),
  maxBits: fc.oneof(fc.constant(2000), fc.integer({ min: 1, max: 2000 })),
  maxGap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 124 })),
}).map((l) => ({ ...l, maxBitGap: l.maxGap * 16 })); // as the driver sets it

/**
 * Tags as a configuration gives them: clustered (so requests merge and hit the limits), sometimes
 * sharing registers (bits of one status word, a float read also as two uint16), up to the last address.
 * `overlapping: false` gives each register at most one tag.
 */
function tagsArb(l: PlanLimits, overlapping: boolean): fc.Arbitrary<PlanTag[]> {
  const one = fc.record({
    unit: fc.integer({ min: 1, max: 3 }), table: fc.constantFrom(...TABLES),
    base: fc.constantFrom(0, 100, 1000, 65_000), at: fc.nat({ max: 600 }),
    span: fc.oneof(fc.constantFrom(1, 2, 4), fc.integer({ min: 1, max: 125 })),
  }).map(({ unit, table, base, at, span }) => {
    const s = isBits(table) ? 1 : Math.min(span, l.maxRegisters);
    return { unit, table, index: Math.min(base + at, 65_536 - s), span: s };
  });
  return fc.array(one, { maxLength: 80 }).map((xs) => {
    const tags = xs.map((x, i) => ({ name: `t${i}`, ...x }));
    if (overlapping) return tags;
    const taken = new Set<string>();
    return tags.filter((x) => {
      const keys = Array.from({ length: x.span }, (_, k) => `${x.unit}/${x.table}/${x.index + k}`);
      if (keys.some((k) => taken.has(k))) return false;
      for (const k of keys) taken.add(k);
      return true;
    });
  });
}

/** What a user relies on in a plan; the reason for the first violation, or '' when there is none. */
function planFaults(tags: readonly PlanTag[], plan: readonly ReadRequest[], l: PlanLimits): string {
  const seen = new Map<PlanTag, number>();
  for (const r of plan) {
    const bits = isBits(r.table);
    if (r.count < 1 || r.count > (bits ? Math.min(l.maxBits, 2000) : Math.min(l.maxRegisters, 125))) return `request of ${r.count}`;
    if (r.start < 0 || r.start + r.count > 65_536) return `request ${r.start}+${r.count} beyond the address space`;
    // Reads nothing it need not: starts at its first tag, ends at its last.
    const reach = Math.max(...r.tags.map((x) => x.index + x.span));
    if (Math.min(...r.tags.map((x) => x.index)) !== r.start || reach !== r.start + r.count) return `request ${r.start}+${r.count} wider than its tags`;
    // Bridges no hole wider than max_gap (registers between tags that no tag reads).
    const sorted = [...r.tags].sort((a, b) => a.index - b.index);
    let end = r.start;
    for (const x of sorted) {
      if (x.unit !== r.unit || x.table !== r.table) return `tag ${x.name} in a request of another unit/table`;
      if (x.index - end > (bits ? l.maxBitGap : l.maxGap)) return `gap of ${x.index - end} before ${x.name}`;
      end = Math.max(end, x.index + x.span);
      seen.set(x, (seen.get(x) ?? 0) + 1);
    }
  }
  const missing = tags.find((x) => seen.get(x) !== 1);
  if (missing) return `tag ${missing.name} read ${seen.get(missing) ?? 0} times`;
  return '';
}

/** Two requests of one unit and table reading a register twice in a scan; '' when none do. */
function overlaps(plan: readonly ReadRequest[]): string {
  const sorted = [...plan].sort((a, b) => a.unit - b.unit || a.table.localeCompare(b.table) || a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!, b = sorted[i]!;
    if (a.unit === b.unit && a.table === b.table && b.start < a.start + a.count) return `${a.table}:${a.start}+${a.count} and ${b.start}+${b.count}`;
  }
  return '';
}

t.test('planner: random tag sets give a plan that reads every tag once, within limits and max_gap', async (t) => {
  fc.assert(fc.property(limitsArb.chain((l) => fc.tuple(fc.constant(l), tagsArb(l, true))), ([l, tags]) => {
    const fault = planFaults(tags, planReads(tags, l), l);
    if (fault) throw new Error(fault);
    return true;
  }), { seed: 9201, numRuns: 3000 });
  t.pass('3,000 random devices (up to 80 tags, shared registers included)');
});

t.test('planner: tags that share no register give requests that share no register', async (t) => {
  fc.assert(fc.property(limitsArb.chain((l) => fc.tuple(fc.constant(l), tagsArb(l, false))), ([l, tags]) => {
    const plan = planReads(tags, l);
    const fault = planFaults(tags, plan, l) || overlaps(plan);
    if (fault) throw new Error(fault);
    return true;
  }), { seed: 9202, numRuns: 3000 });
  t.pass('3,000 random devices: no register read twice per scan');
});

t.test('planner: the same tags in any order give the same plan; a split request still reads each of its tags once', async (t) => {
  fc.assert(fc.property(limitsArb.chain((l) => fc.tuple(fc.constant(l), tagsArb(l, true))), fc.infiniteStream(fc.nat()).map((s) => s), ([l, tags], noise) => {
    const it = noise[Symbol.iterator]();
    const shuffled = tags.map((x) => [it.next().value as number, x] as const).sort((a, b) => a[0] - b[0]).map(([, x]) => x);
    const shape = (p: ReadRequest[]) => p.map((r) => `${r.unit}/${r.table}:${r.start}+${r.count}:${r.tags.map((x) => x.name).sort().join(',')}`);
    const plan = planReads(tags, l);
    if (!isDeepStrictEqual(shape(plan), shape(planReads(shuffled, l)))) throw new Error('plan depends on the order of the tags');
    for (const r of plan) {
      const parts = splitRequest(r);
      // After exception 02 the halves still read every tag of the request once, inside its registers.
      const names = parts.flatMap((p) => p.tags.map((x) => x.name)).sort();
      if (!isDeepStrictEqual(names, r.tags.map((x) => x.name).sort())) throw new Error('split lost or doubled a tag');
      if (parts.some((p) => p.start < r.start || p.start + p.count > r.start + r.count || p.tags.length === 0)) throw new Error('split reads outside the request');
      if (parts.length === 1 && new Set(r.tags.map((x) => `${x.index}+${x.span}`)).size > 1) throw new Error('split kept tags on different registers together');
      const fault = planFaults(r.tags, parts, { ...l, maxGap: 65_535, maxBitGap: 65_535 });
      if (fault) throw new Error(`split: ${fault}`);
    }
    return true;
  }), { seed: 9203, numRuns: 2000 });
  t.pass('2,000 random devices, shuffled and bisected');
});
