// Sparkplug B 3.0 payloads (spec §6.4): our SpPayload ⇄ protobuf bytes. Pure: no topics, no seq or
// bdSeq bookkeeping, no aliases table; the edge-node uplink builds those on top of this module.
//
// Values by datatype (§6.4.16 "Datatype Details"), in both directions:
//   Int8/16/32      number     int_value, negatives as two's complement in 32 bits (-1 → 4294967295)
//   UInt8/16/32     number     int_value (UInt32: long_value instead with `uint32InLongValue`, below)
//   Int64, UInt64   number | bigint   long_value, Int64 as two's complement in 64 bits; decoded as a
//                   number when it is a safe integer, as a bigint beyond ±(2^53 - 1)
//   DateTime        number     long_value, epoch ms
//   Float, Double   number     float_value (rounded to float32), double_value
//   Boolean         boolean    boolean_value
//   String, Text, UUID string  string_value
//   Bytes, File     Uint8Array bytes_value
// `null` is a metric with is_null = true and no value field (a bad-quality sample). DataSet, Template
// and the array types are not supported: encode and decode throw a SparkplugPayloadError naming them.
import {
  DataType, dataTypeName, fromBits, low32, narrow, payloadType,
  type Bits64, type WireMetric, type WirePayload, type WirePropertySet, type WirePropertyValue,
} from './schema.ts';
import type { TagType } from '../../gateway/model/index.ts';

export { DataType, dataTypeName };

export type SpValue = number | bigint | boolean | string | Uint8Array | null;

/**
 * A property of a metric (births: `engUnit`, `engLow`, …). A plain string is a String property, a
 * boolean a Boolean, a number a Double; give `{ datatype, value }` for any other type, e.g. the
 * spec's `Quality`, which must be Int32 (§6.4.9). Decoding gives back the plain form for String,
 * Boolean and Double properties with a value and the `{ datatype, value }` form for all others.
 */
export type SpProperty = string | boolean | number | { datatype: number; value: SpValue };

export interface SpMetric {
  /** Required in births; left out in NDATA/DDATA/NCMD/DCMD when the alias is used (§6.4.4). */
  name?: string;
  alias?: number;
  /** Epoch ms of the sample; required in births and data (§6.4.4), optional in commands. */
  timestamp?: number;
  /** A DataType code. 0 after decoding a metric sent without one: its value is then read as unsigned. */
  datatype: number;
  value: SpValue;
  isHistorical?: boolean;
  isTransient?: boolean;
  properties?: Record<string, SpProperty>;
}

export interface SpPayload {
  /** Epoch ms of publication; required in every message but the NDEATH will (§6.4.1). */
  timestamp?: number;
  /** 0–255, wrapping; left out in NDEATH only. The codec writes what it is given. */
  seq?: number;
  metrics: SpMetric[];
  uuid?: string;
  body?: Uint8Array;
}

export interface EncodeOptions {
  /**
   * Put UInt32 values in long_value instead of int_value. The spec says int_value (§6.4.16), but
   * Tahu's JavaScript decoder (sparkplug-payload 1.0.3) and older Tahu-based hosts read UInt32 only
   * from long_value and see 0 otherwise. Our decoder reads either.
   */
  uint32InLongValue?: boolean;
}

/** A payload that cannot be encoded or decoded; the message says which metric and why. */
export class SparkplugPayloadError extends Error {
  override name = 'SparkplugPayloadError';
}

/**
 * The datatype for a tag: from its configured type, or for sensor values (no type) from the value;
 * undefined when neither tells (no type and a null value: wait for a value before the birth).
 * `scaled`: the tag has a scale or offset, so its values are fractional whatever the registers
 * hold, and must be Double; a birth declares one datatype for all the metric's values.
 */
export function datatypeFor(tagType: TagType | undefined, value: unknown, opts: { scaled?: boolean } = {}): number | undefined {
  if (tagType === undefined) {
    switch (typeof value) {
      case 'number': return DataType.Double;
      case 'boolean': return DataType.Boolean;
      case 'string': return DataType.String;
      default: return undefined;
    }
  }
  const code = TAG_TYPES[tagType];
  if (code === undefined) throw new TypeError(`datatypeFor: unknown tag type "${tagType}"`);
  return opts.scaled && code !== DataType.Boolean && code !== DataType.String ? DataType.Double : code;
}
const TAG_TYPES: Record<string, number> = {
  bool: DataType.Boolean, int16: DataType.Int16, uint16: DataType.UInt16, int32: DataType.Int32, uint32: DataType.UInt32,
  float32: DataType.Float, int64: DataType.Int64, uint64: DataType.UInt64, float64: DataType.Double, string: DataType.String,
};

