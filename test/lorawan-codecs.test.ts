// Sensor payload codecs against docs/drivers/lorawan-codecs.md. Expected values are literals from
// the doc, or come from Node's Buffer readers (readInt16BE…), never from the code under test.
import t, { type Test } from 'tap';
import {
  CODEC_NAMES, CODECS, CodecError, decodeFrame, decodeObject, FIELDS,
  type CodecName, type Decoded, type Fields,
} from '../drivers/lorawan/codecs/index.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** The CodecError a call throws, or a failing assertion when it throws anything else or nothing. */
function codecError(t: Test, fn: () => unknown): CodecError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof CodecError) return e;
    t.fail(`threw ${String(e)} instead of a CodecError`);
    return undefined;
  }
  t.fail('did not throw');
  return undefined;
}

t.test('byte vectors of the doc', async (t) => {
  const vectors: [CodecName, number, string, Decoded][] = [
    ['bosch-pls', 1, '01', { kind: 'status', fields: { occupied: true } }],
    ['bosch-pls', 2, '00f6', { kind: 'heartbeat', fields: { occupied: false, temperature: -10 } }],
    ['cityedge-parking-v1', 1, '0157ff9c00320190', { kind: 'status', fields: {
      occupied: true, interference: false, battery: 87, mag_x: -100, mag_y: 50, mag_z: 400 } }],
    ['cityedge-parking-v1', 1, '0350000000000000', { kind: 'status', fields: {
      occupied: null, interference: true, battery: 80, mag_x: 0, mag_y: 0, mag_z: 0 } }],
    ['cityedge-parking-v1', 2, '0064000a000b000c19003c', { kind: 'heartbeat', fields: {
      occupied: false, interference: false, battery: 100, mag_x: 10, mag_y: 11, mag_z: 12, temperature: 25, heartbeat_min: 60 } }],
    ['cityedge-manhole-v1', 1, '0300960028ffff5a12c4', { kind: 'event', fields: {
      cover_open: true, water_alarm: true, tilt_alarm: false, methane_alarm: false, tilt_deg: 15.0,
      water_level_cm: 40, methane_ppm: null, battery: 90, temperature: 18, rssi_dbm: -60 } }],
    ['cityedge-waterlog-v1', 1, '01c2550205', { kind: 'measurement', fields: {
      depth_cm: 45.0, battery: 85, fault: false, wet: true, interval_min: 5 } }],
    ['cityedge-waterlog-v1', 1, 'ffff3c0160', { kind: 'measurement', fields: {
      depth_cm: null, fault: true, wet: false, battery: 60, interval_min: 96 } }],
  ];
  for (const [codec, fPort, frame, expected] of vectors) {
    t.strictSame(decodeFrame(codec, fPort, hex(frame)), expected, `${codec} fPort ${fPort} ${frame}`);
  }
  t.strictSame(decodeFrame('cityedge-manhole-v1', 2, hex('0300960028ffff5a12c4')).kind, 'heartbeat',
    'manhole fPort 2 is the same layout as a heartbeat');
});

