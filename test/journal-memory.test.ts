// The in-memory journal: the conformance suite, and what is its own (a bound in points, seq from
// the clock because nothing survives a restart).
import t from 'tap';
import { MemoryJournal } from '../gateway/journal/memory.ts';
import { FakeClock } from '../gateway/model/clock.ts';
import { journalConformance, pt, values } from './helpers/journal-conformance.ts';

journalConformance(t, (clock) => new MemoryJournal(clock ? { clock } : {}));

t.test('seq continues above an earlier run: it starts from the clock', async (t) => {
  const clock = new FakeClock(1_000_000);
  const j = new MemoryJournal({ clock });
  j.openCursor('city');
  j.append('plc1', [pt(1)]);
  const before = j.read('city', 1)[0]!.seq;
  clock.now = () => 1_000_100; // a restart 100 ms later
  const j2 = new MemoryJournal({ clock });
  j2.openCursor('city');
  j2.append('plc1', [pt(2)]);
  t.ok(j2.read('city', 1)[0]!.seq > before);
});

t.test('bounded: the oldest telemetry is dropped and counted, events never', async (t) => {
  const j = new MemoryJournal({ maxPoints: 3 });
  j.openCursor('city');
  j.appendEvent('alarms', 'plc1', '{"a":1}');
  for (let i = 0; i < 5; i++) j.append('plc1', [pt(i)]);
  const s = j.stats();
  t.equal(s.points, 3);
  t.equal(s.dropped, 2);
  t.equal(s.droppedPoints, 2);
  t.ok(s.full, 'reported full');
  t.equal(j.backlog('city'), 4, 'the event and three batches');
  t.same(values(j.read('city', 10)), ['{"a":1}', 2, 3, 4], 'the event and the newest kept');
});
