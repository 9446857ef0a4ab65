// The command door, without a broker: every kind of bad command gets a coded reason, changes
// nothing and is audited; good ones are applied once even when the platform sends them twice.
import t from 'tap';
import { createCommandHandler, type AuditEntry } from '../gateway/commands/dispatch.ts';
import { MemoryRecordLog } from '../gateway/store/files.ts';
import { silentLogger } from '../gateway/model/logger.ts';
import { CodedError, CommandVerbs } from '../gateway/model/index.ts';
import { alarmHarness, plcConfig } from './helpers/alarm-harness.ts';

const config = plcConfig({
  tags: ['{ name: level, address: "ir:0", type: uint16, scale: 0.01 }'],
  alarms: ['{ id: level_h, tag: plc1.level, above: 4.0, deadband: 0.1, severity: major }', '{ id: level_hh, tag: plc1.level, above: 4.5, deadband: 0.1, severity: critical }'],
});

function setup() {
  const { engine, clock } = alarmHarness(config);
  const audit = new MemoryRecordLog<AuditEntry>();
  const cmd = createCommandHandler({ engine, audit, clock, logger: silentLogger });
  const platform = { source: 'mqtt:city', allowed: CommandVerbs };
  const send = async (verb: string, body: unknown, from: { source: string; allowed: readonly string[]; user?: string } = platform) =>
    cmd.handle(verb, typeof body === 'string' ? body : JSON.stringify(body), from);
  return { engine, audit, cmd, send, clock };
}

t.test('bad commands: a clear reason each, nothing changed, each counted and audited', async (t) => {
  const { engine, audit, cmd, send } = setup();
  const refused = async (verb: string, body: unknown, code: string, message: RegExp, from?: { source: string; allowed: readonly string[] }) => {
    const r = await send(verb, body, from);
    t.match(r, { verb, ok: false, error: { code, message } }, `${verb} ${typeof body === 'string' ? body.slice(0, 30) : JSON.stringify(body)}: ${code}`);
    t.notOk('result' in r);
    return r;
  };
  t.equal((await refused('set-alarm', '{"rule": "level_hh", "above": 5', 'CE_ERR_CMD_MALFORMED', /JSON|Expected/)).id, null, 'unreadable: no id to echo');
  await refused('set-alarm', '[1,2]', 'CE_ERR_CMD_MALFORMED', /a list/);
  await refused('set-alarm', 'x'.repeat(70_000), 'CE_ERR_CMD_MALFORMED', /at most 65536/);
  await refused('reboot', { id: 'r1', user: 'li' }, 'CE_ERR_CMD_UNKNOWN', /"reboot"; the verbs are set-alarm/);
  await refused('set-alarm', { id: 'r2', rule: 'level_hh', above: 5 }, 'CE_ERR_CMD_INVALID', /user .* is required/);
  await refused('set-alarm', { id: 'r3', user: 'li', rule: 'level_hh', above: 5 }, 'CE_ERR_CMD_FORBIDDEN', /mqtt:district may not set-alarm/, { source: 'mqtt:district', allowed: ['ack-alarm'] });
  await refused('set-alarm', { id: 'r4', user: 'li', rule: 'nope', above: 5 }, 'CE_ERR_CMD_NO_RULE', /"nope"/);
  await refused('set-alarm', { id: 'r5', user: 'li', rule: 'level_hh', above: 3.9 }, 'CE_ERR_CMD_INVALID', /level_h \(4\) must stay below level_hh \(3\.9\)/);
  await refused('set-alarm', { id: 'r6', user: 'li', rule: 'level_hh', above: 'high' }, 'CE_ERR_CMD_INVALID', /must be a number/);
  await refused('set-alarm', { id: 'r7', user: 'li', rule: 'level_hh', scale: 2 }, 'CE_ERR_CMD_INVALID', /scale cannot be tuned/);
  await refused('set-alarm', { id: 'r8', user: 'li', rule: 'level_hh' }, 'CE_ERR_CMD_INVALID', /nothing to change/);
  await refused('set-alarm', { id: 'r9', user: 'li', rule: 'level_hh', above: 5, version: 7 }, 'CE_ERR_CMD_CONFLICT', /version 7; it is 0/);
  await refused('shelve-alarm', { id: 'r10', user: 'li', rule: 'level_hh' }, 'CE_ERR_CMD_INVALID', /duration_s/);
  await refused('ack-alarm', { id: 'r11', user: 'li' }, 'CE_ERR_CMD_INVALID', /rule .* is required/);
  await refused('ack-alarm', { id: 12, user: 'li', rule: 'level_hh' }, 'CE_ERR_CMD_MALFORMED', /id must be a string/);

  t.equal(engine.version, 0, 'no setting changed');
  t.match(engine.states().find((s) => s.rule === 'level_hh')!.settings, { above: 4.5, deadband: 0.1 });
  t.match(cmd.stats(), { accepted: 0, refused: 15 });
  const entries = audit.recent(100);
  t.equal(entries.length, 15, 'each refusal is in the audit log');
  t.match(entries.find((e) => e.id === 'r3'), { ok: false, user: 'li', source: 'mqtt:district', verb: 'set-alarm', rule: 'level_hh', error: { code: 'CE_ERR_CMD_FORBIDDEN' } }, 'who tried what, from where');
});

