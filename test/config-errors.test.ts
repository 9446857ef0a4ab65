// Every malformed file is refused with the file, the line and the key a technician must fix.
// Each fixture states what it expects on its first line: `# expect LINE KEY | words`.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../config/loader.ts';

const dir = join(import.meta.dirname, 'fixtures', 'bad-config');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

t.ok(files.length >= 10, 'at least ten malformed files');

for (const f of files) {
  t.test(f, async (t) => {
    const path = join(dir, f);
    const head = readFileSync(path, 'utf8').split('\n')[0]!;
    const m = /^# expect (\d+) (\S+) \| (.+)$/.exec(head);
    if (!m) throw new Error(`${f}: first line must be "# expect LINE KEY | words"`);
    const [, line, key, words] = m;
    let err: unknown;
    try { loadConfig(path); } catch (e) { err = e; }
    t.type(err, ConfigError, 'refused');
    const ce = err as ConfigError;
    const issue = ce.issues.find((i) => i.key === key);
    t.ok(issue, `an issue names ${key} (got ${ce.issues.map((i) => `${i.line}:${i.key}`).join(', ')})`);
    t.equal(issue?.line, Number(line), 'on the right line');
    t.match(issue?.message ?? '', new RegExp(words!, 'i'), 'says what is wrong');
    t.match(ce.message, new RegExp(`${f.replace('.', '\\.')}:${line}:\\d+: `), 'the message starts with file:line:col');
    t.equal(ce.code, f.includes('yaml-syntax') ? 'CE_ERR_CONFIG_YAML' : 'CE_ERR_CONFIG_INVALID');
  });
}

t.test('an unknown key gets a did-you-mean hint', async (t) => {
  try { loadConfig(join(dir, '01-unknown-key.yaml')); t.fail('accepted'); } catch (e) {
    t.match((e as ConfigError).issues[0]?.hint, /did you mean "poll_ms"/);
  }
});

t.test('a missing file is refused with CE_ERR_CONFIG_READ', async (t) => {
  t.throws(() => loadConfig(join(dir, 'no-such.yaml')), { code: 'CE_ERR_CONFIG_READ' });
});
