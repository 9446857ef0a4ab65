// What every bench that starts processes does around its measurements (STYLE habit 12: one program
// per benchmark): read the machine before anything starts, make a temp dir, and clean up once —
// run the bench's own clean-up steps, stop every child (bench/lib/children.ts), remove the files —
// when the run ends, fails, is interrupted (SIGINT, SIGTERM, SIGHUP) or passes its deadline, so
// that nothing is left holding a port, a CPU or a disk. A figure is measured, not asserted: only a
// run that could not measure exits non-zero.
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { killAllNow, stopAll } from './children.ts';
import { machine, type Machine } from './machine.ts';

export interface BenchOptions {
  /** How long the whole run may take, s: past it, it is stopped and exits 1. */
  budgetS: number;
  /** Files outside the temp dir to remove with it (at the clean-up and at exit). */
  alsoRemove?: readonly string[];
}

export interface Bench {
  /** The machine, read before the run started anything: its load average would count the run's own processes. */
  readonly box: Machine;
  /** The run's temp dir (`$TMPDIR/cityedge-bench-NAME-…`), removed with everything in it. */
  readonly tmp: string;
  /** A clean-up step, run before the children are stopped (closing a subscriber, say); steps run in the order given. */
  onCleanup(step: () => Promise<void> | void): void;
}

/**
 * Runs `body` as bench `name` (messages say `bench:NAME: …`): the machine, the temp dir, the clean-up
 * and the deadline around it. An error in `body` is printed (unless a signal caused it: its processes
 * were being stopped) and sets exit code 1; a signal exits 128 + its number once the clean-up is done.
 */
export async function runBench(name: string, o: BenchOptions, body: (bench: Bench) => Promise<void>): Promise<void> {
  // Read the load first: everything this run starts would raise it.
  const box = machine();
  const tmp = mkdtempSync(join(tmpdir(), `cityedge-bench-${name}-`));
  const steps: (() => Promise<void> | void)[] = [];
  const removeFiles = (): void => {
    for (const path of [tmp, ...(o.alsoRemove ?? [])]) rmSync(path, { recursive: true, force: true });
  };
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaned ??= (async () => {
    for (const step of steps) await step();
    await stopAll();
    removeFiles();
  })());
  // The last resort, synchronous: whatever way the process ends, no child outlives it.
  process.on('exit', () => { killAllNow(); removeFiles(); });
  let signalled = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      signalled = true; // what fails meanwhile because its processes are being stopped is no news
      console.error(`\nbench:${name}: ${sig}, stopping every process it started`);
      void cleanup().finally(() => process.exit(128 + constants.signals[sig]));
    });
  }
  const deadline = setTimeout(() => {
    console.error(`bench:${name}: still running after ${Math.round(o.budgetS)} s; giving up`);
    void cleanup().finally(() => process.exit(1));
  }, o.budgetS * 1000);

  try {
    await body({ box, tmp, onCleanup: (step) => { steps.push(step); } });
  } catch (e) {
    if (!signalled) console.error(`bench:${name}: ${(e as Error).stack ?? String(e)}`);
    process.exitCode = 1;
  } finally {
    clearTimeout(deadline);
    await cleanup();
  }
}
