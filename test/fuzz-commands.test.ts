// Property tests of the command door shared by MQTT and HTTP (issue 9, fuzzing): random bytes, random
// JSON and random commands of the right shape with wrong values are each answered with a reply, never
// a throw; a refusal carries a registered CE_ERR_CMD_* code (CE_ERR_WRITE_* for writes) and a reason
// a technician can read, changes nothing, and the door still obeys a good command afterwards.
// Fixed seeds: a failure prints its seed and path, and `fc.assert(…, { seed, path })` replays it.
import t from 'tap';
import fc from 'fast-check';
import { createCommandHandler, type AuditEntry } from '../gateway/commands/dispatch.ts';
import { MemoryRecordLog } from '../gateway/store/files.ts';
import { silentLogger } from '../gateway/model/logger.ts';
import { CommandVerbs, ErrorCodes, type CommandReply } from '../gateway/model/index.ts';
import { alarmHarness, plcConfig } from './helpers/alarm-harness.ts';

const config = plcConfig({
  tags: ['{ name: level, address: "ir:0", type: uint16, scale: 0.01 }'],
  alarms: ['{ id: level_h, tag: plc1.level, above: 4.0, deadband: 0.1, severity: major }', '{ id: level_hh, tag: plc1.level, above: 4.5, deadband: 0.1, severity: critical }'],
});
const platform = { source: 'mqtt:city', allowed: CommandVerbs };

function setup() {
  const { engine, clock } = alarmHarness(config);
  const audit = new MemoryRecordLog<AuditEntry>();
  const cmd = createCommandHandler({ engine, audit, clock, logger: silentLogger });
  return { engine, audit, cmd };
}

/** Why a refusal would puzzle the technician reading it; '' when it is a proper one. */
function refusalFault(r: CommandReply, verb: string): string {
  if (r.ok) return 'accepted';
  const code = r.error?.code ?? '';
  if (!Object.hasOwn(ErrorCodes, code)) return `unregistered code ${code}`;
  if (!code.startsWith('CE_ERR_CMD_') && !(verb === 'write' && code.startsWith('CE_ERR_WRITE_'))) return `code ${code} for ${verb}`;
  const message = r.error?.message ?? '';
  if (message.trim() === '') return 'no reason given';
  // A JavaScript error turned into a reply means some input reached code that did not expect it.
  if (/Cannot read prop|is not a function|is not iterable|Cannot convert|Maximum call stack|\[object Object\]/.test(message)) return `internal error as reason: ${message}`;
  return '';
}

const verb = fc.oneof(fc.constantFrom(...CommandVerbs), fc.constantFrom('reboot', '__proto__', 'constructor', 'toString', ''), fc.string({ maxLength: 12 }));

t.test('random bytes and random JSON: a coded refusal every time, nothing changed', async (t) => {
  const { engine, cmd } = setup();
  const payload = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 300 }),
    // Any JSON that is not an object of the right shape: lists, scalars, objects without a user.
    fc.jsonValue({ maxDepth: 4 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v) || !('user' in v)).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 60 }).map((s) => `{"user": "li", "rule": "level_hh", "above": ${s}`), // cut short
  );
  let runs = 0;
  await fc.assert(fc.asyncProperty(verb, payload, async (v, p) => {
    runs++;
    const fault = refusalFault(await cmd.handle(v, p, platform), v);
    if (fault) throw new Error(fault);
  }), { seed: 9401, numRuns: 5000 });
  t.equal(engine.version, 0, `${runs} refusals: no alarm setting changed`);
  t.match(cmd.stats(), { accepted: 0, refused: runs }, 'each one counted as refused');
});

/** Field values of every kind, weighted toward the ones a check may miss. */
const anyValue = fc.oneof(
  fc.constantFrom(null, true, false, 0, -0, -1, 1e308, -1e308, 2 ** 53, 4.6, 5, '', ' ', '4.6', 'level_hh', 'level_h', 'plc1', 'level', '__proto__', 'constructor'),
  fc.double(), fc.integer(), fc.string({ maxLength: 10 }), fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 1, maxKeys: 3 }),
);
const FIELDS = ['id', 'user', 'comment', 'version', 'rule', 'rules', 'duration_s', 'above', 'below', 'deadband', 'delay_on_s', 'delay_off_s', 'severity', 'device', 'tag', 'value', 'scale', 'equals', '__proto__'];
/** Half of them name a real rule, so the verbs' own checks (and the engine's) are reached, not only the rule lookup. */
const body = fc.tuple(fc.dictionary(fc.constantFrom(...FIELDS), anyValue, { maxKeys: 7 }), fc.option(fc.constantFrom('level_h', 'level_hh'), { nil: undefined }))
  .map(([o, rule]) => ({ user: 'li', ...o, ...(rule ? { rule } : {}) }));

t.test('random commands of the right shape: answered, coded when refused, and the door keeps working', async (t) => {
  const { engine, cmd, audit } = setup();
  let refused = 0;
  let accepted = 0;
  await fc.assert(fc.asyncProperty(verb, body, fc.boolean(), async (v, b, asBuffer) => {
    const text = JSON.stringify(b);
    const duplicates = cmd.stats().duplicates;
    const r = await cmd.handle(v, asBuffer ? Buffer.from(text) : text, platform);
    if (r.ok) { accepted++; return; }
    refused++;
    const fault = refusalFault(r, v);
    if (fault) throw new Error(`${fault} (${v} ${text})`);
    // The technician's audit log records the refusal with the same code the sender got (a
    // repeated id is answered from memory and audited once, the first time).
    if (cmd.stats().duplicates > duplicates) return;
    const last = audit.recent(1)[0];
    if (last?.ok !== false || last.error?.code !== r.error?.code) throw new Error('refusal not audited');
  }), { seed: 9402, numRuns: 4000 });
  // Every alarm still has settings the engine can evaluate, and a good command still gets through.
  for (const s of engine.states()) t.ok(s.settings !== null && typeof s.settings === 'object', `${s.rule} still has settings`);
  const good = await cmd.handle('set-alarm', JSON.stringify({ id: 'after-the-storm', user: 'li', rules: [{ rule: 'level_h', above: 1 }, { rule: 'level_hh', above: 2 }] }), platform);
  t.match(good, { ok: true }, `after ${accepted} accepted and ${refused} refused random commands, a good one is obeyed`);
  t.ok(refused > 1000, `${refused} refusals checked`);
});
