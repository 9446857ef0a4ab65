// The Sparkplug B payload codec (cloud-sync/sparkplug/payload.ts) against hand-written wire bytes and
// against Eclipse Tahu's JavaScript codec (sparkplug-payload 1.0.3), both ways: what we publish must
// read right in a Tahu-based host, and an NCMD/DCMD a Tahu-based host sends must read right here.
import t from 'tap';
import sparkplug from 'sparkplug-payload';
import {
  DataType as D, dataTypeName, datatypeFor, decodePayload, encodePayload, SparkplugPayloadError,
  type EncodeOptions, type SpMetric, type SpPayload, type SpProperty, type SpValue,
} from '../cloud-sync/sparkplug/payload.ts';
import { payloadType } from '../cloud-sync/sparkplug/schema.ts';

const PayloadType = payloadType();

const tahu = sparkplug.get('spBv1.0')!;
type TahuPayload = Parameters<typeof tahu.encodePayload>[0];
type TahuMetric = NonNullable<TahuPayload['metrics']>[number];

const T0 = 1_700_000_000_123;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/**
 * For strictSame (t.same is loose: it takes 5n for 5, and a Buffer for a Uint8Array): byte values as
 * plain Uint8Array, since decoders hand out Buffers that view the received message.
 */
function plain(p: SpPayload): SpPayload {
  const out: SpPayload = { ...p, metrics: p.metrics.map((m) => (m.value instanceof Uint8Array ? { ...m, value: Uint8Array.from(m.value) } : m)) };
  if (p.body) out.body = Uint8Array.from(p.body);
  return out;
}

// ── bridges to Tahu's representation (64-bit values as Long, types by name) ───────────────────────

/** The 64 bits of a Long (either `long` major: Tahu and its protobufjs load different copies), a number or a bigint. */
function bitsOf(v: unknown): bigint {
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number') return BigInt.asUintN(64, BigInt(v));
  const l = v as { low: number; high: number };
  return (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
}
/** Our convention: a number when it is a safe integer, a bigint beyond. */
function canonical(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}
const isLong = (v: unknown) => typeof v === 'object' && v !== null && 'low' in v && 'high' in v;

/** A value as Tahu decoded it, in our representation. */
function fromTahuValue(dt: number, v: unknown): SpValue {
  if (v === null || v === undefined) return null;
  if (dt === D.Int64) return canonical(BigInt.asIntN(64, bitsOf(v)));
  if (isLong(v)) return canonical(bitsOf(v));
  if (v instanceof Uint8Array) return new Uint8Array(v);
  return v as SpValue;
}
/** A value in the form Tahu's encoder takes: 64-bit beyond 2^53 as {low, high} (it drops a bigint to 0). */
function toTahuValue(v: SpValue): TahuMetric['value'] {
  if (typeof v !== 'bigint') return v as TahuMetric['value'];
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: false } as unknown as TahuMetric['value'];
}

const PLAIN_PROPERTY = new Set<number>([D.String, D.Boolean, D.Double]);

function fromTahu(p: TahuPayload): SpPayload {
  const out: SpPayload = { metrics: (p.metrics ?? []).map((m) => {
    const datatype = D[m.type as keyof typeof D];
    const sm: SpMetric = { datatype, value: fromTahuValue(datatype, m.value) };
    if (m.name !== undefined && m.name !== null) sm.name = m.name;
    if (m.alias !== undefined && m.alias !== null) sm.alias = Number(bitsOf(m.alias));
    if (m.timestamp !== undefined && m.timestamp !== null) sm.timestamp = Number(bitsOf(m.timestamp));
    if (m.isHistorical) sm.isHistorical = true;
    if (m.isTransient) sm.isTransient = true;
    if (m.properties) {
      sm.properties = {};
      for (const [k, pv] of Object.entries(m.properties)) {
        const type = D[pv.type as keyof typeof D], value = fromTahuValue(type, pv.value);
        sm.properties[k] = value !== null && PLAIN_PROPERTY.has(type) ? value as string | boolean | number : { datatype: type, value };
      }
    }
    return sm;
  }) };
  if (p.timestamp !== undefined && p.timestamp !== null) out.timestamp = Number(bitsOf(p.timestamp));
  if (p.seq !== undefined && p.seq !== null) out.seq = Number(bitsOf(p.seq));
  return out;
}

