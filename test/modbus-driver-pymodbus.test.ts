// The Modbus TCP driver against an independent stack: Debian's pymodbus serving a register map
// this test writes word by word from values encoded here with Buffer, not with our codec.
import t from 'tap';
import { startPymodbus } from './helpers/pymodbus.ts';
import { ModbusTcpDriver } from '../drivers/modbus/driver.ts';
import { parseConfig } from '../config/loader.ts';
import type { ModbusTcpDeviceConfig, Sample } from '../gateway/model/index.ts';

/** The words of a value as the device would hold them, for a given order (DOMAIN.md §2). */
function words(buf: Buffer, order: 'ABCD' | 'CDAB' | 'BADC' | 'DCBA'): number[] {
  const w: number[] = [];
  for (let i = 0; i < buf.length; i += 2) w.push(buf.readUInt16BE(i));
  if (order === 'CDAB' || order === 'DCBA') w.reverse();
  return order === 'BADC' || order === 'DCBA' ? w.map((x) => ((x & 0xff) << 8) | (x >> 8)) : w;
}
const f32 = (v: number) => { const b = Buffer.alloc(4); b.writeFloatBE(v); return b; };
const f64 = (v: number) => { const b = Buffer.alloc(8); b.writeDoubleBE(v); return b; };
const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v); return b; };
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
const i64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64BE(v); return b; };

// Holding registers 0–27: every multi-register type; 28 left unmapped (exception 02); 29–31 more.
const hr = [
  ...words(f32(123456.0), 'ABCD'),        // 0
  ...words(f32(123456.0), 'CDAB'),        // 2
  ...words(f32(123456.0), 'BADC'),        // 4
  ...words(f32(123456.0), 'DCBA'),        // 6
  ...words(i32(-2_000_000), 'ABCD'),      // 8
  ...words(u32(3_000_000_000), 'CDAB'),   // 10
  ...words(f64(1234567.891), 'ABCD'),     // 12
  ...words(i64(-9_007_199_254_740_991n), 'CDAB'), // 16
  0xfff6,                                  // 20 int16 -10
  0b1000_0000_0000_0101,                   // 21 status word: bits 0, 2, 15
  0x4349, 0x5459, 0x4544, 0x4745, 0x2020,  // 22 "CITYEDGE  "
  2345,                                    // 27 level ×0.01
];
const hrTail = [4000, 7, 65535];           // 29, 30, 31

const config = `
site: { id: peer-test }
devices:
  - id: peer
    driver: modbus-tcp
    host: 127.0.0.1
    port: 1
    tags:
      - { name: f_abcd, address: "hr:0", type: float32 }
      - { name: f_cdab, address: "hr:2", type: float32, order: CDAB }
      - { name: f_badc, address: "hr:4", type: float32, order: BADC }
      - { name: f_dcba, address: "hr:6", type: float32, order: DCBA }
      - { name: i32, address: "hr:8", type: int32 }
      - { name: u32, address: "hr:10", type: uint32, order: CDAB }
      - { name: f64, address: "hr:12", type: float64 }
      - { name: i64, address: "hr:16", type: int64, order: CDAB }
      - { name: i16, address: "hr:20", type: int16 }
      - { name: b0, address: "hr:21.0", type: bool }
      - { name: b1, address: "hr:21.1", type: bool }
      - { name: b2, address: "hr:21.2", type: bool }
      - { name: b15, address: "hr:21.15", type: bool }
      - { name: name, address: "hr:22", type: string, length: 5 }
      - { name: level, address: "hr:27", type: uint16, scale: 0.01 }
      - { name: ghost, address: "hr:28", type: uint16 }
      - { name: current, address: "hr:29", type: uint16, scale: 0.1, offset: -100 }
      - { name: code, address: "hr:30", type: uint16 }
      - { name: max, address: "hr:31", type: uint16 }
      - { name: temp, address: "ir:5", type: int16, scale: 0.1 }
      - { name: relay1, address: "co:0", type: bool }
      - { name: relay2, address: "co:1", type: bool }
      - { name: door, address: "di:3", type: bool }
`;

function deviceFor(port: number): ModbusTcpDeviceConfig {
  const c = parseConfig(config.replace('port: 1', `port: ${port}`), 'peer.yaml');
  return c.devices[0] as ModbusTcpDeviceConfig;
}

const byName = (samples: readonly Sample[]) => Object.fromEntries(samples.map((s) => [s.tag.split('.')[1], s]));

