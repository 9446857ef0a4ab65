// `npm run bench:sensors`: the uplinks per second the gateway's sensor ingest sustains with 10,000
// LoRaWAN sensors (docs/performance.md, Sensors), with its CPU and RSS, measured in one run:
//
// 1. The raw ceiling: the network-server simulator flat out into aedes alone, a bare broker process
//    with one in-process subscriber that counts (bench/lib/sensors-ceiling.ts, sensors-aedes.ts).
// 2. The gateway flat out: the real gateway (`cityedge run`) with its embedded broker, 10,000 sensors
//    (16 lots × 500 parking bays, 1,500 manhole covers, 500 water-logging points: the simulator's
//    sensor list), its journal on disk as shipped and an upstream to Mosquitto; the simulator in its
//    own process publishing to the gateway's broker as fast as it takes (bench/lib/sensors-gateway.ts).
// 3. The gateway at a realistic fixed rate: every sensor once every `--rate-period` seconds (30: a
//    sensor every 10 minutes, 20× the city), a fresh gateway, for its CPU and RSS at that load.
// Each gateway run ends with every uplink the simulator sent checked at a platform subscriber on
// Mosquitto (bench/lib/sensors-platform.ts).
//
//   npm run bench:sensors -- [--warmup 10] [--flood-seconds 60] [--rate-period 30] [--rate-seconds 60]
//                            [--ceiling-seconds 20] [--no-ceiling] [--no-flood] [--no-rate] [--poll-ms N]
//                            [--gateway-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"] [--gateway-log FILE]   (explore; not for the figures)
//
// Figures are measured, not asserted; only a run that could not measure (a process died, the
// deadline passed) exits non-zero. Every child and Mosquitto run in their own process groups and are
// stopped on exit, on Ctrl-C, on error and at the run's deadline; the temp dir is removed.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine } from './lib/machine.ts';
import { startMosquitto } from './lib/mosquitto.ts';
import { runBench } from './lib/run.ts';
import { runCeiling, type CeilingResult } from './lib/sensors-ceiling.ts';
import { BAYS_PER_LOT, LOTS, MANHOLES, sensors, WATERLOGGING } from './lib/sensors-common.ts';
import { runGatewayPhase, type GatewayPhaseResult } from './lib/sensors-gateway.ts';
import { printReport } from './lib/sensors-report.ts';
import { nodeArgs, requirePositive } from './lib/flags.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values: flags } = parseArgs({
  options: {
    warmup: { type: 'string', default: '10' },
    'flood-seconds': { type: 'string', default: '60' },
    'rate-period': { type: 'string', default: '30' },
    'rate-seconds': { type: 'string', default: '60' },
    'ceiling-seconds': { type: 'string', default: '20' },
    'no-ceiling': { type: 'boolean', default: false },
    'no-flood': { type: 'boolean', default: false },
    'no-rate': { type: 'boolean', default: false },
    // Node flags for the gateway, for exploring (with "=": the value starts with a dash).
    'gateway-node-args': { type: 'string', default: '' },
    'gateway-log': { type: 'string' },
    'poll-ms': { type: 'string' },
  },
});
const opts = {
  warmupS: Number(flags.warmup), floodS: Number(flags['flood-seconds']), ratePeriodS: Number(flags['rate-period']),
  rateS: Number(flags['rate-seconds']), ceilingS: Number(flags['ceiling-seconds']),
  ceiling: !flags['no-ceiling'], flood: !flags['no-flood'], rate: !flags['no-rate'],
  nodeArgs: nodeArgs(flags['gateway-node-args']),
  logFile: flags['gateway-log'],
  pollMs: flags['poll-ms'] === undefined ? undefined : Number(flags['poll-ms']),
};
if (opts.pollMs !== undefined && !(Number.isInteger(opts.pollMs) && opts.pollMs >= 50)) { console.error('bench:sensors: --poll-ms must be an integer ≥ 50'); process.exit(2); }
requirePositive('sensors', flags, ['warmup', 'flood-seconds', 'rate-period', 'rate-seconds', 'ceiling-seconds']);

function progress(msg: string): void { process.stderr.write(`· ${msg}\n`); }

// Per gateway phase: start-up and config check (~30 s), warm-up, window, drain (up to 180 s), the end-to-end check.
const phaseS = (warmupS: number, windowS: number) => 60 + warmupS + windowS + 180;
const budgetS = 60 + (opts.ceiling ? 40 + opts.ceilingS : 0) + (opts.flood ? phaseS(opts.warmupS, opts.floodS) : 0)
  + (opts.rate ? phaseS(opts.ratePeriodS + 5, opts.rateS) : 0);

await runBench('sensors', { budgetS }, async ({ box, tmp }) => {
  const started = performance.now();
  const list = sensors();
  console.log(`cityedge bench:sensors: ${list.length.toLocaleString('en-US')} LoRaWAN sensors through the gateway's embedded broker, journal on disk, upstream to Mosquitto; ` +
    [opts.ceiling ? `aedes alone flat out (${opts.ceilingS} s)` : '', opts.flood ? `the gateway flat out (${opts.floodS} s)` : '',
      opts.rate ? `the gateway with each sensor every ${opts.ratePeriodS} s (${opts.rateS} s)` : ''].filter(Boolean).join('; '));
  for (const l of describeMachine(box)) console.log(l);

  let ceiling: CeilingResult | undefined;
  if (opts.ceiling) ceiling = await runCeiling({ root: ROOT, warmupS: 5, seconds: opts.ceilingS, progress });

  progress('starting Mosquitto');
  // No bound on the subscriber's queue: a subscriber that falls behind counts late, not short.
  const broker = await startMosquitto(tmp, { unboundedQueue: true, name: 'mosquitto-sensors' });
  const mosquitto = { url: broker.url, pid: broker.child.pid };
  const common = { root: ROOT, mosquitto, sensors: list, nodeArgs: opts.nodeArgs, logFile: opts.logFile, pollMs: opts.pollMs, progress };
  let flood: GatewayPhaseResult | undefined;
  let rate: GatewayPhaseResult | undefined;
  if (opts.flood) {
    flood = await runGatewayPhase({ ...common, dir: join(tmp, 'flood'), label: 'flat out', periodS: 0, warmupS: opts.warmupS, seconds: opts.floodS });
    rmSync(join(tmp, 'flood'), { recursive: true, force: true });
  }
  if (opts.rate) {
    // Warm-up: one period and a little, so every sensor has sent its first uplink (all its tags) before the window.
    rate = await runGatewayPhase({ ...common, dir: join(tmp, 'rate'), label: `every ${opts.ratePeriodS} s`, periodS: opts.ratePeriodS, warmupS: opts.ratePeriodS + 5, seconds: opts.rateS });
    rmSync(join(tmp, 'rate'), { recursive: true, force: true });
  }
  await broker.child.stop();

  printReport({
    machine: box,
    sensors: { parking: LOTS * BAYS_PER_LOT, lots: LOTS, manholes: MANHOLES, waterlogging: WATERLOGGING },
    flood, rate, ceiling, runS: (performance.now() - started) / 1000,
  });
});
