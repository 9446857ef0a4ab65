// `npm run test:faults`: the fault campaign. The gateway runs against its PLCs (Modbus TCP), its
// water-logging sensors (a network server's Mosquitto) and two upstream Mosquittos (city, district)
// while faults are injected on a schedule (schedule.ts): kill -9 of the gateway, broker stop/start,
// PLC stop/start, a PLC answering slowly, an exception storm, a flood of malformed sensor payloads,
// and the journal filling its quota (the district broker stays down long enough). At the end the
// records of the devices are held against what reached the city platform (reconcile.ts).
//
//   npm run test:faults -- [--short] [--seed N] [--json FILE]
//
// Pass: nothing lost at the city platform, every alarm raised there, the quota's drops counted and
// alarmed, the district platform caught up, every malformed payload counted; exit 0. Else exit 1.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.ts';
import { spawnProcess, type SpawnedProcess } from '../helpers/proc.ts';
import { freePort } from '../helpers/ports.ts';
import { waitFor, waitForValue } from '../helpers/wait.ts';
import { Platform } from './platform.ts';
import { reconcile } from './reconcile.ts';
import { profile, type Fault } from './schedule.ts';
import { APPLICATION_ID, SensorFleet, sensorSpecs } from './sensors.ts';
import { printTable, type CampaignResult } from './table.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'cityedge.mjs');
const RUN_TS = join(ROOT, 'bin', 'run-ts.mjs');
const SITE = 'faults';
const COMMIT_MS = 250;
/** The sensor device hands on what arrived once per scan; an uplink is durable within this plus COMMIT_MS. */
const SENSOR_POLL_MS = 1000;
const TOKEN = 'faults-campaign-token';

const { values: flags } = parseArgs({ options: { short: { type: 'boolean', default: false }, seed: { type: 'string', default: '1' }, json: { type: 'string' } } });
const prof = profile(flags.short ? 'short' : 'full', Number(flags.seed));
const log = (msg: string): void => { process.stderr.write(`[faults ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`); };
let t0 = Date.now();

const dir = mkdtempSync(join(tmpdir(), 'cityedge-faults-'));
const brokers: Mosquitto[] = [];
const platforms: Platform[] = [];
let plcProc: SpawnedProcess | undefined;
let gateway: SpawnedProcess | undefined;
let fleet: SensorFleet | undefined;

async function cleanup(): Promise<void> {
  await fleet?.stop();
  await gateway?.kill().catch(() => {});
  plcProc?.child.stdin?.end();
  await plcProc?.kill().catch(() => {});
  for (const p of platforms) await p.close();
  for (const b of brokers) await b.stop().catch(() => {});
  for (const b of brokers) rmSync(b.dir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
}

/** One request to the PLC process, answered by a line starting with `expect`. */
async function plcCommand(msg: object, expect: RegExp): Promise<RegExpExecArray> {
  const before = plcProc!.output().length;
  plcProc!.child.stdin!.write(`${JSON.stringify(msg)}\n`);
  return waitForValue(() => expect.exec(plcProc!.output().slice(before)), { timeoutMs: 30_000, what: `the PLCs to answer ${JSON.stringify(msg)}` });
}

async function status(apiPort: number): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.json() as Record<string, unknown> : undefined;
  } catch { return undefined; }
}

/** Rejected sensor messages the running gateway has counted, over every network-server topic. */
function rejectedCount(s: Record<string, unknown> | undefined): number {
  const topics = (s?.ingest_topics ?? {}) as Record<string, { rejected?: Record<string, number> }>;
  let n = 0;
  for (const v of Object.values(topics)) for (const c of Object.values(v.rejected ?? {})) n += c;
  return n;
}

