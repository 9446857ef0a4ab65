// The trend store behind the console's chart: per-step mean/min/max, on disk across a restart,
// merged steps for long spans, old steps forgotten, and a damaged file that does not stop the box.
import t from 'tap';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrendStore } from '../gateway/store/trends.ts';
import { FakeClock, silentLogger, type Sample } from '../gateway/model/index.ts';
import { tempDir } from './helpers/temp.ts';

const T0 = 1_800_000_000_000; // a step boundary for 10 s steps
const s = (tag: string, value: Sample['value'], ts: number, quality: Sample['quality'] = 'good'): Sample => ({ tag, value, quality, ts });

function store(dir: string | undefined, clock: FakeClock, keepMs = 86_400_000, logger = silentLogger) {
  return new TrendStore({ dir, stepMs: 10_000, keepMs, clock, logger });
}

t.test('each step keeps mean, min and max of the good numeric samples; booleans as 0/1', async (t) => {
  const clock = new FakeClock(T0);
  const ts = store(undefined, clock);
  const stop = new AbortController();
  const running = ts.run(stop.signal);
  ts.add([s('p.level', 1, T0), s('p.level', 3, T0 + 4000), s('p.level', 99, T0 + 5000, 'bad'), s('p.run', true, T0), s('p.name', 'x', T0)]);
  ts.add([s('p.level', 5, T0 + 10_000), s('p.run', false, T0 + 10_000)]);
  await clock.advance(20_000);
  const level = ts.query('p.level', 60_000);
  t.same(level.points, [[T0, 2, 1, 3], [T0 + 10_000, 5, 5, 5]], 'the bad 99 is left out');
  t.same(ts.query('p.run', 60_000).points, [[T0, 1, 1, 1], [T0 + 10_000, 0, 0, 0]]);
  t.same(ts.query('p.name', 60_000).points, [], 'strings have no trend');
  t.same(ts.query('p.none', 60_000).points, []);
  stop.abort();
  await running;
  ts.close();
});

t.test('a late sample does not replace a step already written', async (t) => {
  const clock = new FakeClock(T0);
  const ts = store(undefined, clock);
  const stop = new AbortController();
  const running = ts.run(stop.signal);
  ts.add([s('p.level', 1, T0), s('p.level', 3, T0 + 1000)]);
  ts.add([s('p.level', 5, T0 + 10_000)]);
  await clock.advance(11_000);
  ts.add([s('p.level', 100, T0 + 2000)]);
  await clock.advance(20_000);
  t.same(ts.query('p.level', 60_000).points, [[T0, 2, 1, 3], [T0 + 10_000, 5, 5, 5]]);
  stop.abort();
  await running;
  ts.close();
});

t.test('the step being filled shows at once; the history survives a restart', async (t) => {
  const dir = tempDir(t, 'trends');
  const clock = new FakeClock(T0);
  const a = store(dir, clock);
  const stop = new AbortController();
  const running = a.run(stop.signal);
  for (let i = 0; i < 30; i++) a.add([s('p.level', i, T0 + i * 1000)]);
  t.same(a.query('p.level', 60_000).points.at(-1), [T0 + 20_000, 24.5, 20, 29], 'the open step, before any write');
  await clock.advance(31_000);
  stop.abort();
  await running;
  a.close();
  const b = store(dir, clock);
  t.same(b.query('p.level', 60_000).points, [[T0, 4.5, 0, 9], [T0 + 10_000, 14.5, 10, 19], [T0 + 20_000, 24.5, 20, 29]]);
  b.close();
});

t.test('a long span comes back merged to at most 1500 points', async (t) => {
  const clock = new FakeClock(T0);
  const ts = store(undefined, clock);
  const stop = new AbortController();
  const running = ts.run(stop.signal);
  // 24 h of 10 s steps: 8640 steps.
  for (let i = 0; i < 8640; i++) ts.add([s('p.level', i % 2 === 0 ? 1 : 3, T0 + i * 10_000)]);
  await clock.advance(8640 * 10_000 + 10_000);
  const r = ts.query('p.level', 24 * 3_600_000);
  t.ok(r.points.length <= 1500 && r.points.length > 700, `${r.points.length} points`);
  t.equal(r.stepMs, 60_000, 'six steps per point');
  t.same(r.points[1], [T0 + 60_000, 2, 1, 3], 'means averaged, extremes kept');
  stop.abort();
  await running;
  ts.close();
});

t.test('steps older than keep are forgotten', async (t) => {
  const clock = new FakeClock(T0);
  const ts = store(undefined, clock, 3_600_000);
  const stop = new AbortController();
  const running = ts.run(stop.signal);
  ts.add([s('p.level', 1, T0)]);
  await clock.advance(2 * 3_600_000);
  ts.add([s('p.level', 2, clock.now())]);
  await clock.advance(11 * 60_000);
  t.same(ts.query('p.level', 3 * 3_600_000).points.map((p) => p[1]), [2], 'the step of 2 h ago is gone');
  stop.abort();
  await running;
  ts.close();
});

t.test('a damaged trends.db is moved aside and the store starts afresh', async (t) => {
  const dir = tempDir(t, 'trends-bad');
  writeFileSync(join(dir, 'trends.db'), 'this is not a database at all, just text '.repeat(100));
  const logs: { code?: string }[] = [];
  const logger = { ...silentLogger, warn: (o: { code?: string }) => { logs.push(o); }, child: () => logger };
  const clock = new FakeClock(T0);
  const ts = store(dir, clock, 86_400_000, logger as never);
  ts.add([s('p.level', 7, T0)]);
  t.same(ts.query('p.level', 60_000).points, [[T0, 7, 7, 7]]);
  ts.close();
  t.ok(logs.some((l) => l.code === 'CE_ERR_TRENDS'), 'the log says so');
  t.ok(readdirSync(dir).some((f) => f.startsWith('trends.db.damaged-')), 'the damaged file is kept aside');
  t.ok(existsSync(join(dir, 'trends.db')));
});