function toTahu(p: SpPayload): TahuPayload {
  return {
    timestamp: p.timestamp, seq: p.seq,
    metrics: p.metrics.map((m) => {
      const tm: TahuMetric = { type: dataTypeName(m.datatype) as TahuMetric['type'], value: toTahuValue(m.value) };
      if (m.name !== undefined) tm.name = m.name;
      if (m.alias !== undefined) tm.alias = m.alias;
      if (m.timestamp !== undefined) tm.timestamp = m.timestamp;
      if (m.isHistorical) tm.isHistorical = true;
      if (m.isTransient) tm.isTransient = true;
      if (m.properties) {
        tm.properties = {};
        for (const [k, v] of Object.entries(m.properties)) {
          const [type, value] = typeof v === 'object' ? [v.datatype, v.value] : [typeof v === 'string' ? D.String : typeof v === 'boolean' ? D.Boolean : D.Double, v];
          tm.properties[k] = { type: dataTypeName(type) as TahuMetric['type'], value: toTahuValue(value) as never };
        }
      }
      return tm;
    }),
  };
}

// ── every data type, at its edges ───────────────────────────────────────────────────────────────

const EDGES: [number, SpValue[]][] = [
  [D.Int8, [-128, -1, 0, 127]],
  [D.Int16, [-32768, -1, 32767]],
  [D.Int32, [-2147483648, -1, 2147483647]],
  [D.Int64, [-(2n ** 63n), -(2n ** 53n) - 1n, -1, Number.MAX_SAFE_INTEGER, 2n ** 53n + 1n, 2n ** 63n - 1n]],
  [D.UInt8, [0, 255]],
  [D.UInt16, [0, 65535]],
  [D.UInt32, [0, 2147483648, 4294967295]],
  [D.UInt64, [0, Number.MAX_SAFE_INTEGER, 2n ** 53n + 1n, 2n ** 64n - 1n]],
  [D.Float, [Math.fround(0.1), -3.5, Math.fround(3.4e38)]],
  [D.Double, [0.1, -1e300, 5e-324]],
  [D.Boolean, [true, false]],
  [D.String, ['', 'Straße 12 ✓ 漢字']],
  [D.DateTime, [0, T0]],
  [D.Text, ['a longer text\nover two lines']],
  [D.UUID, ['5f1b3c2a-8d4e-4c1a-9b2f-0e6d7a8c9b10']],
  [D.Bytes, [new Uint8Array([0, 1, 254, 255])]],
];
const edgeMetrics = (): SpMetric[] => EDGES.flatMap(([datatype, values]) =>
  values.map((value, i) => ({ name: `${dataTypeName(datatype)}/${i}`, alias: datatype * 100 + i, timestamp: T0, datatype, value })));

t.test('every data type at its edges: ours → ours, ours → Tahu, Tahu → ours', async (t) => {
  const payload: SpPayload = { timestamp: T0, seq: 0, metrics: edgeMetrics() };
  t.strictSame(plain(decodePayload(encodePayload(payload))), payload, 'our decoder reads back exactly what we encoded');

  // Tahu 1.0.3 reads UInt32 only from long_value, so it needs uint32InLongValue to see them.
  t.strictSame(fromTahu(tahu.decodePayload(encodePayload(payload, { uint32InLongValue: true }))), payload, 'Tahu reads every value (UInt32 in long_value)');
  const specMode = fromTahu(tahu.decodePayload(encodePayload(payload)));
  for (const [i, m] of payload.metrics.entries()) {
    const want = m.datatype === D.UInt32 ? null : m.value; // Tahu 1.0.3 sees no value in int_value
    t.strictSame(specMode.metrics[i]!.value, want, `spec-mode ${m.name} as Tahu reads it`);
  }

  t.strictSame(plain(decodePayload(tahu.encodePayload(toTahu(payload)))), payload, 'we read every value Tahu encodes');
});