async function main(): Promise<CampaignResult> {
  log(`profile ${prof.name}, seed ${flags.seed}: ${prof.faults.length} faults over ${prof.endS} s`);
  const [city, district, ns] = await Promise.all([startMosquitto({ persistence: true }), startMosquitto({ persistence: true }), startMosquitto({})]);
  brokers.push(city, district, ns);
  plcProc = await spawnProcess(process.execPath, [RUN_TS, join(ROOT, 'test', 'faults', 'plcs.ts'), '--plcs', String(prof.plcs), '--tags', String(prof.tagsPerPlc)],
    // The final REPORT line lists every answer (~90 kB a minute): the output must hold it whole.
    { stdin: 'pipe', readyLine: /READY (\{.*\})/, readyTimeoutMs: 60_000, name: 'plcs', maxOutputChars: 64 * 2 ** 20 });
  const ports = (JSON.parse(plcProc.ready![1]!) as { ports: number[] }).ports;
  const sensors = sensorSpecs(prof.sensors);
  const apiPort = await freePort();
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'box.yaml');
  writeFileSync(configFile, stringify({
    site: { id: SITE },
    buffer: { path: dataDir, commit_ms: COMMIT_MS, max_bytes: prof.quotaBytes },
    upstreams: [{ id: 'city', url: city.url, format: 'json' }, { id: 'district', url: district.url, format: 'json' }],
    api: { port: apiPort, console: false, users: [{ name: 'faults', role: 'viewer', token_sha256: createHash('sha256').update(TOKEN).digest('hex') }] },
    devices: [
      ...ports.map((port, i) => ({
        id: `plc${i + 1}`, driver: 'modbus-tcp', host: '127.0.0.1', port, poll_ms: 250, timeout_ms: 1000,
        tags: [
          { name: 'counter', address: 'hr:0', type: 'uint32' },
          { name: 'alarm', address: 'hr:2', type: 'uint16' },
          ...Array.from({ length: prof.tagsPerPlc - 2 }, (_, r) => ({ name: `v${r + 3}`, address: `hr:${r + 3}`, type: 'uint16' })),
        ],
      })),
      {
        id: 'waterlog', driver: 'lorawan', source: { url: ns.url, session: process.env.FAULTS_SESSION ?? 'persistent' }, topic: `application/${APPLICATION_ID}/device/+/event/up`,
        codec: 'cityedge-waterlog-v1', poll_ms: SENSOR_POLL_MS, sensors: sensors.map((s) => ({ name: s.name, dev_eui: s.devEui })),
      },
    ],
    alarms: ports.map((_, i) => ({ id: `plc${i + 1}_contact`, tag: `plc${i + 1}.alarm`, equals: 1, severity: 'major', message: '测试报警', message_en: 'test contact' })),
  }));

  const cityP = new Platform('city', SITE);
  const districtP = new Platform('district', SITE);
  platforms.push(cityP, districtP);
  await cityP.connect(city.url);
  await districtP.connect(district.url);

  const startGateway = (): Promise<SpawnedProcess> => spawnProcess(process.execPath, [CLI, 'run', '--config', configFile],
    { readyLine: /gateway started/, readyTimeoutMs: 60_000, name: 'gateway' });
  gateway = await startGateway();
  fleet = new SensorFleet(sensors, prof.sensorEveryMs);
  await fleet.start(ns.url);
  await waitFor(() => cityP.points.length > 0, { timeoutMs: 60_000, what: 'telemetry at the city platform' });
  t0 = Date.now();
  log('gateway up, telemetry flowing; faults begin');

  const kills: number[] = [];
  const districtDown: [number, number][] = [];
  const crashes: string[] = [];
  let flood = { sent: 0, counted: 0 };
  const watchExit = (g: SpawnedProcess): void => {
    void g.exited.then((e) => { if (g === gateway && e.signal !== 'SIGKILL') crashes.push(`gateway exited by itself: status ${e.status}`); });
  };
  watchExit(gateway);

  const apply = async (f: Fault): Promise<void> => {
    switch (f.op) {
      case 'kill': {
        const at = Date.now();
        kills.push(at);
        const g = gateway!;
        gateway = undefined;
        log(`kill -9 the gateway at ${new Date(at).toISOString()}`);
        await g.kill('SIGKILL');
        gateway = await startGateway();
        log(`gateway back, ${((Date.now() - at) / 1000).toFixed(1)} s after the kill`);
        watchExit(gateway);
        break;
      }
      case 'broker': {
        const b = f.upstream === 'city' ? city : district;
        if (f.up) await b.restart(); else await b.stop();
        if (f.upstream === 'district') { if (f.up) districtDown.at(-1)![1] = Date.now(); else districtDown.push([Date.now(), Number.POSITIVE_INFINITY]); }
        log(`${f.upstream} broker ${f.up ? 'back' : 'stopped'}`);
        break;
      }
      case 'plc-stop': case 'plc-start':
        await plcCommand({ op: f.op === 'plc-stop' ? 'stop' : 'start', plc: f.plc }, f.op === 'plc-stop' ? /OK stop/ : /OK start/);
        log(`PLC ${f.plc + 1} ${f.op === 'plc-stop' ? 'stopped' : 'back'}`);
        break;
      case 'plc-fault':
        await plcCommand({ op: 'fault', plc: f.plc, fault: f.fault }, /OK fault/);
        log(`PLC ${f.plc + 1} fault ${JSON.stringify(f.fault)}`);
        break;
      case 'flood': {
        const before = rejectedCount(await status(apiPort));
        await fleet!.flood(f.count);
        await waitFor(async () => rejectedCount(await status(apiPort)) - before >= f.count, { timeoutMs: 60_000, what: `the gateway to count ${f.count} malformed payloads` }).catch(() => {});
        flood = { sent: f.count, counted: rejectedCount(await status(apiPort)) - before };
        log(`flood of ${f.count} malformed payloads: ${flood.counted} counted as rejected`);
        break;
      }
    }
  };
  for (const f of [...prof.faults].sort((a, b) => a.at - b.at)) {
    const wait = t0 + f.at * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await apply(f);
  }
  const wait = t0 + prof.endS * 1000 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  // The devices stop producing first, so their records are final and everything in them has had
  // the whole drain to arrive; the gateway sees its PLCs go away and reports them bad.
  await fleet.stop();
  for (let i = 0; i < prof.plcs; i++) await plcCommand({ op: 'stop', plc: i }, /OK stop/);
  const report = JSON.parse((await plcCommand({ op: 'report' }, /REPORT (\{.*\})/))[1]!) as { plcs: { served: [number, number][] }[] };
  log('faults over, devices stopped; waiting for both upstreams to drain');

  // Drained: the gateway's journal holds nothing for either upstream, for two looks in a row.
  let calm = 0;
  await waitFor(async () => {
    const s = await status(apiPort) as { upstreams?: Record<string, { backlog?: number }> } | undefined;
    const ups = Object.values(s?.upstreams ?? {});
    calm = ups.length === 2 && ups.every((u) => u.backlog === 0) ? calm + 1 : 0;
    return calm >= 2;
  }, { timeoutMs: prof.drainS * 1000, intervalMs: 1000, what: 'the backlog to drain' }).catch(() => log('the backlog did not drain in time'));
  const final = await status(apiPort);
  const g = gateway!;
  gateway = undefined; // a stop we asked for, not a crash
  const stopStatus = await g.kill();

  const input = {
    plcs: report.plcs.map((p, i) => ({ device: `plc${i + 1}`, served: p.served, alarmRule: `plc${i + 1}_contact` })),
    sensors: { device: 'waterlog', produced: fleet.produced },
    kills, killWindowMs: COMMIT_MS + prof.killSlackMs, sensorKillWindowMs: SENSOR_POLL_MS + COMMIT_MS + prof.killSlackMs,
  };
  const cityR = reconcile({ ...input, points: cityP.points, alarms: cityP.alarms });
  return {
    profile: prof.name, seed: Number(flags.seed), durationS: Math.round((Date.now() - t0) / 1000), faults: prof.faults, kills: kills.length,
    city: { ...cityR, platform: cityP },
    // A batch published just before the district broker went down may never have been acknowledged:
    // it is the oldest of the backlog, the first the quota drops.
    district: { ...reconcile({ ...input, points: districtP.points, alarms: districtP.alarms, quotaWindows: districtDown.map(([a, b]) => [a - 2000, b]), reference: cityR.deliveredKeys }), platform: districtP },
    flood, crashes, cleanStop: stopStatus === 0, sensorsUnacknowledged: fleet.unacknowledged,
    finalStatus: final,
  };
}

let code = 1;
try {
  const result = await main();
  const pass = printTable(result);
  const side = (s: typeof result.city): object => ({ ...s, platform: undefined, deliveredKeys: undefined });
  if (flags.json) writeFileSync(flags.json, JSON.stringify({ ...result, city: side(result.city), district: side(result.district) }, null, 2));
  code = pass ? 0 : 1;
} catch (err) {
  console.error(`faults: the campaign could not finish: ${(err as Error).stack ?? String(err)}`);
  if (gateway) console.error(`-- gateway output (end):\n${gateway.output().slice(-4000)}`);
} finally {
  await cleanup();
}
process.exit(code);
