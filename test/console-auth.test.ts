// The console's door, from outside over HTTP: password login, the cookie and what it allows, CSRF
// and origin checks on everything that changes something, the viewer role, lockout after repeated
// failures, sessions that end, and the public paths that must stay public (and nothing more).
import t, { type Test } from 'tap';
import { parseConfig } from '../config/loader.ts';
import { startGateway } from '../gateway/main.ts';
import { hashPassword } from '../gateway/console/password.ts';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { freePort } from './helpers/ports.ts';
import { tempDir } from './helpers/temp.ts';
import { waitFor } from './helpers/wait.ts';

const ADMIN_PW = 'pump-station-7!';
const VIEWER_PW = 'watch-only-42';
const TOKEN = 'scrape-token-0123456789abcdef';

async function start(t: Test, extra = '') {
  const dir = tempDir(t, 'console-auth');
  const config = parseConfig(`
site: { id: s1 }
buffer: { path: ${JSON.stringify(dir)}, journal: memory }
devices:
  - { id: plc1, driver: modbus-tcp, host: 127.0.0.1, port: ${await freePort()}, poll_ms: 5000, tags: [ { name: a, address: "hr:0", type: uint16 } ] }
alarms:
  - { id: a_high, tag: plc1.a, above: 10 }
api:
  port: 0
  ${extra}
  users:
    - { name: admin, role: admin, password_hash: "${await hashPassword(ADMIN_PW)}" }
    - { name: duty, role: viewer, password_hash: "${await hashPassword(VIEWER_PW)}" }
    - { name: prom, role: viewer, token_sha256: ${createHash('sha256').update(TOKEN).digest('hex')} }
`, 'console-auth.yaml');
  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  const { apiUrl } = await gw.ready();
  return { gw, url: apiUrl! };
}

async function login(url: string, user: string, password: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ user, password }) });
  const body = await res.json() as { csrf?: string; role?: string; error?: { code: string }; retry_after_s?: number };
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  return { res, body, cookie };
}

