// The alarm engine in fake time, past the basic lifecycle: rate of change, conditions over several
// tags, suppression by design, shelving with its expiry, out of service, flood and chatter, and
// tuning (validation, all-or-nothing, version, kept across a restart).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlarmEngine } from '../gateway/alarms/engine.ts';
import { FileOverrideStore } from '../gateway/alarms/overrides.ts';
import { FakeClock } from '../gateway/model/clock.ts';
import type { Sample } from '../gateway/model/index.ts';
import { alarmHarness, plcConfig, type HarnessOptions } from './helpers/alarm-harness.ts';
import { parseConfig } from '../config/loader.ts';

const config = plcConfig({
  site: '{ id: ps1, grid: "330105001002101" }',
  tags: [
    '{ name: level, address: "ir:0", type: uint16, scale: 0.01 }',
    '{ name: flow, address: "ir:1", type: uint16 }',
    '{ name: pump1_run, address: "di:0", type: bool }',
    '{ name: pump1_cmd, address: "co:0", type: bool }',
    '{ name: door, address: "di:1", type: bool }',
  ],
  alarms: [
    '{ id: level_h, tag: plc1.level, above: 4.0, deadband: 0.1, severity: major }',
    '{ id: level_hh, tag: plc1.level, above: 4.5, deadband: 0.1, severity: critical }',
    '{ id: level_l, tag: plc1.level, below: 1.0, severity: minor }',
    '{ id: rising, tag: plc1.level, rise_per_min: 0.3, rate_window_s: 60, severity: major }',
    '{ id: dry_run, when: "plc1.pump1_run and plc1.flow < 5", delay_on_s: 30, severity: major, message: 1# 泵干转 }',
    '{ id: fail_start, when: "plc1.pump1_cmd and not plc1.pump1_run", delay_on_s: 20, severity: major }',
    '{ id: low_flow, tag: plc1.flow, below: 5, severity: warning, suppress_when: "not plc1.pump1_run" }',
    '{ id: door, tag: plc1.door, equals: true, severity: warning, shelve_max_s: 3600 }',
  ],
});

function setup(o: HarnessOptions = {}) {
  const h = alarmHarness(config, o);
  const { engine, clock } = h;
  const scan = (values: Record<string, number | boolean>) => engine.onSamples(
    Object.entries(values).map(([tag, value]): Sample => ({ tag: `plc1.${tag}`, value, quality: 'good', ts: clock.now() })));
  /** Scans every second for `s` seconds, ticking between. */
  const run = async (s: number, values: Record<string, number | boolean> | ((i: number) => Record<string, number | boolean>)) => {
    for (let i = 0; i < s; i++) {
      scan(typeof values === 'function' ? values(i) : values);
      await clock.advance(1000);
      engine.tick();
    }
  };
  return { ...h, scan, run };
}

const who = { user: 'engineer-li', source: 'test' };
const state = (e: AlarmEngine, rule: string) => e.states().find((s) => s.rule === rule)!.state;

t.test('rate of change: a level rising 0.5 m/min, judged over its window', async (t) => {
  const { events, run } = setup();
  await run(120, { level: 2.0 });
  t.same(events(), [], 'a still level');
  await run(20, (i) => ({ level: 2.0 + (i % 2) * 0.05 }));
  t.same(events(), [], 'ripple between polls is not a rate');
  await run(40, (i) => ({ level: 2.0 + (0.5 / 60) * i }));
  t.match(events(), [{ rule: 'rising', state: 'active', limit: 0.3 }], 'rising 0.5 m/min over the window: active');
  const ev = events();
  t.same(ev, [], 'read once');
  await run(90, { level: 2.33 });
  t.match(events(), [{ rule: 'rising', state: 'rtn_unack' }], 'the level stops rising: the rate falls back');
  t.ok(ev.length === 0);
});