t.test('a good change: applied, replied, audited with old and new; a repeat is answered, not applied again', async (t) => {
  const { engine, audit, cmd, send } = setup();
  const body = { id: 'chg-1', user: 'engineer-li', comment: '雨季前调整', rules: [{ rule: 'level_hh', above: 4.8 }, { rule: 'level_h', above: 4.3, delay_on_s: 5 }], version: 0 };
  const r = await send('set-alarm', body);
  t.match(r, { id: 'chg-1', verb: 'set-alarm', ok: true, result: { version: 1, rules: [{ rule: 'level_hh', old: { above: 4.5 }, new: { above: 4.8 } }, { rule: 'level_h' }] } });
  t.match(audit.recent(1)[0], {
    ok: true, user: 'engineer-li', source: 'mqtt:city', verb: 'set-alarm', id: 'chg-1', version: 1, comment: '雨季前调整',
    old: { level_hh: { above: 4.5 }, level_h: { above: 4 } }, new: { level_hh: { above: 4.8 }, level_h: { above: 4.3, delay_on_s: 5 } },
  });
  const again = await send('set-alarm', body);
  t.same(again, r, 'the same reply');
  t.equal(engine.version, 1, 'not applied twice');
  t.match(cmd.stats(), { accepted: 1, duplicates: 1 });

  t.match(await send('ack-alarm', { id: 'a1', user: 'li', rule: 'level_hh' }), { ok: true, result: { rule: 'level_hh', state: 'normal', changed: false } }, 'nothing to acknowledge is no error');
  t.match(await send('disable-alarm', { id: 'd1', user: 'li', rule: 'level_hh' }), { ok: true, result: { state: 'out_of_service', changed: true } });
  t.match(await send('enable-alarm', { id: 'd2', user: 'li', rule: 'level_hh' }), { ok: true, result: { state: 'normal', changed: true } });
  t.match(await send('shelve-alarm', { id: 's1', user: 'li', rule: 'level_h', duration_s: 600 }), { ok: true, result: { state: 'shelved' } });
  t.match(await send('unshelve-alarm', { id: 's2', user: 'li', rule: 'level_h' }), { ok: true, result: { state: 'normal', changed: true } });
  t.match(audit.recent(1)[0], { verb: 'unshelve-alarm', rule: 'level_h', new: 'normal', user: 'li' });
});

t.test('a user the transport authenticated overrides the payload; ids are each sender\'s own', async (t) => {
  const { send, audit, engine } = setup();
  const r = await send('ack-alarm', { id: 'h1', user: 'someone-else', rule: 'level_h' }, { source: 'http', allowed: CommandVerbs, user: 'wang' });
  t.equal(r.ok, true);
  t.match(audit.recent(1)[0], { user: 'wang', source: 'http' });
  await send('set-alarm', { id: '1', rule: 'level_hh', above: 4.7 }, { source: 'http', allowed: CommandVerbs, user: 'wang' });
  const other = await send('set-alarm', { id: '1', rule: 'level_hh', above: 4.9 }, { source: 'http', allowed: CommandVerbs, user: 'li' });
  t.match(other, { ok: true, result: { version: 2 } }, 'li\'s "1" is not wang\'s "1"');
  t.equal(engine.states().find((s) => s.rule === 'level_hh')!.settings.above, 4.9);
});

t.test('write: checked, written, confirmed by read-back, audited; a device holding something else is a failure', async (t) => {
  const { engine, clock } = alarmHarness(config);
  const audit = new MemoryRecordLog<AuditEntry>();
  const held = new Map<string, number | boolean>([['loop1_on', false], ['loop1_dim', 100]]);
  const writers = new Map([['cab1', async (tag: string, value: number | boolean | string) => {
    if (tag === 'voltage') throw new CodedError('CE_ERR_WRITE_FORBIDDEN', 'cab1.voltage is not marked writable');
    // A controller that clamps dimming to 20 % at least.
    held.set(tag, tag === 'loop1_dim' ? Math.max(20, value as number) : value as boolean);
    return held.get(tag)!;
  }]]);
  const cmd = createCommandHandler({ engine, audit, clock, logger: silentLogger, writers });
  const from = { source: 'mqtt:city', allowed: CommandVerbs };
  const send = (body: unknown) => cmd.handle('write', JSON.stringify(body), from);
  t.match(await send({ id: 'w1', user: 'night-shift', device: 'cab1', tag: 'loop1_on', value: true }), { ok: true, result: { device: 'cab1', tag: 'loop1_on', value: true } });
  t.match(audit.recent(1)[0], { verb: 'write', ok: true, user: 'night-shift', rule: 'cab1.loop1_on', new: true });
  t.match(await send({ id: 'w2', user: 'night-shift', device: 'cab1', tag: 'loop1_dim', value: 10 }),
    { ok: false, error: { code: 'CE_ERR_WRITE_REFUSED', message: /wrote 10, the device holds 20/ } }, 'a clamped write is not reported as done');
  t.match(await send({ id: 'w3', user: 'x', device: 'cab1', tag: 'voltage', value: 1 }), { ok: false, error: { code: 'CE_ERR_WRITE_FORBIDDEN' } });
  t.match(await send({ id: 'w4', user: 'x', device: 'cab9', tag: 'loop1_on', value: true }), { ok: false, error: { code: 'CE_ERR_WRITE_FORBIDDEN', message: /no device "cab9"/ } });
  t.match(await send({ id: 'w5', user: 'x', device: 'cab1', tag: 'loop1_on' }), { ok: false, error: { code: 'CE_ERR_CMD_INVALID', message: /value/ } });
  t.match(audit.recent(1)[0], { verb: 'write', ok: false, rule: 'cab1.loop1_on', error: { code: 'CE_ERR_CMD_INVALID' } }, 'refusals audited with the tag');
});
