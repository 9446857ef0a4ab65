// `npm run bench:nodered`: Node-RED (node-red-contrib-modbus + its MQTT node, configured at its best)
// and cityedge side by side, polling the same simulated PLCs and publishing to the same Mosquitto, one
// at a time, measured from outside; then what each delivers across a broker outage; then the
// libraries alone (modbus-serial reading, mqtt.js publishing) as the ceiling of each stage
// (docs/performance.md, issue 9).
//
//   npm run bench:nodered -- [--plcs 20] [--tags 500] [--warmup 10] [--duration 30] [--outage 60] [--poll-ms 1000] [--no-raw]
//
// --outage 0 skips the outage phases; --no-raw skips the ceilings. Node-RED is installed by this
// script into a cache folder under the OS temp dir (bench/lib/nodered-install.ts), never into the
// project. Processes: this one (orchestrator, subscribers, meters), the simulators, Mosquitto, then
// Node-RED, then cityedge (`cityedge run`), then the raw Modbus loop, then the mqtt.js publisher.
// Speed is measured, not asserted: a missed target is printed as missed and the exit code stays 0;
// only a run that could not measure exits non-zero.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startChild, type Child } from './lib/children.ts';
import { describeMachine } from './lib/machine.ts';
import { startOutageBroker, type OutageBroker } from './lib/nodered-broker.ts';
import { measureCeiling, type CeilingResult } from './lib/nodered-ceiling.ts';
import { CITYEDGE_SITE, startCityedge, watchCityedgeLog } from './lib/nodered-cityedge.ts';
import { NODE_RED_SITE, startNodeRed, watchNodeRedLog } from './lib/nodered-flows.ts';
import { installNodeRed, installWorkDir } from './lib/nodered-install.ts';
import { measureOutage, OutageWatch, type OutageResult } from './lib/nodered-outage.ts';
import { printReport, type GatewayRun, type Log } from './lib/nodered-report.ts';
import { measurePhase, type PhaseResult } from './lib/phase.ts';
import { recordResults } from './lib/results.ts';
import { runBench, type Bench } from './lib/run.ts';
import { TelemetryCounter } from './lib/subscriber.ts';
import { requirePositive } from './lib/flags.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUN_TS = join(ROOT, 'bin', 'run-ts.mjs');

const { values: flags } = parseArgs({
  options: {
    plcs: { type: 'string', default: '20' },
    tags: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '60' },
    duration: { type: 'string', default: '60' },
    outage: { type: 'string', default: '60' },
    'poll-ms': { type: 'string', default: '1000' },
    'no-raw': { type: 'boolean', default: false },
  },
});
// --outage 0 skips the outage phases.
requirePositive('nodered', flags, ['plcs', 'tags', 'warmup', 'duration', 'poll-ms', 'outage'], ['outage']);
const opts = {
  plcs: Number(flags.plcs), tags: Number(flags.tags), warmupS: Number(flags.warmup), durationS: Number(flags.duration),
  outageS: Number(flags.outage), pollMs: Number(flags['poll-ms']), raw: !flags['no-raw'],
};
if (opts.tags > 65536) { console.error('bench:nodered: --tags must be at most 65536 (one register table)'); process.exit(2); }
// The flat-out publisher loads the machine (and whoever shares it): a short window says enough.
const flat = { warmupS: Math.min(5, opts.warmupS), durationS: Math.min(10, opts.durationS) };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const phaseS = opts.warmupS + opts.durationS;
const outagePhase = opts.outageS > 0 ? 30 + opts.outageS + Math.max(120, 2 * opts.outageS + 60) : 0;
// Bounded: an npm install, two gateways with their outages, the ceilings, and start-up/shutdown time.
const budgetS = 600 + 2 * (phaseS + 60 + outagePhase) + (opts.raw ? 2 * phaseS + flat.warmupS + flat.durationS + 120 : 0);

function progress(msg: string): void { process.stderr.write(`· ${msg}\n`); }

/** Start → the first telemetry at the subscriber (and, for cityedge, its retained status online). */
async function firstData(name: string, gw: Child, counter: TelemetryCounter, needOnline: boolean): Promise<number> {
  const started = performance.now();
  while (!(counter.total > 0 && (!needOnline || counter.online))) {
    if (!gw.running()) throw new Error(`${name} exited before publishing; its output:\n${gw.lines.slice(-30).join('\n')}`);
    if (performance.now() - started > 90_000) throw new Error(`no telemetry from ${name} within 90 s; its output:\n${gw.lines.slice(-30).join('\n')}`);
    await sleep(100);
  }
  return (performance.now() - started) / 1000;
}

interface Ctx { broker: OutageBroker; sims: Child; cores: number }

/**
 * One gateway through its phases: start, steady state (warm-up, window), then the outage; stopped at
 * the end. `counter` counts the steady state; the outage has its own subscriber (a persistent session).
 */
