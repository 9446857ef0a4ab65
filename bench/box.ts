// `npm run bench:box`: the whole-box figure (issue 9): one gateway with what a city box has on it —
// the pump station's PLC, streetlight cabinets on one RS-485 line, a station PLC's bulk registers,
// and 2,000 LoRaWAN sensors behind a network server — 10,000 samples a second read or received,
// journal on disk, console and API on, alarm rules, one upstream; its CPU and RSS over 10 minutes.
//
//   npm run bench:box -- [--duration 600] [--warmup 30] [--total 10000] [--cabinets 6] [--plcs 10]
//                        [--sensors 2000] [--sensor-period 60] [--live-viewer]   (a console's live page left open)
//                        [--gateway-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"]   (explore; not for the figures)
//
// Processes, each in its own process group (bench/lib/children.ts) and measured apart from /proc:
// two Mosquittos (the platform's, the network server's), the pump-station simulator, the streetlight
// simulator (one RTU-over-TCP line, one unit per cabinet), the bulk PLCs (bench/modbus-sims.ts), the
// LoRaWAN network-server simulator (rate mode), the gateway (`cityedge run`), and this process (a QoS 1
// platform subscriber that counts points, the /proc meters, and the API poller). The tag breakdown is
// bench/lib/box-config.ts. Measured, not asserted: only a run that could not measure exits non-zero.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import type { SimReport } from './modbus-sims.ts';
import { BoxApi, LiveViewer, OverviewPoller, type Heap } from './lib/box-api.ts';
import { parseCheck, planBox, writeBoxConfig } from './lib/box-config.ts';
import { printBoxReport, type LogTally } from './lib/box-report.ts';
import { startChild, type Child } from './lib/children.ts';
import { describeMachine } from './lib/machine.ts';
import { startMosquitto } from './lib/mosquitto.ts';
import { ProcessSampler, sampleMachine } from './lib/procfs.ts';
import { recordResults } from './lib/results.ts';
import { runBench } from './lib/run.ts';
import { TelemetryCounter } from './lib/subscriber.ts';
import { nodeArgs, requirePositive } from './lib/flags.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'cityedge.mjs');
const RUN_TS = join(ROOT, 'bin', 'run-ts.mjs');
const node = process.execPath;

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '600' },
    warmup: { type: 'string', default: '30' },
    total: { type: 'string', default: '10000' },
    cabinets: { type: 'string', default: '6' },
    plcs: { type: 'string', default: '10' },
    sensors: { type: 'string', default: '2000' },
    'sensor-period': { type: 'string', default: '60' },
    'live-viewer': { type: 'boolean', default: false },
    'gateway-node-args': { type: 'string', default: '' },
  },
});
requirePositive('box', flags, ['duration', 'warmup', 'total', 'cabinets', 'plcs', 'sensors', 'sensor-period'], ['sensors', 'cabinets']);
const opts = {
  durationS: Number(flags.duration), warmupS: Number(flags.warmup), total: Number(flags.total),
  cabinets: Math.round(Number(flags.cabinets)), plcs: Math.round(Number(flags.plcs)), sensors: Math.round(Number(flags.sensors)),
  sensorPeriodS: Number(flags['sensor-period']), liveViewer: flags['live-viewer'] ?? false,
  nodeArgs: nodeArgs(flags['gateway-node-args']),
};
if (opts.cabinets > 247) { console.error('bench:box: --cabinets: at most 247 units on one line'); process.exit(2); }
// Every sensor's first uplink carries all its tags: the window opens once each has sent one.
const warmupS = opts.sensors > 0 ? Math.max(opts.warmupS, opts.sensorPeriodS + 5) : opts.warmupS;
const budgetS = warmupS + opts.durationS + 300;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const progress = (msg: string): void => { process.stderr.write(`· ${msg}\n`); };
/** The bulk PLCs' window and report (bench/modbus-sims.ts): the wire as the PLCs saw it. */
const simCommand = (sims: Child, cmd: 'window' | 'report'): Promise<string> => {
  const answer = sims.waitForLine(cmd === 'window' ? /^WINDOW$/ : /^REPORT /, 10_000, true);
  sims.proc.stdin?.write(`${cmd}\n`);
  return answer;
};
const portIn = async (c: Child, re: RegExp): Promise<number> => Number(re.exec(await c.waitForLine(re, 60_000))![1]);

