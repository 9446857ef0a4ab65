// The command door, without a broker: every kind of bad command gets a coded reason, changes
// nothing and is audited; good ones are applied once even when the platform sends them twice.
import t from 'tap';
import { createCommandHandler, type AuditEntry } from '../gateway/commands/dispatch.ts';
import { MemoryRecordLog } from '../gateway/store/files.ts';
import { silentLogger } from '../gateway/model/logger.ts';
import { CommandVerbs } from '../gateway/model/index.ts';
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
  const send = (verb: string, body: unknown, from: { source: string; allowed: readonly string[]; user?: string } = platform) =>
    cmd.handle(verb, typeof body === 'string' ? body : JSON.stringify(body), from);
  return { engine, audit, cmd, send, clock };
}

t.test('bad commands: a clear reason each, nothing changed, each counted and audited', async (t) => {
  const { engine, audit, cmd, send } = setup();
  const refused = (verb: string, body: unknown, code: string, message: RegExp, from?: { source: string; allowed: readonly string[] }) => {
    const r = send(verb, body, from);
    t.match(r, { verb, ok: false, error: { code, message } }, `${verb} ${typeof body === 'string' ? body.slice(0, 30) : JSON.stringify(body)}: ${code}`);
    t.notOk('result' in r);
    return r;
  };
  t.equal(refused('set-alarm', '{"rule": "level_hh", "above": 5', 'CE_ERR_CMD_MALFORMED', /JSON|Expected/).id, null, 'unreadable: no id to echo');
  refused('set-alarm', '[1,2]', 'CE_ERR_CMD_MALFORMED', /a list/);
  refused('set-alarm', 'x'.repeat(70_000), 'CE_ERR_CMD_MALFORMED', /at most 65536/);
  refused('reboot', { id: 'r1', user: 'li' }, 'CE_ERR_CMD_UNKNOWN', /"reboot"; the verbs are set-alarm/);
  refused('set-alarm', { id: 'r2', rule: 'level_hh', above: 5 }, 'CE_ERR_CMD_INVALID', /user .* is required/);
  refused('set-alarm', { id: 'r3', user: 'li', rule: 'level_hh', above: 5 }, 'CE_ERR_CMD_FORBIDDEN', /mqtt:district may not set-alarm/, { source: 'mqtt:district', allowed: ['ack-alarm'] });
  refused('set-alarm', { id: 'r4', user: 'li', rule: 'nope', above: 5 }, 'CE_ERR_CMD_NO_RULE', /"nope"/);
  refused('set-alarm', { id: 'r5', user: 'li', rule: 'level_hh', above: 3.9 }, 'CE_ERR_CMD_INVALID', /level_h \(4\) must stay below level_hh \(3\.9\)/);
  refused('set-alarm', { id: 'r6', user: 'li', rule: 'level_hh', above: 'high' }, 'CE_ERR_CMD_INVALID', /must be a number/);
  refused('set-alarm', { id: 'r7', user: 'li', rule: 'level_hh', scale: 2 }, 'CE_ERR_CMD_INVALID', /scale cannot be tuned/);
  refused('set-alarm', { id: 'r8', user: 'li', rule: 'level_hh' }, 'CE_ERR_CMD_INVALID', /nothing to change/);
  refused('set-alarm', { id: 'r9', user: 'li', rule: 'level_hh', above: 5, version: 7 }, 'CE_ERR_CMD_CONFLICT', /version 7; it is 0/);
  refused('shelve-alarm', { id: 'r10', user: 'li', rule: 'level_hh' }, 'CE_ERR_CMD_INVALID', /duration_s/);
  refused('ack-alarm', { id: 'r11', user: 'li' }, 'CE_ERR_CMD_INVALID', /rule .* is required/);
  refused('ack-alarm', { id: 12, user: 'li', rule: 'level_hh' }, 'CE_ERR_CMD_MALFORMED', /id must be a string/);

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
  const r = send('set-alarm', body);
  t.match(r, { id: 'chg-1', verb: 'set-alarm', ok: true, result: { version: 1, rules: [{ rule: 'level_hh', old: { above: 4.5 }, new: { above: 4.8 } }, { rule: 'level_h' }] } });
  t.match(audit.recent(1)[0], {
    ok: true, user: 'engineer-li', source: 'mqtt:city', verb: 'set-alarm', id: 'chg-1', version: 1, comment: '雨季前调整',
    old: { level_hh: { above: 4.5 }, level_h: { above: 4 } }, new: { level_hh: { above: 4.8 }, level_h: { above: 4.3, delay_on_s: 5 } },
  });
  const again = send('set-alarm', body);
  t.same(again, r, 'the same reply');
  t.equal(engine.version, 1, 'not applied twice');
  t.match(cmd.stats(), { accepted: 1, duplicates: 1 });

  t.match(send('ack-alarm', { id: 'a1', user: 'li', rule: 'level_hh' }), { ok: true, result: { rule: 'level_hh', state: 'normal', changed: false } }, 'nothing to acknowledge is no error');
  t.match(send('disable-alarm', { id: 'd1', user: 'li', rule: 'level_hh' }), { ok: true, result: { state: 'out_of_service', changed: true } });
  t.match(send('enable-alarm', { id: 'd2', user: 'li', rule: 'level_hh' }), { ok: true, result: { state: 'normal', changed: true } });
  t.match(send('shelve-alarm', { id: 's1', user: 'li', rule: 'level_h', duration_s: 600 }), { ok: true, result: { state: 'shelved' } });
  t.match(send('unshelve-alarm', { id: 's2', user: 'li', rule: 'level_h' }), { ok: true, result: { state: 'normal', changed: true } });
  t.match(audit.recent(1)[0], { verb: 'unshelve-alarm', rule: 'level_h', new: 'normal', user: 'li' });
});

t.test('a user the transport authenticated overrides the payload; ids are each sender\'s own', async (t) => {
  const { send, audit, engine } = setup();
  const r = send('ack-alarm', { id: 'h1', user: 'someone-else', rule: 'level_h' }, { source: 'http', allowed: CommandVerbs, user: 'wang' });
  t.equal(r.ok, true);
  t.match(audit.recent(1)[0], { user: 'wang', source: 'http' });
  send('set-alarm', { id: '1', rule: 'level_hh', above: 4.7 }, { source: 'http', allowed: CommandVerbs, user: 'wang' });
  const other = send('set-alarm', { id: '1', rule: 'level_hh', above: 4.9 }, { source: 'http', allowed: CommandVerbs, user: 'li' });
  t.match(other, { ok: true, result: { version: 2 } }, 'li\'s "1" is not wang\'s "1"');
  t.equal(engine.states().find((s) => s.rule === 'level_hh')!.settings.above, 4.9);
});