// ── encode ─────────────────────────────────────────────────────────────────────────────────────

export function encodePayload(p: SpPayload, opts: EncodeOptions = {}): Uint8Array {
  const metrics: WireMetric[] = new Array(p.metrics.length);
  for (let i = 0; i < metrics.length; i++) metrics[i] = wireMetric(p.metrics[i]!, opts);
  const wire: WirePayload = {
    timestamp: p.timestamp === undefined ? undefined : u64(p.timestamp, 'payload timestamp'),
    metrics,
    seq: p.seq === undefined ? undefined : u64(p.seq, 'seq'),
    uuid: p.uuid,
    body: p.body,
  };
  return payloadType().encode(wire).finish();
}

function wireMetric(m: SpMetric, opts: EncodeOptions): WireMetric {
  // [tck-id-payloads-name-requirement] a metric without its name must carry its alias.
  if (m.name === undefined && m.alias === undefined) throw new SparkplugPayloadError('a metric needs a name or an alias');
  // Every field in one literal, in the same order: one object shape for protobufjs' encoder.
  const w: WireMetric = {
    name: m.name,
    alias: m.alias === undefined ? undefined : u64(m.alias, 'alias', m),
    timestamp: m.timestamp === undefined ? undefined : u64(m.timestamp, 'timestamp', m),
    datatype: m.datatype,
    isHistorical: m.isHistorical || undefined, // false is the default: not worth a byte on the wire
    isTransient: m.isTransient || undefined,
    isNull: undefined,
    properties: m.properties === undefined ? undefined : wireProperties(m.properties, opts, m),
    intValue: undefined, longValue: undefined, floatValue: undefined, doubleValue: undefined,
    booleanValue: undefined, stringValue: undefined, bytesValue: undefined,
  };
  if (m.value === null) w.isNull = true;
  else putValue(w, m.datatype, m.value, opts, m);
  return w;
}

function wireProperties(props: Record<string, SpProperty>, opts: EncodeOptions, m: SpMetric): WirePropertySet {
  const keys = Object.keys(props);
  const values: WirePropertyValue[] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const p = props[keys[i]!]!;
    const type = typeof p === 'object' ? p.datatype : typeof p === 'string' ? DataType.String : typeof p === 'boolean' ? DataType.Boolean : DataType.Double;
    const value = typeof p === 'object' ? p.value : p;
    const w: WirePropertyValue = { type };
    if (value === null) w.isNull = true;
    else if (type === DataType.Bytes || type === DataType.File) throw fail(m, `property "${keys[i]}": ${dataTypeName(type)} is not a property type`);
    else putValue(w, type, value, opts, m);
    values[i] = w;
  }
  return { keys, values };
}

/** The value into the field its datatype uses; shared by Metric and PropertyValue (same field names). */
function putValue(w: WireMetric & WirePropertyValue, dt: number, v: Exclude<SpValue, null>, opts: EncodeOptions, m: SpMetric): void {
  switch (dt) {
    case DataType.Int8: case DataType.Int16: case DataType.Int32: case DataType.UInt8: case DataType.UInt16:
      // §6.4.16: signed types travel as two's complement in the uint32 field, sign-extended to 32
      // bits as a protobuf int32 cast (and Tahu) does: Int8 -1 → 4294967295. (protobufjs would apply
      // the `>>> 0` itself; it is here for the reader.)
      w.intValue = int32(v, dt, m) >>> 0; return;
    case DataType.UInt32:
      if (opts.uint32InLongValue) w.longValue = int32(v, dt, m); else w.intValue = int32(v, dt, m);
      return;
    case DataType.Int64: case DataType.UInt64: case DataType.DateTime:
      w.longValue = int64(v, dt, m); return;
    case DataType.Float: w.floatValue = ofType(v, 'number', dt, m); return;
    case DataType.Double: w.doubleValue = ofType(v, 'number', dt, m); return;
    case DataType.Boolean: w.booleanValue = ofType(v, 'boolean', dt, m); return;
    case DataType.String: case DataType.Text: case DataType.UUID: w.stringValue = ofType(v, 'string', dt, m); return;
    case DataType.Bytes: case DataType.File:
      if (!(v instanceof Uint8Array)) throw fail(m, `${dataTypeName(dt)} needs a Uint8Array, got ${typeof v}`);
      w.bytesValue = v; return;
    default: throw fail(m, `${dataTypeName(dt)} is not supported`);
  }
}

