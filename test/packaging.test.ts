// The box packaging (docs/operations.md): what a technician relies on in Dockerfile.arm64 and the
// systemd unit, read from the files themselves, and the gateway started exactly as the unit starts
// it (same argv, environment and working folder, paths moved into a temp dir), stopped with the
// unit's KillSignal: it must exit 0 within TimeoutStopSec with its journal closed cleanly. The
// image itself cannot be built here (no Docker engine); its health check command is run for real.
import t from 'tap';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './helpers/ports.ts';
import { spawnProcess } from './helpers/proc.ts';
import { tempDir } from './helpers/temp.ts';
import { withTimeout } from './helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

/** The signals gateway/cli/run.ts waits for before its clean stop. */
const STOP_SIGNALS = [...read('gateway/cli/run.ts').matchAll(/process\.once\('(SIG[A-Z]+)'/g)].map((m) => m[1]!);

// ---- the unit ----

/** `Section.Key` → every value given, in order (systemd keys may repeat). */
function parseUnit(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) { section = s[1]!; continue; }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const UNIT_FILE = join(ROOT, 'packaging', 'systemd', 'cityedge.service');
const unit = parseUnit(readFileSync(UNIT_FILE, 'utf8'));
const one = (key: string): string => unit.get(key)?.at(-1) ?? '';
/** systemd time spans as written here: "90s", "2min", "90". */
function seconds(span: string): number {
  const m = /^(\d+)\s*(s|sec|min)?$/.exec(span);
  if (!m) throw new Error(`time span ${JSON.stringify(span)}: not understood`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

t.test('the systemd unit: runs the gateway from its config folder, unprivileged and confined', async (t) => {
  const argv = one('Service.ExecStart').split(/\s+/);
  const configDir = `/etc/${one('Service.ConfigurationDirectory')}`;
  t.match(argv[0], /^\/\S*node$/, 'ExecStart runs node by absolute path');
  t.match(argv[1], /\/bin\/cityedge\.mjs$/, 'the cityedge command');
  t.same(argv.slice(2, 4), ['run', '--config'], 'the run verb with a config file');
  t.ok(argv[4]?.startsWith(`${configDir}/`), `the config file lies under ConfigurationDirectory (${configDir})`);
  t.equal(one('Service.Type'), 'simple');
  t.ok(one('Service.User') !== '' && one('Service.User') !== 'root' && one('Service.User') !== '0', 'User is not root');
  t.ok(one('Service.StateDirectory'), 'StateDirectory gives the journal a writable folder');
  t.equal(one('Service.Restart'), 'on-failure');
  t.ok(seconds(one('Service.RestartSec')) > 0, 'a pause before a restart');
  t.ok(one('Unit.StartLimitIntervalSec') && one('Unit.StartLimitBurst'), 'a failing gateway stops restarting');
  t.ok(STOP_SIGNALS.includes(one('Service.KillSignal')), `KillSignal ${one('Service.KillSignal')} is one run.ts stops cleanly on (${STOP_SIGNALS.join(', ')})`);
  t.ok(seconds(one('Service.TimeoutStopSec')) >= 30, 'TimeoutStopSec leaves time for the journal\'s close');
  for (const [key, want] of Object.entries({
    NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes',
    ProtectKernelTunables: 'yes', ProtectKernelModules: 'yes', ProtectKernelLogs: 'yes', ProtectControlGroups: 'yes',
  })) t.equal(one(`Service.${key}`), want, `${key}=${want}`);
  t.match(one('Service.RestrictAddressFamilies'), /AF_INET AF_INET6 AF_UNIX/, 'IP and local sockets only');
  t.match(one('Service.SupplementaryGroups'), /\bdialout\b/, 'the dialout group opens RS-485 adapters');
  t.ok(unit.get('Service.DeviceAllow')?.some((d) => /^char-ttyUSB rw$/.test(d)), 'USB serial adapters allowed');
  t.ok(one('Service.MemoryMax'), 'a memory guard');
  t.ok(Number(one('Service.LimitNOFILE')) >= 4096, 'room for many devices\' sockets');

  const analyze = spawnSync('systemd-analyze', ['verify', UNIT_FILE], { encoding: 'utf8' });
  if (analyze.error) {
    t.comment('systemd-analyze not installed: unit syntax not verified');
  } else {
    // verify reports unknown keys and bad values on stderr and still exits 0.
    t.equal(analyze.stderr.trim(), '', 'systemd-analyze verify finds nothing to say');
    t.equal(analyze.status, 0);
  }
});

// ---- the image ----

interface Instruction { op: string; args: string }
/** Instructions by stage (one stage per FROM), continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ').split('\n');
  for (const line of lines) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === 'FROM') stages.push([]);
    stages.at(-1)?.push({ op: m[1]!, args: m[2]!.trim() });
  }
  return stages;
}

const stages = parseDockerfile(read('Dockerfile.arm64'));
const runtime = stages.at(-1)!;
const last = (op: string) => runtime.filter((i) => i.op === op).at(-1)?.args ?? '';
/** The HEALTHCHECK command, exec form (JSON), and the URL it is given. */
const healthArgv = JSON.parse(last('HEALTHCHECK').replace(/^.*?\bCMD\s+/, '')) as string[];
const healthUrl = /CITYEDGE_HEALTH_URL=(\S+)/.exec(runtime.filter((i) => i.op === 'ENV').map((i) => i.args).join(' '))?.[1] ?? '';

t.test('Dockerfile.arm64: arm64, non-root, volumes, health check, no compilers at run time', async (t) => {
  t.ok(stages.length >= 2, 'multi-stage');
  for (const s of stages) t.match(s[0]!.args, /--platform=linux\/arm64/, `${s[0]!.args}: arm64`);
  t.ok(stages[0]!.some((i) => i.op === 'RUN' && /npm ci --omit=dev/.test(i.args)), 'the build stage installs the runtime dependencies from the lock file');
  t.ok(runtime.some((i) => i.op === 'COPY' && i.args.startsWith('--from=')), 'the runtime stage takes the built modules from the build stage');

  const user = last('USER').split(':')[0]!;
  t.ok(user !== '' && user !== 'root' && user !== '0', `runs as ${user}, not root`);
  t.ok(runtime.some((i) => i.op === 'RUN' && new RegExp(`useradd .*--uid \\d+ .*\\b${user}\\b`).test(i.args)), 'the user has a fixed uid');
  const volumes = JSON.parse(last('VOLUME')) as string[];
  t.ok(volumes.includes('/etc/cityedge') && volumes.includes('/var/lib/cityedge'), 'config and data are volumes');
  t.equal(last('EXPOSE'), '8080', 'the API port exposed');
  t.match(last('HEALTHCHECK'), /--interval=\S+/, 'a health check');
  t.match(healthUrl, /^http:\/\/127\.0\.0\.1:8080\/healthz$/, 'on /healthz');
  t.ok(STOP_SIGNALS.includes(last('STOPSIGNAL')), `STOPSIGNAL ${last('STOPSIGNAL')} is one run.ts stops cleanly on`);
  const argv = [...JSON.parse(last('ENTRYPOINT')) as string[], ...JSON.parse(last('CMD')) as string[]];
  t.match(argv[0], /\/tini$/, 'an init that forwards signals and reaps ffmpeg');
  const node = argv.indexOf('node');
  t.match(argv[node + 1], /\/bin\/cityedge\.mjs$/, 'runs the cityedge command');
  t.same(argv.slice(node + 2, node + 4), ['run', '--config'], 'the run verb with a config file');
  t.ok(volumes.some((v) => argv[node + 4]?.startsWith(`${v}/`)), `the config file (${argv[node + 4]}) lies in a volume`);

  const installs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
  t.notMatch(installs, /\b(build-essential|gcc|g\+\+|make|python3|clang|node-gyp)\b/, 'no compilers in the runtime stage');
  t.match(installs, /\bffmpeg\b/, 'ffmpeg for cameras');
  // A read-only container cannot bundle on first use: the bundle must be in the image.
  t.match(installs, /node bin\/cityedge\.mjs --version/, 'the runtime stage builds the bundle');

  // Everything bin/cityedge.mjs scans must reach the image, or it falls back to tsx.
  const scanned = JSON.parse((/const SOURCE_DIRS = (\[.*?\]);/.exec(read('bin/cityedge.mjs'))![1]!).replaceAll("'", '"')) as string[];
  const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const copied = stages[0]!.filter((i) => i.op === 'COPY').map((i) => i.args.split(/\s+/)[0]);
  for (const d of scanned) {
    t.notOk(ignored.includes(d), `.dockerignore keeps ${d}/`);
    t.ok(copied.includes(d), `the image gets ${d}/`);
  }
});

// ---- a real run, as the unit would start it ----

t.test('started as the unit starts it: healthy, then stopped by KillSignal with the journal closed cleanly', async (t) => {
  const dir = tempDir(t, 'cityedge-packaging-');
  const stateDir = join(dir, 'state');
  const configDir = join(dir, 'etc');
  mkdirSync(configDir);
  const port = await freePort();
  const deadPort = await freePort(); // a PLC that is not there: the gateway runs on, as on site
  const unitConfig = one('Service.ExecStart').split(/\s+/)[4]!;
  const configFile = join(configDir, 'cityedge.yaml');
  writeFileSync(configFile, stringify({
    site: { id: 'packaging-site' },
    buffer: { path: stateDir },
    api: { host: '127.0.0.1', port },
    devices: [{ id: 'plc1', driver: 'modbus-tcp', host: '127.0.0.1', port: deadPort, poll_ms: 1000, tags: [{ name: 'r0', address: 'hr:0', type: 'uint16' }] }],
  }));

  // The unit's paths moved into this checkout and the temp dir; everything else as written.
  const place = (s: string) => (s === unitConfig ? configFile : s.replace(/^\/opt\/cityedge(?=\/|$)/, ROOT));
  const [, ...args] = one('Service.ExecStart').split(/\s+/).map(place);
  const env: Record<string, string | undefined> = { CITYEDGE_LOG_LEVEL: undefined, CITYEDGE_DEBUG: undefined };
  for (const e of unit.get('Service.Environment') ?? []) {
    const eq = e.indexOf('=');
    env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  // What systemd adds for StateDirectory= and ConfigurationDirectory=.
  Object.assign(env, { STATE_DIRECTORY: stateDir, CONFIGURATION_DIRECTORY: configDir });
  const stopMs = seconds(one('Service.TimeoutStopSec')) * 1000;
  const gw = await spawnProcess(process.execPath, args, {
    t, cwd: place(one('Service.WorkingDirectory')), env, name: 'gateway', readyLine: /HTTP API listening/, readyTimeoutMs: 60_000, killGraceMs: stopMs,
  });

  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  t.equal(res.status, 200, 'GET /healthz: 200');
  t.match(await res.json(), { status: 'ok' });
  t.match(gw.output(), /^\{"level":/m, 'logs are JSON lines for the journal of systemd');

  // The image's health check, run here as Docker runs it.
  const health = (url: string) => spawnSync(process.execPath, healthArgv.slice(1), { env: { ...process.env, CITYEDGE_HEALTH_URL: url }, timeout: 30_000 });
  const healthUrlHere = healthUrl.replace(':8080/', `:${port}/`);
  t.equal(health(healthUrlHere).status, 0, 'the HEALTHCHECK command says healthy');

  // Why docs/operations.md says to back up the journal stopped: a running gateway locks it.
  const journalFile = join(stateDir, 'journal.db');
  t.throws(() => {
    const db = new Database(journalFile, { readonly: true, fileMustExist: true });
    try { db.prepare('SELECT count(*) FROM records').get(); } finally { db.close(); }
  }, /locked|busy/i, 'another process cannot read the journal while the gateway runs');

  // KillMode=mixed: the signal goes to the main process only.
  process.kill(gw.pid, one('Service.KillSignal') as NodeJS.Signals);
  const exit = await withTimeout(gw.exited, stopMs, `the gateway to exit within TimeoutStopSec (${stopMs} ms)`);
  t.same([exit.code, exit.signal], [0, null], 'exit code 0, as systemd counts a clean stop');
  t.match(gw.output(), /"msg":"gateway stopped"/, 'the log says it stopped');
  t.notOk(existsSync(`${journalFile}-wal`), 'the write-ahead log was checkpointed and removed');
  const db = new Database(journalFile, { readonly: true, fileMustExist: true });
  t.teardown(() => db.close());
  t.equal(db.prepare("SELECT value FROM meta WHERE key = 'clean'").pluck().get(), 1, 'the journal is marked closed cleanly');
  t.not(health(healthUrlHere).status, 0, 'the HEALTHCHECK command says unhealthy once it is gone');
});