await runBench('box', { budgetS }, async ({ box, tmp, onCleanup }) => {
  const plan = planBox(ROOT, opts);
  const s = plan.sensors;
  console.log(`cityedge bench:box: one gateway, ${Math.round(plan.samplesPerS).toLocaleString('en-US')} samples/s read or received ` +
    `(pump station, ${plan.cabinets} streetlight cabinets, ${plan.plcs} PLCs × ${plan.bulkTags} registers, ` +
    `${opts.sensors.toLocaleString('en-US')} LoRaWAN sensors each every ${plan.sensorPeriodS} s); warm-up ${warmupS} s, window ${opts.durationS} s` +
    `${opts.liveViewer ? '; a console\'s live page open' : ''}${opts.nodeArgs.length ? `; gateway run as node ${opts.nodeArgs.join(' ')} bin/cityedge.mjs` : ''}`);
  for (const line of describeMachine(box)) console.log(line);

  progress('starting Mosquitto ×2 (the platform\'s, the network server\'s) and the simulators');
  // No bound on the subscriber's queue: a subscriber that falls behind counts late, not short.
  const upstream = await startMosquitto(tmp, { unboundedQueue: true, name: 'mosquitto-upstream' });
  const nsBroker = await startMosquitto(tmp, { name: 'mosquitto-ns' });
  const pump = startChild('pump-station simulator', node, [CLI, 'sim', 'pump-station', '--port', '0']);
  const cabs = plan.cabinets > 0
    ? startChild('streetlight simulator', node, [CLI, 'sim', 'streetlights', '--tcp-port', '0', '--units', Array.from({ length: plan.cabinets }, (_, i) => i + 1).join(',')])
    : undefined;
  const bulk = startChild('bulk PLC simulators', node, [RUN_TS, join(ROOT, 'bench', 'modbus-sims.ts'), '--plcs', String(plan.plcs), '--tags', String(plan.bulkTags)], { stdin: 'pipe' });
  const pumpPort = await portIn(pump, /listening on modbus-tcp:\/\/[^:]+:(\d+)/);
  const cabinetPort = cabs ? await portIn(cabs, /listening on rtu-over-tcp:\/\/[^:]+:(\d+)/) : 0;
  const bulkPorts = (JSON.parse((await bulk.waitForLine(/^READY /, 60_000)).slice('READY '.length)) as { ports: number[] }).ports;
  const sensorArgs = ['--lots', String(s.lots), '--bays', String(s.bays), '--manholes', String(s.manholes), '--waterlogging', String(s.waterlogging)];
  const sensorYaml = opts.sensors > 0
    ? (await promisify(execFile)(node, [CLI, 'sim', 'lorawan', '--print-config', ...sensorArgs], { maxBuffer: 64 * 2 ** 20 })).stdout
    : 'devices: []\n';

  const token = randomBytes(16).toString('hex');
  const cfg = writeBoxConfig(ROOT, tmp, plan, {
    upstreamUrl: upstream.url, nsUrl: nsBroker.url, pumpPort, cabinetPort, bulkPorts, sensorYaml,
    tokenSha256: createHash('sha256').update(token).digest('hex'),
  });
  progress('cityedge check (validates, and rebuilds the bundle if a source changed, before anything is timed)');
  const check = parseCheck((await promisify(execFile)(node, [CLI, 'check', '--config', cfg.file], { maxBuffer: 64 * 2 ** 20 })).stdout);

  const counter = new TelemetryCounter();
  onCleanup(() => counter.close());
  await counter.connect(upstream.url);

  progress('starting the gateway');
  const gw = startChild('gateway', node, [...opts.nodeArgs, CLI, 'run', '--config', cfg.file]);
  const t0 = performance.now();
  const log: LogTally = { byLevel: {}, byMessage: new Map(), lines: 0, first: [] };
  gw.onLine((line) => {
    let r: { level?: number; msg?: string; code?: string };
    try { r = JSON.parse(line) as typeof r; } catch { r = { level: 0, msg: line.slice(0, 160) }; }
    log.lines++;
    const level = r.level ?? 0;
    log.byLevel[level] = (log.byLevel[level] ?? 0) + 1;
    if (level >= 40 || level === 0) {
      const key = `${level} ${r.code ? `${r.code}: ` : ''}${(r.msg ?? '?').replace(/\d+/g, 'N')}`;
      log.byMessage.set(key, (log.byMessage.get(key) ?? 0) + 1);
      if (log.first.length < 6) log.first.push(`${((performance.now() - t0) / 1000).toFixed(1)} s: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`);
    }
  });
  const gwS = new ProcessSampler(gw.pid, 1000);
  onCleanup(() => gwS.stop());
  const alive = (what: string) => { if (!gw.running()) throw new Error(`the gateway exited ${what}; its output:\n${gw.lines.slice(-30).join('\n')}`); };
  const apiUrl = (JSON.parse(await gw.waitForLine(/"msg":"HTTP API listening"/, 120_000)) as { url: string }).url;
  const ready = gwS.sample()!;
  const readyS = (performance.now() - t0) / 1000;
  const api = new BoxApi(apiUrl, token);

  let ns: Child | undefined;
  if (opts.sensors > 0) {
    progress(`gateway API up in ${readyS.toFixed(1)} s; starting the network server (${opts.sensors} sensors, each every ${plan.sensorPeriodS} s)`);
    ns = startChild('network server', node, [CLI, 'sim', 'lorawan', '--url', nsBroker.url, ...sensorArgs, '--rate', String(plan.sensorPeriodS), '--summary-s', '60']);
    await ns.waitForLine(/publishing to /, 60_000);
  }
  while (!(counter.online && counter.total > 0)) {
    alive('before publishing');
    if (performance.now() - t0 > 120_000) throw new Error(`no telemetry from the gateway within 120 s; its output:\n${gw.lines.slice(-30).join('\n')}`);
    await sleep(200);
  }
  const firstDataS = (performance.now() - t0) / 1000;
  const poller = new OverviewPoller(api, 3000);
  onCleanup(() => poller.stop());
  const viewer = opts.liveViewer ? new LiveViewer(api) : undefined;
  onCleanup(() => viewer?.close());
  const otherPids: Record<string, number> = {
    'pump-station simulator': pump.pid, ...(cabs ? { 'streetlight simulator': cabs.pid } : {}), 'bulk PLC simulators': bulk.pid,
    ...(ns ? { 'network-server simulator': ns.pid } : {}), 'Mosquitto (platform)': upstream.child.pid, 'Mosquitto (network server)': nsBroker.child.pid,
  };
  const others = Object.fromEntries(Object.entries(otherPids).map(([n, pid]) => [n, new ProcessSampler(pid, 5000)]));
  onCleanup(() => { for (const o of Object.values(others)) o.stop(); });

  progress(`warm-up ${warmupS} s`);
  for (let t = 0; t < warmupS; t += 5) { await sleep(Math.min(5, warmupS - t) * 1000); alive('during warm-up'); }

  const g0 = gwS.sample()!;
  const o0 = Object.fromEntries(Object.entries(others).map(([n, x]) => [n, x.sample()]));
  const m0 = sampleMachine();
  const self0 = process.cpuUsage();
  const st0 = await api.status();
  await simCommand(bulk, 'window');
  const heaps: Heap[] = [];
  const heap = async () => { const h = await api.heap().catch(() => undefined); if (h) heaps.push(h); };
  await heap();
  const live0 = { bytes: viewer?.bytes ?? 0, events: viewer?.events ?? 0 };
  progress(`window of ${opts.durationS} s opens`);
  for (let t = 0; t < opts.durationS; t += 10) {
    await sleep(Math.min(10, opts.durationS - t) * 1000);
    alive('during the window');
    if ((t + 10) % 60 === 0 || t + 10 >= opts.durationS) {
      await heap();
      const last = gwS.samples[gwS.samples.length - 1]!;
      const o = poller.last();
      progress(`${Math.min(t + 10, opts.durationS)} s: gateway CPU ${(100 * (last.cpuS - g0.cpuS) / ((last.at - g0.at) / 1000)).toFixed(1)} % of a core so far, ` +
        `RSS ${(last.rssKb / 1024).toFixed(0)} MB, upstream backlog ${o?.upstreams[0]?.backlog ?? '?'} records, overruns ${o ? o.devices.reduce((n, d) => n + d.overruns, 0) : '?'}`);
    }
  }
  const g1 = gwS.sample()!;
  const o1 = Object.fromEntries(Object.entries(others).map(([n, x]) => [n, x.sample()]));
  const m1 = sampleMachine();
  const self1 = process.cpuUsage(self0);
  const st1 = await api.status();
  const plcs = JSON.parse((await simCommand(bulk, 'report')).slice('REPORT '.length)) as SimReport;
  const seconds = (g1.at - g0.at) / 1000;
  const live = viewer ? { kbPerS: (viewer.bytes - live0.bytes) / 1024 / seconds, eventsPerS: (viewer.events - live0.events) / seconds, error: viewer.error } : undefined;
  await viewer?.close();
  const delivery = counter.between(g0.at, g1.at);
  await poller.stop();
  const overviews = poller.between(g0.at, g1.at);
  const loadEnd = (await import('node:os')).loadavg();

  progress('stopping the network server and the gateway');
  await ns?.stop(5000);
  const stopAt = performance.now();
  const gwExit = await gw.stop(30_000);
  const stopMs = performance.now() - stopAt;

  const othersPct: Record<string, number> = {};
  for (const n of Object.keys(others)) {
    const a = o0[n]; const b = o1[n];
    othersPct[n] = a && b ? (100 * (b.cpuS - a.cpuS)) / ((b.at - a.at) / 1000) : NaN;
  }
  othersPct['bench (this process: subscriber, meters, API poller)'] = (100 * (self1.user + self1.system)) / 1e6 / seconds;
  const total = m1.total - m0.total;

  const result = printBoxReport({
    machine: box, loadEnd: [loadEnd[0] ?? 0, loadEnd[1] ?? 0, loadEnd[2] ?? 0], plan, check: check.devices, alarmRules: check.alarmRules, groups: cfg.groups,
    warmupS, seconds, samples: gwS.samples.filter((x) => x.at >= g0.at && x.at <= g1.at), from: g0, to: g1,
    ready: { s: readyS, rssMb: ready.rssKb / 1024, hwmMb: ready.hwmKb / 1024 }, firstDataS,
    delivery, plcs, live, heaps, status: [st0, st1], overviews, overviewFailures: poller.failed,
    othersPct, machineBusy: { busyPct: (100 * (m1.busy - m0.busy)) / total, stealPct: (100 * (m1.steal - m0.steal)) / total, cores: box.cores },
    log, stop: { status: gwExit, ms: stopMs },
  });
  recordResults('box', box, result.setup, result.rows);
});