async function runGateway(name: string, site: string, start: () => Child, watchLog: (c: Child) => Log, needOnline: boolean, ctx: Ctx,
  track: (close: () => Promise<void>) => void): Promise<GatewayRun> {
  const counter = new TelemetryCounter();
  track(() => counter.close());
  await counter.connect(ctx.broker.url);
  progress(`starting ${name}; warm-up ${opts.warmupS} s, then measuring ${opts.durationS} s`);
  const gw = start();
  const log = watchLog(gw);
  const firstDataS = await firstData(name, gw, counter, needOnline);
  const others = { simulators: ctx.sims.pid, mosquitto: ctx.broker.child().pid };
  const phase = await measurePhase(name, gw, opts.warmupS, opts.durationS, { sims: ctx.sims, others, counter, cores: ctx.cores, sleep });
  await counter.close();

  let outage: OutageResult | undefined;
  if (opts.outageS > 0) {
    const watch = new OutageWatch();
    track(() => watch.close());
    await watch.connect(ctx.broker.url);
    outage = await measureOutage(name, opts.outageS, { site, target: gw, broker: ctx.broker, sims: ctx.sims, watch, tags: opts.tags, sleep, progress });
    await watch.close();
  }
  const exit = await gw.stop(10_000);
  return { phase, outage, firstDataS, log, exit };
}

async function main({ box, tmp, onCleanup }: Bench): Promise<void> {
  const closers: (() => Promise<void>)[] = [];
  onCleanup(async () => { for (const c of closers) await c().catch(() => {}); });
  const track = (close: () => Promise<void>) => { closers.push(close); };

  console.log(`cityedge bench:nodered: ${opts.plcs} PLCs × ${opts.tags} holding registers every ${opts.pollMs} ms, Node-RED then cityedge, ` +
    `warm-up ${opts.warmupS} s, window ${opts.durationS} s${opts.outageS > 0 ? `, then a ${opts.outageS} s broker outage each` : ''}` +
    `${opts.raw ? '; then modbus-serial and mqtt.js alone' : ''}`);
  for (const line of describeMachine(box)) console.log(line);
  console.log('');

  const install = await installNodeRed(progress);
  if (install.installS !== undefined) console.log(`Node-RED installed in ${install.installS.toFixed(1)} s into ${install.dir} (reused by later runs)`);
  else console.log(`Node-RED from the cache folder ${install.dir}`);

  progress('starting Mosquitto (with persistence, for the outage)');
  const broker = await startOutageBroker(tmp);
  progress(`starting ${opts.plcs} simulated PLCs`);
  const sims = startChild('simulators', process.execPath,
    [RUN_TS, join(ROOT, 'bench/modbus-sims.ts'), '--plcs', String(opts.plcs), '--tags', String(opts.tags), '--poll-ms', String(opts.pollMs)],
    { stdin: 'pipe' });
  const ports = (JSON.parse((await sims.waitForLine(/^READY /, 60_000)).slice('READY '.length)) as { ports: number[] }).ports;
  const ctx: Ctx = { broker, sims, cores: box.cores };

  const nodeRed = await runGateway('Node-RED', NODE_RED_SITE,
    () => startNodeRed(install.redJs, join(tmp, 'node-red'), { ports, tags: opts.tags, pollMs: opts.pollMs, brokerPort: broker.port }),
    watchNodeRedLog, false, ctx, track);
  const cityedge = await runGateway('cityedge', CITYEDGE_SITE,
    () => startCityedge({ root: ROOT, dir: join(tmp, 'cityedge'), brokerUrl: broker.url, ports, tags: opts.tags, pollMs: opts.pollMs }),
    watchCityedgeLog, true, ctx, track);

  let raw: PhaseResult | undefined;
  let paced: CeilingResult | undefined;
  let flatOut: CeilingResult | undefined;
  if (opts.raw) {
    progress(`the raw modbus-serial loop; warm-up ${opts.warmupS} s, then measuring ${opts.durationS} s`);
    const loop = startChild('raw loop', process.execPath,
      [RUN_TS, join(ROOT, 'bench/lib/raw-modbus-loop.ts'), '--ports', ports.join(','), '--tags', String(opts.tags), '--poll-ms', String(opts.pollMs)],
      { stdin: 'pipe' });
    await loop.waitForLine(/^READY /, 60_000);
    raw = await measurePhase('raw modbus-serial', loop, opts.warmupS, opts.durationS,
      { sims, others: { simulators: sims.pid, mosquitto: broker.child().pid }, cores: box.cores, sleep });
    await loop.stop();
    await sims.stop(); // the publishers need no PLCs: their CPU stays out of the machine figures

    const ceiling = { root: ROOT, url: broker.url, devices: opts.plcs, points: opts.tags, pollMs: opts.pollMs, brokerPid: broker.child().pid, sleep };
    progress(`mqtt.js alone, paced like the gateways; warm-up ${opts.warmupS} s, then measuring ${opts.durationS} s`);
    paced = await measureCeiling('mqtt.js paced', { ...ceiling, flatOut: false, warmupS: opts.warmupS, durationS: opts.durationS });
    progress(`mqtt.js alone, flat out; warm-up ${flat.warmupS} s, then measuring ${flat.durationS} s`);
    flatOut = await measureCeiling('mqtt.js flat out', { ...ceiling, flatOut: true, ...flat });
  }

  const rows = printReport({ opts, machine: box, install, nodeRed, cityedge, raw, paced, flatOut });
  const setup = `${opts.plcs} PLCs × ${opts.tags} registers every ${opts.pollMs} ms to Mosquitto at QoS 1, Node-RED ${install.versions.nodeRed} ` +
    `+ node-red-contrib-modbus ${install.versions.contribModbus} then cityedge, ${opts.durationS} s windows` +
    `${opts.outageS > 0 ? `, ${opts.outageS} s broker outage each` : ''}`;
  const file = recordResults('nodered', box, setup, rows);
  if (file) console.log(`results written to ${file}`);
}

// A run stopped during the install leaves no half-written folder behind (a complete one is renamed away first).
await runBench('nodered', { budgetS, alsoRemove: [installWorkDir()] }, main);