t.test('a condition over several tags: dry run after 30 s, with the values that made it', async (t) => {
  const { events, run } = setup();
  await run(10, { pump1_run: false, pump1_cmd: false, flow: 0 });
  await run(29, { pump1_run: true, pump1_cmd: true, flow: 2 });
  t.same(events('dry_run'), [], 'not yet: 30 s on-delay');
  await run(2, { pump1_run: true, pump1_cmd: true, flow: 2 });
  t.match(events('dry_run'), [{ rule: 'dry_run', state: 'active', tag: null, device: 'plc1', limit: 'plc1.pump1_run and plc1.flow < 5', values: { 'plc1.pump1_run': true, 'plc1.flow': 2 }, message: '1# 泵干转' }]);
  await run(1, { pump1_run: true, pump1_cmd: true, flow: 80 });
  t.match(events('dry_run'), [{ rule: 'dry_run', state: 'rtn_unack' }], 'water flows');
});

t.test('fail to start: commanded, not running, for 20 s; a bad reading holds the state', async (t) => {
  const { engine, events, run, clock } = setup();
  await run(15, { pump1_cmd: true, pump1_run: false });
  engine.onSamples([{ tag: 'plc1.pump1_run', value: null, quality: 'bad', ts: clock.now() }]);
  await run(6, { pump1_cmd: true });
  t.match(events('fail_start'), [{ rule: 'fail_start', state: 'active' }], 'the bad reading did not restart or clear the delay');
});

t.test('suppression by design: low flow means nothing while the pump is meant to be off', async (t) => {
  const { engine, events, run } = setup();
  await run(3, { pump1_run: false, flow: 0 });
  t.equal(state(engine, 'low_flow'), 'suppressed');
  t.match(events(), [{ rule: 'low_flow', state: 'suppressed' }], 'the suppression is itself an event, and no alarm flashed before it');
  await run(3, { pump1_run: true, flow: 0 });
  t.match(events(), [{ rule: 'low_flow', state: 'active' }], 'the pump runs and the flow is low: back as its condition is');
  await run(3, { pump1_run: false, flow: 0 });
  t.match(events(), [{ rule: 'low_flow', state: 'suppressed' }]);
});

t.test('shelving: out of annunciation until the shelf ends, then back as the condition is', async (t) => {
  const { engine, events, run } = setup();
  await run(1, { door: true });
  t.match(events(), [{ rule: 'door', state: 'active' }]);
  t.throws(() => engine.shelve('door', 7200, who), { code: 'CE_ERR_CMD_INVALID', message: /at most 3600/ }, 'its shelve_max_s');
  t.throws(() => engine.shelve('door', 0, who), { code: 'CE_ERR_CMD_INVALID' });
  t.match(engine.shelve('door', 600, { ...who, comment: 'door switch broken, repair booked' }), { state: 'shelved', changed: true });
  const [shelved] = events();
  t.match(shelved, { rule: 'door', state: 'shelved', user: 'engineer-li', comment: 'door switch broken, repair booked' });
  t.ok(shelved!.shelved_until! > shelved!.t, 'the event says until when');
  await run(300, { door: false });
  await run(299, { door: true });
  t.same(events(), [], 'shelved: the door opening and closing is not announced');
  await run(2, { door: true });
  t.match(events(), [{ rule: 'door', state: 'active', user: 'system' }], 'after 600 s it is back, active because the door is open');
  t.equal(engine.unshelve('door', who).changed, false, 'nothing to unshelve now');
});

t.test('out of service and back', async (t) => {
  const { engine, events, run } = setup();
  t.match(engine.setInService('level_l', false, who), { state: 'out_of_service', changed: true });
  await run(3, { level: 0.5 });
  t.match(events(), [{ rule: 'level_l', state: 'out_of_service', user: 'engineer-li' }], 'a low level while out of service raises nothing');
  t.throws(() => engine.shelve('level_l', 60, who), { code: 'CE_ERR_CMD_INVALID' }, 'out of service cannot be shelved');
  engine.setInService('level_l', true, who);
  t.match(events(), [{ rule: 'level_l', state: 'active' }], 'back in service with the level still low: active at once');
});

