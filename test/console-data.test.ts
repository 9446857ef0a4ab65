// What the console reads, over HTTP from a gateway polling the pump-station simulator: the
// overview's device states, the tags of each device, live values and their server-sent changes,
// "read now", the trend of the wet well, and snapshot names that cannot leave their folder.
import t, { type Test } from 'tap';
import { parseDocument } from 'yaml';
import { parseConfig } from '../config/loader.ts';
import { startGateway } from '../gateway/main.ts';
import { hashPassword } from '../gateway/console/password.ts';
import { startPumpStation } from '../simulators/pump-station/index.ts';
import { exampleConfig } from './helpers/example-config.ts';
import { freePort } from './helpers/ports.ts';
import { tempDir } from './helpers/temp.ts';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './helpers/wait.ts';

const PW = 'station-engineer-1';
const TOKEN = 'technician-laptop-token-42';
const CLI = join(import.meta.dirname, '..', 'bin', 'cityedge.mjs');

async function start(t: Test) {
  const dir = tempDir(t, 'console-data');
  const plc = await startPumpStation({ port: 0, tickMs: 100, timeScale: 20 });
  t.teardown(() => plc.close());
  const doc = parseDocument(exampleConfig({ plcPort: plc.port, brokerUrl: `mqtt://127.0.0.1:${await freePort()}`, pollMs: 200, bufferPath: dir }).yaml);
  doc.set('api', doc.createNode({ port: 0, trends: { step: '1s' }, users: [
    { name: 'eng', role: 'engineer', password_hash: await hashPassword(PW) },
    { name: 'tech', role: 'viewer', token_sha256: createHash('sha256').update(TOKEN).digest('hex') },
  ] }));
  // A second device nobody answers for: the overview must tell it apart at a glance.
  const devices = doc.get('devices') as { add(v: unknown): void };
  devices.add(doc.createNode({ id: 'plc9', driver: 'modbus-tcp', host: '127.0.0.1', port: await freePort(), poll_ms: 500, timeout_ms: 200, tags: [{ name: 'x', address: 'hr:0', type: 'uint16' }] }));
  const config = parseConfig(doc.toString(), 'console-data.yaml');
  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  const { apiUrl } = await gw.ready();
  const res = await fetch(`${apiUrl}/api/login`, { method: 'POST', body: JSON.stringify({ user: 'eng', password: PW }) });
  const { csrf } = await res.json() as { csrf: string };
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const get = async <T>(path: string) => (await fetch(`${apiUrl}${path}`, { headers: { cookie } })).json() as Promise<T>;
  return { url: apiUrl!, cookie, csrf, get, plc };
}

type Overview = { devices: { id: string; state: string; last_good_at: number | null; requests_per_scan: number; poll_ms: number | null }[]; journal: { backlog: number }; upstreams: { id: string; connected: boolean }[] };
type Values = { values: Record<string, Record<string, { v: unknown; q: string; t: number }>> };

t.test('overview: the answering PLC is ok, the silent one down, the upstream not connected', async (t) => {
  const { get } = await start(t);
  await waitFor(async () => {
    const o = await get<Overview>('/api/overview');
    return o.devices.find((d) => d.id === 'plc1')?.state === 'ok' && o.devices.find((d) => d.id === 'plc9')?.state === 'down';
  }, { what: 'plc1 ok and plc9 down' });
  const o = await get<Overview>('/api/overview');
  const plc1 = o.devices.find((d) => d.id === 'plc1')!;
  t.ok(plc1.last_good_at! > Date.now() - 60_000, 'plc1 answered recently');
  t.ok(plc1.requests_per_scan >= 1);
  t.equal(plc1.poll_ms, 200);
  t.equal(o.devices.find((d) => d.id === 'plc9')!.last_good_at, null, 'plc9 never answered');
  t.match(o.upstreams, [{ id: 'city', connected: false }]);
  t.ok(o.journal.backlog > 0, 'with no broker, the journal holds the data');
});

t.test('cityedge status shows the same from the running gateway, and fails while something is down', async (t) => {
  const { url, get } = await start(t);
  await waitFor(async () => (await get<Overview>('/api/overview')).devices.every((d) => d.state !== 'unknown'), { what: 'both devices scanned' });
  const run = (args: string[]) => new Promise<{ code: number; out: string }>((resolve) => {
    execFile(process.execPath, [CLI, 'status', '--url', url, ...args], { env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 99) : 0, out: stdout });
    });
  });
  const r = await run(['--token', TOKEN]);
  t.equal(r.code, 1, 'exit 1: plc9 is down and the upstream not connected');
  t.match(r.out, /plc1\b.*\bok\b/);
  t.match(r.out, /plc9\b.*\bdown\b/);
  t.match(r.out, /ps-gongshu-012/);
  t.equal((await run(['--token', 'wrong-token'])).code, 3, 'a wrong token: exit 3');
});

