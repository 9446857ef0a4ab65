// The alarm engine in fake time: a wet-well high-high with its delay, acknowledgement, return to
// normal, the events it puts in the journal's priority lane, and a restart in the middle of an
// active, unacknowledged alarm.
import t from 'tap';
import type { Test } from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JournalAlarmStore, MemoryAlarmStore, type AlarmStateStore } from '../gateway/alarms/state-store.ts';
import { SqliteJournal } from '../gateway/journal/sqlite.ts';
import { tempDir } from './helpers/temp.ts';
import { crashImage } from './helpers/journal-image.ts';
import { FakeClock } from '../gateway/model/clock.ts';
import { alarmHarness, plcConfig } from './helpers/alarm-harness.ts';

const config = plcConfig({
  site: '{ id: ps1, grid: "330105001002101" }',
  plc: '    component: "3301050101000001"\n',
  tags: ['{ name: level, address: "ir:0", type: uint16, scale: 0.01 }', '{ name: door, address: "di:0", type: bool }'],
  alarms: [
    '{ id: hh, tag: plc1.level, above: 4.5, deadband: 0.1, delay_on_s: 5, severity: critical, event_type: "0192", message: 集水井超高液位, message_en: wet well high-high }',
    '{ id: door, tag: plc1.door, equals: true, severity: warning }',
  ],
});

const level = (v: number | null, ts: number, quality: 'good' | 'bad' = 'good') => ({ tag: 'plc1.level', value: v, quality, ts });

const setup = (store: AlarmStateStore = new MemoryAlarmStore(), clock = new FakeClock(1_000_000)) => alarmHarness(config, { store, clock });

t.test('high-high: delay, active, acknowledged, normal; each a coded event', async (t) => {
  const { engine, clock, events } = setup();
  engine.onSamples([level(4.6, clock.now())]);
  t.same(events(), [], 'not before its 5 s delay');
  await clock.advance(3000);
  engine.onSamples([level(4.7, clock.now())]);
  await clock.advance(2000);
  engine.tick();
  const [raised] = events();
  t.match(raised, {
    rule: 'hh', device: 'plc1', tag: 'level', state: 'active', severity: 'critical', value: 4.7, limit: 4.5,
    component: '3301050101000001', grid: '330105001002101', event_type: '0192', message: '集水井超高液位', message_en: 'wet well high-high',
  });
  t.equal(raised!.t, clock.now());
  t.equal(engine.ack('hh', { user: 'engineer-li', source: 'test' }).changed, true);
  t.match(events(), [{ rule: 'hh', state: 'acknowledged', user: 'engineer-li' }]);
  t.equal(engine.ack('hh', { user: 'engineer-li', source: 'test' }).changed, false, 'twice changes nothing');
  engine.onSamples([level(4.45, clock.now())]);
  t.same(events(), [], 'inside the deadband: still active');
  engine.onSamples([level(4.3, clock.now())]);
  t.match(events(), [{ rule: 'hh', state: 'normal', value: 4.3 }]);
  t.throws(() => engine.ack('nope', { user: 'x', source: 'test' }), { code: 'CE_ERR_CMD_NO_RULE' });
});

t.test('bad quality neither raises nor clears; discrete rules; return to normal unacknowledged', async (t) => {
  const { engine, clock, events } = setup();
  engine.onSamples([level(9.9, clock.now(), 'bad'), { tag: 'plc1.door', value: true, quality: 'good', ts: clock.now() }]);
  t.match(events(), [{ rule: 'door', state: 'active', value: true, limit: true }], 'the door at once; the bad level not at all');
  engine.onSamples([{ tag: 'plc1.door', value: false, quality: 'good', ts: clock.now() }]);
  t.match(events(), [{ rule: 'door', state: 'rtn_unack' }], 'closed again before anyone acknowledged');
  engine.ack('door', { user: 'tech-wang', source: 'test' });
  t.match(events(), [{ rule: 'door', state: 'normal', user: 'tech-wang' }]);
});