t.test('a chattering alarm is flagged', async (t) => {
  const { engine, events, run } = setup();
  for (let i = 0; i < 4; i++) { await run(5, { door: true }); await run(5, { door: false }); }
  const ev = events().filter((e) => e.state === 'active');
  t.equal(ev.length, 4);
  t.notOk(ev[2]!.chattering, 'three times in a minute is not chatter yet');
  t.equal(ev[3]!.chattering, true, 'the fourth time within a minute is');
  t.equal(engine.states().find((s) => s.rule === 'door')!.chattering, true);
  await run(61, { door: false });
  t.equal(engine.states().find((s) => s.rule === 'door')!.chattering, false, 'the flag drops when it quiets down');
});

const floodConfig = plcConfig({
  tags: Array.from({ length: 12 }, (_, i) => `{ name: b${i}, address: "di:${i}", type: bool }`),
  alarms: Array.from({ length: 12 }, (_, i) => `{ id: a${i}, tag: plc1.b${i}, equals: true, severity: ${i === 11 ? 'critical' : 'minor'} }`),
});

t.test('a flood: one summary instead of a storm; critical alarms still one by one; every state exact', async (t) => {
  const { engine, clock, events, history } = alarmHarness(floodConfig);
  const raise = (i: number) => engine.onSamples([{ tag: `plc1.b${i}`, value: true, quality: 'good', ts: clock.now() }]);
  for (let i = 0; i < 10; i++) { raise(i); await clock.advance(10_000); }
  t.equal(events().length, 10, 'ten new alarms in 10 minutes: each announced');
  raise(10);
  const flood = events();
  t.match(flood, [{ rule: '@flood', state: 'active', value: 11, limit: 10, severity: 'critical' }], 'the eleventh starts the flood: one event, not the alarm');
  t.equal(flood[0]!.summary!.length, 11, 'the flood event lists what is standing');
  raise(11);
  t.match(events(), [{ rule: 'a11', state: 'active', severity: 'critical' }], 'a critical alarm is still announced on its own');
  engine.onSamples([{ tag: 'plc1.b3', value: false, quality: 'good', ts: clock.now() }]);
  t.same(events(), [], 'a minor alarm returning during the flood waits for the summary');
  t.equal(engine.states().find((s) => s.rule === 'a3')!.state, 'rtn_unack', 'its state is exact meanwhile');
  t.ok(history.recent(100).some((e) => e.rule === 'a3' && e.state === 'rtn_unack'), 'and the local history has it');
  t.equal(engine.flooding, true);
  await clock.advance(10 * 60_000);
  engine.tick();
  const end = events();
  t.match(end, [{ rule: '@flood', state: 'normal' }], 'the flood ebbs: one closing event');
  t.match(end[0]!.summary, [{ rule: 'a10', state: 'active', events: 1 }, { rule: 'a3', state: 'rtn_unack', events: 1 }], 'with what was held back');
  raise(0);
  t.same(events(), [], 'a0 is still active: nothing new');
});