t.test('devices list their tags; values and live changes follow the PLC', async (t) => {
  const { url, cookie, get } = await start(t);
  const dv = await get<{ devices: { id: string; tags: { name: string; unit?: string }[] }[] }>('/api/devices');
  t.match(dv.devices.find((d) => d.id === 'plc1')!.tags.find((x) => x.name === 'wet_well_level'), { unit: 'm' });
  await waitFor(async () => (await get<Values>('/api/values')).values.plc1?.heartbeat !== undefined, { what: 'the heartbeat in /api/values' });

  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const res = await fetch(`${url}/api/live`, { headers: { cookie }, signal: ctl.signal });
  t.match(res.headers.get('content-type'), /text\/event-stream/);
  const reader = res.body!.getReader();
  const seen: number[] = [];
  let text = '';
  const decoder = new TextDecoder();
  // The heartbeat register counts up every second of PLC time: two distinct values prove a stream.
  while (seen.length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    for (const m of text.matchAll(/event: values\ndata: (.*)\n\n/g)) {
      const c = JSON.parse(m[1]!) as { device: string; points: { tag: string; v: number }[] };
      const hb = c.points.find((p) => p.tag === 'heartbeat');
      if (c.device === 'plc1' && hb && !seen.includes(hb.v)) seen.push(hb.v);
    }
    text = text.slice(text.lastIndexOf('\n\n') + 2);
  }
  t.equal(seen.length, 2, `the heartbeat changed on the stream: ${seen.join(' → ')}`);
});

t.test('a live stream ends when its session does', async (t) => {
  const { url, cookie, csrf } = await start(t);
  const ctl = new AbortController();
  t.teardown(() => ctl.abort());
  const res = await fetch(`${url}/api/live`, { headers: { cookie }, signal: ctl.signal });
  const reader = res.body!.getReader();
  await reader.read();
  t.equal((await fetch(`${url}/api/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status, 204);
  // Values keep coming until the stream's next check (every 15 s): then it closes.
  const ended = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 60_000);
    void (async () => {
      try { for (;;) if ((await reader.read()).done) break; } catch { /* closed */ }
      clearTimeout(timer);
      resolve(true);
    })();
  });
  t.ok(ended, 'the server closed the stream after the logout');
});

t.test('read now answers with a fresh scan; a sensor or an unknown device cannot be read', async (t) => {
  const { url, cookie, csrf } = await start(t);
  const post = (path: string) => fetch(`${url}${path}`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
  await waitFor(async () => (await (await post('/api/devices/plc1/read')).json() as { points: unknown[] }).points.length > 0, { what: 'a read of plc1' });
  const before = Date.now();
  const r = await (await post('/api/devices/plc1/read')).json() as { points: { tag: string; q: string; t: number }[]; error?: unknown };
  t.notOk(r.error);
  t.ok(r.points.every((p) => p.t >= before - 5), 'every point read after the request');
  t.match(r.points.find((p) => p.tag === 'wet_well_level'), { q: 'good' });
  const down = await (await post('/api/devices/plc9/read')).json() as { error?: { code: string } };
  t.ok(down.error?.code, `a silent device answers with its error (${down.error?.code})`);
  t.equal((await post('/api/devices/nope/read')).status, 404);
});

t.test('the trend of the wet well fills step by step', async (t) => {
  const { get } = await start(t);
  await waitFor(async () => (await get<{ points: unknown[] }>('/api/trend?tag=plc1.wet_well_level&hours=0.25')).points.length >= 3, { what: 'three trend steps' });
  const tr = await get<{ step_ms: number; points: [number, number, number, number][] }>('/api/trend?tag=plc1.wet_well_level&hours=0.25');
  t.equal(tr.step_ms, 1000, '15 min of 1 s steps: 900 points, none merged');
  for (const [ts, mean, min, max] of tr.points) t.ok(min <= mean && mean <= max && ts % 1000 === 0 && mean >= 0 && mean < 10, `step ${ts}: ${min} ≤ ${mean} ≤ ${max} m`);
  t.match(await get('/api/trend?tag=../../etc&hours=1'), { error: { code: 'CE_ERR_CMD_INVALID' } }, 'a tag that is no tag is refused');
  t.same((await get<{ points: unknown[] }>('/api/trend?tag=plc1.no_such_tag&hours=1')).points, [], 'an unknown tag has no steps');
});

t.test('snapshots: only names the gateway writes are looked up', async (t) => {
  const { url, cookie } = await start(t);
  for (const p of ['..%2F..%2Fetc%2Fpasswd', 'x.jpg', '..%2Fjournal.db']) {
    t.equal((await fetch(`${url}/api/snapshots/${p}`, { headers: { cookie } })).status, 400, `${decodeURIComponent(p)} refused`);
  }
  t.equal((await fetch(`${url}/api/snapshots/rule-20261123T101010123Z.jpg`, { headers: { cookie } })).status, 404);
});