t.test('wire bytes written by hand from the spec: signed ints as two\'s complement, null, UInt32 field', async (t) => {
  const one = (m: SpMetric, opts?: EncodeOptions) => hex(encodePayload({ timestamp: 1, seq: 0, metrics: [m] }, opts));
  // 08 01 timestamp=1 | 12 LEN metric | 18 00 seq=0; in the metric: 0a name, 20 datatype, 50 int_value, 58 long_value, 38 is_null
  t.equal(one({ name: 'a', datatype: D.Int32, value: -1 }), '0801' + '120b' + '0a0161' + '2003' + '50ffffffff0f' + '1800');
  t.equal(one({ name: 'a', datatype: D.Int8, value: -1 }), '0801' + '120b' + '0a0161' + '2001' + '50ffffffff0f' + '1800', 'Int8 -1 sign-extended to 32 bits, as Tahu writes it');
  t.equal(one({ name: 'a', datatype: D.Int64, value: -1 }), '0801' + '1210' + '0a0161' + '2004' + '58ffffffffffffffffff01' + '1800');
  t.equal(one({ alias: 5, datatype: D.UInt32, value: 4294967295 }), '0801' + '120a' + '1005' + '2007' + '50ffffffff0f' + '1800', 'UInt32 in int_value by default (§6.4.16)');
  t.equal(one({ alias: 5, datatype: D.UInt32, value: 4294967295 }, { uint32InLongValue: true }), '0801' + '120a' + '1005' + '2007' + '58ffffffff0f' + '1800');
  t.equal(one({ alias: 5, datatype: D.Double, value: null }), '0801' + '1206' + '1005' + '200a' + '3801' + '1800', 'null: is_null and no value field');
  t.equal(one({ alias: 5, datatype: D.Boolean, value: false, isHistorical: false }), '0801' + '1206' + '1005' + '200b' + '7000' + '1800', 'false is written; a false flag is not');

  // Narrow signed ints written by other encoders as 8/16-bit two's complement, or widened to 64 bits.
  const raw = (fields: object) => PayloadType.encode({ metrics: [{ alias: 1, ...fields }] }).finish();
  t.equal(decodePayload(raw({ datatype: D.Int8, intValue: 0xff })).metrics[0]!.value, -1);
  t.equal(decodePayload(raw({ datatype: D.Int16, intValue: 0x8000 })).metrics[0]!.value, -32768);
  t.equal(decodePayload(raw({ datatype: D.Int16, longValue: -2 })).metrics[0]!.value, -2);
  t.equal(decodePayload(raw({ datatype: D.UInt32, longValue: 4294967295 })).metrics[0]!.value, 4294967295);
});