t.test('registry: names, fields as the doc lists them', async (t) => {
  t.strictSame([...CODEC_NAMES], Object.keys(CODECS));
  for (const n of CODEC_NAMES) t.equal(CODECS[n].name, n, `${n} names itself`);
  t.strictSame(FIELDS, {
    'bosch-pls': ['occupied', 'temperature'],
    'cityedge-parking-v1': ['occupied', 'interference', 'battery', 'mag_x', 'mag_y', 'mag_z', 'temperature', 'heartbeat_min'],
    'cityedge-manhole-v1': ['cover_open', 'water_alarm', 'tilt_alarm', 'methane_alarm', 'tilt_deg', 'water_level_cm',
      'methane_ppm', 'battery', 'temperature', 'rssi_dbm'],
    'cityedge-waterlog-v1': ['depth_cm', 'fault', 'wet', 'battery', 'interval_min'],
  });
  t.ok(Object.isFrozen(FIELDS) && Object.isFrozen(FIELDS['bosch-pls']), 'FIELDS is frozen');
  for (const n of CODEC_NAMES) {
    // Every listed field comes out of some port, and nothing unlisted does.
    const seen = new Set<string>();
    for (const p of Object.keys(CODECS[n].ports)) {
      for (const k of Object.keys(decodeFrame(n, Number(p), new Uint8Array(20)).fields)) seen.add(k);
    }
    t.strictSame([...seen].sort(), [...FIELDS[n]].sort(), `${n}: the ports produce exactly FIELDS`);
  }
  t.throws(() => decodeFrame('nope' as CodecName, 1, hex('01')), TypeError, 'unknown codec name');
  t.throws(() => decodeFrame('__proto__' as CodecName, 1, hex('01')), TypeError, 'not fooled by Object.prototype');
});

t.test('short frames and unknown ports, per codec, with the message', async (t) => {
  const cases: [CodecName, number, number, number, string][] = [
    ['bosch-pls', 1, 0, 1, 'bosch-pls fPort 1: short frame, 0 of 1 bytes'],
    ['bosch-pls', 2, 1, 2, 'bosch-pls fPort 2: short frame, 1 of 2 bytes'],
    ['cityedge-parking-v1', 1, 7, 8, 'cityedge-parking-v1 fPort 1: short frame, 7 of 8 bytes'],
    ['cityedge-parking-v1', 2, 8, 11, 'cityedge-parking-v1 fPort 2: short frame, 8 of 11 bytes'],
    ['cityedge-parking-v1', 2, 10, 11, 'cityedge-parking-v1 fPort 2: short frame, 10 of 11 bytes'],
    ['cityedge-manhole-v1', 1, 7, 10, 'cityedge-manhole-v1 fPort 1: short frame, 7 of 10 bytes'],
    ['cityedge-manhole-v1', 2, 9, 10, 'cityedge-manhole-v1 fPort 2: short frame, 9 of 10 bytes'],
    ['cityedge-waterlog-v1', 1, 4, 5, 'cityedge-waterlog-v1 fPort 1: short frame, 4 of 5 bytes'],
    ['cityedge-waterlog-v1', 1, 0, 5, 'cityedge-waterlog-v1 fPort 1: short frame, 0 of 5 bytes'],
  ];
  for (const [codec, fPort, actual, expected, message] of cases) {
    const e = codecError(t, () => decodeFrame(codec, fPort, new Uint8Array(actual)));
    t.equal(e?.message, message);
    t.match(e, { reason: 'short frame', codec, fPort, expected, actual });
  }
  const ports: [CodecName, number, string][] = [
    ['bosch-pls', 3, 'bosch-pls fPort 3: unknown port, the codec knows fPort 1, 2'],
    ['bosch-pls', 0, 'bosch-pls fPort 0: unknown port, the codec knows fPort 1, 2'],
    ['cityedge-parking-v1', 10, 'cityedge-parking-v1 fPort 10: unknown port, the codec knows fPort 1, 2'],
    ['cityedge-manhole-v1', 3, 'cityedge-manhole-v1 fPort 3: unknown port, the codec knows fPort 1, 2'],
    ['cityedge-waterlog-v1', 2, 'cityedge-waterlog-v1 fPort 2: unknown port, the codec knows fPort 1'],
    ['cityedge-waterlog-v1', 1.5, 'cityedge-waterlog-v1 fPort 1.5: unknown port, the codec knows fPort 1'],
  ];
  for (const [codec, fPort, message] of ports) {
    const e = codecError(t, () => decodeFrame(codec, fPort, new Uint8Array(20)));
    t.equal(e?.message, message);
    t.match(e, { reason: 'unknown port', codec, fPort, name: 'CodecError' });
  }
  t.equal(codecError(t, () => decodeFrame('bosch-pls', 9, new Uint8Array(0)))?.reason, 'unknown port',
    'an unknown port is reported before the length');
});

