// Limit conditions with deadband and delays, in fake time: the boundary does not chatter, delays
// hold, bad quality changes nothing.
import t from 'tap';
import { ConditionTracker, rawActive } from '../gateway/alarms/condition.ts';

const hh = { kind: 'above' as const, limit: 4.5, deadband: 0.1 };
const ll = { kind: 'below' as const, limit: 0.5, deadband: 0.1 };

t.test('raw conditions: at the limit, and cleared only past the deadband', async (t) => {
  t.equal(rawActive(hh, 4.49, false), false);
  t.equal(rawActive(hh, 4.5, false), true, 'at the limit is active');
  t.equal(rawActive(hh, 4.41, true), true, 'inside the deadband stays active');
  t.equal(rawActive(hh, 4.4, true), false, 'past the deadband clears');
  t.equal(rawActive(ll, 0.5, false), true);
  t.equal(rawActive(ll, 0.59, true), true);
  t.equal(rawActive(ll, 0.6, true), false);
  t.equal(rawActive({ kind: 'equals', value: true }, true, false), true);
  t.equal(rawActive({ kind: 'equals', value: 3 }, 2, true), false);
  t.equal(rawActive(hh, 'text', true), true, 'a non-number leaves a limit alarm as it is');
});

t.test('a level hovering at the limit raises one alarm, not one per scan', async (t) => {
  const c = new ConditionTracker(hh, { onMs: 0, offMs: 0 });
  const changes: (boolean | undefined)[] = [];
  let now = 0;
  for (const v of [4.49, 4.5, 4.48, 4.51, 4.45, 4.52, 4.42, 4.39, 4.5]) changes.push(c.update(v, 'good', now += 1000));
  t.same(changes, [undefined, true, undefined, undefined, undefined, undefined, undefined, false, true]);
});

t.test('delay on: the condition must hold for the whole delay; a dip restarts it', async (t) => {
  const c = new ConditionTracker(hh, { onMs: 5000, offMs: 0 });
  t.equal(c.update(4.6, 'good', 0), undefined, 'not yet');
  t.equal(c.dueAt(), 5000);
  t.equal(c.update(4.7, 'good', 3000), undefined);
  t.equal(c.update(4.3, 'good', 4000), undefined, 'a dip');
  t.equal(c.dueAt(), undefined, 'the delay is cancelled');
  t.equal(c.update(4.6, 'good', 4500), undefined);
  t.equal(c.due(9400), undefined, '4.9 s is not 5 s');
  t.equal(c.due(9500), true, 'active after 5 s without a new value');
  t.equal(c.active, true);
});

t.test('delay off, and bad quality', async (t) => {
  const c = new ConditionTracker(hh, { onMs: 0, offMs: 10_000 }, true);
  t.equal(c.update(4.0, 'good', 0), undefined);
  t.equal(c.update(null, 'bad', 5000), undefined, 'bad quality changes nothing');
  t.equal(c.update(4.0, 'good', 9999), undefined);
  t.equal(c.update(4.0, 'good', 10_000), false, 'clears after the off delay');
  t.equal(c.update(9.9, 'bad', 11_000), undefined, 'a bad reading does not raise it');
});

t.test('retuning restarts a pending delay and applies the new limit', async (t) => {
  const c = new ConditionTracker(hh, { onMs: 5000, offMs: 0 });
  c.update(4.6, 'good', 0);
  c.retune({ kind: 'above', limit: 4.8, deadband: 0.1 }, { onMs: 5000, offMs: 0 });
  t.equal(c.due(6000), undefined, 'the pending change was dropped');
  t.equal(c.update(4.6, 'good', 7000), undefined, 'below the new limit');
  t.equal(c.update(4.8, 'good', 8000), undefined);
  t.equal(c.due(13_000), true);
});