t.test('every type and word order decodes as pymodbus serves it; a bad address is isolated', async (t) => {
  const peer = await startPymodbus({
    t,
    map: {
      unit: 1,
      hr: [{ start: 0, values: hr }, { start: 29, values: hrTail }],
      ir: { start: 0, values: [0, 0, 0, 0, 0, (-123 & 0xffff)] },
      co: { start: 0, values: [true, false] },
      di: { start: 0, values: [0, 0, 0, 1] },
    },
  });
  const driver = new ModbusTcpDriver(deviceFor(peer.port));
  t.teardown(() => driver.close());
  t.equal(driver.requestsPerScan, 4, 'the planner merges hr 0–31, ir, co and di into 4 requests');

  const ac = new AbortController();
  const first = await driver.scan(ac.signal);
  t.notOk(first.error, 'the device answers');
  const v = byName(first.samples);
  t.equal(v.f_abcd?.value, 123456, 'float32 ABCD');
  t.equal(v.f_cdab?.value, 123456, 'float32 CDAB');
  t.equal(v.f_badc?.value, 123456, 'float32 BADC');
  t.equal(v.f_dcba?.value, 123456, 'float32 DCBA');
  t.equal(v.i32?.value, -2_000_000);
  t.equal(v.u32?.value, 3_000_000_000);
  t.equal(v.f64?.value, 1234567.891);
  t.equal(v.i64?.value, -9_007_199_254_740_991);
  t.equal(v.i16?.value, -10);
  t.same([v.b0?.value, v.b1?.value, v.b2?.value, v.b15?.value], [true, false, true, true], 'bits of a register');
  t.equal(v.name?.value, 'CITYEDGE', 'string, padding trimmed');
  t.equal(v.level?.value, 23.45, 'scale');
  t.equal(v.current?.value, 300, 'scale and offset');
  t.equal(v.max?.value, 65535);
  t.equal(v.temp?.value, -12.3, 'input register, signed, scaled');
  t.same([v.relay1?.value, v.relay2?.value, v.door?.value], [true, false, true], 'coils and discrete inputs');

  t.equal(v.ghost?.quality, 'bad', 'the tag the device does not have is bad');
  t.equal(v.ghost?.value, null, 'and carries no value');
  t.equal(first.tagErrors?.get('ghost')?.code, 'CE_ERR_MODBUS_ILLEGAL_ADDRESS');
  const good = first.samples.filter((s) => s.quality === 'good').length;
  t.equal(good, first.samples.length - 1, 'every neighbour of the bad tag still reads good');

  const second = await driver.scan(ac.signal);
  t.same(second.samples.map((s) => s.quality), first.samples.map((s) => s.quality), 'the next scan gives the same picture');
  t.equal(second.requests, 5, 'after isolation: hr 0–27, hr 29–31, ir, co, di; the bad tag waits for its retry');
  t.match(driver.readPlan().join('\n'), /hr 0–27[\s\S]*hr 28[\s\S]*hr 29–31/, 'the plan shows the bad address apart');
});

t.test('a unit id the peer does not serve times out as bad, not as stale good values', async (t) => {
  const peer = await startPymodbus({ t, map: { unit: 7, hr: { start: 0, values: [1, 2, 3] } } });
  const dev = { ...deviceFor(peer.port), unit: 9, timeout_ms: 300, tags: [{ name: 'a', address: 'hr:0', type: 'uint16' as const }] };
  const driver = new ModbusTcpDriver(dev);
  t.teardown(() => driver.close());
  const r = await driver.scan(new AbortController().signal);
  t.equal(r.error?.code, 'CE_ERR_MODBUS_TIMEOUT');
  t.same(r.samples.map((s) => [s.quality, s.value]), [['bad', null]]);
});

t.test('a tag turning bad is logged once with its code, not every scan', async (t) => {
  // A float32 NaN (0x7FC00000) is how many instruments report a sensor fault.
  const peer = await startPymodbus({ t, map: { unit: 1, hr: { start: 0, values: [0x7fc0, 0x0000, 42] } } });
  const dev = { ...deviceFor(peer.port), tags: [
    { name: 'level', address: 'hr:0', type: 'float32' as const },
    { name: 'ok', address: 'hr:2', type: 'uint16' as const },
  ] };
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const rec = (level: string) => (obj: object | string, msg?: string) =>
    lines.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj: obj as Record<string, unknown>, ...(msg ? { msg } : {}) });
  const logger = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'), child: () => logger };
  const driver = new ModbusTcpDriver(dev, { logger });
  t.teardown(() => driver.close());
  const ac = new AbortController();
  for (let i = 0; i < 3; i++) {
    const r = await driver.scan(ac.signal);
    t.same(r.samples.map((s) => [s.quality, s.value]), [['bad', null], ['good', 42]], `scan ${i + 1}: NaN is bad, the neighbour good`);
  }
  const warns = lines.filter((l) => l.level === 'warn');
  t.equal(warns.length, 1, 'one warning over three scans, not one per scan');
  t.match(warns[0], { obj: { tag: 'level', code: 'CE_ERR_MODBUS_DECODE' }, msg: /level.*NaN/ });
});
