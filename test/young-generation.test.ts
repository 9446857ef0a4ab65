// `cityedge run` keeps V8's young generation at its starting size (bin/young-generation.mjs,
// docs/operations.md "Memory"): under load it would grow to two 16 MB semi-spaces, ~30 MB of RSS on
// a box whose budget is 90. Checked in a fresh Node each time, with a workload that does grow it when
// nothing holds it back, so the test fails if the cap stops working.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const CAP = pathToFileURL(join(import.meta.dirname, '..', 'bin', 'young-generation.mjs')).href;

/**
 * Allocates short-lived objects with a steady share of survivors; prints new space's size in MB
 * before and after. (Before, not at start: loading the sources through tsx may already have grown
 * it; what is checked is that it does not grow once capped.)
 */
const script = (cap: boolean) => `
const { getHeapSpaceStatistics } = await import('node:v8');
const newSpaceMb = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 2 ** 20;
const { capYoungGeneration } = await import(${JSON.stringify(CAP)});
const capped = ${cap} ? capYoungGeneration() : null;
const before = newSpaceMb();
const keep = [];
for (let r = 0; r < 3000; r++) {
  for (let i = 0; i < 5000; i++) { const o = { a: i, b: 'x' + i, c: [i] }; if (i % 50 === 0) keep.push(o); }
  if (keep.length > 20000) keep.splice(0, 10000);
}
console.log(JSON.stringify({ capped, before, after: newSpaceMb() }));
`;

interface Result { capped: boolean | null; before: number; after: number }

async function run(cap: boolean, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import=tsx', '--input-type=module', '-e', script(cap)], {
    env: { ...process.env, ...env }, timeout: 120_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Result;
}

t.test('the workload grows the young generation when nothing caps it', async (t) => {
  const free = await run(false);
  t.ok(free.after > free.before && free.after >= 16, `new space grew from ${free.before} to ${free.after} MB`);
});

t.test('capped, the young generation grows no more under the same workload', async (t) => {
  const capped = await run(true);
  t.equal(capped.capped, true, 'the cap was applied');
  t.ok(capped.before < 32, `room left to grow (${capped.before} of V8's default 32 MB), so the check below can fail`);
  t.ok(capped.after <= capped.before, `new space ${capped.before} MB before, ${capped.after} MB after`);
});

t.test('an operator who sets the semi-space size is left alone', async (t) => {
  const chosen = await run(true, { NODE_OPTIONS: '--max-semi-space-size=64' });
  t.equal(chosen.capped, false, 'not applied');
  t.ok(chosen.after > chosen.before, `new space grew from ${chosen.before} to ${chosen.after} MB, within the operator's 2 × 64`);
});
