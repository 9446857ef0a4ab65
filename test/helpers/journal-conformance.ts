// The journal conformance suite: what every Journal implementation must do, run against the
// in-memory and the SQLite journal (test/journal-memory.test.ts, test/journal-sqlite.test.ts).
import type { Test } from 'tap';
import type { Journal, JournalRecord } from '../../gateway/journal/journal.ts';
import { FakeClock, type Clock } from '../../gateway/model/clock.ts';
import { decodePoints } from '../../gateway/journal/points.ts';

export const pt = (v: number, tag = 'plc1.level') => ({ tag, value: v, quality: 'good' as const, ts: 1_700_000_000_000 + v });

/** Values of the first point of each record. */
export const values = (recs: readonly JournalRecord[]) => recs.map((r) => r.channel === 'telemetry' ? decodePoints(r.body)[0]?.v : r.body);

/** A factory gives a fresh, empty journal; the suite flushes where a commit is needed. */
export function journalConformance(t: Test, make: (clock?: Clock) => Journal): void {
  const fresh = (t: Test, clock?: Clock) => {
    const j = make(clock);
    t.teardown(() => j.close());
    return j;
  };

  t.test('committed records carry consecutive seqs per device, and the points as stored JSON', async (t) => {
    const j = fresh(t);
    j.openCursor('city');
    j.append('plc1', [pt(1), pt(2)]);
    j.append('plc2', [pt(3, 'plc2.flow')]);
    j.append('plc1', [pt(4)]);
    j.flush();
    const recs = j.read('city', 10);
    t.same(recs.map((r) => r.device), ['plc1', 'plc2', 'plc1']);
    const [a, b, c] = recs;
    t.equal(c!.seq, a!.seq + 1, 'plc1 counts on');
    t.ok(b!.seq > 0);
    t.ok(a!.id < b!.id && b!.id < c!.id, 'ids increase');
    t.same(decodePoints(a!.body), [{ tag: 'level', v: 1, q: 'good', t: pt(1).ts }, { tag: 'level', v: 2, q: 'good', t: pt(2).ts }]);
    t.equal(a!.count, 2);
    t.same(j.stats().points, 4);
  });

  t.test('a record leaves only when every upstream acked it; cursors are independent', async (t) => {
    const j = fresh(t);
    j.openCursor('city');
    j.openCursor('district');
    j.append('plc1', [pt(1)]);
    j.append('plc1', [pt(2)]);
    j.flush();
    const [r1, r2] = j.read('city', 10);
    t.same(j.read('city', 10), [], 'what was read is not read again before a rewind');
    j.ack('city', [r2!.id]);
    j.flush();
    t.equal(j.backlog('city'), 1);
    j.rewind('city');
    t.same(j.read('city', 10).map((r) => r.id), [r1!.id], 'after a rewind only the unacknowledged one');
    t.equal(j.backlog('district'), 2, 'the other upstream still has both');
    t.equal(j.stats().records, 2, 'nothing deleted while district has not acked');
    j.ack('city', [r1!.id]);
    const d = j.read('district', 10);
    j.ack('district', d.map((r) => r.id));
    j.flush();
    t.equal(j.stats().records, 0, 'deleted once both acked');
    t.throws(() => j.read('nobody', 1), /no cursor/);
  });

  t.test('an ack for a record never read, or read before a rewind and acked twice, changes nothing', async (t) => {
    const j = fresh(t);
    j.openCursor('city');
    j.append('plc1', [pt(1)]);
    j.flush();
    const [r] = j.read('city', 1);
    j.ack('city', [r!.id + 100]);
    t.equal(j.backlog('city'), 1);
    j.ack('city', [r!.id, r!.id]);
    j.flush();
    t.equal(j.backlog('city'), 0);
  });

  t.test('get gives back held records by id, across lanes and oldest first; gone ones are skipped', async (t) => {
    const j = fresh(t);
    j.openCursor('city');
    j.append('plc1', [pt(1)]);
    j.appendEvent('alarms', 'plc1', '{"rule":"hh"}');
    j.append('plc2', [pt(2, 'plc2.flow')]);
    j.flush();
    const recs = j.read('city', 10);
    const [event, first, second] = recs;
    t.same(j.get([second!.id, event!.id]), [event, second], 'an event and a telemetry record, the same as read');
    j.ack('city', [first!.id]);
    j.flush();
    t.same(j.get([first!.id, second!.id, second!.id + 1000]).map((r) => r.id), [second!.id], 'acknowledged by every upstream, or never there: skipped');
    t.same(values(j.get([second!.id])), [2]);
    t.same(j.get([]), []);
  });

  t.test('states: kept by key, the latest put wins, undefined removes, read by prefix', async (t) => {
    const j = fresh(t);
    j.putState('alarm/hh', '{"state":"active"}');
    j.putState('alarm/door', '{"state":"active"}');
    j.putState('alarm-flood', 'true');
    j.putState('alarm/hh', '{"state":"acked"}');
    j.putState('alarm/door', undefined);
    const expect = new Map([['alarm/hh', '{"state":"acked"}']]);
    t.same(j.states('alarm/'), expect, 'before the commit');
    j.flush();
    t.same(j.states('alarm/'), expect, 'after it');
    t.same(j.states('alarm-flood'), new Map([['alarm-flood', 'true']]));
    t.same(j.states('nothing/'), new Map());
  });

  t.test('events go before any telemetry; live telemetry goes before the backlog after a rewind', async (t) => {
    const j = fresh(t);
    j.openCursor('city');
    for (let i = 0; i < 5; i++) j.append('plc1', [pt(i)]);
    j.appendEvent('alarms', 'plc1', '{"rule":"hh"}');
    j.flush();
    t.same(values(j.read('city', 3)), ['{"rule":"hh"}', 0, 1], 'the alarm first, then oldest telemetry');
    j.rewind('city'); // a reconnect: all five are backlog now
    j.append('plc1', [pt(100)]);
    j.flush();
    t.same(values(j.read('city', 3)), ['{"rule":"hh"}', 100, 0], 'event, then live, then backlog');
    t.same(values(j.read('city', 10)), [1, 2, 3, 4], 'the rest of the backlog, in order');
    t.equal(j.read('city', 10).length, 0);
  });

  t.test('a rewind with a live boundary: the last seconds before it are live, the rest backlog', async (t) => {
    const clock = new FakeClock(1_000_000);
    const j = fresh(t, clock);
    j.openCursor('city');
    for (let i = 0; i < 3; i++) { j.append('plc1', [pt(i)]); await clock.advance(1000); }
    await clock.advance(10_000); // an outage
    j.append('plc1', [pt(10)]); // appended 2 s before the reconnect
    await clock.advance(2000);
    j.flush();
    const boundary = j.rewind('city', clock.now() - 5000);
    const recs = j.read('city', 10);
    t.same(values(recs), [10, 0, 1, 2], 'the recent batch first, then the backlog');
    t.same(recs.map((r) => r.id <= boundary), [false, true, true, true], 'the boundary says which are backlog');
    t.equal(j.rewind('city'), Math.max(...recs.map((r) => r.id)), 'without a time, everything committed is backlog');
  });

  t.test('one upstream down does not hold back the other', async (t) => {
    const j = fresh(t);
    j.openCursor('city');
    j.openCursor('district'); // down: never acks
    for (let i = 0; i < 2000; i++) {
      j.append('plc1', [pt(i)]);
      if (i % 100 === 99) {
        j.flush();
        const got = j.read('city', 1000);
        if (got.length !== 100) t.fail(`city read ${got.length} records, expected 100`);
        j.ack('city', got.map((r) => r.id));
      }
    }
    j.flush();
    t.equal(j.backlog('city'), 0);
    t.equal(j.backlog('district'), 2000);
    t.equal(j.stats().records, 2000, 'kept for the upstream that has not acked');
    t.same(values(j.read('district', 3)), [0, 1, 2], 'district gets everything from the start');
  });

  t.test('listeners hear commits; stats count what is held', async (t) => {
    const j = fresh(t);
    j.openCursor('city');
    let woke = 0;
    j.onAppend(() => woke++);
    j.append('plc1', [pt(1), pt(2), pt(3)]);
    j.appendEvent('alarms', 'plc1', '{}');
    j.flush();
    t.ok(woke >= 1, 'woken');
    const s = j.stats();
    t.equal(s.records, 2);
    t.equal(s.points, 3, 'events are not points');
    t.equal(s.appended, 2);
    t.ok(s.bytes > 0);
    t.equal(s.oldestTs !== undefined, true);
  });
}