t.test('NBIRTH names with aliases and properties; NDATA by alias only; seq; is_historical', async (t) => {
  const birth: SpPayload = { timestamp: T0, seq: 0, metrics: [
    { name: 'bdSeq', timestamp: T0, datatype: D.UInt64, value: 3 },
    { name: 'Node Control/Rebirth', alias: 0, timestamp: T0, datatype: D.Boolean, value: false },
    { name: 'pump-1/flow', alias: 1, timestamp: T0, datatype: D.Float, value: Math.fround(12.5),
      properties: { engUnit: 'm³/h', engLow: 0, engHigh: 250.5, readOnly: true, Quality: { datatype: D.Int32, value: 192 }, note: { datatype: D.String, value: null } } },
  ] };
  const tb = tahu.decodePayload(encodePayload(birth));
  t.equal(tb.metrics![2]!.name, 'pump-1/flow');
  t.equal(Number(bitsOf(tb.metrics![2]!.alias)), 1);
  t.strictSame(tb.metrics![2]!.properties!.engUnit, { type: 'String', value: 'm³/h' }, 'Tahu reads engUnit as a String property');
  t.strictSame(tb.metrics![2]!.properties!.Quality, { type: 'Int32', value: 192 }, 'Quality as Int32 (§6.4.9)');
  t.strictSame(fromTahu(tb), birth);
  t.strictSame(decodePayload(tahu.encodePayload(toTahu(birth))), birth, 'properties Tahu encodes read back the same');

  const data: SpPayload = { timestamp: T0 + 1000, seq: 255, metrics: [
    { alias: 1, timestamp: T0 + 900, datatype: D.Float, value: Math.fround(13.25) },
    { alias: 1, timestamp: T0 - 60_000, datatype: D.Float, value: Math.fround(11), isHistorical: true },
    { alias: 2, timestamp: T0 + 900, datatype: D.Double, value: null, isTransient: true },
  ] };
  const bytes = encodePayload(data);
  const td = tahu.decodePayload(bytes);
  t.notOk(td.metrics!.some((m) => 'name' in m), 'no metric of the NDATA carries a name (§6.4.4)');
  t.equal(Number(bitsOf(td.seq)), 255);
  t.strictSame(td.metrics!.map((m) => m.isHistorical === true), [false, true, false]);
  t.strictSame(fromTahu(td), data);
  t.strictSame(decodePayload(bytes), data);
});

t.test('null in every data type: is_null set, no value field, read back as null by both', async (t) => {
  const metrics: SpMetric[] = EDGES.map(([datatype], i) => ({ alias: i, timestamp: T0, datatype, value: null }));
  const bytes = encodePayload({ timestamp: T0, metrics });
  const wire = PayloadType.decode(bytes) as unknown as { metrics: { isNull: boolean; value?: string }[] };
  t.strictSame(wire.metrics.map((m) => [m.isNull, m.value]), metrics.map(() => [true, undefined]));
  t.strictSame(tahu.decodePayload(bytes).metrics!.map((m) => m.value), metrics.map(() => null));
  t.strictSame(decodePayload(bytes).metrics, metrics);
});

// ── seeded random round trip ────────────────────────────────────────────────────────────────────

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomPayload(r: () => number, n: number): SpPayload {
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const u64 = () => (BigInt(int(0, 0xffffffff)) << 32n) | BigInt(int(0, 0xffffffff));
  const big = (signed: boolean) => canonical(r() < 0.5 ? BigInt(int(-1e6, 1e6)) * (signed ? 1n : 0n) + BigInt(int(0, 1e6)) : signed ? BigInt.asIntN(64, u64()) : u64());
  const text = () => Array.from({ length: int(0, 12) }, () => String.fromCodePoint(r() < 0.8 ? int(0x20, 0x7e) : int(0xa0, 0x2fff))).join('');
  const value = (dt: number): SpValue => {
    switch (dt) {
      case D.Int8: return int(-128, 127);
      case D.Int16: return int(-32768, 32767);
      case D.Int32: return int(-2147483648, 2147483647);
      case D.UInt8: return int(0, 255);
      case D.UInt16: return int(0, 65535);
      case D.UInt32: return int(0, 4294967295);
      case D.Int64: return big(true);
      case D.UInt64: return big(false);
      case D.Float: return Math.fround((r() - 0.5) * 1e6);
      case D.Double: return (r() - 0.5) * 10 ** int(-10, 300);
      case D.Boolean: return r() < 0.5;
      case D.DateTime: return int(0, 2 ** 42);
      case D.Bytes: return Uint8Array.from({ length: int(0, 8) }, () => int(0, 255));
      default: return text();
    }
  };
  const types = EDGES.map(([dt]) => dt);
  const metrics = Array.from({ length: n }, (_, i): SpMetric => {
    const datatype = types[int(0, types.length - 1)]!;
    const m: SpMetric = { datatype, value: r() < 0.05 ? null : value(datatype), timestamp: T0 + int(-1e9, 1e9) };
    const named = r() < 0.5;
    if (named) m.name = `dev-${int(1, 20)}/${text()}`;
    if (!named || r() < 0.5) m.alias = i;
    if (r() < 0.1) m.isHistorical = true;
    if (r() < 0.05) m.isTransient = true;
    if (r() < 0.1) {
      const props: Record<string, SpProperty> = { engUnit: text(), engLow: (r() - 0.5) * 1e3, Quality: { datatype: D.Int32, value: [0, 192, 500][int(0, 2)]! } };
      if (r() < 0.5) props.readOnly = r() < 0.5;
      m.properties = props;
    }
    return m;
  });
  return { timestamp: T0, seq: int(0, 255), metrics };
}

