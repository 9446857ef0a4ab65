// `npm run bench:modbus`: the gateway polling N simulated PLCs × M holding registers every second,
// publishing to a real Mosquitto, measured from outside; then, in the same run against the same
// PLCs, modbus-serial alone doing the same reads, for the ratio (docs/performance.md).
//
//   npm run bench:modbus -- [--plcs 20] [--tags 500] [--warmup 10] [--duration 30] [--poll-ms 1000] [--no-raw]
//                           [--gateway-node-args="--max-old-space-size=48"]   (with "=": the value starts with a dash)
//
// Processes: this one (orchestrator, MQTT subscriber, meters), the simulators, Mosquitto, then the
// gateway (`cityedge run`), then the raw loop. Each is measured on its own, from /proc.
// Speed is measured, not asserted: a missed target is printed as missed and the exit code stays 0;
// only a run that could not measure (a process died, a deadline passed) exits non-zero.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { startChild } from './lib/children.ts';
import { describeMachine } from './lib/machine.ts';
import { startMosquitto } from './lib/mosquitto.ts';
import { watchCityedgeLog, writeCityedgeConfig } from './lib/nodered-cityedge.ts';
import { measurePhase, type PhaseResult } from './lib/phase.ts';
import { sampleProcess } from './lib/procfs.ts';
import { printReport, type Baseline, type CheckPlan } from './lib/report.ts';
import { runBench, type Bench } from './lib/run.ts';
import { TelemetryCounter } from './lib/subscriber.ts';
import { nodeArgs, requirePositive } from './lib/flags.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'cityedge.mjs');
const RUN_TS = join(ROOT, 'bin', 'run-ts.mjs');

const { values: flags } = parseArgs({
  options: {
    plcs: { type: 'string', default: '20' },
    tags: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '10' },
    duration: { type: 'string', default: '30' },
    'poll-ms': { type: 'string', default: '1000' },
    'no-raw': { type: 'boolean', default: false },
    // Node flags for the gateway process, for exploring rather than for the headline figures: e.g.
    // "--max-old-space-size=48", or "--cpu-prof --cpu-prof-dir=DIR" (not allowed in NODE_OPTIONS).
    'gateway-node-args': { type: 'string', default: '' },
  },
});
const gatewayNodeArgs = nodeArgs(flags['gateway-node-args']);
const opts = {
  plcs: Number(flags.plcs), tags: Number(flags.tags), warmupS: Number(flags.warmup),
  durationS: Number(flags.duration), pollMs: Number(flags['poll-ms']), raw: !flags['no-raw'],
};
requirePositive('modbus', flags, ['plcs', 'tags', 'warmup', 'duration', 'poll-ms']);
if (opts.tags > 65536) { console.error('bench:modbus: --tags must be at most 65536 (one register table)'); process.exit(2); }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
// Bounded: two phases of warm-up + window, plus generous start-up and shutdown time.
const budgetS = (opts.raw ? 2 : 1) * (opts.warmupS + opts.durationS) + 180;

function progress(msg: string): void { process.stderr.write(`· ${msg}\n`); }

async function checkPlan(file: string): Promise<CheckPlan> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'check', '--config', file], { maxBuffer: 64 * 2 ** 20 });
  const devices = [...stdout.matchAll(/^device (\S+) .*: (\d+) tags in (\d+) request\(s\) per scan/gm)]
    .map((m) => ({ id: m[1]!, tags: Number(m[2]), requests: Number(m[3]) }));
  // The plan lines of the first device: the indented lines right after its "device …" line.
  const lines = stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith('device '));
  const firstPlan: string[] = [];
  for (const l of lines.slice(at + 1)) { if (!l.startsWith('  ')) break; firstPlan.push(l.trim()); }
  return { devices, firstPlan };
}

/** RSS of Node doing nothing, bare and with the tsx loader the gateway runs under: the floor of the RSS figures. */
async function idleBaselines(): Promise<Baseline[]> {
  const specs: [string, string[]][] = [
    ['node, idle', ['-e', "setInterval(() => {}, 2 ** 30); console.log('READY'); process.stdin.on('end', () => process.exit(0)).resume()"]],
    ['node + tsx loader, idle (how the raw loop runs)', [RUN_TS, join(ROOT, 'bench/lib/idle.ts')]],
  ];
  return Promise.all(specs.map(async ([name, args]) => {
    const c = startChild(name, process.execPath, args, { stdin: 'pipe' });
    try {
      await c.waitForLine(/^READY$/, 60_000);
      await sleep(3000); // past start-up, as the others are sampled past their warm-up
      const s = sampleProcess(c.pid);
      return { name, rssMb: (s?.rssKb ?? NaN) / 1024 };
    } finally {
      await c.stop();
    }
  }));
}