// A box with a disk journal keeps its alarm states in it. A kill -9 is a crash image of its files
// (test/helpers/journal-image.ts); the restart opens the copy.
function diskBox(t: Test, dir = tempDir(t, 'cityedge-alarms-')) {
  const errors: Error[] = [];
  const clock = new FakeClock(1_000_000);
  const journal = new SqliteJournal({ dir, clock, commitMs: 60_000 });
  t.teardown(() => journal.close());
  const store = new JournalAlarmStore(journal, dir, (e) => errors.push(e));
  return { ...alarmHarness(config, { clock, journal, store }), dir, errors };
}
const restartFrom = (t: Test, box: { dir: string }) => diskBox(t, crashImage(box.dir, tempDir(t, 'cityedge-alarms-crash-')));
const turn = () => new Promise<void>((r) => setImmediate(r));
const door = (v: boolean, ts: number) => ({ tag: 'plc1.door', value: v, quality: 'good' as const, ts });
const stateOf = (box: { engine: { states(): { rule: string; state: string; active: boolean }[] } }, rule: string) => box.engine.states().find((s) => s.rule === rule);

t.test('a restart in the middle of an active, unacknowledged alarm', async (t) => {
  const a = diskBox(t);
  a.engine.onSamples([level(5, a.clock.now())]);
  await a.clock.advance(5000);
  a.engine.tick();
  await turn(); // the journal commits the event, and the state with it
  t.match(a.events(), [{ rule: 'hh', state: 'active' }]);

  // The box is killed and restarts; the level is still high.
  const b = restartFrom(t, a);
  b.events(); // what the killed box had not had acknowledged is sent again (at least once): not at issue here
  t.match(stateOf(b, 'hh'), { state: 'active', active: true }, 'restored');
  b.engine.onSamples([level(5, b.clock.now())]);
  await b.clock.advance(10_000);
  b.engine.tick();
  await turn();
  t.same(b.events(), [], 'not announced a second time');
  t.equal(b.engine.ack('hh', { user: 'engineer-li', source: 'test' }).changed, true, 'and it can be acknowledged');
  t.same([...a.errors, ...b.errors], []);
});

t.test('killed right after a raise, the condition gone by the restart: the platform is told it cleared', async (t) => {
  // The gap of 0.2.0: the event was committed at once, the state saved up to a second later. A
  // kill in between, and the restarted box thought the alarm normal and never said it cleared.
  const a = diskBox(t);
  a.engine.onSamples([door(true, a.clock.now())]);
  await turn();
  t.match(a.events().map((e) => e.state), ['active'], 'raised, and the event committed');

  const b = restartFrom(t, a);
  b.events(); // what the killed box had not had acknowledged is sent again (at least once): not at issue here
  t.match(stateOf(b, 'door'), { state: 'active', active: true }, 'restored active, as the platform was told');
  b.engine.onSamples([door(false, b.clock.now())]);
  await turn();
  t.match(b.events(), [{ rule: 'door', state: 'rtn_unack' }], 'the door closed while the box was down: announced');
  t.same([...a.errors, ...b.errors], []);
});

t.test('killed right after an acknowledgement: it stays acknowledged', async (t) => {
  const a = diskBox(t);
  a.engine.onSamples([door(true, a.clock.now())]);
  await turn();
  a.engine.ack('door', { user: 'tech-wang', source: 'test' });
  await turn();
  t.match(a.events().map((e) => e.state), ['active', 'acknowledged']);

  const b = restartFrom(t, a);
  b.events(); // what the killed box had not had acknowledged is sent again (at least once): not at issue here
  t.match(stateOf(b, 'door'), { state: 'acknowledged' }, 'not unacknowledged again');
  b.engine.onSamples([door(false, b.clock.now())]);
  await turn();
  t.match(b.events(), [{ rule: 'door', state: 'normal' }], 'and it clears straight to normal');
});

t.test('killed right after a return to normal: the restart raises the alarm again when the condition comes back', async (t) => {
  // Found by the fault campaign: the saved states lagged the journal by up to a second. A contact
  // that closed, opened and closed again around a kill -9 left the platform with "back to normal"
  // and the restarted box sure the alarm was still active: the second closure was never announced.
  const a = diskBox(t);
  a.engine.onSamples([door(true, a.clock.now())]);
  await turn();
  await a.clock.advance(200);
  a.engine.onSamples([door(false, a.clock.now())]);
  await turn(); // the journal commits the event on this turn; then the process is killed
  t.match(a.events().map((e) => e.state), ['active', 'rtn_unack'], 'raised, then back to normal unacknowledged');

  const b = restartFrom(t, a);
  b.events(); // what the killed box had not had acknowledged is sent again (at least once): not at issue here
  t.match(stateOf(b, 'door'), { active: false }, 'restored as the platform was told: not active');
  b.engine.onSamples([door(true, b.clock.now())]);
  await turn();
  t.match(b.events(), [{ rule: 'door', state: 'active' }], 'the second closure is announced');
});