t.test('tuning: validated, all or nothing, versioned, and kept across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-tune-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const overrides = new FileOverrideStore(dir, (e) => t.fail(e.message));
  const clock = new FakeClock(1_000_000);
  const a = setup({ overrides, clock });
  t.equal(a.engine.version, 0);

  t.throws(() => a.engine.tune([{ rule: 'level_h', set: { above: 4.6 } }], who), { code: 'CE_ERR_CMD_INVALID', message: /level_h \(4\.6\) must stay below level_hh \(4\.5\)/ }, 'H above HH is refused');
  t.throws(() => a.engine.tune([{ rule: 'level_l', set: { below: 4.2 } }], who), { code: 'CE_ERR_CMD_INVALID', message: /level_l .* must stay below level_h/ }, 'L above H too');
  t.throws(() => a.engine.tune([{ rule: 'level_hh', set: { below: 3 } }], who), { code: 'CE_ERR_CMD_INVALID', message: /would change its kind/ });
  t.throws(() => a.engine.tune([{ rule: 'level_hh', set: { deadband: -1 } }], who), { code: 'CE_ERR_CMD_INVALID', message: /deadband -1/ });
  t.throws(() => a.engine.tune([{ rule: 'level_hh', set: { above: '5' } }], who), { code: 'CE_ERR_CMD_INVALID', message: /must be a number/ });
  t.throws(() => a.engine.tune([{ rule: 'nope', set: { above: 5 } }], who), { code: 'CE_ERR_CMD_NO_RULE' });
  t.throws(() => a.engine.tune([{ rule: 'door', set: { equals: 1 } }], who), { code: 'CE_ERR_CMD_INVALID', message: /boolean/ });
  t.throws(() => a.engine.tune([{ rule: 'level_hh', set: { above: 4.8 } }, { rule: 'level_h', set: { above: 4.9 } }], who), { code: 'CE_ERR_CMD_INVALID' }, 'a pair that crosses is refused whole');
  t.equal(a.engine.version, 0, 'nothing refused raised the version');
  t.match(a.engine.states().find((s) => s.rule === 'level_hh')!.settings, { above: 4.5 }, 'nor changed a limit');

  const r = a.engine.tune([{ rule: 'level_hh', set: { above: 4.9, deadband: 0.2 } }, { rule: 'level_h', set: { above: 4.6, delay_on_s: 10 } }], who);
  t.match(r, { version: 1, rules: [{ rule: 'level_hh', old: { above: 4.5, deadband: 0.1 }, new: { above: 4.9, deadband: 0.2 } }, { rule: 'level_h', old: { above: 4 }, new: { above: 4.6, delay_on_s: 10 } }] });
  t.throws(() => a.engine.tune([{ rule: 'level_h', set: { above: 4.7 } }], who, 0), { code: 'CE_ERR_CMD_CONFLICT' }, 'a change made against an old version');

  await a.run(3, { level: 4.7 });
  t.same(a.events().filter((e) => e.rule === 'level_hh'), [], '4.7 is below the new HH');
  const saved = JSON.parse(readFileSync(join(dir, 'alarm-overrides.json'), 'utf8'));
  t.match(saved, { version: 1, rules: { level_hh: { above: 4.9, deadband: 0.2 }, level_h: { above: 4.6, delay_on_s: 10 } }, updated: { user: 'engineer-li', source: 'test' } });

  // Restart: the tuned limits are in force.
  const b = setup({ overrides: new FileOverrideStore(dir, (e) => t.fail(e.message)), clock });
  t.equal(b.engine.version, 1);
  t.match(b.engine.states().find((s) => s.rule === 'level_hh')!.settings, { above: 4.9, deadband: 0.2 });
  t.match(b.engine.states().find((s) => s.rule === 'level_h')!.settings, { above: 4.6, delay_on_s: 10 }, 'H above the configured HH: it fits only with the tuned HH, and both are back');
  // Tuned back to the configuration: the override goes.
  t.throws(() => b.engine.tune([{ rule: 'level_hh', set: { above: 4.5 } }], who, 1), { code: 'CE_ERR_CMD_INVALID' }, 'HH under the tuned H');
  b.engine.tune([{ rule: 'level_hh', set: { above: 4.5, deadband: 0.1 } }, { rule: 'level_h', set: { above: 4 } }], who, 1);
  t.same(JSON.parse(readFileSync(join(dir, 'alarm-overrides.json'), 'utf8')).rules, { level_h: { delay_on_s: 10 } }, 'what matches the configuration again is no override');
});

t.test('a limit lowered under the standing value raises the alarm without waiting for a change', async (t) => {
  const { engine, events, run } = setup();
  await run(2, { level: 3.0 });
  engine.tune([{ rule: 'level_h', set: { above: 2.8 } }], who);
  t.match(events(), [{ rule: 'level_h', state: 'active', value: 3, limit: 2.8 }]);
});

t.test('case codes: the rule\'s own, else its device\'s, else the site\'s', async (t) => {
  const codes = plcConfig({
    site: '{ id: ps1, grid: "330105001002101" }',
    plc: '    grid: "330105001002999"\n    component: "3301050160000012"\n',
    tags: ['{ name: door, address: "di:0", type: bool }', '{ name: cover, address: "di:1", type: bool }'],
    alarms: [
      '{ id: door, tag: plc1.door, equals: true }',
      '{ id: cover, tag: plc1.cover, equals: true, component: "3301050204000077", grid: "330105001002555", event_type: "0105" }',
    ],
  });
  const { engine, events, clock } = alarmHarness(codes);
  engine.onSamples([{ tag: 'plc1.door', value: true, quality: 'good', ts: clock.now() }, { tag: 'plc1.cover', value: true, quality: 'good', ts: clock.now() }]);
  t.match(events(), [
    { rule: 'door', component: '3301050160000012', grid: '330105001002999', event_type: null },
    { rule: 'cover', component: '3301050204000077', grid: '330105001002555', event_type: '0105' },
  ]);
});

