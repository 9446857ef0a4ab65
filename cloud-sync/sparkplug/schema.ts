// The Sparkplug B payload schema as protobufjs reflection types, built once, on first use: a box
// without a Sparkplug upstream never loads protobufjs (~2.5 MB of RSS).
//
// Written from the field numbers and wire types of the Sparkplug 3.0 specification (§6.4.1 "Google
// Protocol Buffer Schema"), not loaded from a .proto file: there is no file to find at run time, and
// the process does not parse .proto text on start-up. Field names are our camelCase; only numbers and
// types reach the wire, so any Sparkplug B peer (Tahu, Ignition, …) reads what this writes.
//
// Deliberately left out, so protobufjs skips them as unknown fields and a payload carrying them still
// decodes: Metric.metadata (8), Metric.dataset_value (17), template_value (18), extension_value (19),
// the DataSet, Template and MetaData messages, and every `extensions` range. payload.ts rejects a
// metric whose datatype needs them with a clear error instead.
import { createRequire } from 'node:module';
import type { Type } from 'protobufjs';

/** Sparkplug B datatype codes (§6.4.16) up to PropertySetList; the array types (22–34) are not named. */
export const DataType = {
  Unknown: 0, Int8: 1, Int16: 2, Int32: 3, Int64: 4, UInt8: 5, UInt16: 6, UInt32: 7, UInt64: 8,
  Float: 9, Double: 10, Boolean: 11, String: 12, DateTime: 13, Text: 14, UUID: 15,
  DataSet: 16, Bytes: 17, File: 18, Template: 19, PropertySet: 20, PropertySetList: 21,
} as const;

const NAMES = new Map<number, string>(Object.entries(DataType).map(([k, v]) => [v, k]));
export const dataTypeName = (code: number): string => NAMES.get(code) ?? `datatype ${code}`;

/** Fields of the value oneof shared by Metric and PropertyValue (with different numbers). */
const scalarValues = (first: number) => ({
  intValue: { type: 'uint32', id: first },
  longValue: { type: 'uint64', id: first + 1 },
  floatValue: { type: 'float', id: first + 2 },
  doubleValue: { type: 'double', id: first + 3 },
  booleanValue: { type: 'bool', id: first + 4 },
  stringValue: { type: 'string', id: first + 5 },
});

// protobufjs takes a JSON type without an edition as proto3; Sparkplug B is proto2.
const descriptor = {
  nested: {
    Payload: {
      edition: 'proto2',
      fields: {
        timestamp: { type: 'uint64', id: 1 },
        metrics: { rule: 'repeated', type: 'Metric', id: 2 },
        seq: { type: 'uint64', id: 3 },
        uuid: { type: 'string', id: 4 },
        body: { type: 'bytes', id: 5 },
      },
    },
    Metric: {
      edition: 'proto2',
      oneofs: { value: { oneof: ['intValue', 'longValue', 'floatValue', 'doubleValue', 'booleanValue', 'stringValue', 'bytesValue'] } },
      fields: {
        name: { type: 'string', id: 1 },
        alias: { type: 'uint64', id: 2 },
        timestamp: { type: 'uint64', id: 3 },
        datatype: { type: 'uint32', id: 4 },
        isHistorical: { type: 'bool', id: 5 },
        isTransient: { type: 'bool', id: 6 },
        isNull: { type: 'bool', id: 7 },
        properties: { type: 'PropertySet', id: 9 },
        ...scalarValues(10), // int_value = 10 … string_value = 15
        bytesValue: { type: 'bytes', id: 16 },
      },
    },
    PropertySet: {
      edition: 'proto2',
      fields: {
        keys: { rule: 'repeated', type: 'string', id: 1 },
        values: { rule: 'repeated', type: 'PropertyValue', id: 2 },
      },
    },
    PropertySetList: {
      edition: 'proto2',
      fields: { propertyset: { rule: 'repeated', type: 'PropertySet', id: 1 } },
    },
    PropertyValue: {
      edition: 'proto2',
      oneofs: {
        value: { oneof: ['intValue', 'longValue', 'floatValue', 'doubleValue', 'booleanValue', 'stringValue', 'propertysetValue', 'propertysetsValue'] },
      },
      fields: {
        type: { type: 'uint32', id: 1 },
        isNull: { type: 'bool', id: 2 },
        ...scalarValues(3), // int_value = 3 … string_value = 8
        // Nested property sets, as the spec has them; payload.ts refuses them by their type (20, 21).
        propertysetValue: { type: 'PropertySet', id: 9 },
        propertysetsValue: { type: 'PropertySetList', id: 10 },
      },
    },
  },
};

let payload: Type | undefined;

/** The Payload message type. */
export function payloadType(): Type {
  if (payload) return payload;
  const protobuf = createRequire(import.meta.url)('protobufjs') as typeof import('protobufjs');
  // protobufjs hands uint64 fields back as `Long` when the `long` package is present (its own
  // dependency) and as a lossy number otherwise. Values past 2^53 must survive, so insist on Long.
  if (!protobuf.util.Long) throw new Error('protobufjs was loaded without Long support: 64-bit Sparkplug values would lose precision');
  payload = protobuf.Root.fromJSON(descriptor).lookupType('Payload');
  return payload;
}

/** A uint64 as protobufjs reads it (Long) or accepts it for writing (number, or bits). */
export interface Bits64 { low: number; high: number }

/** Decoded messages: own properties are the fields present on the wire. */
export interface WirePropertyValue {
  type?: number; isNull?: boolean;
  intValue?: number; longValue?: number | Bits64; floatValue?: number; doubleValue?: number; booleanValue?: boolean; stringValue?: string;
  propertysetValue?: unknown; propertysetsValue?: unknown;
}
export interface WirePropertySet { keys?: string[]; values?: WirePropertyValue[] }
export interface WireMetric {
  name?: string; alias?: number | Bits64; timestamp?: number | Bits64; datatype?: number;
  isHistorical?: boolean; isTransient?: boolean; isNull?: boolean; properties?: WirePropertySet;
  intValue?: number; longValue?: number | Bits64; floatValue?: number; doubleValue?: number;
  booleanValue?: boolean; stringValue?: string; bytesValue?: Uint8Array;
}
export interface WirePayload {
  timestamp?: number | Bits64; metrics?: WireMetric[]; seq?: number | Bits64; uuid?: string; body?: Uint8Array;
}

// How integers sit in the uint32 / uint64 fields (§6.4.16): signed ones as two's complement.

/** An integer of `bits` bits from its uint32 form: the two's complement of that width or sign-extended to 32. */
export function narrow(x: number, bits: number, signed: boolean): number | undefined {
  if (bits === 32) return signed ? x | 0 : x;
  const span = 2 ** bits;
  if (x < span) return signed && x >= span / 2 ? x - span : x;
  return signed && x >= 2 ** 32 - span / 2 ? x - 2 ** 32 : undefined;
}

/** The low 32 bits of a uint64, if the high ones are only a sign extension. */
export function low32(l: Bits64 | number, signed: boolean): number | undefined {
  if (typeof l === 'number') return l < 2 ** 32 ? l : undefined;
  const high = l.high >>> 0;
  return high === 0 || (signed && high === 0xffffffff) ? l.low >>> 0 : undefined;
}

export function fromBits(l: Bits64, signed: boolean): number | bigint {
  const high = signed ? l.high | 0 : l.high >>> 0, low = l.low >>> 0;
  const n = high * 2 ** 32 + low; // rounds only beyond 2^53, and then stays beyond it
  return Number.isSafeInteger(n) ? n : (BigInt(high) << 32n) + BigInt(low);
}
