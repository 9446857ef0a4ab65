// `cityedge provision` and `cityedge passwd` as a technician runs them on site: the file written
// loads, holds the site's values, is readable by its owner only, and its password hash opens the
// console; bad values are refused naming the flag with nothing written; the passwords typed never
// show up in the output or, for the console, in the file.
import t from 'tap';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/loader.ts';
import type { Config } from '../config/schema.ts';
import { hashPassword, verifyPassword } from '../gateway/console/password.ts';
import { spawnProcess } from './helpers/proc.ts';
import { tempDir } from './helpers/temp.ts';
import type { Test } from 'tap';

const CLI = join(import.meta.dirname, '..', 'bin', 'cityedge.mjs');
const TEMPLATES = ['pump-station', 'streetlight-cabinet', 'parking-lot', 'street-sensors'] as const;
const ADMIN_PW = 'Kerb side 42, 拱墅!';
const UPSTREAM_PW = 'up#stream: {Pass}9';

/** Runs `cityedge ARGS…` to its end; `input` is piped to its stdin (not a terminal). */
async function cityedge(t: Test, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<{ status: number; out: string }> {
  const proc = await spawnProcess(process.execPath, [CLI, ...args], {
    t, name: `cityedge ${args[0]}`, stdin: opts.input !== undefined ? 'pipe' : 'ignore', ...(opts.env ? { env: opts.env } : {}),
  });
  const closed = new Promise((resolve) => proc.child.once('close', resolve));
  if (opts.input !== undefined) proc.child.stdin!.end(opts.input);
  const { status } = await proc.exited;
  await closed;
  return { status, out: proc.output() };
}

/** Secret files as a technician prepares them: one line, a trailing newline. */
function secrets(dir: string): { admin: string; upstream: string } {
  writeFileSync(join(dir, 'admin.pw'), `${ADMIN_PW}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'upstream.pw'), `${UPSTREAM_PW}\n`, { mode: 0o600 });
  return { admin: join(dir, 'admin.pw'), upstream: join(dir, 'upstream.pw') };
}

function flags(out: string, pw: { admin: string; upstream: string }, extra: string[] = []): string[] {
  return [
    'provision', '--template', 'pump-station', '--out', out, '--site-id', 'ps-gongshu-012', '--site-name', '拱墅区某排水泵站',
    '--district', '330105', '--grid', '330105001002101', '--upstream', 'mqtts://platform.example:8883',
    '--upstream-user', 'box-012', '--upstream-password-file', pw.upstream, '--admin-password-file', pw.admin, ...extra,
  ];
}

/** Where the box reaches each device of a loaded configuration. */
function addresses(c: Config): string[] {
  return c.devices.map((d) => d.driver === 'modbus-tcp' ? `${d.host}:${d.port}`
    : d.driver === 'modbus-rtu' ? `${d.tcp!.host}:${d.tcp!.port}`
      : d.driver === 'lorawan' && typeof d.source === 'object' ? d.source.url : `?${d.driver}`);
}

t.test('every template is a valid configuration as it stands', async (t) => {
  for (const k of TEMPLATES) t.doesNotThrow(() => loadConfig(join(import.meta.dirname, '..', 'config', 'templates', `${k}.yaml`)), k);
});

for (const kind of TEMPLATES) {
  t.test(`${kind}: from flags alone, a file the gateway loads`, async (t) => {
    const dir = tempDir(t, 'cityedge-provision-');
    const pw = secrets(dir);
    const out = join(dir, 'etc', 'cityedge');
    const args = flags(out, pw, ['--device-host', '10.20.30.40', '--device-port', '4001']);
    args[2] = kind;
    const r = await cityedge(t, args);
    t.equal(r.status, 0, 'exit 0', { output: r.out });
    const file = join(out, 'cityedge.yaml');
    t.match(r.out, `cityedge check --config ${file}`, 'says how to check it');
    t.match(r.out, `cityedge run --config ${file}`, 'says how to run it');
    t.match(r.out, 'http://127.0.0.1:8080/', 'gives the console URL');
    const c = loadConfig(file);
    t.match(c.site, { id: 'ps-gongshu-012', name: '拱墅区某排水泵站', district: '330105', grid: '330105001002101' }, 'the site as given');
    t.match(c.upstreams[0], { url: 'mqtts://platform.example:8883', username: 'box-012', password: UPSTREAM_PW }, 'the platform broker and its credentials');
    t.ok(addresses(c).every((a) => a.includes('10.20.30.40') && a.includes('4001')), `every device at the address given: ${addresses(c).join(', ')}`);
    t.equal(c.api?.host, '127.0.0.1', 'the console on the box only by default');
    t.equal(statSync(file).mode & 0o777, 0o600, 'the file is readable by its owner only');
    t.equal(statSync(out).mode & 0o777, 0o700, 'the folder it made is its owner\'s only');
    const admin = c.api?.users.find((u) => u.name === 'admin');
    t.equal(admin?.role, 'admin');
    t.ok(await verifyPassword(ADMIN_PW, admin?.password_hash ?? ''), 'the console password opens it');
    t.notOk(await verifyPassword('Kerb side 42, 拱墅?', admin?.password_hash ?? ''), 'another does not');
    const text = readFileSync(file, 'utf8');
    t.notOk(text.includes(ADMIN_PW), 'the console password is not in the file');
    t.notOk(r.out.includes(ADMIN_PW) || r.out.includes(UPSTREAM_PW), 'no password in the output');
  });
}

t.test('the printed check command accepts the file', async (t) => {
  const dir = tempDir(t, 'cityedge-provision-');
  const r = await cityedge(t, flags(dir, secrets(dir)));
  t.equal(r.status, 0, 'exit 0', { output: r.out });
  const check = await cityedge(t, ['check', '--config', join(dir, 'cityedge.yaml')]);
  t.equal(check.status, 0, 'exit 0', { output: check.out });
  t.match(check.out, /site ps-gongshu-012/);
});

t.test('an existing file is replaced only with --force', async (t) => {
  const dir = tempDir(t, 'cityedge-provision-');
  const pw = secrets(dir);
  const file = join(dir, 'cityedge.yaml');
  t.equal((await cityedge(t, flags(dir, pw))).status, 0);
  const first = readFileSync(file, 'utf8');
  const again = await cityedge(t, flags(dir, pw, ['--site-id', 'ps-other']));
  t.equal(again.status, 1, 'refused');
  t.match(again.out, /exists; --force replaces it/);
  t.equal(readFileSync(file, 'utf8'), first, 'the file is untouched');
  const forced = await cityedge(t, flags(dir, pw, ['--site-id', 'ps-other', '--force']));
  t.equal(forced.status, 0, 'exit 0', { output: forced.out });
  t.equal(loadConfig(file).site.id, 'ps-other', 'replaced');
  t.equal(statSync(file).mode & 0o777, 0o600);
});

t.test('a bad value is refused naming its flag, and nothing is written', async (t) => {
  const dir = tempDir(t, 'cityedge-provision-');
  const pw = secrets(dir);
  const cases: [string[], RegExp][] = [
    [['--district', '33010'], /--district "33010": 6 digits/],
    [['--grid', '330106001002101'], /--grid "330106001002101": does not begin with the district code 330105/],
    [['--grid', '33010500100'], /--grid "33010500100": 14–15 digits/],
    [['--site-id', 'PS 12'], /--site-id "PS 12": lower-case letters/],
    [['--upstream', 'https://platform.example'], /--upstream "https:\/\/platform.example": scheme https/],
    [['--admin-password=secret-on-argv'], /--admin-password: passwords are not taken on the command line/],
  ];
  for (const [extra, message] of cases) {
    const out = join(dir, 'box');
    const r = await cityedge(t, flags(out, pw, extra));
    t.equal(r.status, 2, `${extra.join(' ')}: exit 2`);
    t.match(r.out, message, `${extra.join(' ')}: says which flag and why`);
    t.notOk(existsSync(out), `${extra.join(' ')}: nothing written`);
  }
  const missing = await cityedge(t, ['provision', '--out', join(dir, 'box'), '--template', 'parking-lot', '--yes']);
  t.equal(missing.status, 2);
  t.match(missing.out, /missing --site-id/);
  t.match(missing.out, /missing --admin-password-file F or --admin-password-env VAR/);
});

t.test('an interactive session, answers piped in', async (t) => {
  const dir = tempDir(t, 'cityedge-provision-');
  const answers = [
    '3', // parking-lot
    'pk-xihu-007', '西湖区某停车场', '330106',
    '330105001004002', // refused: not in district 330106
    '330106001004002',
    'mqtt://10.1.2.3:1883', 'box-007', UPSTREAM_PW, UPSTREAM_PW,
    '192.168.7.9', '', // network server broker, default port
    '', // admin
    'short', // refused: too short
    ADMIN_PW, ADMIN_PW,
    '0.0.0.0',
    'y', // a viewer token
    'y', // write it
  ];
  const r = await cityedge(t, ['provision', '--interactive', '--out', dir], { input: `${answers.join('\n')}\n` });
  t.equal(r.status, 0, 'exit 0', { output: r.out });
  t.match(r.out, /refused: does not begin with the district code 330106/, 'a bad grid is asked again');
  t.match(r.out, /refused: at least 10 characters/, 'a short password is asked again');
  t.match(r.out, /mqtt:\/\/ is not encrypted/, 'warned about a broker without TLS');
  t.match(r.out, /http:\/\/<this box's address>:8080\//);
  t.notOk(r.out.includes(ADMIN_PW) || r.out.includes(UPSTREAM_PW), 'no password in the output');
  const c = loadConfig(join(dir, 'cityedge.yaml'));
  t.match(c.site, { id: 'pk-xihu-007', name: '西湖区某停车场', district: '330106', grid: '330106001004002' });
  t.match(c.upstreams[0], { url: 'mqtt://10.1.2.3:1883', username: 'box-007', password: UPSTREAM_PW });
  t.same(addresses(c), ['mqtt://192.168.7.9:1883'], 'the network server broker');
  t.equal(c.api?.host, '0.0.0.0');
  t.ok(await verifyPassword(ADMIN_PW, c.api!.users.find((u) => u.name === 'admin')!.password_hash!), 'the console password opens it');
  const token = /^ {2}(\S{32})$/m.exec(r.out)?.[1];
  t.ok(token, 'the viewer token is printed');
  const metrics = c.api!.users.find((u) => u.name === 'metrics');
  t.match(metrics, { role: 'viewer', token_sha256: createHash('sha256').update(token ?? '').digest('hex') }, 'only its SHA-256 is kept');
  t.notOk(readFileSync(join(dir, 'cityedge.yaml'), 'utf8').includes(token ?? '-'), 'the token is not in the file');
});

t.test('passwd changes a password and leaves the rest of the file as it was', async (t) => {
  const dir = tempDir(t, 'cityedge-passwd-');
  const file = join(dir, 'cityedge.yaml');
  const oldHash = await hashPassword('Old-password-1');
  const original = [
    'site: { id: ps-1, district: "330105", grid: "330105001002101" }',
    'buffer: { journal: memory }',
    'devices:',
    '  - { id: plc1, driver: modbus-tcp, host: 127.0.0.1, port: 5020, tags: [ { name: a, address: "hr:0", type: uint16 } ] }',
    'api:',
    '  # 王工 set this up; the console is for the station team only.',
    '  users:',
    `    - { name: admin, role: admin, password_hash: "${oldHash}" }`,
    '    - name: wang',
    '      role: engineer   # 王工, shift lead',
    `      password_hash: ${oldHash}`,
    '',
  ].join('\n');
  writeFileSync(file, original);
  chmodSync(file, 0o640);
  const newPw = 'New password 2, 泵站';
  writeFileSync(join(dir, 'pw'), `${newPw}\n`);

  const r = await cityedge(t, ['passwd', '--config', file, '--user', 'wang', '--password-file', join(dir, 'pw')]);
  t.equal(r.status, 0, 'exit 0', { output: r.out });
  t.match(r.out, /changed the console password of wang/);
  const text = readFileSync(file, 'utf8');
  const before = original.split('\n');
  const after = text.split('\n');
  t.equal(after.length, before.length, 'as many lines');
  t.same(after.filter((_l, i) => i !== 10), before.filter((_l, i) => i !== 10), 'every other line as it was, comments included');
  const wang = loadConfig(file).api!.users.find((u) => u.name === 'wang')!;
  t.ok(await verifyPassword(newPw, wang.password_hash!), 'the new password opens it');
  t.notOk(await verifyPassword('Old-password-1', wang.password_hash!), 'the old one no longer does');
  t.equal(statSync(file).mode & 0o777, 0o640, 'the file keeps its mode');
  t.notOk(text.includes(newPw) || r.out.includes(newPw), 'the password is neither in the file nor in the output');

  // A new user, the password from the environment.
  const env = await cityedge(t, ['passwd', '--config', file, '--user', 'li', '--role', 'viewer', '--password-env', 'CE_PW'], { env: { CE_PW: 'Viewer password 3' } });
  t.equal(env.status, 0, 'exit 0', { output: env.out });
  t.ok(readFileSync(file, 'utf8').includes('# 王工 set this up'), 'the comment is still there');
  t.ok(await verifyPassword('Viewer password 3', loadConfig(file).api!.users.find((u) => u.name === 'li')!.password_hash!), 'the new user signs in');
});

t.test('passwd asks twice when told to, and refuses a weak password', async (t) => {
  const dir = tempDir(t, 'cityedge-passwd-');
  const r = await cityedge(t, flags(dir, secrets(dir)));
  t.equal(r.status, 0, 'exit 0', { output: r.out });
  const file = join(dir, 'cityedge.yaml');
  const pw = 'Typed twice, 12345';
  const asked = await cityedge(t, ['passwd', '--config', file, '--user', 'admin', '--interactive'], { input: `admin-is-me-1\n${pw}\n${pw}x\n${pw}\n${pw}\n` });
  t.equal(asked.status, 0, 'exit 0', { output: asked.out });
  t.match(asked.out, /refused: it must not contain the user name/);
  t.match(asked.out, /the two entries differ/);
  t.notOk(asked.out.includes(pw), 'the password is not echoed');
  t.ok(await verifyPassword(pw, loadConfig(file).api!.users[0]!.password_hash!), 'the password agreed on is set');
  t.equal(statSync(file).mode & 0o777, 0o600, 'still its owner\'s only');

  writeFileSync(join(dir, 'weak'), 'aaaaaaaaaaaa\n');
  const before = readFileSync(file, 'utf8');
  const weak = await cityedge(t, ['passwd', '--config', file, '--user', 'admin', '--password-file', join(dir, 'weak')]);
  t.equal(weak.status, 2);
  t.match(weak.out, /refused: not one character repeated/);
  t.equal(readFileSync(file, 'utf8'), before, 'nothing changed');
});