t.test('one chattering rule is chatter, not a flood', async (t) => {
  const { engine, events, run } = setup();
  for (let i = 0; i < 15; i++) { await run(2, { door: true }); await run(2, { door: false }); }
  t.equal(engine.flooding, false, 'fifteen returns of one alarm hold back no other alarm');
  t.notOk(events().some((e) => e.rule === '@flood'));
  t.equal(engine.states().find((s) => s.rule === 'door')!.chattering, true, 'it is flagged as chattering instead');
});

t.test('the states of the rules that changed go to the store on the turn of their events, once per scan, only those', async (t) => {
  const saves: { rules: string[]; flood: boolean }[] = [];
  const store = { load: () => ({ alarms: {} }), save: (changed: Record<string, unknown>, flood: boolean) => { saves.push({ rules: Object.keys(changed), flood }); } };
  const { engine, clock, events } = alarmHarness(config, { store });
  engine.onSamples([{ tag: 'plc1.door', value: true, quality: 'good', ts: clock.now() }]);
  t.same(saves, [{ rules: ['door'], flood: false }], 'at once, in the scan that raised it: the journal commits it with the event');
  t.match(events(), [{ rule: 'door', state: 'active' }]);
  engine.onSamples([{ tag: 'plc1.door', value: true, quality: 'good', ts: clock.now() }]);
  t.equal(saves.length, 1, 'a scan that changes nothing saves nothing');
  engine.ack('door', who);
  t.same(saves.at(-1), { rules: ['door'], flood: false }, 'an acknowledgement too');
  for (let i = 0; i < 10; i++) engine.onSamples([{ tag: 'plc1.door', value: i % 2 === 1, quality: 'good', ts: clock.now() }]);
  t.equal(saves.length, 12, 'one save per scan with a transition');
  t.ok(saves.every((s) => s.rules.length === 1 && s.rules[0] === 'door'), 'each with only the rule that changed');
  engine.flush();
  t.equal(saves.length, 12, 'flush has nothing left to hand over');
});

t.test('a rule template: one rule for every matching tag of a device', async (t) => {
  const lot = parseConfig(`
site: { id: s1 }
broker: { port: 0 }
devices:
  - id: lot-b
    driver: lorawan
    codec: cityedge-parking-v1
    sensors: [ { name: bay1, dev_eui: "00000000000000b1" }, { name: bay2, dev_eui: "00000000000000b2" } ]
alarms:
  - { id: bay_silent, tag: "lot-b.*_online", equals: false, severity: minor, message: 车位检测器离线 }
`, 'lot.yaml');
  const { engine, events, clock } = alarmHarness(lot);
  t.same(engine.states().map((s) => s.rule), ['bay_silent@bay1_online', 'bay_silent@bay2_online'], 'one rule per sensor');
  engine.onSamples([{ tag: 'lot-b.bay2_online', value: false, quality: 'good', ts: clock.now() }]);
  t.match(events(), [{ rule: 'bay_silent@bay2_online', device: 'lot-b', tag: 'bay2_online', state: 'active', message: '车位检测器离线' }]);
  t.equal(engine.ack('bay_silent@bay2_online', who).changed, true, 'each acknowledged on its own');
  t.throws(() => parseConfig(`
site: { id: s1 }
broker: { port: 0 }
devices:
  - { id: lot-b, driver: lorawan, codec: cityedge-parking-v1, sensors: [ { name: bay1, dev_eui: "00000000000000b1" } ] }
alarms:
  - { id: bay_silent, tag: "lot-b.*_offline", equals: true }
`, 'lot.yaml'), /no tag of device "lot-b" matches "\*_offline"/, 'a template that matches nothing is refused at load');
});