// The 32-bit-or-narrower integer types by datatype code (1–3, 5–7): width, signedness, range.
const BITS = [0, 8, 16, 32, 0, 8, 16, 32];
const SIGNED = [false, true, true, true, false, false, false, false];
const MIN = BITS.map((b, dt) => (SIGNED[dt] ? -(2 ** (b - 1)) : 0));
const MAX = BITS.map((b, dt) => (SIGNED[dt] ? 2 ** (b - 1) - 1 : 2 ** b - 1));

function int32(v: Exclude<SpValue, null>, dt: number, m: SpMetric): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= MIN[dt]! && v <= MAX[dt]!) return v;
  throw fail(m, `${dataTypeName(dt)} needs an integer in ${MIN[dt]}…${MAX[dt]}, got ${String(v)}`);
}

const TWO_63 = 2 ** 63, TWO_64 = 2 ** 64;
/** protobufjs writes a number (negatives as two's complement) or {low, high} bits into a uint64. */
function int64(v: Exclude<SpValue, null>, dt: number, m: SpMetric): number | Bits64 {
  const signed = dt === DataType.Int64;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && (signed ? v >= -TWO_63 && v < TWO_63 : v >= 0 && v < TWO_64)) return v;
  } else if (typeof v === 'bigint') {
    if (signed ? BigInt.asIntN(64, v) === v : BigInt.asUintN(64, v) === v) {
      const u = BigInt.asUintN(64, v);
      return { low: Number(u & 0xffffffffn), high: Number(u >> 32n) };
    }
  }
  throw fail(m, `${dataTypeName(dt)} needs ${signed ? 'a signed' : 'an unsigned'} 64-bit integer (number or bigint), got ${String(v)}`);
}

function ofType<T extends 'number' | 'boolean' | 'string'>(v: unknown, type: T, dt: number, m: SpMetric):
T extends 'number' ? number : T extends 'boolean' ? boolean : string {
  if (typeof v !== type) throw fail(m, `${dataTypeName(dt)} needs a ${type}, got ${typeof v}`);
  return v as never;
}

function u64(n: number, what: string, m?: SpMetric): number {
  if (Number.isSafeInteger(n) && n >= 0) return n;
  throw new SparkplugPayloadError(`${m ? `metric ${label(m)}: ` : ''}${what} must be a non-negative integer, got ${n}`);
}

const label = (m: Pick<SpMetric, 'name' | 'alias'>) => (m.name !== undefined ? `"${m.name}"` : `alias ${m.alias}`);
const fail = (m: Pick<SpMetric, 'name' | 'alias'>, why: string) => new SparkplugPayloadError(`metric ${label(m)}: ${why}`);

// ── decode ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Decodes a payload (an NCMD/DCMD from the host, or anything a peer sent). Throws a
 * SparkplugPayloadError for bytes that are not a Sparkplug B payload or carry what this codec
 * does not support; never returns a half-read payload. Bytes values and `body` are views into
 * `bytes`, not copies: copy them to keep them after the MQTT message is gone.
 */
export function decodePayload(bytes: Uint8Array): SpPayload {
  let wire: WirePayload;
  try {
    wire = payloadType().decode(bytes) as WirePayload;
  } catch (e) {
    throw new SparkplugPayloadError(`not a Sparkplug B payload: ${(e as Error).message}`, { cause: e });
  }
  const out: SpPayload = { metrics: (wire.metrics ?? []).map(readMetric) };
  if (has(wire, 'timestamp')) out.timestamp = toSafe(wire.timestamp!, 'payload timestamp');
  if (has(wire, 'seq')) out.seq = toSafe(wire.seq!, 'seq');
  if (has(wire, 'uuid')) out.uuid = wire.uuid!;
  if (has(wire, 'body')) out.body = wire.body!;
  return out;
}

function readMetric(w: WireMetric): SpMetric {
  const m: SpMetric = { datatype: has(w, 'datatype') ? w.datatype! : DataType.Unknown, value: null };
  if (has(w, 'name')) m.name = w.name!;
  if (has(w, 'alias')) m.alias = toSafe(w.alias!, 'alias', m);
  if (m.name === undefined && m.alias === undefined) throw new SparkplugPayloadError('a metric has neither name nor alias');
  if (has(w, 'timestamp')) m.timestamp = toSafe(w.timestamp!, 'timestamp', m);
  if (w.isHistorical === true) m.isHistorical = true;
  if (w.isTransient === true) m.isTransient = true;
  if (has(w, 'properties')) m.properties = readProperties(w.properties!, m);
  if (w.isNull !== true) m.value = readValue(w, m.datatype, m);
  return m;
}

