// `cityedge passwd --config FILE --user NAME`: sets or changes a console user's password in an
// existing configuration. The file is the technician's: its comments and layout are kept. When the
// user already has a password_hash (or a role) only that value's text is replaced; anything else
// (a new user, a first password) goes through the `yaml` Document API, which keeps the comments.
// The result must load, and replaces the file atomically with its mode and owner.
import { readFile, stat } from 'node:fs/promises';
import { isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { parseConfig, ConfigError } from '../../config/loader.ts';
import { ApiRoles } from '../../config/vocabulary.ts';
import type { ApiRole } from '../../config/schema.ts';
import { hashPassword, passwordProblem } from '../console/password.ts';
import { parse, UsageError } from './args.ts';
import { refuseSecretsOnArgv, secretFromEnv, secretFromFile, writeFileAtomic } from './provision-files.ts';
import { askNewSecret, openPrompter, PromptClosed } from './provision-prompt.ts';

const USAGE = 'usage: cityedge passwd --config FILE --user NAME [--role admin|engineer|viewer] [--password-file F | --password-env VAR] [--interactive]';

type Path = (string | number)[];

export async function main(argv: string[]): Promise<number> {
  refuseSecretsOnArgv(argv, 'use --password-file F, --password-env VAR, or answer the prompt');
  const { values } = parse(argv, {
    config: { type: 'string', short: 'c' },
    user: { type: 'string' },
    role: { type: 'string' },
    'password-file': { type: 'string' },
    'password-env': { type: 'string' },
    interactive: { type: 'boolean' },
  });
  if (!values.config || !values.user) throw new UsageError(USAGE);
  const user = values.user;
  if (!/^[a-z0-9_-]{1,64}$/.test(user)) throw new UsageError(`--user ${JSON.stringify(user)}: lower-case letters, digits, _ and - only, at most 64`);
  const role = values.role as ApiRole | undefined;
  if (role !== undefined && !ApiRoles.includes(role)) throw new UsageError(`--role ${JSON.stringify(values.role)}: one of ${ApiRoles.join(', ')}`);
  if (values['password-file'] !== undefined && values['password-env'] !== undefined) throw new UsageError('--password-file and --password-env: give one of them');

  const file = values.config;
  let text: string;
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
  } catch (e) {
    process.stderr.write(`cityedge passwd: cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}\n`);
    return 1;
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    process.stderr.write(`cityedge passwd: ${file} is not valid YAML; fix it first (cityedge check --config ${file})\n`);
    return 1;
  }
  const index = userIndex(doc, user);

  let password: string;
  if (values['password-file'] !== undefined) password = await secretFromFile(values['password-file'], 'password-file');
  else if (values['password-env'] !== undefined) password = secretFromEnv(values['password-env'], 'password-env');
  else if (values.interactive || process.stdin.isTTY) {
    const p = openPrompter();
    try {
      password = await askNewSecret(p, `new console password for ${user}`, (s) => passwordProblem(s, user));
    } catch (e) {
      if (!(e instanceof PromptClosed)) throw e;
      process.stderr.write(`\ncityedge passwd: ${e.message}; nothing changed\n`);
      return e.interrupted ? 130 : 2;
    } finally {
      p.close();
    }
  } else {
    throw new UsageError('no password: --password-file F or --password-env VAR (or run it on a terminal to be asked)');
  }
  const problem = passwordProblem(password, user);
  if (problem) throw new UsageError(`the password is refused: ${problem}`);

  const hash = await hashPassword(password);
  let edited: string;
  let what: string;
  if (index === undefined) {
    const entry = doc.createNode({ name: user, role: role ?? 'viewer', password_hash: hash });
    entry.flow = true;
    const users = doc.getIn(['api', 'users']);
    if (isSeq(users)) users.items.push(entry); else doc.setIn(['api', 'users'], doc.createNode([entry]));
    edited = doc.toString({ lineWidth: 0 });
    what = `added ${user} (${role ?? 'viewer'}) with a console password`;
  } else {
    const base: Path = ['api', 'users', index];
    const had = doc.getIn([...base, 'password_hash']) !== undefined;
    const changes: [Path, string][] = [[[...base, 'password_hash'], hash], ...(role ? [[[...base, 'role'], role] as [Path, string]] : [])];
    edited = spliceScalars(text, doc, changes) ?? setAll(doc, changes);
    what = `${had ? 'changed' : 'set'} the console password of ${user}${role ? ` (role ${role})` : ''}`;
  }

  try {
    const c = parseConfig(edited, file);
    if (c.api?.users.find((u) => u.name === user)?.password_hash !== hash) throw new Error('the edited file does not hold the new hash (a bug: please report it)');
  } catch (e) {
    process.stderr.write(`cityedge passwd: ${file} would not load after the change; nothing changed:\n${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
    return 1;
  }
  await writeFileAtomic(file, edited, { mode: st.mode & 0o7777, replace: true, owner: { uid: st.uid, gid: st.gid } });
  process.stdout.write(`${file}: ${what}; restart the gateway for it to take effect\n`);
  return 0;
}

function userIndex(doc: Document, name: string): number | undefined {
  const users = doc.getIn(['api', 'users']);
  if (!isSeq(users)) return undefined;
  const i = users.items.findIndex((u) => isMap(u) && u.get('name') === name);
  return i < 0 ? undefined : i;
}

/**
 * The text with the scalars at `changes` replaced in place, every other byte untouched; undefined
 * when one of them is not a scalar already in the file. Other values are written double-quoted,
 * which means the same in block and in flow context.
 */
function spliceScalars(text: string, doc: Document, changes: [Path, string][]): string | undefined {
  const spots: { from: number; to: number; value: string }[] = [];
  for (const [path, value] of changes) {
    const node = doc.getIn(path, true);
    if (!isScalar(node) || !node.range) return undefined;
    // A plain scalar stays plain when the new value is safe so (a hash, a role word).
    const plain = node.type === 'PLAIN' && /^[A-Za-z0-9][A-Za-z0-9$+/=._-]*$/.test(value);
    spots.push({ from: node.range[0], to: node.range[1], value: plain ? value : JSON.stringify(value) });
  }
  spots.sort((x, y) => y.from - x.from);
  let out = text;
  for (const s of spots) out = out.slice(0, s.from) + s.value + out.slice(s.to);
  return out;
}

function setAll(doc: Document, changes: [Path, string][]): string {
  for (const [path, value] of changes) doc.setIn(path, value);
  return doc.toString({ lineWidth: 0 });
}
