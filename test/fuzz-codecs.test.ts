// Property tests of the LoRaWAN sensor codecs (issue 9, fuzzing): whatever bytes a sensor or a
// network server sends, the codec answers with fields of the declared types or a CodecError naming
// the reason, so the driver counts one bad uplink and carries on with the other 10,000 sensors.
// Frames the simulators' encoders build (written from the spec, not from the decoders) round-trip.
// Fixed seeds: a failure prints its seed and path, and `fc.assert(…, { seed, path })` replays it.
import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import {
  CODEC_NAMES, CODECS, CodecError, decodeFrame, decodeObject, FIELDS, type CodecName, type Fields,
} from '../drivers/lorawan/codecs/index.ts';
import { encodeBoschPls, encodeManholeV1, encodeParkingV1, encodeWaterlogV1, type Encoded } from '../simulators/lorawan/index.ts';

const codecName = fc.constantFrom(...CODEC_NAMES);
/** Mostly the ports the codecs know, sometimes any 0–255 (fPort is one byte on the air). */
const fPort = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 255 }));
const frame = fc.uint8Array({ minLength: 0, maxLength: 24 });

/** The fields a user sees as tags: only declared names, each of its declared type, or null. */
function fieldsWellTyped(codec: CodecName, fields: Fields): boolean {
  const declared = CODECS[codec].fields;
  return Object.entries(fields).every(([name, v]) => {
    const type = declared[name];
    if (type === undefined) return false;
    return v === null || (type === 'boolean' ? typeof v === 'boolean' : typeof v === 'number' && Number.isFinite(v));
  });
}

/** Runs fn; true when it returned, or threw a CodecError of one of `reasons` naming the codec. */
function decodesOrRefuses(codec: CodecName, reasons: readonly string[], fn: () => Fields): boolean {
  let fields: Fields;
  try {
    fields = fn();
  } catch (e) {
    if (!(e instanceof CodecError)) throw new Error(`a plain ${(e as Error).name} escaped the codec: ${(e as Error).message}`);
    return reasons.includes(e.reason) && e.codec === codec && e.message.startsWith(codec);
  }
  return fieldsWellTyped(codec, fields);
}

t.test('random frames on random ports: decoded fields of the declared types, or a CodecError', async (t) => {
  fc.assert(fc.property(codecName, fPort, frame, (codec, port, bytes) => {
    const known = CODECS[codec].ports[port];
    const ok = decodesOrRefuses(codec, ['unknown port', 'short frame'], () => decodeFrame(codec, port, bytes).fields);
    // The refusal is the right one: a port the codec lists decodes whenever the frame is long enough.
    let decoded = true;
    try { decodeFrame(codec, port, bytes); } catch { decoded = false; }
    return ok && decoded === (known !== undefined && bytes.length >= known.length);
  }), { seed: 9001, numRuns: 20_000 });
  t.pass('20,000 frames: never a plain Error, and each refusal is the right one');
});

t.test('a frame inside a larger buffer (Node\'s pool, non-zero byteOffset) decodes like a copy', async (t) => {
  fc.assert(fc.property(codecName, fc.uint8Array({ minLength: 11, maxLength: 16 }), fc.nat({ max: 40 }), (codec, bytes, pad) => {
    const port = Number(Object.keys(CODECS[codec].ports)[0]);
    const big = Buffer.alloc(pad + bytes.length + 7, 0xa5);
    big.set(bytes, pad);
    const view = big.subarray(pad, pad + bytes.length);
    return isDeepStrictEqual(decodeFrame(codec, port, view), decodeFrame(codec, port, Uint8Array.from(bytes)));
  }), { seed: 9002, numRuns: 2000 });
  t.pass('2,000 frames read in place');
});