t.test('trailing bytes are ignored; a Buffer slice at an offset decodes the same', async (t) => {
  const cases: [CodecName, number, string][] = [
    ['bosch-pls', 1, '01'], ['bosch-pls', 2, '00f6'],
    ['cityedge-parking-v1', 1, '0157ff9c00320190'], ['cityedge-parking-v1', 2, '0064000a000b000c19003c'],
    ['cityedge-manhole-v1', 1, '0300960028ffff5a12c4'], ['cityedge-waterlog-v1', 1, '01c2550205'],
  ];
  for (const [codec, fPort, frame] of cases) {
    const plain = decodeFrame(codec, fPort, hex(frame));
    t.strictSame(decodeFrame(codec, fPort, hex(`${frame}ffeeddccbbaa99`)), plain, `${codec} fPort ${fPort} + 7 bytes`);
    const sliced = Buffer.from(`a5${frame}5a`, 'hex').subarray(1);
    t.strictSame(decodeFrame(codec, fPort, sliced), plain, `${codec} fPort ${fPort} from a Buffer at byteOffset ${sliced.byteOffset}`);
  }
  t.strictSame(decodeFrame('bosch-pls', 1, hex('01f6')).fields, { occupied: true }, 'fPort 1 does not read the heartbeat byte');
  t.strictSame(decodeFrame('cityedge-parking-v1', 1, hex('0064000a000b000c19003c')).fields,
    { occupied: false, interference: false, battery: 100, mag_x: 10, mag_y: 11, mag_z: 12 }, 'parking fPort 1 with heartbeat bytes after');
});

t.test('signed and unsigned edges', async (t) => {
  const temp = (b: string) => decodeFrame('bosch-pls', 2, hex(`00${b}`)).fields['temperature'];
  t.equal(temp('80'), -128, 'int8 −128');
  t.equal(temp('7f'), 127, 'int8 127');
  t.equal(temp('ff'), -1, 'int8 −1');
  t.equal(temp('00'), 0, 'int8 0');

  const park = (s: string) => decodeFrame('cityedge-parking-v1', 2, hex(s)).fields;
  t.match(park('00ff8000' + '7fff' + 'ffff' + '80' + 'ffff'),
    { battery: 255, mag_x: -32768, mag_y: 32767, mag_z: -1, temperature: -128, heartbeat_min: 65535 },
    'int16 −32768 / 32767 / −1, uint8 255, int8 −128, uint16 65535 (no sentinel on heartbeat_min)');
  t.match(park('0000' + '0001' + '7ffe' + '8001' + '7f' + '0000'),
    { mag_x: 1, mag_y: 32766, mag_z: -32767, temperature: 127, heartbeat_min: 0 });

  const hole = (s: string) => decodeFrame('cityedge-manhole-v1', 2, hex(s)).fields;
  t.match(hole('00' + 'ffff' + 'fffe' + 'fffe' + 'ff' + '80' + '7f'),
    { tilt_deg: 6553.5, water_level_cm: 65534, methane_ppm: 65534, battery: 255, temperature: -128, rssi_dbm: 127 },
    'tilt has no sentinel; 0xFFFE is a reading');
  t.match(hole('00' + '0003' + '0000' + '0000' + '00' + '7f' + '80'),
    { tilt_deg: 0.3, water_level_cm: 0, methane_ppm: 0, temperature: 127, rssi_dbm: -128 },
    '0.3°, not 0.30000000000000004; water level 0 is dry, not null');
  t.match(hole('0f' + '0001' + '0000' + '0000' + '00' + '00' + '00'),
    { cover_open: true, water_alarm: true, tilt_alarm: true, methane_alarm: true, tilt_deg: 0.1 }, 'all four alarm bits');
  t.match(hole('00' + '0000' + '0000' + '0000' + '00' + '00' + '00'),
    { cover_open: false, water_alarm: false, tilt_alarm: false, methane_alarm: false });

  const water = (s: string) => decodeFrame('cityedge-waterlog-v1', 1, hex(s)).fields;
  t.equal(water('fffe000000').depth_cm, 6553.4, 'depth 0xFFFE mm is a reading');
  t.equal(water('0003000000').depth_cm, 0.3, '3 mm = 0.3 cm exactly');
  t.equal(water('0000000000').depth_cm, 0, 'dry road: 0, not null');
});

