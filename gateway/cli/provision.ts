// `cityedge provision`: a box's first configuration from a template, on site. Asks what it needs
// on a terminal, or takes it all from flags (a script, a provisioning tool); either way every value
// is checked as it comes, and the file is checked whole with the loader before it is written, so
// what lands on the box is a file `cityedge run` accepts. Secrets come from files, the environment
// or a prompt without echo, never from argv, which every user of the box can read in `ps`.
import { createHash, randomBytes } from 'node:crypto';
import { access, chmod, mkdir, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { parseConfig, ConfigError } from '../../config/loader.ts';
import { hashPassword, passwordProblem } from '../console/password.ts';
import { parse, UsageError } from './args.ts';
import { FIELDS, type Answers, type Field, type TemplateHints } from './provision-fields.ts';
import { FileExists, refuseSecretsOnArgv, secretFromEnv, secretFromFile, writeFileAtomic } from './provision-files.ts';
import { askNewSecret, openPrompter, PromptClosed, type Prompter } from './provision-prompt.ts';
import { deviceAddress, fillTemplate, KIND_TITLES, KINDS, loadTemplate, type ApiUserEntry, type Kind } from './provision-template.ts';

const USAGE = `usage: cityedge provision [--template ${KINDS.join('|')}] [--out DIR]
         [--site-id ID] [--site-name NAME] [--district 330105] [--grid 330105001002101]
         [--upstream mqtts://host:8883] [--upstream-user U] [--upstream-password-file F | --upstream-password-env VAR]
         [--device-host H] [--device-port N] [--admin NAME] [--admin-password-file F | --admin-password-env VAR]
         [--api-host 127.0.0.1] [--viewer-token] [--force] [--yes] [--interactive]
writes DIR/cityedge.yaml (default DIR: the current folder). On a terminal it asks for what the flags
leave out; --yes takes the defaults instead, and fails naming the flags a value has none for.
--interactive asks even when stdin is not a terminal (one answer per line). Docs: docs/provisioning.md
`;

const OPTIONS = {
  template: { type: 'string' },
  out: { type: 'string', default: '.' },
  'site-id': { type: 'string' },
  'site-name': { type: 'string' },
  district: { type: 'string' },
  grid: { type: 'string' },
  upstream: { type: 'string' },
  'upstream-user': { type: 'string' },
  'upstream-password-file': { type: 'string' },
  'upstream-password-env': { type: 'string' },
  'device-host': { type: 'string' },
  'device-port': { type: 'string' },
  admin: { type: 'string' },
  'admin-password-file': { type: 'string' },
  'admin-password-env': { type: 'string' },
  'api-host': { type: 'string' },
  'viewer-token': { type: 'boolean' },
  force: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  interactive: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

export async function main(argv: string[]): Promise<number> {
  refuseSecretsOnArgv(argv, 'use --admin-password-file F, --admin-password-env VAR, or answer the prompt');
  const { values } = parse(argv, OPTIONS);
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const file = join(values.out!, 'cityedge.yaml');
  if (!values.force && await access(file).then(() => true, () => false)) {
    process.stderr.write(`cityedge provision: ${file} exists; --force replaces it. Nothing written.\n`);
    return 1;
  }

  const missingAny = FIELDS.some((f) => values[f.flag as keyof Values] === undefined) ||
    (values['admin-password-file'] ?? values['admin-password-env']) === undefined;
  const interactive = values.interactive === true || (process.stdin.isTTY === true && values.yes !== true && missingAny);
  const prompter = interactive ? openPrompter() : undefined;
  let got: Gathered;
  try {
    got = await gather(values, prompter);
    if (prompter) {
      prompter.say(summary(got, file));
      const ok = values.yes ? 'y' : await prompter.ask(`write ${file}? (y/n)`, 'y');
      if (!/^y(es)?$/i.test(ok)) { prompter.say('nothing written'); return 1; }
    }
  } catch (e) {
    if (!(e instanceof PromptClosed)) throw e;
    process.stderr.write(`\ncityedge provision: ${e.message}; nothing written\n`);
    return e.interrupted ? 130 : 2;
  } finally {
    prompter?.close();
  }
  for (const w of got.warnings) process.stderr.write(`warning: ${w}\n`);

  const users: ApiUserEntry[] = [{ name: got.a.admin!, role: 'admin', password_hash: await hashPassword(got.adminPassword) }];
  let token: string | undefined;
  const viewer = got.a.admin === 'metrics' ? 'metrics-reader' : 'metrics';
  if (got.viewerToken) {
    token = randomBytes(24).toString('base64url');
    users.push({ name: viewer, role: 'viewer', token_sha256: createHash('sha256').update(token).digest('hex') });
  }
  const a = got.a;
  const text = fillTemplate(got.doc, {
    site: { id: a['site-id']!, ...(a['site-name'] ? { name: a['site-name'] } : {}), district: a.district!, grid: a.grid! },
    upstream: { url: a.upstream!, ...(a['upstream-user'] ? { username: a['upstream-user'], password: got.upstreamPassword } : {}) },
    device: { host: a['device-host']!, port: Number(a['device-port']) },
    api: { host: a['api-host']!, users },
    header: `Written by cityedge provision --template ${got.kind} on ${new Date().toISOString().slice(0, 10)}.`,
  });

  // The file must be one the gateway accepts, holding what was asked for: checked before writing.
  try {
    const c = parseConfig(text, file);
    const u = c.upstreams[0];
    if (c.site.id !== a['site-id'] || c.site.grid !== a.grid || u?.url !== a.upstream || u?.password !== got.upstreamPassword) {
      throw new Error('the filled template does not hold the values given (a bug: please report it)');
    }
  } catch (e) {
    process.stderr.write(`cityedge provision: the ${got.kind} template filled in is refused:\n${e instanceof ConfigError ? e.message : (e as Error).message}\nnothing written\n`);
    return 1;
  }

  const dir = resolve(values.out!);
  if (await mkdir(dir, { recursive: true, mode: 0o700 }) !== undefined) {
    await chmod(dir, 0o700); // mkdir's mode is cut by the umask
  } else if (((await stat(dir)).mode & 0o077) !== 0) {
    process.stderr.write(`note: ${values.out} is open to other users; the file itself is readable by its owner only\n`);
  }
  try {
    await writeFileAtomic(file, text, { mode: 0o600, replace: values.force === true });
  } catch (e) {
    if (!(e instanceof FileExists)) throw e;
    process.stderr.write(`cityedge provision: ${file} exists; --force replaces it. Nothing written.\n`);
    return 1;
  }

  const port = Number(got.doc.getIn(['api', 'port']) ?? 8080);
  const q = shellQuote(file);
  process.stdout.write([
    `wrote ${file} (${got.kind}, site ${a['site-id']}; readable by its owner only)`,
    'next:',
    `  cityedge check --config ${q}    validate it and see the read plan`,
    `  cityedge run --config ${q}      run the gateway`,
    `  console: ${consoleUrl(a['api-host']!, port)}    sign in as ${a.admin}`,
    ...(token ? [
      `token of the read-only user "${viewer}", for a metrics scraper (shown once, not stored; Authorization: Bearer …):`,
      `  ${token}`,
    ] : []),
    '',
  ].join('\n'));
  return 0;
}

interface Gathered {
  kind: Kind;
  doc: Awaited<ReturnType<typeof loadTemplate>>;
  a: Answers;
  upstreamPassword?: string;
  adminPassword: string;
  viewerToken: boolean;
  warnings: string[];
}

/**
 * Every value, from its flag, the prompt or its default. Flags are all checked before the first
 * question, so nobody answers ten questions to learn that a flag was mistyped. Without prompts,
 * every missing or bad value is reported at once.
 */
async function gather(values: Values, p: Prompter | undefined): Promise<Gathered> {
  const flag = (f: string): string | undefined => values[f as keyof Values] as string | undefined;
  const problems: string[] = [];
  const pre: Answers = {};
  for (const f of FIELDS) {
    const v = flag(f.flag);
    if (v === undefined) continue;
    pre[f.flag] = f.norm ? f.norm(v.trim()) : v.trim();
    const why = f.check(pre[f.flag]!, pre);
    if (why) problems.push(`--${f.flag} ${JSON.stringify(v)}: ${why}`);
  }
  for (const [file, env] of [['upstream-password-file', 'upstream-password-env'], ['admin-password-file', 'admin-password-env']] as const) {
    if (values[file] !== undefined && values[env] !== undefined) problems.push(`--${file} and --${env}: give one of them`);
  }
  if ((values['upstream-password-file'] ?? values['upstream-password-env']) !== undefined && !values['upstream-user']) {
    problems.push('--upstream-password-file needs --upstream-user');
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n  '));

  const a: Answers = {};
  const missing: string[] = [];
  const warnings: string[] = [];
  let hints: TemplateHints | undefined;
  let doc: Gathered['doc'] | undefined;
  let upstreamPassword: string | undefined;
  let adminPassword: string | undefined;
  const asking = (def: string | undefined): boolean => p !== undefined && (values.yes !== true || def === undefined);

  for (const f of FIELDS) {
    if (f.when && !f.when(a, hints)) continue;
    const value = await answer(f, flag(f.flag), a, hints, asking, p);
    if (value === undefined) { missing.push(`--${f.flag}: ${f.question(a, hints)}`); continue; }
    a[f.flag] = value;
    if (f.flag === 'template') {
      if (p) p.say(`  ${value}: ${KIND_TITLES[value as Kind]}`);
      doc = await loadTemplate(value as Kind);
      const d = deviceAddress(doc);
      hints = { deviceHost: d.host, devicePort: d.port, deviceWhat: d.what };
    } else if (f.flag === 'upstream' && value.startsWith('mqtt://')) {
      warnings.push(`${value}: mqtt:// is not encrypted; the broker password and all data cross the network in clear. Use mqtts:// wherever the platform offers it`);
      p?.say(`  warning: ${warnings.at(-1)}`);
    } else if (f.flag === 'upstream-user' && value !== '') {
      upstreamPassword = await secret(values, 'upstream-password', p, `password of ${value} on the platform's broker`, () => undefined);
      if (upstreamPassword === undefined) missing.push(`--upstream-password-file F or --upstream-password-env VAR: password of ${value} on the platform's broker`);
    } else if (f.flag === 'admin') {
      const problem = (s: string): string | undefined => passwordProblem(s, value);
      adminPassword = await secret(values, 'admin-password', p, `console password for ${value}`, problem);
      if (adminPassword === undefined) missing.push(`--admin-password-file F or --admin-password-env VAR: console password for ${value}`);
      else if (problem(adminPassword)) problems.push(`the password of --admin-password-${values['admin-password-file'] !== undefined ? 'file' : 'env'} is refused: ${problem(adminPassword)}`);
    } else if (f.flag === 'api-host' && !/^127\.|^::1$|^localhost$/.test(value)) {
      p?.say('  the console and the HTTP API will answer on the network: keep the box behind the site firewall');
    }
  }
  const viewerToken = values['viewer-token'] === true ||
    (p !== undefined && values.yes !== true && /^y(es)?$/i.test(await p.ask('a read-only token for a metrics scraper? (y/n)', 'n')));

  const all = [...missing.map((m) => `missing ${m}`), ...problems];
  if (all.length > 0) throw new UsageError(`${all.join('\n  ')}\n(run it on a terminal to be asked, or see cityedge provision --help)`);
  return { kind: a.template as Kind, doc: doc!, a, ...(upstreamPassword !== undefined ? { upstreamPassword } : {}), adminPassword: adminPassword!, viewerToken, warnings };
}

/** One value: the flag's (checked against the answers before it), the default, or asked. */
async function answer(f: Field, given: string | undefined, a: Answers, hints: TemplateHints | undefined,
  asking: (def: string | undefined) => boolean, p: Prompter | undefined): Promise<string | undefined> {
  if (given !== undefined) {
    const v = f.norm ? f.norm(given.trim()) : given.trim();
    const why = f.check(v, a);
    if (why) throw new UsageError(`--${f.flag} ${JSON.stringify(given)}: ${why}`);
    return v;
  }
  const def = f.def(a, hints);
  if (!asking(def)) return def;
  for (let i = 0; i < 5; i++) {
    const raw = await p!.ask(f.question(a, hints), def);
    const v = f.norm ? f.norm(raw) : raw;
    if (v === '' && def === undefined) { p!.say('  required'); continue; }
    const why = v === '' ? undefined : f.check(v, a);
    if (!why) return v;
    p!.say(`  refused: ${why}`);
  }
  throw new UsageError(`--${f.flag}: no acceptable answer after 5 tries`);
}

/** A secret from --NAME-file, --NAME-env or the prompt (twice); undefined when none can be had. */
async function secret(values: Values, name: 'upstream-password' | 'admin-password', p: Prompter | undefined,
  label: string, problem: (s: string) => string | undefined): Promise<string | undefined> {
  const file = values[`${name}-file`];
  if (file !== undefined) return secretFromFile(file, `${name}-file`);
  const env = values[`${name}-env`];
  if (env !== undefined) return secretFromEnv(env, `${name}-env`);
  return p ? askNewSecret(p, label, problem) : undefined;
}

function summary(g: Gathered, file: string): string {
  const a = g.a;
  return [
    '',
    `  file       ${file}`,
    `  template   ${g.kind}`,
    `  site       ${a['site-id']}${a['site-name'] ? ` (${a['site-name']})` : ''}, district ${a.district}, grid ${a.grid}`,
    `  platform   ${a.upstream}${a['upstream-user'] ? ` as ${a['upstream-user']}` : ''}`,
    `  devices    at ${a['device-host']}:${a['device-port']}`,
    `  console    ${a['api-host']}, administrator ${a.admin}${g.viewerToken ? ', and a read-only token' : ''}`,
    '',
  ].join('\n');
}

function consoleUrl(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '::') return `http://<this box's address>:${port}/`;
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}
