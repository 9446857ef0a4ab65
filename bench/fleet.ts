// `npm run bench:fleet`: how many points a second `cityedge ingest` (docs/platform.md) takes from a
// fleet of boxes into the time-series store, with 1 and then 2 instances in one shared-subscription
// group, what that costs, and whether every sample lands in the store exactly once
// (docs/performance.md, "Fleet ingest"). In one run:
//
// 1. The raw ceiling: a bare loop writing the same line protocol straight to VictoriaMetrics'
//    `/api/v2/write`, one write per device batch, with as many writes in flight as the ingest has
//    (connections × instances), through the global fetch (as the ingest writes) and through
//    node:http (a cheaper client: nearer what the store itself takes) (bench/lib/fleet-ceiling.ts).
// 2. For 1, then 2 instances: `node bin/cityedge.mjs ingest --connections 4 --stats-every-s 1` on a
//    Mosquitto, into the same VictoriaMetrics (`-dedup.minScrapeInterval=1ms`), fed by 200 boxes × 3
//    devices of ~50 tags (a separate publisher process, QoS 1, 1 % of batches sent twice), warm-up,
//    a window, a drain, and every sample looked for in the store (bench/lib/fleet-ingest.ts).
//
//   npm run bench:fleet -- [--boxes 200] [--devices 3] [--connections 4] [--instances 1,2] [--warmup 10]
//                          [--seconds 30] [--rate 0] [--repeat 0.01] [--lead-s 3]
//                          [--ceiling-seconds 10] [--ceiling-clients fetch,http] [--no-ceiling]
//                          [--ingest-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"]   (explore; not for the figures)
//
// Figures are measured, not asserted; only a run that could not measure (a process died, a drain or
// the deadline ran out) exits non-zero. Every child (VictoriaMetrics, Mosquitto, the instances, the
// publisher, the writer) runs in its own process group and is stopped on exit, on Ctrl-C, on error
// and at the run's deadline; free loopback ports only; the temp dir (the store's data) is removed.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { runCeiling, type CeilingResult } from './lib/fleet-ceiling.ts';
import { deviceCount, tagsOf, type FleetSpec } from './lib/fleet-common.ts';
import { runFleetPhase, type FleetPhaseResult } from './lib/fleet-ingest.ts';
import { printReport } from './lib/fleet-report.ts';
import { startVictoria } from './lib/fleet-victoria.ts';
import { describeMachine } from './lib/machine.ts';
import { startMosquitto } from './lib/mosquitto.ts';
import { runBench } from './lib/run.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values: flags } = parseArgs({
  options: {
    boxes: { type: 'string', default: '200' },
    devices: { type: 'string', default: '3' },
    connections: { type: 'string', default: '4' },
    instances: { type: 'string', default: '1,2' },
    warmup: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '30' },
    rate: { type: 'string', default: '0' },
    repeat: { type: 'string', default: '0.01' },
    'lead-s': { type: 'string', default: '3' },
    'ceiling-seconds': { type: 'string', default: '10' },
    'ceiling-clients': { type: 'string', default: 'fetch,http' },
    'no-ceiling': { type: 'boolean', default: false },
    // Node flags for the instances, for exploring (with "=": the value starts with a dash).
    'ingest-node-args': { type: 'string', default: '' },
  },
});
const usage = (msg: string): never => { console.error(`bench:fleet: ${msg}`); process.exit(2); };
const fleet: FleetSpec = { boxes: Number(flags.boxes), devicesPerBox: Number(flags.devices) };
const opts = {
  connections: Number(flags.connections),
  instances: flags.instances!.split(',').map(Number),
  warmupS: Number(flags.warmup), seconds: Number(flags.seconds), rate: Number(flags.rate),
  repeat: Number(flags.repeat), leadS: Number(flags['lead-s']),
  ceilingS: Number(flags['ceiling-seconds']),
  ceilingClients: flags['ceiling-clients']!.split(',').filter(Boolean) as ('fetch' | 'http')[],
  ceiling: !flags['no-ceiling'],
  nodeArgs: (flags['ingest-node-args'] ?? '').split(/\s+/).filter(Boolean),
};
if (!(Number.isInteger(fleet.boxes) && fleet.boxes >= 1 && Number.isInteger(fleet.devicesPerBox) && fleet.devicesPerBox >= 1)) usage('--boxes and --devices are whole numbers ≥ 1');
if (!(Number.isInteger(opts.connections) && opts.connections >= 1 && opts.connections <= 64)) usage('--connections is 1 to 64');
if (!opts.instances.every((n) => Number.isInteger(n) && n >= 1 && n <= 8)) usage('--instances is a list such as 1,2 (1 to 8 each)');
for (const k of ['warmup', 'seconds', 'ceiling-seconds', 'lead-s'] as const) if (!(Number(flags[k]) > 0)) usage(`--${k} must be a positive number of seconds, not "${flags[k]}"`);
if (!(opts.rate >= 0)) usage('--rate is messages per second in all, 0 for flat out');
if (!(opts.repeat >= 0 && opts.repeat < 1)) usage('--repeat is a fraction of batches, 0 to < 1');
if (!opts.ceilingClients.every((c) => c === 'fetch' || c === 'http')) usage('--ceiling-clients is a list of fetch, http');