t.test('random network-server objects: the codec\'s fields kept, or a CodecError naming the field', async (t) => {
  // Keys are mostly the codec's own field names, so the type checks are reached, not just skipped.
  const anyField = fc.constantFrom(...new Set(CODEC_NAMES.flatMap((n) => FIELDS[n])), '__proto__', 'constructor', 'x');
  const value = fc.oneof(fc.anything(), fc.double(), fc.boolean(), fc.constant(null), fc.integer());
  const object = fc.oneof(fc.dictionary(anyField, value, { maxKeys: 8 }), fc.anything());
  fc.assert(fc.property(codecName, object, (codec, o) => {
    let fields: Fields;
    try {
      fields = decodeObject(codec, o);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      // A refused field is named, so the technician knows which value the network server got wrong.
      return e.reason === 'bad value' && (e.field === undefined ? typeof o !== 'object' || o === null || Array.isArray(o) : FIELDS[codec].includes(e.field));
    }
    return fieldsWellTyped(codec, fields) && Object.keys(fields).every((k) => Object.hasOwn(o as object, k));
  }), { seed: 9003, numRuns: 10_000 });
  t.pass('10,000 objects: never a plain Error');
});

// ---- round trips through the simulators' encoders ----------------------------------------------

const temp = fc.integer({ min: -200, max: 200 }); // beyond int8 on purpose: the encoder clamps
const pct = fc.integer({ min: -10, max: 120 });

/** The frame decodes to the object the encoder says it carries, also with bytes a later firmware appends. */
function roundTrips(codec: CodecName, e: Encoded, extra: Uint8Array): boolean {
  const plain = decodeFrame(codec, e.fPort, e.frame);
  const longer = decodeFrame(codec, e.fPort, Buffer.concat([e.frame, extra]));
  return isDeepStrictEqual(plain.fields, e.object) && isDeepStrictEqual(longer.fields, plain.fields);
}

t.test('frames built from random readings decode to the values they carry', async (t) => {
  const extra = fc.uint8Array({ maxLength: 4 });
  const runs = { seed: 9004, numRuns: 1500 };
  fc.assert(fc.property(fc.record({ occupied: fc.boolean(), temperature: temp }), fc.constantFrom(1 as const, 2 as const), extra,
    (r, port, x) => roundTrips('bosch-pls', encodeBoschPls(r, port), x)), runs);
  const mag = fc.integer({ min: -40_000, max: 40_000 });
  fc.assert(fc.property(fc.record({
    occupied: fc.boolean(), interference: fc.boolean(), battery: pct, magX: mag, magY: mag, magZ: mag,
    temperature: temp, heartbeatMin: fc.integer({ min: 0, max: 70_000 }),
  }), fc.constantFrom(1 as const, 2 as const), extra, (r, port, x) => roundTrips('cityedge-parking-v1', encodeParkingV1(r, port), x)), runs);
  const maybe = fc.option(fc.integer({ min: 0, max: 70_000 }), { nil: null });
  fc.assert(fc.property(fc.record({
    coverOpen: fc.boolean(), waterAlarm: fc.boolean(), tiltAlarm: fc.boolean(), methaneAlarm: fc.boolean(),
    tiltDeg: fc.double({ min: 0, max: 7000, noNaN: true }), waterLevelCm: maybe, methanePpm: maybe,
    battery: pct, temperature: temp, rssiDbm: temp,
  }), fc.constantFrom(1 as const, 2 as const), extra, (r, port, x) => roundTrips('cityedge-manhole-v1', encodeManholeV1(r, port), x)), runs);
  fc.assert(fc.property(fc.record({
    depthMm: fc.integer({ min: 0, max: 70_000 }), battery: pct, fault: fc.boolean(), wet: fc.boolean(), intervalMin: fc.integer({ min: 0, max: 300 }),
  }), extra, (r, x) => roundTrips('cityedge-waterlog-v1', encodeWaterlogV1(r), x)), runs);
  t.pass('1,500 readings per codec decode to the encoded values, trailing bytes ignored');
});
