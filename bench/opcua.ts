// `npm run bench:opcua`: the gateway subscribed to 5,000 OPC UA variables that each change once a
// second, publishing to a real Mosquitto, measured from outside; then, in the same run against the
// same server, node-opcua's client alone doing the same subscription, for the ratio; then both again
// reading the same variables by Read every second (`mode: poll`) (docs/performance.md, OPC UA).
//
//   npm run bench:opcua -- [--tags 5000] [--warmup 10] [--duration 150] [--poll-duration 30] [--poll-ms 1000]
//                          [--no-raw] [--no-poll] [--gateway-node-args="--trace-gc"] [--gateway-log FILE]
//
// Processes: this one (orchestrator, MQTT subscriber, meters); the OPC UA server (`cityedge sim opcua
// --bulk N`) and Mosquitto, for the whole run; then one at a time: the gateway (`cityedge run`,
// subscribe), the raw client (subscribe), the gateway (poll), the raw client (poll). Each is measured
// on its own, from /proc. Speed is measured, not asserted: the exit code is 0 whatever the figures;
// only a run that could not measure (a process died, a deadline passed) exits non-zero.
import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { stringify } from 'yaml';
import { bulkNodeIdOf } from '../simulators/opcua/signals.ts';
import { startChild, type Child } from './lib/children.ts';
import { describeMachine } from './lib/machine.ts';
import { startMosquitto } from './lib/mosquitto.ts';
import { runPhase, type Counting, type Mark, type Mode, type PhaseDeps, type PhaseResult, type RawCounts } from './lib/opcua-phase.ts';
import { printReport, type GatewayLog, type RawInfo } from './lib/opcua-report.ts';
import { OpcuaTelemetryCounter } from './lib/opcua-subscriber.ts';
import { sampleProcess } from './lib/procfs.ts';
import { runBench, type Bench } from './lib/run.ts';
import { nodeArgs, requirePositive } from './lib/flags.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'cityedge.mjs');
const SITE = 'bench';
/** Where the raw client's bundle goes: next to node_modules, so that it resolves node-opcua as the gateway's bundle does. */
const BUNDLE_DIR = join(ROOT, 'node_modules', '.cache', 'cityedge-bench');

const { values: flags } = parseArgs({
  options: {
    tags: { type: 'string', default: '5000' },
    warmup: { type: 'string', default: '10' },
    // Long enough to hold V8's first full collection in the gateway (~100–110 s after its start at this
    // load) and a minute after it: before it the RSS only climbs and the CPU leaves out the collections
    // that belong to the steady state (the report's "steady part").
    duration: { type: 'string', default: '150' },
    'poll-duration': { type: 'string', default: '30' },
    'poll-ms': { type: 'string', default: '1000' },
    'no-raw': { type: 'boolean', default: false },
    'no-poll': { type: 'boolean', default: false },
    // Node flags for the gateway process, for exploring rather than for the headline figures.
    'gateway-node-args': { type: 'string', default: '' },
    // Every line the gateway prints, appended to this file with the seconds since its start (e.g. with --trace-gc).
    'gateway-log': { type: 'string' },
  },
});
requirePositive('opcua', flags, ['tags', 'warmup', 'duration', 'poll-duration', 'poll-ms']);
const opts = {
  tags: Number(flags.tags), warmupS: Number(flags.warmup), durationS: Number(flags.duration),
  pollDurationS: Number(flags['poll-duration']), pollMs: Number(flags['poll-ms']),
  raw: !flags['no-raw'], poll: !flags['no-poll'],
};
if (!Number.isInteger(opts.tags) || opts.tags > 10_000) { console.error('bench:opcua: --tags must be an integer up to 10000 (the simulator names them V0000…V9999)'); process.exit(2); }
const gatewayNodeArgs = nodeArgs(flags['gateway-node-args']);
/** How long a phase may take to have every tag once before it is measured anyway. */
const ALL_TIMEOUT_S = 120;