function readProperties(ps: WirePropertySet, m: SpMetric): Record<string, SpProperty> {
  const keys = ps.keys ?? [], values = ps.values ?? [];
  // [tck-id-payloads-propertyset-keys-array-size] one value per key.
  if (keys.length !== values.length) throw fail(m, `property set has ${keys.length} keys but ${values.length} values`);
  const out: Record<string, SpProperty> = {};
  for (let i = 0; i < keys.length; i++) {
    const pv = values[i]!, type = pv.type ?? DataType.Unknown;
    if (type === DataType.PropertySet || type === DataType.PropertySetList) throw fail(m, `property "${keys[i]}": nested ${dataTypeName(type)} is not supported`);
    const value = pv.isNull === true ? null : readValue(pv, type, m);
    const plain = value !== null && (type === DataType.String || type === DataType.Boolean || type === DataType.Double);
    out[keys[i]!] = plain ? value as string | boolean | number : { datatype: type, value };
  }
  return out;
}

/** The value of a decoded Metric or PropertyValue, from the field its datatype uses (§6.4.16). */
function readValue(w: WireMetric | WirePropertyValue, dt: number, m: SpMetric): Exclude<SpValue, null> {
  switch (dt) {
    case DataType.Int8: case DataType.Int16: case DataType.Int32:
    case DataType.UInt8: case DataType.UInt16: case DataType.UInt32: {
      // Either field: UInt32 arrives in long_value from Tahu-based peers, and nothing is lost reading
      // a narrow integer that someone widened.
      const n = has(w, 'intValue') ? w.intValue! : has(w, 'longValue') ? low32(w.longValue!, SIGNED[dt]!) : wrongField(w, 'intValue', dt, m);
      const v = n === undefined ? undefined : narrow(n, BITS[dt]!, SIGNED[dt]!);
      if (v === undefined) throw fail(m, `value out of range for ${dataTypeName(dt)}`);
      return v;
    }
    case DataType.Int64: return has(w, 'longValue') ? fromBits(w.longValue as Bits64, true) : wrongField(w, 'longValue', dt, m);
    case DataType.UInt64: return has(w, 'longValue') ? fromBits(w.longValue as Bits64, false) : wrongField(w, 'longValue', dt, m);
    case DataType.DateTime: return has(w, 'longValue') ? toSafe(w.longValue!, 'DateTime', m) : wrongField(w, 'longValue', dt, m);
    case DataType.Float: return has(w, 'floatValue') ? w.floatValue! : wrongField(w, 'floatValue', dt, m);
    case DataType.Double: return has(w, 'doubleValue') ? w.doubleValue! : wrongField(w, 'doubleValue', dt, m);
    case DataType.Boolean: return has(w, 'booleanValue') ? w.booleanValue! : wrongField(w, 'booleanValue', dt, m);
    case DataType.String: case DataType.Text: case DataType.UUID:
      return has(w, 'stringValue') ? w.stringValue! : wrongField(w, 'stringValue', dt, m);
    case DataType.Bytes: case DataType.File: return has(w, 'bytesValue') ? (w as WireMetric).bytesValue! : wrongField(w, 'bytesValue', dt, m);
    case DataType.Unknown: { // no datatype on the wire: the field tells the kind; integers read unsigned
      const field = presentField(w);
      if (field === 'longValue') return fromBits(w.longValue as Bits64, false);
      if (field !== undefined) return (w as Record<string, Exclude<SpValue, null>>)[field]!;
      throw fail(m, 'no datatype and no value');
    }
    default: throw fail(m, `${dataTypeName(dt)} is not supported`);
  }
}

// Decoded messages carry protobufjs' defaults on their prototype: only own fields were on the wire.
const has = Object.hasOwn;
const VALUE_FIELDS = ['intValue', 'longValue', 'floatValue', 'doubleValue', 'booleanValue', 'stringValue', 'bytesValue'] as const;
const presentField = (w: object) => VALUE_FIELDS.find((f) => has(w, f));

function wrongField(w: object, want: string, dt: number, m: SpMetric): never {
  throw fail(m, `${dataTypeName(dt)} needs its value in ${want}, got ${presentField(w) ?? 'no value and no is_null'}`);
}

/** A uint64 that must fit a number (times, aliases, seq); the metric, if any, names it in the error. */
function toSafe(l: Bits64 | number, what: string, m?: SpMetric): number {
  const n = typeof l === 'number' ? l : fromBits(l, false);
  if (typeof n === 'number') return n;
  throw new SparkplugPayloadError(`${m ? `metric ${label(m)}: ` : ''}${what} is beyond 2^53: ${n}`);
}
