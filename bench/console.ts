// `npm run bench:console`: what the console costs the gateway on a big box. Every scan's samples
// also go to the live values (for the table and SSE) and the trend store (for the chart); this
// measures that per-sample cost against the bare loop that makes the samples (the ceiling), the
// memory those two hold for 10,000 tags, the trend store's write per step, and how long a 24 h
// trend query takes with a day of history on disk.
import { performance } from 'node:perf_hooks';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock, silentLogger, type Sample } from '../gateway/model/index.ts';
import { LiveValues } from '../gateway/store/live.ts';
import { TrendStore } from '../gateway/store/trends.ts';
import { describeMachine } from './lib/machine.ts';
import { recordResults } from './lib/results.ts';
import { runBench } from './lib/run.ts';

const TAGS = Number(process.env.BENCH_TAGS ?? 10_000);
const DEVICES = 100;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60);
/** The history query: a realistic station's tags, a day of 10 s steps. */
const HISTORY_TAGS = 200;
const STEP_MS = 10_000;

const perDevice = TAGS / DEVICES;
/** One scan per device per round, values moving like a wet well: every tag changes a little. */
function scans(round: number, t: number): { device: string; samples: Sample[] }[] {
  const out: { device: string; samples: Sample[] }[] = [];
  for (let d = 0; d < DEVICES; d++) {
    const device = `plc${d}`;
    const samples: Sample[] = new Array(perDevice);
    for (let i = 0; i < perDevice; i++) samples[i] = { tag: `${device}.t${i}`, value: Math.sin(round / 10 + i) * 100, quality: 'good', ts: t };
    out.push({ device, samples });
  }
  return out;
}

function rssMb(): number {
  global.gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

await runBench('console', { budgetS: 600 }, async ({ box, tmp }) => {
  console.log(`bench:console: ${TAGS} tags on ${DEVICES} devices, ${ROUNDS} scan rounds`);
  for (const l of describeMachine(box)) console.log(l);
  const clock = new FakeClock(1_800_000_000_000);

  // The ceiling: making the scans and walking every sample, which the gateway does anyway.
  let sink = 0;
  const t0 = performance.now();
  for (let r = 0; r < ROUNDS; r++) for (const s of scans(r, clock.now() + r * 1000)) for (const x of s.samples) sink += x.value as number;
  const bareMs = performance.now() - t0;

  const before = rssMb();
  const live = new LiveValues();
  // One SSE client listening, as when a technician has the live page open.
  let heard = 0;
  live.subscribe((c) => { heard += c.points.length; });
  const trends = new TrendStore({ dir: tmp, stepMs: STEP_MS, keepMs: 86_400_000, clock, logger: silentLogger });
  const stop = new AbortController();
  const running = trends.run(stop.signal);
  const t1 = performance.now();
  let writeMs = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const at = clock.now();
    for (const s of scans(r, at)) { live.update(s.device, s, at); trends.add(s.samples); }
    // Each simulated second; the store writes the steps that closed (10 000 rows every 10 s).
    const w = performance.now();
    await clock.advance(1000);
    writeMs += performance.now() - w;
  }
  const withMs = performance.now() - t1;
  const held = rssMb() - before;
  stop.abort();
  await running;
  trends.close();

  const samples = TAGS * ROUNDS;
  const bareRate = samples / (bareMs / 1000);
  const consoleRate = samples / ((withMs - writeMs) / 1000);
  console.log(`samples through live values + trend accumulators: ${Math.round(consoleRate).toLocaleString('en')} /s ` +
    `(bare loop ${Math.round(bareRate).toLocaleString('en')} /s; console work alone ≈ ${(1e6 / consoleRate - 1e6 / bareRate).toFixed(2)} µs per sample)`);
  const writes = Math.floor((ROUNDS * 1000) / STEP_MS);
  console.log(`trend writes: ${(writeMs / writes).toFixed(1)} ms per ${STEP_MS / 1000} s step of ${TAGS} rows ` +
    `(${((writeMs / (ROUNDS * 1000)) * 100).toFixed(2)} % of one core)`);
  console.log(`memory held by live values and accumulators: ${held.toFixed(1)} MB for ${TAGS} tags (${(held * 2 ** 20 / TAGS).toFixed(0)} bytes per tag); SSE points heard ${heard}`);

  // A day of history for a station's tags, then the 24 h chart of one of them.
  const hist = new TrendStore({ dir: join(tmp, 'day'), stepMs: STEP_MS, keepMs: 2 * 86_400_000, clock, logger: silentLogger });
  const h = new AbortController();
  const hrun = hist.run(h.signal);
  const steps = 86_400_000 / STEP_MS;
  const tFill = performance.now();
  for (let s = 0; s < steps; s++) {
    const at = clock.now();
    const batch: Sample[] = [];
    for (let i = 0; i < HISTORY_TAGS; i++) batch.push({ tag: `ps.t${i}`, value: Math.sin(s / 100 + i), quality: 'good', ts: at });
    hist.add(batch);
    await clock.advance(STEP_MS);
  }
  const fillS = (performance.now() - tFill) / 1000;
  const tq = performance.now();
  const q = hist.query('ps.t7', 86_400_000);
  const queryMs = performance.now() - tq;
  h.abort();
  await hrun;
  hist.close();
  const dbMb = statSync(join(tmp, 'day', 'trends.db')).size / 2 ** 20;
  console.log(`a day of ${HISTORY_TAGS} tags: ${(steps * HISTORY_TAGS).toLocaleString('en')} steps written in ${fillS.toFixed(1)} s, trends.db ${dbMb.toFixed(1)} MB ` +
    `(${(dbMb * 2 ** 20 / (steps * HISTORY_TAGS)).toFixed(0)} bytes per step)`);
  console.log(`24 h chart of one tag: ${queryMs.toFixed(1)} ms for ${q.points.length} points (${q.stepMs / 1000} s each)`);
  if (sink === 42) console.log('');

  // The headline rows for `npm run bench` (docs/performance.md, Console): the lines above.
  const n = (x: number) => Math.round(x).toLocaleString('en');
  recordResults('console', box,
    `Live values and trend accumulators in-process, ${n(TAGS)} tags on ${DEVICES} devices, ${ROUNDS} scan rounds in fake time, one SSE listener, ` +
    `against the bare loop that makes the samples; then a day of ${STEP_MS / 1000} s steps for ${HISTORY_TAGS} tags and one tag's 24 h chart.`,
    [
      { metric: 'samples through live values + trend accumulators', value: `${n(consoleRate)}/s`,
        note: `bare loop ${n(bareRate)}/s; console work ≈ ${(1e6 / consoleRate - 1e6 / bareRate).toFixed(2)} µs per sample` },
      { metric: `trend write per ${STEP_MS / 1000} s step of ${n(TAGS)} rows`, value: `${(writeMs / writes).toFixed(1)} ms`,
        note: `${((writeMs / (ROUNDS * 1000)) * 100).toFixed(2)} % of one core` },
      { metric: `memory held by live values and accumulators, ${n(TAGS)} tags`, value: `${held.toFixed(1)} MB`, note: `${(held * 2 ** 20 / TAGS).toFixed(0)} bytes per tag` },
      { metric: `trends.db for a day of ${HISTORY_TAGS} tags`, value: `${dbMb.toFixed(1)} MB`, note: `${(dbMb * 2 ** 20 / (steps * HISTORY_TAGS)).toFixed(0)} bytes per step` },
      { metric: '24 h chart of one tag', value: `${queryMs.toFixed(1)} ms`, note: `${q.points.length} points of ${q.stepMs / 1000} s` },
    ]);
});