t.test('an admin logs in; the cookie reads, and changes need the CSRF token from this origin', async (t) => {
  const { url, gw } = await start(t);
  const bad = await login(url, 'admin', 'wrong-password');
  t.equal(bad.res.status, 401);
  t.equal(bad.body.error?.code, 'CE_ERR_LOGIN');
  t.equal(bad.cookie, '', 'no cookie for a failed login');
  t.equal((await login(url, 'nobody', ADMIN_PW)).res.status, 401, 'an unknown user is refused the same way');

  const foreign = await login(url, 'admin', ADMIN_PW, { origin: 'http://evil.example' });
  t.equal(foreign.res.status, 403, 'a login posted by another site\'s page is refused');
  t.equal(foreign.cookie, '');
  const ok = await login(url, 'admin', ADMIN_PW, { origin: url });
  t.equal(ok.res.status, 200);
  t.equal(ok.body.role, 'admin');
  t.match(ok.res.headers.get('set-cookie'), /HttpOnly/);
  t.match(ok.res.headers.get('set-cookie'), /SameSite=Strict/);
  const cookie = ok.cookie;
  const csrf = ok.body.csrf!;

  t.equal((await fetch(`${url}/api/overview`)).status, 401, 'no cookie, no overview');
  const ov = await fetch(`${url}/api/overview`, { headers: { cookie } });
  t.equal(ov.status, 200);
  t.match(await ov.json(), { site: { id: 's1' }, devices: [{ id: 'plc1' }] });

  const cmd = (headers: Record<string, string>) => fetch(`${url}/api/commands/disable-alarm`, {
    method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: '{"rule":"a_high","comment":"sensor swap"}',
  });
  const noCsrf = await cmd({});
  t.equal(noCsrf.status, 403);
  t.match(await noCsrf.json(), { error: { code: 'CE_ERR_CSRF' } });
  t.equal(gw.status().alarms[0]!.state, 'normal', 'the refused command did nothing');
  const otherOrigin = await cmd({ 'x-csrf-token': csrf, origin: 'http://evil.example' });
  t.equal(otherOrigin.status, 403, 'a page of another origin is refused even with the token');
  const good = await cmd({ 'x-csrf-token': csrf, origin: url });
  t.equal(good.status, 200);
  t.equal(gw.status().alarms[0]!.state, 'out_of_service');
  const audit = await (await fetch(`${url}/api/audit`, { headers: { cookie } })).json() as { entries: { user: string; verb: string }[] };
  t.match(audit.entries[0], { user: 'admin', verb: 'disable-alarm' }, 'the audit names the logged-in user');

  const out = await fetch(`${url}/api/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
  t.equal(out.status, 204);
  t.equal((await fetch(`${url}/api/overview`, { headers: { cookie } })).status, 401, 'the session is gone after logout');
});

t.test('malformed login bodies: a coded 400 each, no cookie, no lockout, and the console keeps working', async (t) => {
  const { url } = await start(t);
  const bodies: [string, string][] = [
    ['not JSON', '{"user": "admin", "password": '],
    ['an array', '["admin", "x"]'],
    ['JSON null', 'null'],
    ['a number for the user', '{"user": 7, "password": "x"}'],
    ['no password', '{"user": "admin"}'],
    ['an object for the password', '{"user": "admin", "password": {"$ne": ""}}'],
    ['a 2000-character password', JSON.stringify({ user: 'admin', password: 'p'.repeat(2000) })],
    ['a 100-character user', JSON.stringify({ user: 'u'.repeat(100), password: 'x' })],
    ['an empty body', ''],
  ];
  for (const [what, body] of bodies) {
    const res = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    t.equal(res.status, 400, `${what}: 400`);
    t.match(text, /CE_ERR_LOGIN|CE_ERR_/, `${what}: a coded error`);
    t.equal(res.headers.get('set-cookie'), null, `${what}: no cookie`);
  }
  const ok = await login(url, 'admin', ADMIN_PW);
  t.equal(ok.res.status, 200, 'after nine malformed bodies the right password still gets in (they are not counted as guesses)');
});

t.test('a viewer reads but gives no commands; a token still works for scripts', async (t) => {
  const { url, gw } = await start(t);
  const v = await login(url, 'duty', VIEWER_PW);
  t.equal(v.body.role, 'viewer');
  t.equal((await fetch(`${url}/api/alarms`, { headers: { cookie: v.cookie } })).status, 200);
  const res = await fetch(`${url}/api/commands/ack-alarm`, { method: 'POST', headers: { cookie: v.cookie, 'x-csrf-token': v.body.csrf! }, body: '{"rule":"a_high"}' });
  t.equal(res.status, 403);
  t.match(await res.json(), { ok: false, error: { code: 'CE_ERR_CMD_FORBIDDEN' } });
  const byToken = await fetch(`${url}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(byToken.status, 200);
  const session = await fetch(`${url}/api/session`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(session.status, 401, 'a token is not a console session');
});

/** A login from a chosen loopback address (127.0.0.0/8 all reaches the box): another laptop. */
function loginFrom(url: string, localAddress: string, user: string, password: string): Promise<{ status: number; cookie: string }> {
  const u = new URL(`${url}/api/login`);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, cookie: String(res.headers['set-cookie'] ?? '').split(';')[0]! }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ user, password }));
  });
}

t.test('repeated failures lock the address out, the right password included; another laptop still gets in', async (t) => {
  const { url } = await start(t);
  for (let i = 0; i < 5; i++) t.equal((await loginFrom(url, '127.0.0.2', 'admin', `guess-${i}-xxxxx`)).status, 401);
  const locked = await login(url, 'admin', ADMIN_PW);
  t.equal((await loginFrom(url, '127.0.0.2', 'admin', ADMIN_PW)).status, 429, 'locked: even the right password waits');
  t.equal((await loginFrom(url, '127.0.0.2', 'duty', VIEWER_PW)).status, 429, 'the address is locked for other users too');
  t.equal(locked.res.status, 200, 'the technician at another address logs in: a stranger cannot lock the admin out');
  const again = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'x-forwarded-for': '10.9.9.9' }, body: JSON.stringify({ user: 'admin', password: 'x' }) });
  t.equal(again.status, 401, 'a forwarded-for header changes nothing (no proxy is trusted)');
});