function progress(msg: string): void { process.stderr.write(`· ${msg}\n`); }

const inFlight = [...new Set(opts.instances.map((n) => n * opts.connections))];
const ceilingPhases = opts.ceiling ? inFlight.flatMap((c) => opts.ceilingClients.map((client) => ({ concurrency: c, client }))) : [];
const CEILING_WARMUP_S = 3;
// Per configuration: start-up, warm-up, window, drain (up to 120 s) and the check; a generous margin.
const budgetS = 120 + ceilingPhases.length * (30 + CEILING_WARMUP_S + opts.ceilingS) + opts.instances.length * (90 + opts.warmupS + opts.seconds + 120 + 60);

await runBench('fleet', { budgetS }, async ({ box, tmp }) => {
  const started = performance.now();
  const devices = deviceCount(fleet);
  let tags = 0;
  for (let i = 0; i < devices; i++) tags += tagsOf(i);
  console.log(`cityedge bench:fleet: ${fleet.boxes} boxes × ${fleet.devicesPerBox} devices of ~${Math.round(tags / devices)} tags, JSON telemetry QoS 1 on Mosquitto → ` +
    `\`cityedge ingest\` (${opts.instances.join(', then ')} instance(s) × ${opts.connections} connections) → VictoriaMetrics; ` +
    `${opts.rate > 0 ? `${opts.rate} messages/s` : 'flat out'}, ${opts.warmupS} s warm-up, ${opts.seconds} s window each` +
    `${ceilingPhases.length ? `; raw ceiling (${ceilingPhases.map((c) => `${c.client} ×${c.concurrency}`).join(', ')}, ${opts.ceilingS} s each)` : ''}`);
  for (const l of describeMachine(box)) console.log(l);

  // The ingest's bundle (bin/cityedge.mjs builds it on first use): built now, not inside a timed start.
  progress('building the cityedge bundle if the sources changed');
  await promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'cityedge.mjs'), '--version'], { timeout: 120_000 });

  progress('starting VictoriaMetrics and Mosquitto');
  const store = await startVictoria(tmp);
  // No bound on the group's queue (Mosquitto drops past 1,000 by default): the publisher bounds it.
  const broker = await startMosquitto(tmp, { unboundedQueue: true, name: 'mosquitto-fleet' });
  progress(`VictoriaMetrics ${store.url}, Mosquitto ${broker.url}`);
  // Samples are dated from a day ago, one second apart per device seq: far from "now", inside retention.
  const t0 = Math.floor(Date.now() / 1000 - 86_400) * 1000;

  const ceilings: CeilingResult[] = [];
  for (const c of ceilingPhases) {
    ceilings.push(await runCeiling({ root: ROOT, storeUrl: store.url, storePid: store.child.pid, fleet, t0, concurrency: c.concurrency, client: c.client, warmupS: CEILING_WARMUP_S, seconds: opts.ceilingS, progress }));
  }

  const phases: FleetPhaseResult[] = [];
  for (const n of opts.instances) {
    phases.push(await runFleetPhase({
      root: ROOT, id: `i${n}x${opts.connections}`, instances: n, connections: opts.connections, fleet, t0,
      rate: opts.rate, repeatRate: opts.repeat, leadS: opts.leadS, warmupS: opts.warmupS, seconds: opts.seconds,
      broker: { url: broker.url, pid: broker.child.pid }, store: { url: store.url, pid: store.child.pid },
      nodeArgs: opts.nodeArgs, progress,
    }));
  }
  await broker.child.stop();
  await store.child.stop(30_000);

  printReport({
    machine: box, fleet: { ...fleet, devices, meanTags: tags / devices }, repeatRate: opts.repeat,
    phases, ceilings, runS: (performance.now() - started) / 1000,
  });
});