const rawBundle = join(BUNDLE_DIR, `opcua-raw-client-${process.pid}.mjs`);
const counter = new OpcuaTelemetryCounter();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
// Bounded: every phase's warm-up and window, plus generous start-up (up to ALL_TIMEOUT_S each) and shutdown.
const phases = (opts.raw ? 2 : 1) * (opts.poll ? 2 : 1);
const budgetS = (opts.raw ? 2 : 1) * (opts.warmupS + opts.durationS) + (opts.poll ? (opts.raw ? 2 : 1) * (opts.warmupS + opts.pollDurationS) : 0) + phases * 70 + 120;

function progress(msg: string): void { process.stderr.write(`· ${msg}\n`); }

const deviceId = (mode: Mode) => (mode === 'subscribe' ? 'ua_sub' : 'ua_poll');

function writeConfig(tmp: string, mode: Mode, endpoint: string, brokerUrl: string): string {
  const dir = join(tmp, `gateway-${mode}`);
  mkdirSync(dir, { recursive: true });
  const config = {
    site: { id: SITE, name: 'cityedge OPC UA benchmark' },
    // As shipped: the durable journal (fsync full, commit every 250 ms); the client's PKI goes under it too.
    buffer: { path: join(dir, 'data'), journal: 'disk' },
    upstreams: [{ id: 'platform', url: brokerUrl, format: 'json' }],
    devices: [{
      id: deviceId(mode), driver: 'opcua', endpoint, mode, poll_ms: opts.pollMs,
      tags: Array.from({ length: opts.tags }, (_, i) => ({ name: `v${String(i).padStart(4, '0')}`, node: bulkNodeIdOf(i) })),
    }],
  };
  const file = join(dir, 'bench.yaml');
  writeFileSync(file, stringify(config, { flow: false }));
  return file;
}

/** `cityedge check`: validates the file (and bundles the sources if they changed, so no bundling is timed); its plan lines. */
async function checkPlan(file: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'check', '--config', file], { maxBuffer: 64 * 2 ** 20 });
  return stdout.split('\n').filter((l) => l.trim() !== '');
}

const bundles = () => { try { return readdirSync(join(ROOT, 'node_modules', '.cache', 'cityedge')).sort().join(','); } catch { return ''; } };

/** The gateway's JSON log (pino: 30 info, 40 warn, 50 error): start-up steps placed in time, and a tally. */
const MARKED = new Set(['read plan', 'gateway started', 'upstream connected', 'OPC UA session open', 'device online']);
function watchLog(gw: Child, startedAt: number, marks: Mark[]): GatewayLog {
  const log: GatewayLog = { warn: 0, error: 0, other: 0, byMessage: new Map(), first: [], overruns: [] };
  gw.onLine((line) => {
    const atS = (performance.now() - startedAt) / 1000;
    let rec: { level?: number; msg?: string; code?: string; scanMs?: number; overruns?: number };
    try { rec = JSON.parse(line) as typeof rec; } catch { log.other++; if (log.first.length < 10) log.first.push(line); return; }
    const level = rec.level ?? 0;
    if (level >= 50) log.error++; else if (level >= 40) log.warn++;
    const key = `${rec.code ? `${rec.code}: ` : ''}${rec.msg ?? '?'}`;
    const seen = log.byMessage.get(key);
    log.byMessage.set(key, { n: (seen?.n ?? 0) + 1, firstS: seen?.firstS ?? atS });
    if (rec.msg && MARKED.has(rec.msg) && !marks.some((m) => m.what === rec.msg)) marks.push({ what: rec.msg, atS });
    if (rec.code === 'CE_ERR_SCAN_OVERRUN') log.overruns.push({ atS, scanMs: rec.scanMs ?? NaN, overruns: rec.overruns ?? NaN });
    if (level >= 40 && log.first.length < 10) log.first.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
  });
  return log;
}

interface GatewayPhase { result: PhaseResult; log: GatewayLog; plan: string[]; rebuilt: boolean }