async function main({ box, tmp, onCleanup }: Bench): Promise<void> {
  const counter = new TelemetryCounter();
  onCleanup(() => counter.close());
  console.log(`cityedge bench:modbus: ${opts.plcs} PLCs × ${opts.tags} tags (uint16, hr:0–${opts.tags - 1}) every ${opts.pollMs} ms, ` +
    `warm-up ${opts.warmupS} s, window ${opts.durationS} s${opts.raw ? ', then the raw modbus-serial loop the same' : ''}` +
    `${gatewayNodeArgs.length ? `; gateway run as node ${gatewayNodeArgs.join(' ')} bin/cityedge.mjs` : ''}`);
  for (const line of describeMachine(box)) console.log(line);
  console.log('');

  progress('starting Mosquitto');
  const broker = await startMosquitto(tmp);
  progress(`starting ${opts.plcs} simulated PLCs`);
  const sims = startChild('simulators', process.execPath,
    [RUN_TS, join(ROOT, 'bench/modbus-sims.ts'), '--plcs', String(opts.plcs), '--tags', String(opts.tags), '--poll-ms', String(opts.pollMs)],
    { stdin: 'pipe' });
  const ports = (JSON.parse((await sims.waitForLine(/^READY /, 60_000)).slice('READY '.length)) as { ports: number[] }).ports;

  const configFile = writeCityedgeConfig({ root: ROOT, dir: tmp, brokerUrl: broker.url, ports, tags: opts.tags, pollMs: opts.pollMs, siteName: 'cityedge Modbus benchmark' });
  progress('cityedge check');
  const plan = await checkPlan(configFile);
  await counter.connect(broker.url);

  progress(`starting the gateway; warm-up ${opts.warmupS} s, then measuring ${opts.durationS} s`);
  const gw = startChild('gateway', process.execPath, [...gatewayNodeArgs, CLI, 'run', '--config', configFile], {
    env: { CITYEDGE_LOG_LEVEL: 'warn' },
  });
  const log = watchCityedgeLog(gw);
  const started = performance.now();
  // Ready when the platform sees it: status online and telemetry flowing (its own "started" line is info).
  while (!(counter.online && counter.total > 0)) {
    if (!gw.running()) throw new Error(`the gateway exited before publishing; its output:\n${gw.lines.slice(-30).join('\n')}`);
    if (performance.now() - started > 60_000) throw new Error(`no telemetry from the gateway within 60 s; its output:\n${gw.lines.slice(-30).join('\n')}`);
    await sleep(100);
  }
  const firstDataS = (performance.now() - started) / 1000;
  const others = { simulators: sims.pid, mosquitto: broker.child.pid };
  const deps = { sims, others, counter, cores: box.cores, sleep };
  const gateway = await measurePhase('gateway', gw, opts.warmupS, opts.durationS, deps);
  const gwExit = await gw.stop(10_000);

  let raw: PhaseResult | undefined;
  if (opts.raw) {
    progress(`starting the raw modbus-serial loop; warm-up ${opts.warmupS} s, then measuring ${opts.durationS} s`);
    const loop = startChild('raw loop', process.execPath,
      [RUN_TS, join(ROOT, 'bench/lib/raw-modbus-loop.ts'), '--ports', ports.join(','), '--tags', String(opts.tags), '--poll-ms', String(opts.pollMs)],
      { stdin: 'pipe' });
    await loop.waitForLine(/^READY /, 60_000);
    raw = await measurePhase('raw modbus-serial', loop, opts.warmupS, opts.durationS, { ...deps, counter: undefined });
    await loop.stop();
  }

  progress('idle baselines');
  const baselines = await idleBaselines();

  printReport({ opts, machine: box, plan, gateway, raw, log, gwExit, firstDataS, baselines });
}

await runBench('modbus', { budgetS }, main);