t.test('sentinels, faults and interference become null', async (t) => {
  const hole = decodeFrame('cityedge-manhole-v1', 2, hex('00' + '0000' + 'ffff' + 'ffff' + '00' + '00' + '00')).fields;
  t.equal(hole['water_level_cm'], null, 'water level 0xFFFF: no reading');
  t.equal(hole['methane_ppm'], null, 'methane 0xFFFF: no reading');

  const water = (s: string) => decodeFrame('cityedge-waterlog-v1', 1, hex(s)).fields;
  t.match(water('01c2000100'), { depth_cm: null, fault: true }, 'fault bit set: the depth sent is not trusted');
  t.match(water('ffff000000'), { depth_cm: null, fault: false }, '0xFFFF without the fault bit: null; fault is the bit as sent');
  t.match(water('ffff000300'), { depth_cm: null, fault: true, wet: true });

  const park = (flags: string) => decodeFrame('cityedge-parking-v1', 1, hex(`${flags}00000000000000`)).fields;
  t.match(park('02'), { occupied: null, interference: true }, 'interference, occupied bit clear');
  t.match(park('03'), { occupied: null, interference: true }, 'interference, occupied bit set');
  t.match(park('01'), { occupied: true, interference: false });
  t.match(park('00'), { occupied: false, interference: false });
  // Bits the doc says are zero are not checked: a later firmware may use them, as it may append bytes.
  t.match(park('fe'), { occupied: null, interference: true }, 'reserved bits ignored (0xFE)');
  t.match(park('fd'), { occupied: true, interference: false }, 'reserved bits ignored (0xFD)');
  t.match(park('fc'), { occupied: false, interference: false }, 'reserved bits ignored (0xFC)');
  t.strictSame(decodeFrame('bosch-pls', 1, hex('fe')).fields, { occupied: false }, 'bosch: only bit 0 counts');
});

