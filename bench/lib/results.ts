// A bench's headline figures in a form `npm run bench` (bench/all.ts) can collect: when the
// environment names a folder in CITYEDGE_BENCH_RESULTS, each bench writes `NAME.json` there at the
// end of a run that measured. Run alone, a bench only prints, as before.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeMachine, type Machine } from './machine.ts';

export const RESULTS_ENV = 'CITYEDGE_BENCH_RESULTS';

/** One line of a bench's summary table. Values are already formatted: the bench knows its units. */
export interface ResultRow {
  /** What was measured, e.g. "cityedge CPU per 1,000 samples". */
  metric: string;
  /** The figure with its unit, e.g. "0.42 ms". */
  value: string;
  /** The comparison that gives it meaning: a ratio to a peer or a ceiling, or a target met or missed. */
  note?: string;
}

export interface BenchResults {
  /** The npm script's suffix: `modbus` for `npm run bench:modbus`. */
  bench: string;
  /** One sentence: what ran, with its size (PLCs × tags, duration…). */
  setup: string;
  rows: ResultRow[];
  machine: string[];
  at: string;
}

/** Writes the results file if `npm run bench` asked for one; returns its path, or undefined. */
export function recordResults(bench: string, box: Machine, setup: string, rows: readonly ResultRow[]): string | undefined {
  const dir = process.env[RESULTS_ENV];
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const out: BenchResults = { bench, setup, rows: [...rows], machine: describeMachine(box), at: new Date().toISOString() };
  const file = join(dir, `${bench}.json`);
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  return file;
}
