// The LoRaWAN network-server simulator: its encoders against the byte vectors of
// docs/drivers/lorawan-codecs.md, its world (parking, manholes, water-logging) in fake time, and the
// ChirpStack v4/v3 events it publishes to an aedes broker, read back by an mqtt.js subscriber:
// topics, JSON shapes, frame lengths, frame counters, duplicates, malformed events, hooks, time
// scale, rate mode and the `cityedge sim lorawan` command.
import t from 'tap';
import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { parse as parseYaml } from 'yaml';
import { spawnProcess } from './helpers/proc.ts';
import { waitFor } from './helpers/wait.ts';
import {
  encodeBoschPls, encodeManholeV1, encodeParkingV1, encodeWaterlogV1, LorawanWorld, MALFORMED_REASONS, PORT_LENGTHS, reportIntervalMin,
  sensorConfigYaml, sensorList, startLorawanNs, type LorawanNsOptions, type SensorInfo, type WorldUplink,
} from '../simulators/lorawan/index.ts';

interface Test { teardown(fn: () => unknown): void }
const ROOT = new URL('..', import.meta.url).pathname;
const START = Date.UTC(2024, 5, 3, 0, 0, 0); // 08:00 China Standard Time
const MIN = 60_000, HOUR = 3_600_000;
const hex = (b: Buffer): string => b.toString('hex');
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const SPEC = { parking: { lots: [{ id: 'lot-a', bays: 6, codec: 'cityedge-parking-v1' as const }, { id: 'lot-b', bays: 4, codec: 'bosch-pls' as const }] }, manholes: 3, waterlogging: 3 };

/** Closers run last-registered first, whatever happened: clients before the broker they talk to. */
function closers(tt: Test): (fn: () => unknown) => void {
  const fns: (() => unknown)[] = [];
  tt.teardown(async () => { for (const fn of fns.reverse()) await Promise.resolve().then(fn).catch(() => {}); });
  return (fn) => { fns.push(fn); };
}