t.test('guesses sent all at once meet the lock like guesses in a row', async (t) => {
  const { url } = await start(t);
  const tries = await Promise.all([...Array(40).keys()].map((i) => loginFrom(url, '127.0.0.3', 'admin', `burst-${i}-xxxxxx`)));
  const checked = tries.filter((r) => r.status === 401).length;
  t.ok(checked <= 5, `at most 5 of 40 simultaneous guesses had their password checked (${checked})`);
  t.ok(tries.every((r) => r.status === 401 || r.status === 429), 'the rest were refused unchecked');
  // However the burst fell (all at once, or spread by a busy machine), the address is now locked.
  for (let i = checked; i < 5; i++) await loginFrom(url, '127.0.0.3', 'admin', `late-${i}-xxxxxx`);
  t.equal((await loginFrom(url, '127.0.0.3', 'admin', ADMIN_PW)).status, 429, 'the right password after the burst meets the lock');
});

t.test('one account logging in in a loop signs out only its own oldest sessions', async (t) => {
  const { url } = await start(t);
  const admin = await login(url, 'admin', ADMIN_PW);
  const first = await login(url, 'duty', VIEWER_PW);
  for (let i = 0; i < 12; i++) t.equal((await login(url, 'duty', VIEWER_PW)).res.status, 200);
  t.equal((await fetch(`${url}/api/session`, { headers: { cookie: admin.cookie } })).status, 200, 'the admin is still signed in');
  t.equal((await fetch(`${url}/api/session`, { headers: { cookie: first.cookie } })).status, 401, 'the looping account lost its oldest session');
});

t.test('a session ends after its idle time', async (t) => {
  const { url } = await start(t, 'session_idle: 1s');
  const s = await login(url, 'admin', ADMIN_PW);
  t.equal((await fetch(`${url}/api/session`, { headers: { cookie: s.cookie } })).status, 200);
  await waitFor(async () => (await fetch(`${url}/api/session`, { headers: { cookie: s.cookie } })).status === 401, { what: 'the idle session to end', intervalMs: 1500 });
  t.equal((await fetch(`${url}/api/values`, { headers: { cookie: s.cookie } })).status, 401, 'and the API refuses it');
});

t.test('public: the page, its files and /healthz; /metrics needs a token unless made public', async (t) => {
  const { url } = await start(t);
  const page = await fetch(`${url}/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /text\/html/);
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  t.equal(page.headers.get('x-frame-options'), 'DENY');
  t.equal((await fetch(`${url}/vendor/jsmpeg.min.js`)).status, 200);
  t.equal((await fetch(`${url}/vendor/uPlot.iife.min.js`)).status, 200);
  for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/gateway/main.ts', '/api/../package.json']) {
    const r = await fetch(`${url}${p}`);
    t.ok(r.status === 404 || r.status === 401 || r.status === 400, `${p} is not served (${r.status})`);
    t.notMatch(await r.text(), /"name": "cityedge"/);
  }
  // Other spellings of closed paths: the router decodes them to the same route, so must the door.
  for (const p of ['/%61pi/status', '/%61pi/values', '/api/%76alues', '/%6detrics', '/api/./status', '/api/alarms?x=/index.html']) {
    const r = await fetch(`${url}${p}`);
    t.ok(r.status === 401 || r.status === 404, `${p} is closed (${r.status})`);
    t.notMatch(await r.text(), /"site"|cityedge_|"values"|"alarms"/, `${p} shows no data`);
  }
  const h = await fetch(`${url}/healthz`);
  t.equal(h.status, 200);
  t.match(await h.json(), { status: 'ok' });
  t.equal((await fetch(`${url}/metrics`)).status, 401);
  const m = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(m.status, 200);
  t.match(await m.text(), /cityedge_device_scans_total\{device="plc1"\}/);
});

t.test('metrics: public scrapes without a token when configured so', async (t) => {
  const { url } = await start(t, 'metrics: public');
  t.equal((await fetch(`${url}/metrics`)).status, 200);
  t.equal((await fetch(`${url}/api/status`)).status, 401, 'the rest stays closed');
});