t.test('decodeObject: a network-server-decoded object with the same field names', async (t) => {
  t.strictSame(decodeObject('bosch-pls', { occupied: true, temperature: -10, rssi: -80, note: 'x', nested: {} }),
    { occupied: true, temperature: -10 }, 'unknown fields dropped');
  t.strictSame(decodeObject('bosch-pls', { occupied: false }), { occupied: false }, 'a missing field stays absent');
  t.strictSame(decodeObject('bosch-pls', {}), {});
  t.strictSame(decodeObject('cityedge-parking-v1', { occupied: null, interference: true, battery: 80, mag_x: 0, mag_y: -5, mag_z: 3.5 }),
    { occupied: null, interference: true, battery: 80, mag_x: 0, mag_y: -5, mag_z: 3.5 }, 'null allowed');
  t.strictSame(decodeObject('cityedge-waterlog-v1', JSON.parse('{"depth_cm":45.2,"fault":false,"wet":true,"battery":85,"interval_min":5,"depth_mm":452}')),
    { depth_cm: 45.2, fault: false, wet: true, battery: 85, interval_min: 5 });
  t.strictSame(decodeObject('bosch-pls', Object.create({ occupied: true })), {}, 'inherited properties are not fields');
  t.strictSame(decodeObject('bosch-pls', JSON.parse('{"__proto__":{"occupied":true},"temperature":3}')), { temperature: 3 });
  // Every frame decode is a valid object decode of itself (the network server may run our codec).
  const frame = decodeFrame('cityedge-manhole-v1', 1, hex('0300960028ffff5a12c4')).fields;
  t.strictSame(decodeObject('cityedge-manhole-v1', frame), frame, 'frame fields round-trip');

  const bad: [CodecName, unknown, string][] = [
    ['bosch-pls', { occupied: 1 }, 'bosch-pls object: bad value, occupied is number 1, expected a boolean or null'],
    ['bosch-pls', { occupied: 'true' }, 'bosch-pls object: bad value, occupied is string "true", expected a boolean or null'],
    ['bosch-pls', { occupied: true, temperature: '12' }, 'bosch-pls object: bad value, temperature is string "12", expected a finite number or null'],
    ['cityedge-parking-v1', { battery: true }, 'cityedge-parking-v1 object: bad value, battery is boolean true, expected a finite number or null'],
    ['cityedge-manhole-v1', { tilt_deg: Number.NaN }, 'cityedge-manhole-v1 object: bad value, tilt_deg is number NaN, expected a finite number or null'],
    ['cityedge-manhole-v1', { methane_ppm: Infinity }, 'cityedge-manhole-v1 object: bad value, methane_ppm is number Infinity, expected a finite number or null'],
    ['cityedge-waterlog-v1', { depth_cm: { value: 4 } }, 'cityedge-waterlog-v1 object: bad value, depth_cm is an object, expected a finite number or null'],
    ['cityedge-waterlog-v1', { wet: undefined }, 'cityedge-waterlog-v1 object: bad value, wet is undefined undefined, expected a boolean or null'],
    ['bosch-pls', null, 'bosch-pls object: bad value, expected an object of fields, got null'],
    ['bosch-pls', '{"occupied":true}', 'bosch-pls object: bad value, expected an object of fields, got string "{"occupied":true}"'],
    ['bosch-pls', [true], 'bosch-pls object: bad value, expected an object of fields, got an array'],
    ['bosch-pls', 7, 'bosch-pls object: bad value, expected an object of fields, got number 7'],
  ];
  for (const [codec, object, message] of bad) {
    const e = codecError(t, () => decodeObject(codec, object));
    t.equal(e?.message, message);
    t.match(e, { reason: 'bad value', codec, fPort: undefined });
  }
  t.equal(codecError(t, () => decodeObject('bosch-pls', { temperature: 'x' }))?.field, 'temperature', 'the error names the field');
  t.throws(() => decodeObject('object' as CodecName, {}), TypeError, 'unknown codec name');
});

// ---- fuzz ---------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failing frame can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** An independent reading of the doc's tables with Node's Buffer readers, for the fuzzed frames. */
function reference(codec: CodecName, fPort: number, f: Buffer): Fields {
  const b = (i: number, n: number) => ((f.readUInt8(i) >> n) & 1) === 1;
  const orNull = (v: number) => (v === 0xffff ? null : v);
  switch (codec) {
    case 'bosch-pls':
      return fPort === 1 ? { occupied: b(0, 0) } : { occupied: b(0, 0), temperature: f.readInt8(1) };
    case 'cityedge-parking-v1': {
      const status = { occupied: b(0, 1) ? null : b(0, 0), interference: b(0, 1), battery: f.readUInt8(1),
        mag_x: f.readInt16BE(2), mag_y: f.readInt16BE(4), mag_z: f.readInt16BE(6) };
      return fPort === 1 ? status : { ...status, temperature: f.readInt8(8), heartbeat_min: f.readUInt16BE(9) };
    }
    case 'cityedge-manhole-v1':
      return { cover_open: b(0, 0), water_alarm: b(0, 1), tilt_alarm: b(0, 2), methane_alarm: b(0, 3),
        tilt_deg: Number((f.readUInt16BE(1) * 0.1).toFixed(1)), water_level_cm: orNull(f.readUInt16BE(3)),
        methane_ppm: orNull(f.readUInt16BE(5)), battery: f.readUInt8(7), temperature: f.readInt8(8), rssi_dbm: f.readInt8(9) };
    case 'cityedge-waterlog-v1': {
      const mm = f.readUInt16BE(0);
      return { depth_cm: b(3, 0) || mm === 0xffff ? null : Number((mm * 0.1).toFixed(1)), fault: b(3, 0), wet: b(3, 1),
        battery: f.readUInt8(2), interval_min: f.readUInt8(4) };
    }
  }
}

