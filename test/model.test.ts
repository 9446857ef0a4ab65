// The model's small parts: backoff with jitter, the fake clock, report by exception.
import t from 'tap';
import { Backoff } from '../gateway/model/backoff.ts';
import { FakeClock } from '../gateway/model/clock.ts';
import { RateMeter } from '../gateway/model/rate.ts';
import { ReportByException } from '../gateway/rbe.ts';
import { splitTagPath } from '../gateway/model/sample.ts';
import type { Sample } from '../gateway/model/sample.ts';

t.test('backoff doubles up to its cap, and jitter spreads boxes apart', async (t) => {
  const b = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0, random: () => 0.5 });
  t.same([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [1000, 2000, 4000, 8000, 8000, 8000]);
  b.reset();
  t.equal(b.next(), 1000, 'reset starts again from the initial delay');
  for (let i = 0; i < 200; i++) b.next();
  t.equal(b.next(), 8000, 'a week of failures stays at the cap, not Infinity');

  const delays = new Set<number>();
  for (let i = 0; i < 50; i++) delays.add(new Backoff({ initialMs: 1000, maxMs: 60_000 }).next());
  t.ok(delays.size > 20, `fifty boxes pick different first delays (${delays.size} distinct)`);
  for (const d of delays) t.ok(d >= 500 && d <= 1000, 'jitter keeps at least half the delay');
  t.throws(() => new Backoff({ initialMs: 0, maxMs: 10 }), RangeError);
});

t.test('fake clock wakes sleepers in time order and honours abort', async (t) => {
  const clock = new FakeClock(0);
  const woke: number[] = [];
  void clock.sleep(300).then(() => woke.push(clock.now()));
  void clock.sleep(100).then(() => woke.push(clock.now()));
  const ac = new AbortController();
  const aborted = clock.sleep(200, ac.signal).then(() => 'woke', () => 'aborted');
  ac.abort();
  await clock.advance(250);
  t.same(woke, [100]);
  await clock.advance(100);
  t.same(woke, [100, 300]);
  t.equal(await aborted, 'aborted');
});

const s = (tag: string, value: Sample['value'], quality: Sample['quality'] = 'good'): Sample => ({ tag, value, quality, ts: 0 });

t.test('report by exception: deadband, quality change, integrity', async (t) => {
  const rbe = new ReportByException(new Map([
    ['p.level', { deadband: 0.05, maxIntervalMs: 10_000 }],
    ['p.run', { deadband: 0, maxIntervalMs: 10_000 }],
  ]));
  t.equal(rbe.filter([s('p.level', 1.0), s('p.run', false)], 0).length, 2, 'first reading always goes out');
  t.same(rbe.filter([s('p.level', 1.03), s('p.run', false)], 1000), [], 'inside the deadband and unchanged: nothing');
  t.same(rbe.filter([s('p.level', 1.06)], 2000).map((x) => x.value), [1.06], 'drift past the deadband from the last published value');
  t.same(rbe.filter([s('p.run', true)], 3000).map((x) => x.value), [true], 'a bool change');
  t.same(rbe.filter([s('p.level', null, 'bad')], 4000).map((x) => x.quality), ['bad'], 'quality change is reported at once');
  t.same(rbe.filter([s('p.level', null, 'bad')], 5000), [], 'still bad: no repeat');
  t.same(rbe.filter([s('p.level', 1.06)], 6000).map((x) => x.quality), ['good'], 'back to good');
  t.same(rbe.filter([s('p.run', true)], 12_999), [], 'before max_interval: nothing');
  t.same(rbe.filter([s('p.run', true)], 13_000).map((x) => x.tag), ['p.run'], 'integrity: unchanged value re-sent at max_interval');
});

t.test('tag paths', async (t) => {
  t.same(splitTagPath('plc1.wet_well_level'), { device: 'plc1', tag: 'wet_well_level' });
  t.equal(splitTagPath('plc1'), undefined);
  t.equal(splitTagPath('PLC.x'), undefined);
});

t.test('rate meter: per second over the last full seconds, forgetting what is older', async (t) => {
  const clock = new FakeClock(1_000_000);
  const r = new RateMeter(clock, 5);
  for (let s = 0; s < 4; s++) { r.add(100); await clock.advance(1000); }
  t.equal(r.perSecond(), 100, 'four full seconds of 100');
  r.add(1000); // the current second does not count yet
  t.equal(r.perSecond(), 100);
  await clock.advance(1000);
  t.equal(r.perSecond(), (100 * 3 + 1000) / 4);
  await clock.advance(60_000);
  t.equal(r.perSecond(), 0, 'a minute later, nothing');
});
