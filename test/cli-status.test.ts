// `cityedge status` as a technician runs it: the real CLI in a child process, against a small HTTP
// server in this test that serves a fixed overview in the documented JSON (docs/api.md) and checks
// the bearer token. The verb is a client of that contract; the end-to-end test against the real
// gateway lives with the gateway's API tests.
import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { spawnProcess } from './helpers/proc.ts';
import { freePort } from './helpers/ports.ts';
import { withTimeout } from './helpers/wait.ts';
import { ago, renderOverview, type Overview } from '../gateway/cli/status-render.ts';
import { wantColor } from '../gateway/cli/status.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const TOKEN = 'tok-7f3a9c2e1d';
const NOW = 1_750_000_000_000;

const healthy: Overview = {
  site: { id: 'ps-gongshu-012', name: '拱墅区某排水泵站', district: '330105', grid: '330105001002101' },
  version: '0.2.0', started_at: NOW - 3 * 3600_000 - 12 * 60_000, now: NOW,
  devices: [
    { id: 'plc1', driver: 'modbus-tcp', state: 'ok', last_good_at: NOW - 3000, last_scan_ms: 12, scans: 1200, failed_scans: 0, overruns: 0, requests_per_scan: 5, poll_ms: 1000 },
  ],
  journal: { backlog: 0, oldest_age_s: null, bytes: 20480, drain_rate: 0, dropped: 0 },
  upstreams: [{ id: 'city', format: 'json', connected: true, backlog: 0, published: 5000, acked: 5000, last_error: null }],
  alarms: { active: 0, unacknowledged: 0, shelved: 0, rules: 12 },
  cameras: [],
};

const troubled: Overview = {
  ...healthy,
  devices: [
    ...healthy.devices,
    { id: 'rtu2', driver: 'modbus-rtu', state: 'degraded', last_good_at: NOW - 125_000, last_scan_ms: 480.4, scans: 300, failed_scans: 41, overruns: 7, requests_per_scan: 3, poll_ms: 2000 },
    { id: 'cam-gate', driver: 'camera', state: 'down', last_good_at: null, last_scan_ms: 0, scans: 0, failed_scans: 0, overruns: 0, requests_per_scan: 0, poll_ms: null },
  ],
  journal: { backlog: 1234, oldest_age_s: 300, bytes: 1.5 * 1024 * 1024, drain_rate: 0, dropped: 0 },
  upstreams: [
    ...healthy.upstreams,
    { id: 'influx', format: 'influx', connected: false, backlog: 1234, published: 10, acked: 10, last_error: 'connect ECONNREFUSED 10.0.0.9:8086' },
  ],
  alarms: { active: 2, unacknowledged: 1, shelved: 1, rules: 12 },
  cameras: [{ id: 'cam-gate', name: 'inlet gate', viewers: 2, running: true }],
};

