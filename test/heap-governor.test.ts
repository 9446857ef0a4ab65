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

t.test('garbage gathering slowly is collected past the allowance, and the old generation stays near its floor', async (t) => {
  const gov = new HeapGovernor({ slackMb: 2, maxDuty: 1 });
  gov.collect();
  const floor = oldBytes();
  let peak = 0;
  let collected = 0;
  // 1 MB between two looks: the slow drift it is for (a whole allowance at once would be V8's to handle).
  for (let i = 0; i < 24; i++) {
    await oldGarbage(1);
    peak = Math.max(peak, oldBytes() - floor);
    if (gov.check()) collected++;
  }
  t.ok(collected >= 1, `${collected} collections for 24 MB of garbage`);
  t.ok(peak < 18 * MB, `at most ${(peak / MB).toFixed(1)} MB above the floor, not 24`);
});

t.test('a whole allowance gathered at once is left to V8', async (t) => {
  const gov = new HeapGovernor({ slackMb: 4, maxDuty: 1 });
  gov.collect();
  await oldGarbage(32);
  t.equal(gov.check(), false, 'fast garbage: not collected from here');
  t.equal(gov.collections, 1);
});

t.test('0 MB: no watch, the start-up collection still works', async (t) => {
  const gov = new HeapGovernor({ slackMb: 0 });
  t.equal(gov.active, false);
  gov.collect();
  await oldGarbage(32);
  t.equal(gov.check(), false, 'never collects on its own');
  t.equal(gov.collections, 1);
});

t.test('its collections take at most their share of the time', async (t) => {
  const gov = new HeapGovernor({ slackMb: 4, maxDuty: 1e-6 });
  gov.collect(); // one of a few ms: the next may come in no less than hours
  await oldGarbage(32);
  t.equal(gov.check(), false, 'past its allowance, but too soon after the last one');
  t.equal(gov.collections, 1);
});

t.test('while V8 collects by itself (a backlog draining), it stays out', async (t) => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const v8Collects = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  const gov = new HeapGovernor({ slackMb: 24, maxDuty: 1 });
  gov.collect();
  await oldGarbage(16);
  t.equal(gov.check(), false, 'within its allowance');
  v8Collects(); // not the governor's: as V8's own would be
  t.equal(gov.check(), false, 'it sees the old generation shrink');
  await oldGarbage(48);
  t.equal(gov.check(), false, 'past its allowance, but V8 has just shown it is on it');
  t.equal(gov.collections, 1);
});
