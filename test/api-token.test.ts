// `cityedge token` as a technician uses it: the printed config line goes into the configuration,
// the printed token opens the HTTP API with that role, and the API refuses to listen on a taken
// port without stopping the gateway.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/loader.ts';
import { startGateway } from '../gateway/main.ts';
import { freePort } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'cityedge.mjs');

t.test('a token made by the CLI opens the API with its role', async (t) => {
  const out = execFileSync(process.execPath, [CLI, 'token', '--user', 'tech-wang', '--role', 'engineer'], { encoding: 'utf8' });
  const token = /^ {2}(\S{32})$/m.exec(out)![1]!;
  const line = /^ {2}(- \{ name: tech-wang.*\})$/m.exec(out)![1]!;
  t.notOk(line.includes(token), 'the config line does not hold the token');
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig(`
site: { id: s1 }
buffer: { path: ${JSON.stringify(dir)}, journal: memory }
devices:
  - { id: plc1, driver: modbus-tcp, host: 127.0.0.1, port: ${await freePort()}, tags: [ { name: a, address: "hr:0", type: uint16 } ] }
alarms:
  - { id: a_high, tag: plc1.a, above: 10 }
api:
  port: 0
  users:
    ${line}
`, 'token.yaml');
  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  const { apiUrl } = await gw.ready();
  const res = await fetch(`${apiUrl}/api/commands/disable-alarm`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"rule":"a_high"}' });
  t.equal(res.status, 200, 'an engineer token may give commands');
  t.match(await res.json(), { ok: true, result: { state: 'out_of_service' } });
  t.equal(gw.status().alarms[0]!.state, 'out_of_service');
});

t.test('a taken port: the API says so and retries; the gateway runs on', async (t) => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const port = (blocker.address() as { port: number }).port;
  const logs: { code?: string; msg: string }[] = [];
  const logger = { info() {}, warn() {}, debug() {}, error(o: { code?: string }, msg: string) { logs.push({ ...o, msg }); }, child() { return logger; } };
  const config = parseConfig(`
site: { id: s1 }
buffer: { journal: memory }
devices:
  - { id: plc1, driver: modbus-tcp, host: 127.0.0.1, port: ${await freePort()}, tags: [ { name: a, address: "hr:0", type: uint16 } ] }
api: { port: ${port} }
`, 'taken.yaml');
  const gw = startGateway(config, { logger: logger as never });
  t.teardown(() => gw.stop());
  await waitFor(() => logs.some((l) => l.code === 'CE_ERR_API_LISTEN'), { what: 'the listen error', timeoutMs: 30_000 });
  t.match(logs.find((l) => l.code === 'CE_ERR_API_LISTEN')!.msg, `127.0.0.1:${port}`);
  await new Promise<void>((r) => blocker.close(() => r()));
  const { apiUrl } = await gw.ready();
  t.equal(apiUrl, `http://127.0.0.1:${port}`, 'listening once the port is free');
  t.equal((await fetch(`${apiUrl}/api/status`)).status, 401, 'with no users, every request is refused');
});