t.test('seeded random round trip of 4,000 metrics, both ways with Tahu', async (t) => {
  const r = mulberry32(0x5eed);
  for (let round = 0; round < 8; round++) {
    const payload = randomPayload(r, 500);
    const bytes = encodePayload(payload);
    t.strictSame(plain(decodePayload(bytes)), payload, `round ${round}: ours → ours`);
    t.strictSame(fromTahu(tahu.decodePayload(encodePayload(payload, { uint32InLongValue: true }))), payload, `round ${round}: ours → Tahu`);
    t.strictSame(plain(decodePayload(tahu.encodePayload(toTahu(payload)))), payload, `round ${round}: Tahu → ours`);
  }
});

// ── refusals ────────────────────────────────────────────────────────────────────────────────────

const refused = { name: 'SparkplugPayloadError' };

t.test('garbage into decodePayload gives a SparkplugPayloadError, never a crash or a half payload', async (t) => {
  const good = encodePayload({ timestamp: T0, seq: 1, metrics: edgeMetrics() });
  const garbage: [string, Uint8Array][] = [
    ['text', Buffer.from('hello, this is not protobuf')],
    ['JSON', Buffer.from('{"timestamp":1,"metrics":[]}')],
    ['invalid wire type', Uint8Array.of(0x0f)],
    ['truncated', good.subarray(0, good.length - 3)],
    ['length past the end', Uint8Array.of(0x12, 0x7f, 0x0a)],
    ['endless varint', new Uint8Array(16).fill(0xff)],
  ];
  for (const [what, bytes] of garbage) t.throws(() => decodePayload(bytes), { ...refused, message: /not a Sparkplug B payload/ }, what);

  const raw = (fields: object) => PayloadType.encode({ metrics: [{ alias: 7, ...fields }] }).finish();
  t.throws(() => decodePayload(raw({ datatype: D.Int32, stringValue: '5' })), { ...refused, message: /alias 7: Int32 needs its value in intValue, got stringValue/ });
  t.throws(() => decodePayload(raw({ datatype: D.Double })), { ...refused, message: /no value and no is_null/ });
  t.throws(() => decodePayload(raw({ datatype: D.Int8, intValue: 300 })), { ...refused, message: /out of range for Int8/ });
  t.throws(() => decodePayload(raw({ datatype: D.UInt32, longValue: 2 ** 40 })), { ...refused, message: /out of range for UInt32/ });
  t.throws(() => decodePayload(raw({ datatype: D.DataSet, bytesValue: Uint8Array.of(1) })), { ...refused, message: /DataSet is not supported/ });
  t.throws(() => decodePayload(raw({ datatype: D.Double, doubleValue: 1, properties: { keys: ['a', 'b'], values: [{ type: D.String, stringValue: 'x' }] } })), { ...refused, message: /2 keys but 1 values/ });
  t.throws(() => decodePayload(PayloadType.encode({ metrics: [{ datatype: D.Double, doubleValue: 1 }] }).finish()), { ...refused, message: /neither name nor alias/ });

  // Fuzz: random bytes and single-byte corruptions of a good payload either decode or are refused.
  const r = mulberry32(42);
  let decoded = 0, refusedCount = 0;
  const other: unknown[] = [];
  for (let i = 0; i < 6000; i++) {
    const bytes = i % 2 ? Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)) : Uint8Array.from(good);
    if (i % 2 === 0) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
    try {
      if (Array.isArray(decodePayload(bytes).metrics)) decoded++;
    } catch (e) {
      if (e instanceof SparkplugPayloadError) refusedCount++; else other.push(e);
    }
  }
  t.strictSame(other, [], 'nothing but SparkplugPayloadError is thrown');
  t.ok(refusedCount > 1000 && decoded > 100, `both outcomes occur (${decoded} decoded, ${refusedCount} refused)`);
});