/** Minimum frame length per port, from the doc's tables. */
const LENGTHS: Record<CodecName, Record<number, number>> = {
  'bosch-pls': { 1: 1, 2: 2 },
  'cityedge-parking-v1': { 1: 8, 2: 11 },
  'cityedge-manhole-v1': { 1: 10, 2: 10 },
  'cityedge-waterlog-v1': { 1: 5 },
};

t.test('fuzz: 10,000 random frames per codec decode to typed fields or throw CodecError', async (t) => {
  const SEED = 0xc17ed6e;
  for (const codec of CODEC_NAMES) {
    const rnd = prng(SEED ^ codec.length);
    const problems: string[] = [];
    let decoded = 0;
    for (let n = 0; n < 10_000; n++) {
      const len = Math.floor(rnd() * 21);
      // Mostly the ports that matter (0–3), sometimes any of 0–255.
      const fPort = rnd() < 0.8 ? Math.floor(rnd() * 4) : Math.floor(rnd() * 256);
      const frame = Buffer.alloc(len);
      for (let i = 0; i < len; i++) frame[i] = Math.floor(rnd() * 256);
      const at = `#${n} fPort ${fPort} ${frame.toString('hex') || '(empty)'}`;
      const need = LENGTHS[codec][fPort];
      let out: Decoded;
      try {
        out = decodeFrame(codec, fPort, frame);
      } catch (e) {
        const want = need === undefined ? 'unknown port' : len < need ? 'short frame' : 'no error';
        if (!(e instanceof CodecError)) problems.push(`${at}: threw ${String(e)}`);
        else if (e.reason !== want) problems.push(`${at}: ${e.reason}, expected ${want}`);
        continue;
      }
      decoded++;
      if (need === undefined || len < need) { problems.push(`${at}: decoded, should be refused`); continue; }
      for (const [k, v] of Object.entries(out.fields)) {
        const type = CODECS[codec].fields[k];
        if (type === undefined) problems.push(`${at}: unlisted field ${k}`);
        else if (v !== null && (typeof v !== type || (typeof v === 'number' && !Number.isFinite(v)))) problems.push(`${at}: ${k} = ${String(v)}`);
      }
      const ref = reference(codec, fPort, frame);
      if (JSON.stringify(out.fields) !== JSON.stringify(ref)) problems.push(`${at}: ${JSON.stringify(out.fields)} ≠ ${JSON.stringify(ref)}`);
      if (JSON.stringify(decodeFrame(codec, fPort, frame.subarray(0, need)).fields) !== JSON.stringify(out.fields)) {
        problems.push(`${at}: trailing bytes changed the result`);
      }
    }
    t.strictSame(problems.slice(0, 10), [], `${codec}: ${decoded} decoded, the rest refused, nothing else (seed ${SEED})`);
    t.ok(decoded > 1000, `${codec}: the fuzz reaches the decoders (${decoded})`);
  }
});

t.test('the configuration knows the same fields as the decoders', async (t) => {
  const { SENSOR_FIELDS } = await import('../config/tag-names.ts');
  const { SensorCodecs } = await import('../config/vocabulary.ts');
  for (const name of CODEC_NAMES) t.same([...SENSOR_FIELDS[name]], [...FIELDS[name]], `${name}: config/tag-names.ts lists the decoder's fields`);
  t.same(SensorCodecs.filter((c) => c !== 'object'), [...CODEC_NAMES], 'and the schema the decoders\' names');
});
