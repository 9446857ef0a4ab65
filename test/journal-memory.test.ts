// The in-memory journal: per-device seq, per-upstream cursors, deletion only after every ack.
import t from 'tap';
import { MemoryJournal } from '../gateway/journal/memory.ts';
import { FakeClock } from '../gateway/model/clock.ts';

const pt = (v: number) => ({ tag: 'plc1.level', value: v, quality: 'good' as const, ts: v });

t.test('seq per device, increasing, ahead of any earlier run', async (t) => {
  const clock = new FakeClock(1_000_000);
  const j = new MemoryJournal({ clock });
  const a1 = j.append('plc1', [pt(1)]);
  const b1 = j.append('plc2', [pt(2)]);
  const a2 = j.append('plc1', [pt(3)]);
  t.equal(a2.seq, a1.seq + 1);
  t.equal(b1.seq, a1.seq, 'each device counts on its own');
  clock.now = () => 1_000_100; // a restart 100 ms later
  const j2 = new MemoryJournal({ clock });
  t.ok(j2.append('plc1', [pt(4)]).seq > a2.seq, 'a restarted box continues above the old seq');
});

t.test('a record leaves only when every upstream acked it; cursors are independent', async (t) => {
  const j = new MemoryJournal();
  j.openCursor('city');
  j.openCursor('district');
  const r1 = j.append('plc1', [pt(1)]);
  const r2 = j.append('plc1', [pt(2)]);
  t.same(j.read('city', 10).map((r) => r.id), [r1.id, r2.id]);
  t.same(j.read('city', 10, new Set([r1.id])).map((r) => r.id), [r2.id], 'in-flight records are skipped');
  j.ack('city', [r2.id]);
  t.same(j.read('city', 10).map((r) => r.id), [r1.id], 'an out-of-order ack is kept');
  t.equal(j.backlog('city'), 1);
  t.equal(j.backlog('district'), 2, 'the other upstream still has both');
  t.equal(j.stats().records, 2, 'nothing deleted while district has not acked');
  j.ack('city', [r1.id]);
  j.ack('district', [r1.id, r2.id]);
  t.equal(j.stats().records, 0, 'deleted once both acked');
  t.throws(() => j.read('nobody', 1), /no cursor/);
});

t.test('bounded: the oldest are dropped and counted', async (t) => {
  const j = new MemoryJournal({ maxPoints: 3 });
  j.openCursor('city');
  let woke = 0;
  j.onAppend(() => woke++);
  for (let i = 0; i < 5; i++) j.append('plc1', [pt(i)]);
  t.equal(j.stats().points, 3);
  t.equal(j.stats().dropped, 2);
  t.same(j.read('city', 10).map((r) => r.points[0]!.value), [2, 3, 4], 'newest kept');
  t.equal(woke, 5, 'listeners hear every append');
});

t.test('acks for dropped records change nothing; backlog stays exact through drops and out-of-order acks', async (t) => {
  const j = new MemoryJournal({ maxPoints: 3 });
  j.openCursor('city');
  const recs = [0, 1, 2, 3, 4].map((i) => j.append('plc1', [pt(i)]));
  t.equal(j.backlog('city'), 3, 'two dropped, three left');
  j.ack('city', [recs[0]!.id, recs[1]!.id]); // already dropped
  t.equal(j.backlog('city'), 3);
  j.ack('city', [recs[3]!.id]);
  t.equal(j.backlog('city'), 2);
  t.same(j.read('city', 10).map((r) => r.id), [recs[2]!.id, recs[4]!.id]);
  j.ack('city', [recs[2]!.id, recs[4]!.id]);
  t.equal(j.backlog('city'), 0);
  t.equal(j.stats().records, 0);
});

t.test('one upstream down does not hold back or lose data for the other', async (t) => {
  const j = new MemoryJournal({ maxPoints: 2_000_000 });
  j.openCursor('city');
  j.openCursor('district'); // down: never acks
  for (let i = 0; i < 100_000; i++) {
    const r = j.append('plc1', [pt(i)]);
    if (j.read('city', 32)[0]?.id !== r.id) t.fail(`city does not read record ${r.id} next`);
    j.ack('city', [r.id]);
  }
  t.equal(j.backlog('city'), 0);
  t.equal(j.backlog('district'), 100_000);
  t.equal(j.stats().records, 100_000, 'kept for the upstream that has not acked');
  t.same(j.read('district', 3).map((r) => r.points[0]!.value), [0, 1, 2], 'district gets everything from the start');
});

t.test('a delivered batch is not kept alive by the journal', async (t) => {
  const { setFlagsFromString } = await import('node:v8');
  const { runInNewContext } = await import('node:vm');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const j = new MemoryJournal();
  j.openCursor('city');
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < 50; i++) {
    const points = [pt(i)];
    refs.push(new WeakRef(points));
    j.ack('city', [j.append('plc1', points).id]);
  }
  // WeakRef targets are held until the current job ends; collect after it.
  await new Promise((r) => setTimeout(r, 10));
  gc();
  // V8 may hold on to the very last array through its own caches; the journal used to keep up to
  // 1,024 delivered batches (a minute of a busy box's telemetry) until it compacted its array.
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  t.ok(alive <= 1, `${alive} of 50 acknowledged batches still reachable`);
});
