// The ingest's memory of what it wrote: repeats dropped, a backlog arriving after live data (far
// out of order) kept, and when its limits make it forget, it lets repeats through rather than
// dropping a first arrival.
import t from 'tap';
import { SeqDedup } from '../cloud-sync/ingest/dedup.ts';

t.test('repeats are dropped; an outage\'s backlog after live data is not', async (t) => {
  const d = new SeqDedup();
  const live = Array.from({ length: 100 }, (_, i) => 10_000 + i);
  t.ok(live.every((s) => d.firstTime('ps1', 'plc1', s)), 'live seqs, first time');
  t.notOk(d.firstTime('ps1', 'plc1', 10_050), 'a live batch resent: a repeat');
  const backlog = Array.from({ length: 5000 }, (_, i) => 5000 + i);
  t.ok(backlog.every((s) => d.firstTime('ps1', 'plc1', s)), 'the backlog, 5,000 seqs below, all first time');
  t.notOk(backlog.some((s) => d.firstTime('ps1', 'plc1', s)), 'and each a repeat the second time');
  t.ok(d.firstTime('ps1', 'plc2', 10_000), 'another device has its own seqs');
  t.ok(d.firstTime('ps2', 'plc1', 10_000), 'another site too');
});

t.test('a seeded shuffle of 20,000 seqs with repeats: exactly the distinct ones pass', async (t) => {
  let seed = 7;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const seqs = Array.from({ length: 20_000 }, (_, i) => i);
  const offered = [...seqs, ...seqs.filter(() => rnd() < 0.1)];
  for (let i = offered.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [offered[i], offered[j]] = [offered[j]!, offered[i]!]; }
  const d = new SeqDedup({ maxRanges: 100_000 });
  const passed = offered.filter((s) => d.firstTime('s', 'd', s));
  t.equal(passed.length, 20_000, 'every seq once');
  t.same([...new Set(passed)].length, 20_000, 'no seq twice');
});

t.test('at its limits it forgets towards letting repeats through, never dropping a first arrival', async (t) => {
  const d = new SeqDedup({ maxKeys: 2, maxRanges: 3 });
  for (const s of [1, 3, 5, 7]) t.ok(d.firstTime('s', 'a', s), `a ${s}: first`);
  t.ok(d.firstTime('s', 'a', 1), 'the oldest gap range forgotten: 1 passes again (a repeat let through)');
  t.notOk(d.firstTime('s', 'a', 7), 'recent ones remembered');
  d.firstTime('s', 'b', 1);
  d.firstTime('s', 'c', 1);
  t.ok(d.firstTime('s', 'a', 7), 'device a, least recently seen, forgotten once a third device came');
  t.equal(d.devices, 2, 'two devices remembered');
});

t.test('has() asks without recording: a batch whose write failed is still new when it comes again', async (t) => {
  const d = new SeqDedup();
  t.notOk(d.has('s', 'd', 5), 'not seen');
  t.notOk(d.has('s', 'd', 5), 'asking did not record it');
  t.ok(d.firstTime('s', 'd', 5), 'recorded once written');
  t.ok(d.has('s', 'd', 5), 'now a repeat');
  t.notOk(d.has('s', 'd', 6), 'its neighbour is not');
});
