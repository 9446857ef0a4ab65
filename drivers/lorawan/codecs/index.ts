// Sensor payload codecs: the LoRaWAN FRMPayload (`data` from the network server) → named fields.
// docs/drivers/lorawan-codecs.md is the spec: byte layouts, the refusal rules and the byte vectors.
//
// One file per codec; each declares its fields, its ports (the length each needs and the kind of
// message it carries) and a decode that switches on the port. The rules common to all codecs live
// here, once: a port the codec does not list is refused (`unknown port`), a frame shorter than its
// port's length is refused (`short frame`), and bytes beyond that length are ignored ("a later
// firmware may append fields"). Codec.decode is only ever called on a checked frame.
//
// Decoding is pure and synchronous and allocates only the result (it runs for every uplink of
// 10,000 sensors). A field is null when the sensor says it has no reading (0xFFFF sentinels, a
// sensor fault, parking interference); a field the port does not carry is absent, not null.
import { boschPls } from './bosch-pls.ts';
import { cityedgeManholeV1 } from './cityedge-manhole-v1.ts';
import { cityedgeParkingV1 } from './cityedge-parking-v1.ts';
import { cityedgeWaterlogV1 } from './cityedge-waterlog-v1.ts';

export type FieldValue = number | boolean | null;
export type Fields = Record<string, FieldValue>;
export type FieldType = 'number' | 'boolean';
export type Kind = 'status' | 'heartbeat' | 'event' | 'measurement';
export interface Decoded { fields: Fields; kind: Kind }

export interface Port {
  /** Bytes the port's layout needs; a shorter frame is refused, a longer one read up to here. */
  readonly length: number;
  readonly kind: Kind;
}

export interface Codec {
  readonly name: CodecName;
  /** Every field the codec can produce, with its type (null is always allowed as well). */
  readonly fields: Readonly<Record<string, FieldType>>;
  /** fPort → layout length and kind. Ports not listed are refused. */
  readonly ports: Readonly<Record<number, Port>>;
  /** Fields of a frame on a listed port and at least that port's length (decodeFrame checks both). */
  decode(fPort: number, frame: Uint8Array): Fields;
}

export const CODEC_NAMES = ['bosch-pls', 'cityedge-parking-v1', 'cityedge-manhole-v1', 'cityedge-waterlog-v1'] as const;
export type CodecName = (typeof CODEC_NAMES)[number];

export const CODECS: Readonly<Record<CodecName, Codec>> = Object.freeze({
  'bosch-pls': boschPls,
  'cityedge-parking-v1': cityedgeParkingV1,
  'cityedge-manhole-v1': cityedgeManholeV1,
  'cityedge-waterlog-v1': cityedgeWaterlogV1,
});

/** Every field name each codec can produce: for config validation and tag lists. */
export const FIELDS: Readonly<Record<CodecName, readonly string[]>> = Object.freeze(
  Object.fromEntries(CODEC_NAMES.map((n) => [n, Object.freeze(Object.keys(CODECS[n].fields))])) as Record<CodecName, readonly string[]>,
);

export type CodecErrorReason = 'short frame' | 'unknown port' | 'bad value';

/**
 * A frame or object the codec refuses. The message names codec, port and what was expected against
 * what came, e.g. `cityedge-manhole-v1 fPort 1: short frame, 7 of 10 bytes`. One sensor's bad uplink;
 * the driver reports it and carries on with the others.
 */
export class CodecError extends Error {
  readonly codec: string;
  readonly reason: CodecErrorReason;
  /** The frame's port; undefined for decodeObject. */
  readonly fPort: number | undefined;
  /** short frame: the bytes the port needs and the bytes that came. */
  readonly expected: number | undefined;
  readonly actual: number | undefined;
  /** bad value: the field (undefined when the object itself is not an object). */
  readonly field: string | undefined;
  constructor(codec: string, reason: CodecErrorReason, detail: string,
    at: { fPort?: number; expected?: number; actual?: number; field?: string } = {}) {
    super(`${codec} ${at.fPort === undefined ? 'object' : `fPort ${at.fPort}`}: ${reason}, ${detail}`);
    this.name = 'CodecError';
    this.codec = codec;
    this.reason = reason;
    this.fPort = at.fPort;
    this.expected = at.expected;
    this.actual = at.actual;
    this.field = at.field;
  }
}

/** Decodes one uplink frame. Throws CodecError (`unknown port`, `short frame`), nothing else. */
export function decodeFrame(codec: CodecName, fPort: number, frame: Uint8Array): Decoded {
  const c = lookup(codec);
  const port = c.ports[fPort];
  if (port === undefined) {
    throw new CodecError(codec, 'unknown port', `the codec knows fPort ${Object.keys(c.ports).join(', ')}`, { fPort });
  }
  if (frame.length < port.length) {
    throw new CodecError(codec, 'short frame', `${frame.length} of ${port.length} bytes`,
      { fPort, expected: port.length, actual: frame.length });
  }
  return { fields: c.decode(fPort, frame), kind: port.kind };
}

/**
 * Takes the `object` a network-server codec decoded (`codec: object`; the same field names as ours):
 * keeps only the codec's fields that are present, each of which must have the field's type or be
 * null (a finite number; a boolean, not 0/1, so rules and tags see one type whichever side decoded).
 * Throws CodecError('bad value') otherwise.
 */
export function decodeObject(codec: CodecName, object: unknown): Fields {
  const c = lookup(codec);
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw new CodecError(codec, 'bad value', `expected an object of fields, got ${describe(object)}`);
  }
  const out: Fields = {};
  const src = object as Record<string, unknown>;
  for (const name of FIELDS[codec]) {
    if (!Object.hasOwn(src, name)) continue; // own keys only: "constructor" or "__proto__" are never fields
    const v = src[name];
    const type = c.fields[name];
    if (v === null || (type === 'boolean' ? typeof v === 'boolean' : typeof v === 'number' && Number.isFinite(v))) {
      out[name] = v as FieldValue;
    } else {
      throw new CodecError(codec, 'bad value', `${name} is ${describe(v)}, expected ${type === 'number' ? 'a finite number' : 'a boolean'} or null`, { field: name });
    }
  }
  return out;
}

function lookup(codec: CodecName): Codec {
  // The configuration is validated against CODEC_NAMES; this guards callers that bypass it.
  if (!Object.hasOwn(CODECS, codec)) throw new TypeError(`no LoRaWAN codec "${String(codec)}"; known: ${CODEC_NAMES.join(', ')}`);
  return CODECS[codec];
}

const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object'
    : typeof v === 'string' ? `string "${v}"` : `${typeof v} ${String(v)}`;