async function gatewayPhase(tmp: string, mode: Mode, endpoint: string, brokerUrl: string, deps: PhaseDeps): Promise<GatewayPhase> {
  const file = writeConfig(tmp, mode, endpoint, brokerUrl);
  progress(`cityedge check (${mode})`);
  const plan = await checkPlan(file);
  const device = deviceId(mode);
  counter.expect(device, opts.tags);
  const before = bundles();
  progress(`starting the gateway, ${opts.tags} tags, mode ${mode}`);
  const gw = startChild(`gateway (${mode})`, process.execPath, [...gatewayNodeArgs, CLI, 'run', '--config', file], {
    // info: a handful of start-up lines, placed in time; nothing per scan.
    env: { CITYEDGE_LOG_LEVEL: 'info' },
  });
  const startedAt = performance.now();
  const marks: Mark[] = [];
  const log = watchLog(gw, startedAt, marks);
  const logFile = flags['gateway-log'];
  if (logFile) {
    appendFileSync(logFile, `# gateway, ${mode}, pid ${gw.pid}\n`);
    gw.onLine((line) => appendFileSync(logFile, `${((performance.now() - startedAt) / 1000).toFixed(3)} ${line}\n`));
  }
  const counting: Counting = {
    progress: () => counter.progress(device),
    open: async () => {},
    end: async () => {},
    close: async (w) => {
      const delivery = counter.between(device, w.from, w.to);
      const byTime = counter.byValueTime(device, w.wallFrom, w.wallTo);
      return { samples: byTime.points, seconds: byTime.seconds, arrived: delivery.points, delivery };
    },
  };
  const result = await runPhase(`gateway, ${mode}`, mode, opts.tags, gw, startedAt, counting, marks,
    { ...deps, durationS: mode === 'subscribe' ? opts.durationS : opts.pollDurationS });
  return { result, log, plan, rebuilt: bundles() !== before };
}

async function rawPhase(tmp: string, mode: Mode, endpoint: string, deps: PhaseDeps): Promise<{ result: PhaseResult; info: RawInfo }> {
  progress(`starting the raw node-opcua client, ${opts.tags} nodes, mode ${mode}`);
  const c = startChild(`raw client (${mode})`, process.execPath,
    [rawBundle, '--endpoint', endpoint, '--nodes', String(opts.tags), '--mode', mode, '--poll-ms', String(opts.pollMs), '--pki', join(tmp, `raw-${mode}-pki`)],
    { stdin: 'pipe' });
  const startedAt = performance.now();
  const times: { firstAt?: number; allAt?: number } = {};
  c.onLine((line) => {
    if (line === 'FIRST') times.firstAt ??= performance.now();
    if (line === 'ALL') times.allAt ??= performance.now();
  });
  const loaded = JSON.parse((await c.waitForLine(/^LOADED /, 60_000)).slice('LOADED '.length)) as { importMs: number; rssKb: number };
  const ready = JSON.parse((await c.waitForLine(/^READY /, 120_000)).slice('READY '.length)) as Record<string, number | number[]>;
  type Answer = RawCounts & { byValueTime?: { points: number; seconds: number } };
  const ask = async (range = ''): Promise<Answer> => {
    const answer = c.waitForLine(/^COUNT /, 10_000, true);
    c.proc.stdin?.write(`count ${range}\n`);
    return JSON.parse((await answer).slice('COUNT '.length)) as Answer;
  };
  let atOpen: RawCounts | undefined;
  let atEnd: RawCounts | undefined;
  const counting: Counting = {
    progress: () => ({ firstAt: times.firstAt, allAt: times.allAt, tags: times.allAt !== undefined ? opts.tags : 0 }),
    open: async () => { atOpen = await ask(); },
    end: async () => { atEnd = await ask(); },
    close: async (w) => {
      const { byValueTime } = await ask(`${w.wallFrom} ${w.wallTo}`);
      const d = Object.fromEntries(Object.entries(atEnd ?? {}).map(([k, v]) => [k, (v as number) - (atOpen?.[k as keyof RawCounts] ?? 0)])) as unknown as RawCounts;
      // Comparable with what the gateway delivers: a notification is a change; a Read only counts when the value moved.
      return { samples: byValueTime?.points ?? NaN, seconds: byValueTime?.seconds ?? NaN, arrived: mode === 'subscribe' ? d.notifications : d.changedValues, raw: d };
    },
  };
  const result = await runPhase(`raw node-opcua, ${mode}`, mode, opts.tags, c, startedAt, counting, [],
    { ...deps, durationS: mode === 'subscribe' ? opts.durationS : opts.pollDurationS });
  return { result, info: { loadedRssMb: loaded.rssKb / 1024, importMs: loaded.importMs, steps: ready } };
}

