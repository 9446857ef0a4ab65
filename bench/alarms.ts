// `npm run bench:alarms`: the alarm engine (gateway/alarms/engine.ts) measured in one run
// (docs/performance.md, Alarms):
//
// 1. Rule evaluations per second with 10,000 rules of mixed kinds on 20 devices × 500 tags
//    (bench/lib/alarms-rules.ts), fed scans with a few values crossing their limits; the same with
//    quiet scans and with the disk box's state store; and the raw ceiling, the same comparisons in a
//    bare loop (bench/lib/alarms-eval.ts, a child process of its own).
// 2. Latency from a PLC input change to the alarm message at a Mosquitto subscriber: the
//    pump-station simulator, the real gateway (startGateway) with the shipped example configuration
//    and its journal on disk, 100 changes at random phases of the poll, each raised and cleared
//    (bench/lib/alarms-latency.ts); then a shorter run with `buffer.commit_ms` 50, for the journal's part.
//
//   npm run bench:alarms -- [--eval-seconds 3] [--eval-runs 3] [--crossings 1] [--changes 100]
//                           [--commit-ms-changes 25] [--commit-ms 50] [--seed 7] [--no-eval] [--no-latency]
//
// Speed is measured, not asserted: a missed target is printed as MISSED and the exit code stays 0;
// only a run that could not measure (a child died, the deadline passed) exits non-zero. Every child
// and Mosquitto run in their own process groups and are stopped on exit, on Ctrl-C, on error and at
// the run's deadline; the temp dir is removed.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startChild } from './lib/children.ts';
import type { EvalResult } from './lib/alarms-eval.ts';
import type { LatencyResult } from './lib/alarms-latency.ts';
import { evalRows, latencyRows, printEval, printHeader, printLatency, printLoad, TARGET_MARGIN_MS, type LatencyCheck, type Load } from './lib/alarms-report.ts';
import { describeMachine } from './lib/machine.ts';
import { startMosquitto, type Broker } from './lib/mosquitto.ts';
import { sampleMachine, sampleProcess } from './lib/procfs.ts';
import { recordResults } from './lib/results.ts';
import { runBench } from './lib/run.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUN_TS = join(ROOT, 'bin', 'run-ts.mjs');

const { values: flags } = parseArgs({
  options: {
    'eval-seconds': { type: 'string', default: '3' },
    'eval-runs': { type: 'string', default: '3' },
    crossings: { type: 'string', default: '1' },
    changes: { type: 'string', default: '100' },
    'commit-ms-changes': { type: 'string', default: '25' },
    'commit-ms': { type: 'string', default: '50' },
    // The phases of the changes come from a seeded generator: the same seed, the same phases.
    seed: { type: 'string', default: '7' },
    'no-eval': { type: 'boolean', default: false },
    'no-latency': { type: 'boolean', default: false },
  },
});
const opts = {
  evalSeconds: Number(flags['eval-seconds']), evalRuns: Number(flags['eval-runs']), crossings: Number(flags.crossings),
  changes: Number(flags.changes), commitChanges: Number(flags['commit-ms-changes']), commitMs: Number(flags['commit-ms']),
  eval: !flags['no-eval'], latency: !flags['no-latency'],
};
for (const [k, v, min] of [['eval-seconds', opts.evalSeconds, 0.1], ['eval-runs', opts.evalRuns, 1], ['crossings', opts.crossings, 0],
  ['changes', opts.changes, 1], ['commit-ms-changes', opts.commitChanges, 0], ['commit-ms', opts.commitMs, 10]] as const) {
  if (!(v >= min) || ((k === 'eval-runs' || k === 'changes' || k === 'commit-ms-changes' || k === 'commit-ms') && !Number.isInteger(v))) {
    console.error(`bench:alarms: --${k} must be a number ≥ ${min}${k === 'eval-seconds' || k === 'crossings' ? '' : ' (an integer)'}`);
    process.exit(2);
  }
}

if (!Number.isInteger(Number(flags.seed))) { console.error('bench:alarms: --seed must be an integer'); process.exit(2); }

function progress(msg: string): void { process.stderr.write(`· ${msg}\n`); }

/**
 * Runs one child to its RESULT line, passing its progress lines on; throws with its last lines if it
 * fails. Meters the machine and the child from /proc over the child's life, so a figure taken while
 * something else kept the cores busy says so.
 */
async function runChild<T>(name: string, file: string, args: string[], timeoutMs: number, cores: number): Promise<{ r: T; load: Load }> {
  const m0 = sampleMachine();
  const c = startChild(name, process.execPath, [RUN_TS, join(ROOT, 'bench', 'lib', file), ...args]);
  c.onLine((line) => { if (line.startsWith('· ')) process.stderr.write(`${line}\n`); });
  try {
    const line = await c.waitForLine(/^RESULT /, timeoutMs);
    const own = sampleProcess(c.pid);
    const m1 = sampleMachine();
    const status = await c.stop(15_000);
    if (status !== 'code 0' && status !== 'signal SIGTERM') throw new Error(`${name} ended with ${status}; last lines:\n${c.lines.slice(-20).join('\n')}`);
    const seconds = (m1.at - m0.at) / 1000;
    const machineCores = (m1.busy - m0.busy) / (m1.total - m0.total) * cores;
    return {
      r: JSON.parse(line.slice('RESULT '.length)) as T,
      load: { seconds, machineBusyPct: (100 * machineCores) / cores, childPct: own ? (100 * own.cpuS) / seconds : NaN, cores },
    };
  } finally {
    await c.stop(2000);
  }
}

