// The gateway's log as whoever reads it sees it: a child process logs what the code logs (an
// upstream URL with its password, a refused request's headers, a config section, an error quoting
// a URL), and its stdout must carry none of the secrets, in JSON by default and as text on
// request. And a process killed without warning has still written every line it logged.
import t, { type Test } from 'tap';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnProcess } from './helpers/proc.ts';

const LOG_TS = pathToFileURL(join(import.meta.dirname, '..', 'gateway', 'log.ts')).href;
const SECRETS = ['s3cret-pw', 'cam-pw-12345', 'Bearer abc.def', 'sid=77', 'influx-token-9', 'scrypt$16384', 'nested-pw', 'child-pw', 'err-pw', 'msg-pw'];

/** What the child logs: the shapes the gateway's code and configuration produce. */
const SCRIPT = `
const { createLogger } = await import(${JSON.stringify(LOG_TS)});
const log = createLogger();
log.info({ url: 'mqtt://city:s3cret-pw@10.0.0.1:1883', device: 'plc1' }, 'upstream connected');
log.warn({ req: { headers: { authorization: 'Bearer abc.def', cookie: 'sid=77', host: 'box:8080' } }, ip: '10.0.0.9' }, 'HTTP API request without a valid token refused');
log.info({ camera: { id: 'gate', source: 'rtsp://admin:cam-pw-12345@192.168.1.64/Streaming/Channels/101' } }, 'camera configured');
log.info({ upstream: { id: 'tsdb', token: 'influx-token-9', password: 'nested-pw' }, user: { name: 'ops', password_hash: 'scrypt$16384$8$1$AA==$BB=', token_sha256: 'ab12' } }, 'config loaded');
log.child({ part: 'broker', url: 'mqtt://ns:child-pw@lns:1883' }).info('network server connected');
log.error({ code: 'CE_ERR_UPSTREAM_CONNECT', err: new Error('connect ECONNREFUSED for mqtts://city:err-pw@broker:8883') }, 'cannot connect');
log.warn('reconnecting to mqtt://city:msg-pw@10.0.0.1:1883 in 5 s');
`;

async function run(t: Test, script: string, env: Record<string, string | undefined>): Promise<{ out: string; status: number }> {
  const p = await spawnProcess(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    t, name: 'logger', env: { CITYEDGE_LOG_LEVEL: undefined, CITYEDGE_LOG_FORMAT: undefined, ...env },
  });
  const { status } = await p.exited;
  await p.kill(); // the group is gone; this only waits for the output to be read to its end
  return { out: p.output(), status };
}

t.test('JSON lines by default, with passwords, tokens, headers and URL credentials masked', async (t) => {
  const { out, status } = await run(t, SCRIPT, {});
  t.equal(status, 0, 'the child ran');
  const lines = out.trim().split('\n');
  const recs = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(recs.length, 7, 'one JSON object per line, on a pipe (no terminal)');
  for (const s of SECRETS) t.notOk(out.includes(s), `"${s}" is nowhere in the output`);

  const [conn, refused, camera, config, child, err, msg] = recs as Record<string, any>[];
  t.equal(conn!.url, 'mqtt://city:[redacted]@10.0.0.1:1883', 'the upstream URL keeps its user and host, not its password');
  t.equal(conn!.device, 'plc1', 'other fields are kept');
  t.same(refused!.req.headers, { authorization: '[redacted]', cookie: '[redacted]', host: 'box:8080' }, 'authorization and cookie headers masked, the host kept');
  t.equal(camera!.camera.source, 'rtsp://admin:[redacted]@192.168.1.64/Streaming/Channels/101', 'a camera stream URL one level down is masked');
  t.same(config!.upstream, { id: 'tsdb', token: '[redacted]', password: '[redacted]' }, 'a config section: token and password masked');
  t.same(config!.user, { name: 'ops', password_hash: '[redacted]', token_sha256: '[redacted]' }, 'hashes are not logged either');
  t.match(child, { part: 'broker', url: 'mqtt://ns:[redacted]@lns:1883' }, 'a child logger\'s bound URL is masked');
  t.match(err, { code: 'CE_ERR_UPSTREAM_CONNECT', err: { type: 'Error', message: 'connect ECONNREFUSED for mqtts://city:[redacted]@broker:8883' } }, 'an error quoting a URL is masked, still an error');
  t.equal(msg!.msg, 'reconnecting to mqtt://city:[redacted]@10.0.0.1:1883 in 5 s', 'a URL in the message itself is masked');
});

t.test('CITYEDGE_LOG_FORMAT=pretty: human text, as masked', async (t) => {
  const { out, status } = await run(t, SCRIPT, { CITYEDGE_LOG_FORMAT: 'pretty' });
  t.equal(status, 0, 'the child ran');
  for (const s of SECRETS) t.notOk(out.includes(s), `"${s}" is nowhere in the output`);
  const first = out.split('\n')[0]!;
  t.throws(() => JSON.parse(first), 'not JSON');
  t.match(first, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: upstream connected/, 'a local time, the level and the message, first');
  t.match(out, /WARN: reconnecting to mqtt:\/\/city:\[redacted\]@10\.0\.0\.1:1883 in 5 s/, 'a warning reads as a sentence');
});

t.test('CITYEDGE_LOG_FORMAT=json wins, and a level from CITYEDGE_LOG_LEVEL', async (t) => {
  const { out } = await run(t, SCRIPT, { CITYEDGE_LOG_FORMAT: 'json', CITYEDGE_LOG_LEVEL: 'warn' });
  const recs = out.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string });
  t.same(recs.map((r) => r.msg), ['HTTP API request without a valid token refused', 'cannot connect', 'reconnecting to mqtt://city:[redacted]@10.0.0.1:1883 in 5 s'], 'only warnings and errors');
});

for (const format of ['json', 'pretty']) {
  t.test(`${format}: killed at once (SIGKILL), every line logged before is out`, async (t) => {
    const script = `
const { createLogger } = await import(${JSON.stringify(LOG_TS)});
const log = createLogger();
for (let i = 0; i < 2000; i++) log.info({ i }, 'line ' + i);
process.kill(process.pid, 'SIGKILL');
`;
    const { out, status } = await run(t, script, { CITYEDGE_LOG_FORMAT: format });
    t.equal(status, 128 + 9, 'the child died of SIGKILL: no exit handler ran');
    const seen = out.match(/line \d+/g) ?? [];
    t.equal(seen.length, 2000, 'all 2000 lines were written');
    t.equal(seen.at(-1), 'line 1999', 'up to the last one');
  });
}
