// `cityedge run` keeps V8's old generation within a few MB of what its last full collection left
// (gateway/cli/heap-governor.ts, docs/operations.md "Memory"). Checked against this process's real
// heap: garbage is pushed into the old generation, then the governor is asked to look.
import t from 'tap';
import { HeapGovernor, oldBytes } from '../gateway/cli/heap-governor.ts';

const MB = 2 ** 20;

/** About `mb` MB of arrays promoted to the old generation, then dropped: garbage only a full collection frees. */
async function oldGarbage(mb: number): Promise<void> {
  let keep: number[][] | undefined = [];
  for (let i = 0; i < mb; i++) keep.push(new Array<number>(MB / 8).fill(i + 0.5));
  // Scavenges (young-generation collections) move what survives them to the old generation.
  for (let r = 0; r < 40; r++) {
    let junk: object[] = [];
    for (let i = 0; i < 50_000; i++) junk.push({ i });
    junk = [];
    await new Promise((resolve) => setImmediate(resolve));
  }
  keep.length = 0;
  keep = undefined;
}

t.test('under its allowance the old generation is left alone', async (t) => {
  const gov = new HeapGovernor({ slackMb: 64 });
  t.ok(gov.active, 'gc() could be had');
  gov.collect();
  await oldGarbage(16);
  t.equal(gov.check(), false, '16 MB of garbage is within 64 MB');
  t.equal(gov.collections, 1, 'only the collection asked for');
});

t.test('past its allowance it collects, and the garbage is gone', async (t) => {
  const gov = new HeapGovernor({ slackMb: 4 });
  gov.collect();
  const floor = oldBytes();
  await oldGarbage(32);
  const before = oldBytes();
  t.ok(before - floor > 20 * MB, `the old generation grew by ${((before - floor) / MB).toFixed(1)} MB`);
  t.equal(gov.check(), true, 'collected');
  const after = oldBytes();
  t.ok(after < before - 20 * MB, `${(before / MB).toFixed(1)} MB → ${(after / MB).toFixed(1)} MB`);
  t.equal(gov.check(), false, 'and not again at once');
});

t.test('0 MB: no watch, the start-up collection still works', async (t) => {
  const gov = new HeapGovernor({ slackMb: 0 });
  t.equal(gov.active, false);
  gov.collect();
  await oldGarbage(32);
  t.equal(gov.check(), false, 'never collects on its own');
  t.equal(gov.collections, 1);
});