// A change costs one poll on average (half waiting for its random phase, half for the poll); 3 s each is generous.
const latencyS = (n: number) => 60 + n * 2 * 3;
const evalS = 60 + 4 * (opts.evalRuns + 1) * (opts.evalSeconds + 2) * 2;
const budgetS = (opts.eval ? evalS : 0) + (opts.latency ? latencyS(opts.changes) + (opts.commitChanges ? latencyS(opts.commitChanges) : 0) : 0) + 30;

await runBench('alarms', { budgetS }, async ({ box, tmp }) => {
  printHeader(box, [
    opts.eval ? `10,000 alarm rules evaluated (${opts.evalRuns} runs of ≥ ${opts.evalSeconds} s, ~${opts.crossings} excursion(s) per simulated second) against a bare loop` : '',
    opts.latency ? `PLC input change → alarm at a Mosquitto subscriber, ${opts.changes} changes raised and cleared` +
      `${opts.commitChanges ? `, then ${opts.commitChanges} with commit_ms ${opts.commitMs}` : ''}` : '',
  ].filter(Boolean).join('; '));

  let evalResult: { r: EvalResult; load: Load } | undefined;
  if (opts.eval) {
    progress('rule evaluation (child process)');
    evalResult = await runChild<EvalResult>('rule evaluation', 'alarms-eval.ts',
      ['--dir', join(tmp, 'eval'), '--seconds', String(opts.evalSeconds), '--runs', String(opts.evalRuns), '--crossings', String(opts.crossings)], evalS * 1000, box.cores);
  }

  const latency: { label: string; r: LatencyResult; load: Load }[] = [];
  if (opts.latency) {
    progress('starting Mosquitto');
    const broker: Broker = await startMosquitto(tmp);
    const runs: { label: string; changes: number; args: string[] }[] = [
      { label: '2. Latency, as shipped', changes: opts.changes, args: [] },
      ...(opts.commitChanges ? [{ label: `2b. Latency with buffer.commit_ms ${opts.commitMs}`, changes: opts.commitChanges, args: ['--commit-ms', String(opts.commitMs)] }] : []),
    ];
    for (const [i, run] of runs.entries()) {
      progress(`${run.label}: ${run.changes} changes (child process: simulator, gateway, subscriber)`);
      const { r, load } = await runChild<LatencyResult>(run.label, 'alarms-latency.ts',
        ['--url', broker.url, '--dir', join(tmp, `latency-${i + 1}`), '--changes', String(run.changes), '--seed', String(Number(flags.seed) + i), ...run.args], latencyS(run.changes) * 1000, box.cores);
      latency.push({ label: run.label, r, load });
      rmSync(join(tmp, `latency-${i + 1}`), { recursive: true, force: true });
    }
    await broker.child.stop();
  }

  if (evalResult) { printEval(evalResult.r); printLoad(evalResult.load, 'the evaluation child'); console.log(''); }
  const checks: { label: string; c: LatencyCheck }[] = [];
  for (const { label, r, load } of latency) {
    checks.push({ label, c: printLatency(label, r) });
    printLoad(load, 'the child (simulator, gateway, subscriber)');
    console.log('');
  }
  if (checks.length) {
    console.log('target');
    for (const { label, c } of checks) {
      console.log(`  [${verdict(c.ok)}] ${label}: p99 of the raises ${c.p99.toFixed(1)} ms ${c.ok ? '≤' : '>'} poll interval + ${TARGET_MARGIN_MS} ms = ${c.limit} ms`);
    }
    console.log('');
  }
  console.log('machine (as at the start):');
  for (const l of describeMachine(box)) console.log(`  ${l}`);

  recordResults('alarms', box, [
    evalResult ? `${evalResult.r.rules.toLocaleString('en-US')} alarm rules on ${evalResult.r.devices} devices × 500 tags evaluated in a process of their own (${opts.evalRuns} run(s) of ≥ ${opts.evalSeconds} s per variant) against a bare loop` : '',
    latency.length ? `the pump-station simulator, the gateway with the shipped example and Mosquitto: ${latency.map((l) => `${l.r.edges.length / 2} changes raised and cleared${l.r.commitMsShipped ? '' : ` with commit_ms ${l.r.commitMs}`}`).join(', then ')}` : '',
  ].filter(Boolean).join('; ').replace(/^./, (c) => c.toUpperCase()) + '.',
  [...(evalResult ? evalRows(evalResult.r) : []), ...latency.flatMap(({ label, r }) => latencyRows(label, r))]);
});

function verdict(ok: boolean): string { return ok ? 'met' : 'MISSED'; }