t.test('encodePayload refuses values its datatype cannot carry', async (t) => {
  const enc = (m: Partial<SpMetric>) => () => encodePayload({ metrics: [{ name: 'x', datatype: D.Double, value: 0, ...m }] });
  t.throws(enc({ datatype: D.Int8, value: 128 }), { ...refused, message: /"x": Int8 needs an integer in -128…127, got 128/ });
  t.throws(enc({ datatype: D.UInt16, value: -1 }), { ...refused, message: /UInt16 needs an integer/ });
  t.throws(enc({ datatype: D.Int32, value: 1.5 }), { ...refused, message: /Int32 needs an integer/ });
  t.throws(enc({ datatype: D.Int64, value: 2n ** 63n }), { ...refused, message: /Int64 needs a signed 64-bit integer/ });
  t.throws(enc({ datatype: D.UInt64, value: -1 }), { ...refused, message: /UInt64 needs an unsigned 64-bit integer/ });
  t.throws(enc({ datatype: D.Double, value: '1' }), { ...refused, message: /Double needs a number, got string/ });
  t.throws(enc({ datatype: D.String, value: 1 }), { ...refused, message: /String needs a string/ });
  t.throws(enc({ datatype: D.Template, value: 1 }), { ...refused, message: /Template is not supported/ });
  t.throws(enc({ name: undefined }), { ...refused, message: /a metric needs a name or an alias/ });
  t.throws(enc({ timestamp: -1 }), { ...refused, message: /timestamp must be a non-negative integer/ });
  t.doesNotThrow(enc({ name: undefined, alias: 0 }), 'alias 0 is an alias');
});

t.test('datatypeFor: our tag types, and sensor values by their JavaScript type', async (t) => {
  const want = { bool: D.Boolean, int16: D.Int16, uint16: D.UInt16, int32: D.Int32, uint32: D.UInt32, float32: D.Float, int64: D.Int64, uint64: D.UInt64, float64: D.Double, string: D.String } as const;
  for (const [tagType, dt] of Object.entries(want)) t.equal(datatypeFor(tagType as keyof typeof want, 1), dt, tagType);
  t.equal(datatypeFor('int16', 12.3, { scaled: true }), D.Double, 'a scaled register is Double');
  t.equal(datatypeFor('bool', true, { scaled: true }), D.Boolean);
  t.strictSame([datatypeFor(undefined, 2.5), datatypeFor(undefined, false), datatypeFor(undefined, 'open'), datatypeFor(undefined, null)], [D.Double, D.Boolean, D.String, undefined]);
  t.throws(() => datatypeFor('int8' as never, 1), /unknown tag type "int8"/);
});

t.test('payload fields: no timestamp or seq (an NDEATH), uuid and body', async (t) => {
  const death: SpPayload = { metrics: [{ name: 'bdSeq', datatype: D.UInt64, value: 7 }] };
  t.strictSame(decodePayload(encodePayload(death)), death, 'absent timestamp and seq stay absent');
  const withBody: SpPayload = { timestamp: T0, seq: 9, metrics: [], uuid: 'schema-1', body: Uint8Array.of(9, 8, 7) };
  const back = decodePayload(encodePayload(withBody));
  t.strictSame(plain(back), withBody);
  const tb = tahu.decodePayload(encodePayload(withBody));
  t.strictSame([tb.uuid, [...tb.body!]], ['schema-1', [9, 8, 7]]);
});