// The fake gateway: one overview at a time, the token checked as the real API does (401, no body).
let served: Overview = healthy;
const seen: Array<{ url: string; authorization: string | undefined }> = [];
const server = http.createServer((req, res) => {
  seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
  if (req.headers.authorization !== `Bearer ${TOKEN}`) { res.writeHead(401).end(); return; }
  if (req.method !== 'GET' || req.url !== '/api/overview') { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served));
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
const URL_ = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

interface Run { status: number; stdout: string; stderr: string }

async function cli(tt: { teardown(fn: () => unknown): void }, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const proc = await spawnProcess(process.execPath, ['bin/cityedge.mjs', 'status', ...args], {
    cwd: ROOT, t: tt, name: 'cityedge status', env: { CITYEDGE_TOKEN: undefined, NO_COLOR: undefined, ...env },
  });
  let stdout = '';
  let stderr = '';
  proc.child.stdout!.on('data', (c: string) => { stdout += c; });
  proc.child.stderr!.on('data', (c: string) => { stderr += c; });
  const closed = once(proc.child, 'close');
  const { status } = await withTimeout(proc.exited, 120_000, 'cityedge status to exit');
  await closed;
  return { status, stdout, stderr };
}

t.test('all well: the overview as a table, exit 0, the token sent as a bearer header', async (t) => {
  served = healthy;
  seen.length = 0;
  const r = await cli(t, ['--url', URL_, '--token', TOKEN]);
  t.equal(r.status, 0, r.stderr);
  t.same(seen, [{ url: '/api/overview', authorization: `Bearer ${TOKEN}` }]);
  const lines = r.stdout.split('\n');
  t.match(lines[0], /^site ps-gongshu-012 拱墅区某排水泵站 · district 330105 · grid 330105001002101 · cityedge 0\.2\.0 · up 3 h 12 min/);
  t.ok(lines.some((l) => /^\s+plc1\s+modbus-tcp\s+ok\s+3 s ago\s+12 ms\s+0\s+5\s+0 of 1200$/.test(l)), r.stdout);
  t.match(r.stdout, /^upstream city \(json\): connected, backlog 0, published 5000, acked 5000$/m);
  t.match(r.stdout, /^alarms: 0 active, 0 unacknowledged, 0 shelved, 12 rule\(s\)$/m);
  t.match(r.stdout, /^all devices ok, all upstreams connected$/m);
  t.notMatch(r.stdout, /\x1b\[/, 'no colour codes when stdout is not a terminal');
});

t.test('a degraded device, a down one, a disconnected upstream: shown, and exit 1', async (t) => {
  served = troubled;
  const r = await cli(t, ['--url', `${URL_}/`, '--token', TOKEN]);
  t.equal(r.status, 1, r.stderr);
  const row = (id: string): string | undefined => r.stdout.split('\n').find((l) => l.trimStart().startsWith(`${id} `));
  t.match(row('plc1'), /\bok\s+3 s ago\b/);
  t.match(row('rtu2'), /modbus-rtu\s+degraded\s+2 min ago\s+480 ms\s+7\s+3\s+41 of 300$/);
  t.match(row('cam-gate'), /camera\s+down\s+never\b/);
  t.match(r.stdout, /^journal: backlog 1234 record\(s\), oldest 5 min old, 1\.5 MiB on disk, draining 0\.0 records\/s, dropped 0$/m);
  t.match(r.stdout, /^upstream influx \(influx\): disconnected, backlog 1234, published 10, acked 10, last error: connect ECONNREFUSED 10\.0\.0\.9:8086$/m);
  t.match(r.stdout, /^alarms: 2 active, 1 unacknowledged, 1 shelved, 12 rule\(s\)$/m);
  t.match(r.stdout, /^camera cam-gate \(inlet gate\): running, 2 viewer\(s\)$/m);
  t.match(r.stdout, /^attention: rtu2 degraded, cam-gate down, upstream influx disconnected$/m);
});

t.test('the token from CITYEDGE_TOKEN', async (t) => {
  served = healthy;
  const r = await cli(t, ['--url', URL_], { CITYEDGE_TOKEN: TOKEN });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /plc1/);
});

t.test('a refused token or none: exit 3, said plainly, the token not echoed', async (t) => {
  const wrong = await cli(t, ['--url', URL_, '--token', 'not-the-token-4242']);
  t.equal(wrong.status, 3);
  t.equal(wrong.stdout, '');
  t.match(wrong.stderr, `cityedge status: ${URL_}/api/overview: token refused (401)`);
  t.notMatch(wrong.stderr, /not-the-token-4242/);
  const none = await cli(t, ['--url', URL_]);
  t.equal(none.status, 3);
  t.match(none.stderr, /token refused \(401\): no token given; pass --token T or set CITYEDGE_TOKEN/);
});

t.test('no gateway listening: exit 3, naming the URL and what to check', async (t) => {
  const port = await freePort();
  const r = await cli(t, ['--url', `http://127.0.0.1:${port}`, '--token', TOKEN]);
  t.equal(r.status, 3);
  t.match(r.stderr, `cannot reach http://127.0.0.1:${port}/api/overview (ECONNREFUSED): is the gateway running? is api: in the config?`);
});

t.test('--json passes the overview through, with the same exit code', async (t) => {
  served = troubled;
  const r = await cli(t, ['--url', URL_, '--token', TOKEN, '--json']);
  t.equal(r.status, 1, r.stderr);
  t.same(JSON.parse(r.stdout), troubled);
  served = healthy;
  const ok = await cli(t, ['--url', URL_, '--token', TOKEN, '--json']);
  t.equal(ok.status, 0);
  t.same(JSON.parse(ok.stdout), healthy);
});

t.test('usage errors: exit 2', async (t) => {
  for (const args of [['--watch', 'soon'], ['--url', 'ftp://127.0.0.1:8080'], ['--bogus'], ['extra']]) {
    const r = await cli(t, args);
    t.equal(r.status, 2, `status ${args.join(' ')}: ${r.stderr}`);
    t.match(r.stderr, /^cityedge status: /m);
  }
});

t.test('--watch redraws until interrupted, then exits with the last verdict', async (t) => {
  served = healthy;
  seen.length = 0;
  const proc = await spawnProcess(process.execPath, ['bin/cityedge.mjs', 'status', '--url', URL_, '--watch', '0.5'], {
    cwd: ROOT, t, name: 'cityedge status --watch', env: { CITYEDGE_TOKEN: TOKEN },
  });
  await proc.waitForOutput(/^---[^]*^---[^]*^---/, { timeoutMs: 120_000 });
  t.ok(seen.length >= 3, 'one request per redraw');
  t.equal(await proc.kill('SIGINT'), 0, 'Ctrl-C ends it; all was well, so 0');
  t.match(proc.output(), /all devices ok, all upstreams connected/);
});

t.test('the rendering itself: colours for people, none for NO_COLOR or a pipe; "ago" times', async (t) => {
  const coloured = renderOverview(troubled, { color: true }).join('\n');
  t.match(coloured, '\x1b[32mok      \x1b[0m', 'ok in green (padded inside the colour, so columns hold)');
  t.match(coloured, '\x1b[33mdegraded\x1b[0m');
  t.match(coloured, '\x1b[31mdown    \x1b[0m');
  t.match(coloured, '\x1b[31mdisconnected\x1b[0m');
  t.notMatch(renderOverview(troubled, { color: false }).join('\n'), /\x1b/);
  t.equal(wantColor({ isTTY: true }, {}), true);
  t.equal(wantColor({ isTTY: true }, { NO_COLOR: '1' }), false);
  t.equal(wantColor({ isTTY: false }, {}), false);
  t.same([ago(3000), ago(125_000), ago(5 * 3600_000), ago(3 * 86400_000)], ['3 s ago', '2 min ago', '5 h ago', '3 d ago']);
});