t.test('killed before the journal committed: neither the event nor the state, so the restart announces it', async (t) => {
  const a = diskBox(t);
  a.engine.onSamples([door(true, a.clock.now())]);
  // No turn of the event loop: the commit has not run when the box dies.
  const b = restartFrom(t, a);
  b.events(); // what the killed box had not had acknowledged is sent again (at least once): not at issue here
  t.match(stateOf(b, 'door'), { state: 'normal' }, 'nothing was kept');
  b.engine.onSamples([door(true, b.clock.now())]);
  await turn();
  t.match(b.events(), [{ rule: 'door', state: 'active' }], 'announced by the restarted box');
});

t.test('the alarm-state.json of 0.2.0 is taken over into the journal once', async (t) => {
  const dir = tempDir(t, 'cityedge-alarms-');
  writeFileSync(join(dir, 'alarm-state.json'), JSON.stringify({ version: 1, alarms: { door: { state: 'active', active: true, since: 999_000 } } }));
  const a = diskBox(t, dir);
  t.match(stateOf(a, 'door'), { state: 'active', active: true }, 'restored from the file');
  t.notOk(existsSync(join(dir, 'alarm-state.json')), 'the file is renamed aside');
  t.ok(existsSync(join(dir, 'alarm-state.json.imported')));
  a.engine.onSamples([door(false, a.clock.now())]);
  await turn();
  t.match(a.events(), [{ rule: 'door', state: 'rtn_unack' }]);

  const b = restartFrom(t, a);
  b.events(); // what the killed box had not had acknowledged is sent again (at least once): not at issue here
  t.match(stateOf(b, 'door'), { state: 'rtn_unack', active: false }, 'from then on the journal has them');
  t.same([...a.errors, ...b.errors], []);
});

t.test('a damaged alarm-state.json is said and the box starts from normal', async (t) => {
  const dir = tempDir(t, 'cityedge-alarms-');
  writeFileSync(join(dir, 'alarm-state.json'), '{"version":1,"alarms":{"door":');
  const a = diskBox(t, dir);
  t.match(stateOf(a, 'door'), { state: 'normal' });
  t.equal(a.errors.length, 1, 'one error for the log');
});

const commConfig = plcConfig({
  tags: ['{ name: level, address: "ir:0", type: uint16 }', '{ name: heartbeat, address: "hr:0", type: uint16 }'],
  alarms: ['{ id: comm, device: plc1, comm_loss_s: 10, severity: critical }', '{ id: hb, tag: plc1.heartbeat, stale_s: 5, severity: major }'],
});

t.test('communication loss of a device, and a heartbeat that stops', async (t) => {
  const { engine, clock, events } = alarmHarness(commConfig);
  const scan = (hb: number | null) => engine.onSamples(['level', 'heartbeat'].map((n) => (
    hb === null ? { tag: `plc1.${n}`, value: null, quality: 'bad' as const, ts: clock.now() } : { tag: `plc1.${n}`, value: n === 'heartbeat' ? hb : 1, quality: 'good' as const, ts: clock.now() })));

  for (let i = 0; i < 10; i++) { scan(i); await clock.advance(1000); engine.tick(); }
  t.same(events(), [], 'a ticking heartbeat and an answering device raise nothing');

  for (let i = 0; i < 6; i++) { scan(9); await clock.advance(1000); engine.tick(); }
  t.match(events(), [{ rule: 'hb', state: 'active', tag: 'heartbeat', value: 9, limit: 5 }], 'the heartbeat stood still for 5 s: the PLC program hangs');

  for (let i = 0; i < 9; i++) { scan(null); await clock.advance(1000); engine.tick(); }
  t.same(events(), [], 'not answering for 9 s: nothing yet, and the stale rule does not judge bad readings');
  scan(null); await clock.advance(1000); engine.tick();
  t.match(events(), [{ rule: 'comm', state: 'active', device: 'plc1', tag: null, value: null, limit: 10 }], 'silent for 10 s: communication loss');

  scan(10);
  t.match(events(), [{ rule: 'comm', state: 'rtn_unack' }, { rule: 'hb', state: 'rtn_unack' }], 'it answers again, its heartbeat moving');
});