async function broker(onClose: (fn: () => unknown) => void): Promise<string> {
  const b = await Aedes.createBroker();
  const server = createServer(b.handle);
  onClose(async () => { await new Promise<void>((r) => b.close(() => r())); await new Promise<void>((r) => server.close(() => r())); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
}

interface Received { topic: string; text: string; body?: Record<string, any> }
async function subscriber(onClose: (fn: () => unknown) => void, url: string, filter = 'application/#'): Promise<Received[]> {
  const c = await mqtt.connectAsync(url, { clientId: `test-sub-${process.pid}-${Math.random().toString(16).slice(2)}`, protocolVersion: 4 });
  onClose(() => c.endAsync(true));
  const got: Received[] = [];
  c.on('message', (topic, p) => {
    const text = p.toString();
    let body: Record<string, any> | undefined;
    try { body = JSON.parse(text); } catch { /* a malformed event, kept as text */ }
    got.push({ topic, text, ...(body ? { body } : {}) });
  });
  await c.subscribeAsync(filter, { qos: 0 });
  return got;
}

async function ns(onClose: (fn: () => unknown) => void, url: string, o: Partial<LorawanNsOptions> = {}) {
  const sim = await startLorawanNs({ url, ...SPEC, tickMs: 0, duplicateRate: 0, malformedRate: 0, world: { start: START, rainPerDay: 0 }, ...o });
  onClose(() => sim.close());
  return sim;
}

const frameOf = (m: Received): Buffer => Buffer.from(m.body!.data as string, 'base64');
const euiOf = (m: Received): string => m.body!.deviceInfo?.devEui ?? m.body!.devEUI;

t.test('encoders: the byte vectors of docs/drivers/lorawan-codecs.md', async (tt) => {
  const doc = readFileSync(new URL('../docs/drivers/lorawan-codecs.md', import.meta.url), 'utf8');
  const mag0 = { magX: 0, magY: 0, magZ: 0 };
  const cases: [string, { frame: Buffer; object: Record<string, unknown> }, Record<string, unknown>][] = [
    ['01', encodeBoschPls({ occupied: true, temperature: 0 }, 1), { occupied: true }],
    ['00f6', encodeBoschPls({ occupied: false, temperature: -10 }, 2), { occupied: false, temperature: -10 }],
    ['0157ff9c00320190', encodeParkingV1({ occupied: true, interference: false, battery: 87, magX: -100, magY: 50, magZ: 400, temperature: 0, heartbeatMin: 0 }, 1),
      { occupied: true, interference: false, battery: 87, mag_x: -100, mag_y: 50, mag_z: 400 }],
    ['0350000000000000', encodeParkingV1({ occupied: true, interference: true, battery: 80, ...mag0, temperature: 0, heartbeatMin: 0 }, 1),
      { occupied: null, interference: true, battery: 80, mag_x: 0, mag_y: 0, mag_z: 0 }],
    ['0064000a000b000c19003c', encodeParkingV1({ occupied: false, interference: false, battery: 100, magX: 10, magY: 11, magZ: 12, temperature: 25, heartbeatMin: 60 }, 2),
      { occupied: false, interference: false, battery: 100, mag_x: 10, mag_y: 11, mag_z: 12, temperature: 25, heartbeat_min: 60 }],
    ['0300960028ffff5a12c4', encodeManholeV1({ coverOpen: true, waterAlarm: true, tiltAlarm: false, methaneAlarm: false, tiltDeg: 15, waterLevelCm: 40, methanePpm: null, battery: 90, temperature: 18, rssiDbm: -60 }, 1),
      { cover_open: true, water_alarm: true, tilt_alarm: false, methane_alarm: false, tilt_deg: 15, water_level_cm: 40, methane_ppm: null, battery: 90, temperature: 18, rssi_dbm: -60 }],
    ['01c2550205', encodeWaterlogV1({ depthMm: 450, battery: 85, fault: false, wet: true, intervalMin: 5 }), { depth_cm: 45, battery: 85, fault: false, wet: true, interval_min: 5 }],
    ['ffff3c0160', encodeWaterlogV1({ depthMm: 0, battery: 60, fault: true, wet: false, intervalMin: 96 }), { depth_cm: null, fault: true, wet: false, battery: 60, interval_min: 96 }],
  ];
  for (const [vector, enc, object] of cases) {
    tt.ok(doc.includes(`\`${vector}\``), `${vector} is a vector of the doc`);
    tt.equal(hex(enc.frame), vector);
    tt.same(enc.object, object, `${vector} decodes as the doc says`);
  }
  const clamped = encodeManholeV1({ coverOpen: false, waterAlarm: false, tiltAlarm: false, methaneAlarm: false, tiltDeg: 9999, waterLevelCm: 1e6, methanePpm: -5, battery: 150, temperature: 300, rssiDbm: -200 }, 2);
  tt.equal(hex(clamped.frame), '00fffffffe0000647f80', 'out-of-range values are clamped; 0xFFFF stays "no reading"');
  tt.same(PORT_LENGTHS['cityedge-parking-v1'], { 1: 8, 2: 11 });
});

t.test('world in fake time: parking bays', async (tt) => {
  const world = () => new LorawanWorld({ seed: 42, start: START, parking: { lots: [{ id: 'lot-a', bays: 40, codec: 'cityedge-parking-v1' }, { id: 'lot-b', bays: 10, codec: 'bosch-pls' }] }, heartbeatMin: 30, rainPerDay: 0, interferencePerDay: 0 });
  const w = world();
  const ups: WorldUplink[] = [];
  for (let h = 0; h < 24; h++) ups.push(...w.step(3600));
  tt.same(JSON.stringify(world().step(86_400)), JSON.stringify(ups), 'the same seed gives the same day, in one step or in 24');
  tt.ok(ups.every((u, i) => i === 0 || ups[i - 1]!.at <= u.at), 'uplinks in time order');
  const sensors = w.sensors();
  for (const s of sensors) {
    const mine = ups.filter((u) => u.devEui === s.devEui);
    const beats = mine.filter((u) => u.reason === 'heartbeat');
    tt.ok(beats.length >= 47 && beats.every((b, i) => i === 0 || b.at - beats[i - 1]!.at === 30 * MIN), `${s.name}: a heartbeat every 30 min`);
    const status = mine.filter((u) => u.reason === 'status');
    const occ = status.map((u) => u.object.occupied);
    if (!occ.every((o, i) => i === 0 || o !== occ[i - 1])) tt.fail(`${s.name}: every status uplink reports a change`);
    for (const u of mine) {
      const len = u.frame.length, want = s.codec === 'bosch-pls' ? u.fPort : u.fPort === 1 ? 8 : 11;
      if (len !== want) tt.fail(`${s.name}: fPort ${u.fPort} frame of ${len} bytes`);
    }
  }
  const changes = ups.filter((u) => u.reason === 'status');
  const cst = (u: WorldUplink): number => (new Date(u.at).getUTCHours() + 8) % 24;
  const day = changes.filter((u) => cst(u) >= 8 && cst(u) < 20).length, night = changes.filter((u) => cst(u) < 6).length;
  tt.ok(day > 5 * night && night > 0, `cars come by day (${day} changes 08–20 h) far more than at night (${night} changes 00–06 h)`);
  const bay = sensors[0]!;
  const arrivals = changes.filter((u) => u.devEui === bay.devEui);
  tt.ok(arrivals.length >= 4, `${bay.name} saw ${arrivals.length} changes in a day`);
  const occupiedFrames = changes.filter((u) => u.object.occupied === true && u.object.interference === false);
  tt.ok(occupiedFrames.every((u) => (u.object.mag_z as number) > 40), 'a car over the sensor raises the vertical field');

  // Hooks: a forced change reports at once (queued for the next step or drain); no change, no uplink.
  const q = world();
  const eui = q.sensors()[0]!.devEui;
  const was = q.state(eui).occupied!;
  q.setOccupied(eui, !was);
  const forced = q.drain();
  tt.same(forced.map((u) => [u.devEui, u.fPort, u.object.occupied, u.at]), [[eui, 1, !was, START]], 'status uplink at once');
  q.setOccupied(eui, !was);
  tt.same(q.drain(), [], 'the same state again: nothing to report');
  q.setInterference(eui, true);
  const [noisy] = q.drain();
  tt.same([noisy?.frame[0]! & 2, noisy?.object.occupied, noisy?.object.interference], [2, null, true], 'interference flag; occupied unknown, not a flip');
  tt.ok(Math.abs(noisy!.object.mag_x as number) > 250, 'the bus swamps the magnetometer');
  q.setInterference(eui, false);
  tt.same(q.drain().map((u) => [u.object.occupied, u.object.interference]), [[!was, false]], 'the bus leaves: the real state again');
  const bosch = q.sensors().find((s) => s.codec === 'bosch-pls')!;
  q.setOccupied(bosch.devEui, false);
  q.drain();
  q.setInterference(bosch.devEui, true, 5);
  tt.same(q.drain().map((u) => hex(u.frame)), ['01'], 'bosch-pls has no flag: the bus looks like a car');
  tt.same(q.step(301).filter((u) => u.devEui === bosch.devEui && u.reason === 'status').map((u) => hex(u.frame)), ['00'], 'and leaves after 5 min');

  const buses = new LorawanWorld({ seed: 3, start: START, parking: { lots: [{ id: 'x', bays: 20, codec: 'cityedge-parking-v1' }] }, interferencePerDay: 24, arrivalScale: 0, rainPerDay: 0 });
  const flagged = buses.step(86_400).filter((u) => u.object.interference === true && u.reason === 'status');
  tt.ok(flagged.length >= 10, `random buses: ${flagged.length} interference reports in a day`);
});

t.test('world in fake time: manholes and water-logging', async (tt) => {
  const w = new LorawanWorld({ seed: 5, start: START, manholes: 4, waterlogging: 4, rainPerDay: 0, coverOpensPerDay: 0 });
  const [mh, mh2] = w.sensors().filter((s) => s.kind === 'manhole');
  const wls = w.sensors().filter((s) => s.kind === 'waterlogging');
  const dry = w.step(2 * 86_400);
  const beats = dry.filter((u) => u.devEui === mh!.devEui);
  const gap = beats[1]!.at - beats[0]!.at;
  tt.ok(beats.every((u) => u.reason === 'heartbeat' && u.fPort === 2 && u.frame.length === 10) && gap >= 6 * HOUR && gap <= 24 * HOUR,
    `dry and closed: only heartbeats, every ${(gap / HOUR).toFixed(1)} h`);
  const wlDry = dry.filter((u) => u.devEui === wls[0]!.devEui);
  tt.ok(wlDry.length >= 47 && wlDry.every((u) => u.object.interval_min === 60 && u.object.depth_cm === 0 && u.object.wet === false), 'dry road: hourly reports of 0 cm');

  w.openCover(mh!.devEui);
  const [open] = w.drain();
  tt.match(open, { devEui: mh!.devEui, reason: 'alarm', fPort: 1, object: { cover_open: true, tilt_alarm: true } }, 'cover opened: an alarm event at once');
  tt.ok((open!.object.tilt_deg as number) > 60);
  w.setTilt(mh2!.devEui, 14);
  const [askew] = w.drain();
  tt.match(askew, { fPort: 1, object: { cover_open: false, tilt_alarm: true } }, 'a cover knocked askew: tilt alarm');
  tt.ok(Math.abs((askew!.object.tilt_deg as number) - 14) <= 0.2, `tilt ${String(askew!.object.tilt_deg)}°`);
  w.openCover(mh!.devEui, false);
  tt.match(w.drain()[0], { object: { cover_open: false, tilt_alarm: false } }, 'closed again: the alarm clears');
  w.setMethane(mh!.devEui, 6000);
  tt.match(w.drain()[0], { object: { methane_alarm: true, methane_ppm: Number } });

  w.startRain(60, 90);
  const first = w.step(600);
  const wet = first.filter((u) => u.kind === 'waterlogging');
  tt.ok(wls.every((s) => wet.some((u) => u.devEui === s.devEui && u.object.wet === true && u.at - START - 2 * 86_400_000 < 5 * MIN)),
    'rain: every point reports within minutes of its probe getting wet');
  const depthAt = (eui: string) => w.state(eui).depthCm!;
  const after10 = depthAt(wls[0]!.devEui);
  const rain = w.step(80 * 60);
  const after90 = depthAt(wls[0]!.devEui);
  tt.ok(after10 > 0.3 && after90 > 1.5 * after10, `the water rises over minutes: ${after10.toFixed(1)} cm after 10 min, ${after90.toFixed(1)} cm after 90`);
  const reports = rain.filter((u) => u.devEui === wls[0]!.devEui);
  tt.ok(reports.every((u, i) => i === 0 || u.at - reports[i - 1]!.at <= 10 * MIN + 10_000) && reports.every((u) => (u.object.interval_min as number) <= 10),
    `while wet a report every 1–10 min (${reports.length} in 80 min)`);
  tt.same([reportIntervalMin(30, false), reportIntervalMin(20, false), reportIntervalMin(6, false), reportIntervalMin(1, false), reportIntervalMin(0, false)], [1, 2, 5, 10, 60]);
  tt.ok(rain.some((u) => u.kind === 'manhole' && u.object.water_alarm === true && u.fPort === 1), 'a well fills past its alarm level: an event');
  w.step(4 * 3600);
  tt.ok(depthAt(wls[0]!.devEui) < after90 / 5, 'after the rain the water drains away');
  w.setWaterlogFault(wls[1]!.devEui, true);
  tt.match(w.drain()[0], { object: { depth_cm: null, fault: true } }, 'a faulty probe: depth null');

  const random = new LorawanWorld({ seed: 9, start: START, manholes: 10, coverOpensPerDay: 1, rainPerDay: 0 });
  const opened = random.step(2 * 86_400).filter((u) => u.reason === 'alarm' && u.object.cover_open === true);
  tt.ok(opened.length >= 5, `random openings at 1 per cover per day: ${opened.length} in 2 days`);
  tt.throws(() => w.openCover(wls[0]!.devEui), /not manhole/);
});

t.test('sensors: deterministic DevEUIs, names, config entries', async (tt) => {
  const a = sensorList(SPEC, 7), b = sensorList({ ...SPEC, manholes: 30 }, 7);
  tt.ok(a.every((s) => /^[0-9a-f]{16}$/.test(s.devEui)) && new Set(a.map((s) => s.devEui)).size === a.length, '16 hex chars, all distinct');
  tt.same(b.filter((s) => s.kind === 'parking'), a.filter((s) => s.kind === 'parking'), 'more manholes do not renumber the bays');
  tt.not(sensorList(SPEC, 8)[0]!.devEui, a[0]!.devEui, 'another seed, other EUIs');
  tt.same(a.slice(0, 2).map((s) => [s.name, s.lot, s.codec]), [['bay001', 'lot-a', 'cityedge-parking-v1'], ['bay002', 'lot-a', 'cityedge-parking-v1']]);
  const yaml = parseYaml(sensorConfigYaml(a)) as { devices: { id: string; driver: string; codec: string; sensors: { name: string; dev_eui: string }[] }[] };
  tt.same(yaml.devices.map((d) => [d.id, d.driver, d.codec, d.sensors.length]), [
    ['lot-a', 'lorawan', 'cityedge-parking-v1', 6], ['lot-b', 'lorawan', 'bosch-pls', 4], ['manholes', 'lorawan', 'cityedge-manhole-v1', 3], ['waterlogging', 'lorawan', 'cityedge-waterlog-v1', 3]]);
  tt.same(yaml.devices.flatMap((d) => d.sensors.map((s) => s.dev_eui)), a.map((s) => s.devEui), 'every DevEUI, as a string');
});

/** True when an event has the topic and the keys of a ChirpStack v4 uplink of one of `sensors`. */
const isV4 = (m: Received, sensors: SensorInfo[], appId: string): boolean => {
  const b = m.body!, s = sensors.find((x) => x.devEui === b.deviceInfo.devEui)!;
  return m.topic === `application/${appId}/device/${s.devEui}/event/up`
    && /^[0-9a-f-]{36}$/.test(b.deduplicationId) && !Number.isNaN(Date.parse(b.time))
    && b.deviceInfo.applicationId === appId && b.deviceInfo.deviceName === s.name && b.deviceInfo.deviceProfileName === s.codec
    && typeof b.deviceInfo.tenantId === 'string' && typeof b.deviceInfo.tags === 'object'
    && /^[0-9a-f]{8}$/.test(b.devAddr) && Number.isInteger(b.fCnt) && Number.isInteger(b.dr) && b.confirmed === false && BASE64.test(b.data)
    && Array.isArray(b.rxInfo) && b.rxInfo.length >= 1 && b.rxInfo.every((r: any) => /^[0-9a-f]{16}$/.test(r.gatewayId) && Number.isInteger(r.rssi) && r.rssi < -30 && typeof r.snr === 'number' && Number.isInteger(r.uplinkId))
    && b.txInfo.frequency >= 470e6 && b.txInfo.frequency <= 510e6 && b.txInfo.modulation.lora.spreadingFactor === 12 - b.dr
    && frameOf(m).length >= (PORT_LENGTHS[s.codec][b.fPort] ?? 99);
};

t.test('v4 over MQTT: topics, shapes, frames, fCnt, events', async (tt) => {
  const onClose = closers(tt);
  const url = await broker(onClose);
  const got = await subscriber(onClose, url);
  const sim = await ns(onClose, url, { decoded: true, applicationId: 'app-1' });
  const sensors = sim.sensors();
  const n = await sim.step(86_400);
  await waitFor(() => got.length === n, { what: `${n} uplinks at the subscriber (${got.length})` });
  tt.ok(n > 300, `${n} uplinks in a simulated day`);
  for (const m of got) if (!isV4(m, sensors, 'app-1')) tt.fail(`v4 shape of ${m.text}`);
  tt.ok(got.every((m) => m.body!.object && typeof m.body!.object === 'object'), 'decoded: every event has its object');
  tt.same(new Set(got.map((m) => m.body!.deviceInfo.devEui)).size, sensors.length, 'every sensor was heard (heartbeats, hourly reports)');
  for (const s of sensors) {
    const f = got.filter((m) => euiOf(m) === s.devEui).map((m) => m.body!.fCnt as number);
    if (!f.every((c, i) => i === 0 || c === f[i - 1]! + 1)) tt.fail(`${s.name}: fCnt ${f.join(',')}`);
  }
  tt.same(sim.stats().uplinks.parking + sim.stats().uplinks.manhole + sim.stats().uplinks.waterlogging, n);

  got.length = 0;
  const bay = sensors.find((s) => s.codec === 'cityedge-parking-v1')!;
  const mh = sensors.find((s) => s.kind === 'manhole')!;
  await sim.setOccupied(bay.devEui, !sim.world.state(bay.devEui).occupied);
  await sim.openCover(mh.devEui);
  await waitFor(() => got.length === 2, { what: 'status and alarm at once, without stepping' });
  tt.same(got.map((m) => [euiOf(m), m.body!.fPort, frameOf(m).length]), [[bay.devEui, 1, 8], [mh.devEui, 1, 10]]);
  tt.equal(frameOf(got[1]!)[0]! & 1, 1, 'cover-open bit');
  got.length = 0;
  sim.startRain(50);
  await sim.step(180);
  await waitFor(() => got.some((m) => m.body!.deviceInfo.deviceProfileName === 'cityedge-waterlog-v1'), { what: 'a wet report' });
  tt.ok(got.filter((m) => m.body!.object.wet === true).length >= 1, 'rain: water-logging points report within 3 simulated minutes');
  const now = await sim.publishNow(bay.devEui);
  await waitFor(() => got.some((m) => euiOf(m) === bay.devEui && m.body!.fCnt === now.fCnt), { what: 'publishNow' });
});

t.test('v3 over MQTT: topics and keys of ChirpStack v3', async (tt) => {
  const onClose = closers(tt);
  const url = await broker(onClose);
  const got = await subscriber(onClose, url);
  const sim = await ns(onClose, url, { format: 'v3', decoded: true });
  const n = await sim.step(3600);
  await waitFor(() => got.length === n, { what: `${n} v3 uplinks` });
  const sensors = sim.sensors();
  for (const m of got) {
    const b = m.body!, s = sensors.find((x) => x.devEui === b.devEUI)!;
    const ok = m.topic === `application/1/device/${s.devEui}/rx` && b.applicationID === '1' && b.deviceName === s.name && typeof b.applicationName === 'string'
      && Number.isInteger(b.fCnt) && Number.isInteger(b.fPort) && BASE64.test(b.data) && typeof b.objectJSON === 'string' && typeof JSON.parse(b.objectJSON) === 'object'
      && b.rxInfo.every((r: any) => typeof r.rssi === 'number' && typeof r.loRaSNR === 'number') && b.deviceInfo === undefined && b.object === undefined;
    if (!ok) tt.fail(`v3 shape of ${m.text}`);
  }
  tt.pass(`${n} v3 events checked`);
  const plain = await ns(onClose, url, { format: 'v3', seed: 2, clientId: 'plain' });
  got.length = 0;
  await plain.publishNow(plain.sensors()[0]!.devEui);
  await waitFor(() => got.length === 1);
  tt.equal(got[0]!.body!.objectJSON, undefined, 'without --decoded: no objectJSON');
});

t.test('faults: duplicates and malformed events at their rates', async (tt) => {
  const onClose = closers(tt);
  const url = await broker(onClose);
  const got = await subscriber(onClose, url);
  const sim = await ns(onClose, url, { duplicateRate: 0.1, malformedRate: 0.1 });
  const sensors = new Map(sim.sensors().map((s) => [s.devEui, s]));
  let n = 0;
  for (let h = 0; h < 12; h++) n += await sim.step(3600);
  const st = sim.stats();
  const total = n + st.duplicates + Object.values(st.malformed).reduce((a, b) => a + b, 0);
  await waitFor(() => got.length === total, { what: `${total} messages (${got.length})` });
  tt.equal(st.published, total);
  const kinds: Record<string, number> = { 'bad-json': 0, 'bad-base64': 0, 'short-frame': 0, 'unknown-dev-eui': 0, 'wrong-fport': 0 };
  const valid: Received[] = [];
  for (const m of got) {
    const b = m.body;
    if (!b) { kinds['bad-json']!++; continue; }
    const s = sensors.get(b.deviceInfo.devEui);
    if (!BASE64.test(b.data)) kinds['bad-base64']!++;
    else if (!s) kinds['unknown-dev-eui']!++;
    else if (PORT_LENGTHS[s.codec][b.fPort] === undefined) kinds['wrong-fport']!++;
    else if (frameOf(m).length < PORT_LENGTHS[s.codec][b.fPort]!) kinds['short-frame']!++;
    else valid.push(m);
  }
  tt.same(kinds, st.malformed, 'every malformed event is what the stats say');
  tt.ok(MALFORMED_REASONS.every((r) => st.malformed[r] > 0), `each kind appears: ${JSON.stringify(st.malformed)}`);
  const malformed = Object.values(st.malformed).reduce((a, b) => a + b, 0);
  tt.ok(st.duplicates / n > 0.05 && st.duplicates / n < 0.16 && malformed / n > 0.05 && malformed / n < 0.16, `rates: ${st.duplicates} duplicates, ${malformed} malformed for ${n} uplinks`);
  const seen = new Map<string, Received>();
  let dups = 0;
  for (const m of valid) {
    const key = `${euiOf(m)}/${m.body!.fCnt}`;
    const first = seen.get(key);
    if (!first) { seen.set(key, m); continue; }
    dups++;
    if (first.body!.data !== m.body!.data || first.body!.deduplicationId === m.body!.deduplicationId || first.body!.rxInfo[0].gatewayId === m.body!.rxInfo[0].gatewayId) tt.fail(`duplicate ${key}: same frame, another gateway, another deduplicationId`);
  }
  tt.equal(dups, st.duplicates, 'duplicates repeat an fCnt');
  for (const s of sensors.values()) {
    const f = [...seen.values()].filter((m) => euiOf(m) === s.devEui).map((m) => m.body!.fCnt as number);
    if (!f.every((c, i) => i === 0 || c > f[i - 1]!)) tt.fail(`${s.name}: valid frames keep increasing counters`);
  }
  got.length = 0;
  await sim.publishMalformed('short-frame', sim.sensors()[0]!.devEui);
  await waitFor(() => got.length === 1);
  tt.same([got[0]!.body!.fPort, frameOf(got[0]!).length], [2, 10], 'publishMalformed: a 10-byte parking heartbeat');
});

t.test('time scale and rate mode', async (tt) => {
  const onClose = closers(tt);
  const url = await broker(onClose);
  const got = await subscriber(onClose, url);
  const scaled = await ns(onClose, url, { tickMs: 20, timeScale: 3600, seed: 3 });
  const t0 = performance.now(), w0 = scaled.world.now;
  await waitFor(() => scaled.world.now - w0 >= 2 * HOUR, { what: 'two simulated hours' });
  const real = (performance.now() - t0) / 1000, sim = (scaled.world.now - w0) / 1000;
  tt.ok(sim / real <= 3600 * 1.1 && sim / real > 3600 * 0.5, `${sim.toFixed(0)} simulated s in ${real.toFixed(2)} real s`);
  await waitFor(() => got.filter((m) => m.body?.deviceInfo?.deviceProfileName === 'cityedge-waterlog-v1').length >= 3, { what: 'hourly water-logging reports' });
  await scaled.close();

  got.length = 0;
  const rate = await ns(onClose, url, { seed: 4, rate: { periodS: 0.5 }, parking: { lots: [{ id: 'r', bays: 20, codec: 'cityedge-parking-v1' }] }, manholes: 0, waterlogging: 0 });
  await waitFor(() => got.length >= 60, { what: '60 rate-mode uplinks' });
  const per = got.filter((m) => euiOf(m) === rate.sensors()[0]!.devEui).map((m) => m.body!.fCnt as number);
  tt.ok(per.length >= 2 && per.every((c, i) => i === 0 || c === per[i - 1]! + 1), `each sensor in turn, counters running: ${per.join(',')}`);
  await rate.close();
  const flat = await ns(onClose, url, { seed: 5, rate: { periodS: 0 } });
  await waitFor(() => flat.stats().published >= 2000, { what: '2000 uplinks flat out' });
  await flat.close();
  tt.ok(flat.stats().published >= 2000 && flat.stats().uplinks.parking > 0, `flat out: ${flat.stats().published} published`);
});

t.test('cityedge sim lorawan: ready line, summaries, config, SIGTERM', async (tt) => {
  const onClose = closers(tt);
  const url = await broker(onClose);
  const got = await subscriber(onClose, url);
  const args = ['--lots', '1', '--bays', '5', '--manholes', '2', '--waterlogging', '2', '--seed', '11'];
  const proc = await spawnProcess(process.execPath, ['bin/cityedge.mjs', 'sim', 'lorawan', '--url', url, ...args, '--format', 'v3', '--decoded', '--time-scale', '600', '--summary-s', '1'], {
    t: tt, cwd: ROOT, readyTimeoutMs: 120_000, readyLine: /lorawan network-server simulator publishing to (\S+) as ChirpStack v3/,
  });
  tt.equal(proc.ready?.[1], url);
  await waitFor(() => got.some((m) => m.topic.endsWith('/rx') && typeof m.body?.objectJSON === 'string'), { what: 'v3 events with objectJSON' });
  const summary = await proc.waitForOutput(/\[lorawan\] uplinks parking=(\d+) manhole=\d+ waterlogging=\d+ duplicates=\d+ malformed=\d+ published=(\d+)/);
  tt.ok(Number(summary[2]) > 0, summary[0]);
  tt.equal(await proc.kill('SIGTERM'), 0, 'exits 0 on SIGTERM');

  const config = await spawnProcess(process.execPath, ['bin/cityedge.mjs', 'sim', 'lorawan', '--print-config', ...args], { t: tt, cwd: ROOT });
  tt.equal((await config.exited).status, 0);
  const printed = parseYaml(config.output()) as { devices: { sensors: { dev_eui: string }[] }[] };
  const euis = sensorList({ parking: { lots: [{ id: 'lot-a', bays: 5, codec: 'cityedge-parking-v1' }] }, manholes: 2, waterlogging: 2 }, 11).map((s) => s.devEui);
  tt.same(printed.devices.flatMap((d) => d.sensors.map((s) => s.dev_eui)), euis, 'the DevEUIs the simulator publishes');
  const from = got.filter((m) => m.body?.devEUI !== undefined);
  tt.ok(from.filter((m) => euis.includes(m.body!.devEUI)).length >= 0.9 * from.length, 'they are the ones it published from');
  const usage = await spawnProcess(process.execPath, ['bin/cityedge.mjs', 'sim', 'lorawan'], { t: tt, cwd: ROOT });
  tt.equal((await usage.exited).status, 2, 'no --url: usage error');
});

t.test('docs: a section and a row in the table', async (tt) => {
  const doc = readFileSync(new URL('../docs/simulators.md', import.meta.url), 'utf8');
  tt.ok(doc.includes('## LoRaWAN network server') && doc.includes('| LoRaWAN sensors'), 'section and table row');
  for (const r of MALFORMED_REASONS) tt.ok(doc.includes(`\`${r}\``), `${r} documented`);
});