async function bundleRawClient(): Promise<void> {
  const { build, stop } = await import('esbuild');
  mkdirSync(BUNDLE_DIR, { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'bench', 'lib', 'opcua-raw-client.ts')], outfile: rawBundle,
    bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'error',
  });
  // esbuild's service process would otherwise idle beside the measured ones for the whole run.
  await stop();
}

/** RSS of Node doing nothing: the floor under every RSS figure here. */
async function idleNodeRssMb(): Promise<number> {
  const c = startChild('idle node', process.execPath, ['-e', "setInterval(() => {}, 2 ** 30); console.log('READY'); process.stdin.on('end', () => process.exit(0)).resume()"], { stdin: 'pipe' });
  try {
    await c.waitForLine(/^READY$/, 30_000);
    await sleep(2000);
    return (sampleProcess(c.pid)?.rssKb ?? NaN) / 1024;
  } finally {
    await c.stop();
  }
}

async function main({ box, tmp, onCleanup }: Bench): Promise<void> {
  onCleanup(() => counter.close());
  const t0 = performance.now();
  console.log(`cityedge bench:opcua: ${opts.tags} OPC UA variables (Double, each changing once a second), subscription publishing every ${opts.pollMs} ms ` +
    `(sampling ${opts.pollMs} ms, queue 10), warm-up ${opts.warmupS} s after every tag has come once, window ${opts.durationS} s` +
    `${opts.raw ? '; then node-opcua\'s client alone the same' : ''}${opts.poll ? `; then mode poll (a Read every ${opts.pollMs} ms), window ${opts.pollDurationS} s` : ''}` +
    `${gatewayNodeArgs.length ? `; gateway run as node ${gatewayNodeArgs.join(' ')} bin/cityedge.mjs` : ''}`);
  for (const line of describeMachine(box)) console.log(line);
  console.log('');

  progress('starting Mosquitto');
  const broker = await startMosquitto(tmp);
  progress(`starting the OPC UA server (cityedge sim opcua --bulk ${opts.tags})`);
  const sim = startChild('opcua simulator', process.execPath, [CLI, 'sim', 'opcua', '--port', '0', '--bulk', String(opts.tags), '--pki', join(tmp, 'sim-pki')]);
  const endpoint = /listening on (opc\.tcp:\/\/\S+)/.exec(await sim.waitForLine(/listening on opc\.tcp:\/\//, 120_000))![1]!;
  if (opts.raw) { progress('bundling the raw client'); await bundleRawClient(); }
  await counter.connect(broker.url);

  const deps: PhaseDeps = {
    others: { 'OPC UA server (simulator)': sim.pid, mosquitto: broker.child.pid },
    cores: box.cores, warmupS: opts.warmupS, durationS: opts.durationS, allTimeoutS: ALL_TIMEOUT_S, sleep, progress,
    // Value time → delivery is up to ~2 poll periods in subscribe mode (sampling, then the scan); a margin on top.
    settleS: Math.ceil((3 * opts.pollMs) / 1000) + 1,
  };
  const gwSub = await gatewayPhase(tmp, 'subscribe', endpoint, broker.url, deps);
  const rawSub = opts.raw ? await rawPhase(tmp, 'subscribe', endpoint, deps) : undefined;
  const gwPoll = opts.poll ? await gatewayPhase(tmp, 'poll', endpoint, broker.url, deps) : undefined;
  const rawPoll = opts.poll && opts.raw ? await rawPhase(tmp, 'poll', endpoint, deps) : undefined;

  progress('idle baseline');
  const idleMb = await idleNodeRssMb();
  const simRss = sampleProcess(sim.pid);

  printReport({
    opts, machine: box, endpoint, gwSub, rawSub, gwPoll, rawPoll, idleMb,
    simRssMb: (simRss?.rssKb ?? NaN) / 1024, runS: (performance.now() - t0) / 1000,
  });
}

await runBench('opcua', { budgetS, alsoRemove: [rawBundle] }, main);
