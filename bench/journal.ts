// `npm run bench:journal`: the durable journal (gateway/journal/sqlite.ts) measured in one run: how
// fast it takes samples in, how fast the MQTT uplink drains a backlog out of it to a real Mosquitto,
// what mqtt.js alone gets from the same broker (the ceiling), what a process holding 10 million
// samples of backlog costs in memory, and what a sample costs on disk (docs/performance.md, Journal).
//
//   npm run bench:journal -- [--samples 2000000] [--rss-samples 10000000] [--windows 32,256] [--repeat 3]
//                            [--no-rss] [--no-nodelay] [--broker-default]
//
// Every measured part runs in a child process of its own (this file again, with --role), so each
// figure comes from a fresh heap: `append` (append rate), `fill` (the backlog the drains start from),
// `drain` (MqttJsonUplink from cloud-sync/mqtt-uplink.ts, as gateway/main.ts builds it, on that
// journal), `raw` (a bare mqtt.js client publishing payloads of the same size), `rss-fill` and
// `rss-reopen` (memory with the big backlog). Children print `START` when their clock starts and
// `RESULT {json}` when done; this process meters Mosquitto and the machine between the two.
// Speed is measured, not asserted: a missed target is printed as MISSED and the exit code stays 0;
// only a run that could not measure (a child died, the deadline passed) exits non-zero.
import { execFileSync } from 'node:child_process';
import { copyFileSync, closeSync, existsSync, fsyncSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Journal, JournalRecord } from '../gateway/journal/journal.ts';
import type { Logger, Sample } from '../gateway/model/index.ts';
import { killAllNow, startChild, stopAll, type Child } from './lib/children.ts';
import { describeMachine, machine } from './lib/machine.ts';
import { freePort, LOOPBACK, startMosquitto, type Broker } from './lib/mosquitto.ts';
import { sampleMachine, sampleProcess, type MachineCpu, type ProcSample } from './lib/procfs.ts';
import { fmt, summarize } from './lib/stats.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const RUN_TS = join(ROOT, 'bin', 'run-ts.mjs');
const SITE = 'bench';
const UPSTREAM = 'bench';
const DEVICES = 20;
const PER_RECORD = 100;
/** What the bench broker advertises as MQTT 5 Receive Maximum, so the windows asked for are the windows used. */
const RECEIVE_MAX = 1000;
const APPEND_TARGET = 500_000;
const DRAIN_TARGET = 500_000;
const DRAIN_RAW_SHARE = 0.3;
const RSS_TARGET_MB = 150;

const { values: flags } = parseArgs({
  options: {
    samples: { type: 'string', default: '2000000' },
    'rss-samples': { type: 'string', default: '10000000' },
    windows: { type: 'string', default: '32,256' },
    repeat: { type: 'string', default: '3' },
    'no-rss': { type: 'boolean', default: false },
    'no-nodelay': { type: 'boolean', default: false },
    // Debian's Mosquitto as configured by bench/lib/mosquitto.ts: Receive Maximum 20, which caps every window at 20.
    'broker-default': { type: 'boolean', default: false },
    // Internal: what a child process is for, and its parameters.
    role: { type: 'string' },
    dir: { type: 'string' },
    fsync: { type: 'string', default: 'full' },
    url: { type: 'string' },
    window: { type: 'string', default: '32' },
    messages: { type: 'string', default: '0' },
    nodelay: { type: 'boolean', default: false },
  },
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const num = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

// ---------------------------------------------------------------------------------------------
// Shared by the children: the samples, the files, the process's own memory.

interface Batch { device: string; points: Sample[] }

/**
 * 20 devices × `variants` batches of 100 samples (tags r0…r99, uint16-like values, quality good),
 * built before any clock starts and appended in turn: the journal is measured, not the making of
 * Sample objects (in the gateway the drivers make them).
 */
function batchPool(ts0: number, variants = 10): Batch[] {
  const pool: Batch[] = [];
  for (let k = 0; k < DEVICES * variants; k++) {
    const device = `dev${String(k % DEVICES).padStart(2, '0')}`;
    const points: Sample[] = [];
    for (let i = 0; i < PER_RECORD; i++) {
      points.push({ tag: `${device}.r${i}`, value: (k * 7919 + i * 104_729) & 0xffff, quality: 'good', ts: ts0 + k * 1000 });
    }
    pool.push({ device, points });
  }
  return pool;
}

/** Bytes of the journal's files: the database and its write-ahead log (no -shm: exclusive locking). */
function journalBytes(dir: string): { db: number; wal: number } {
  const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
  return { db: size(join(dir, 'journal.db')), wal: size(join(dir, 'journal.db-wal')) };
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

function memMb(): { rssMb: number; hwmMb: number } {
  const s = sampleProcess(process.pid);
  return { rssMb: (s?.rssKb ?? NaN) / 1024, hwmMb: (s?.hwmKb ?? NaN) / 1024 };
}

function result(obj: object): Promise<void> {
  return new Promise((r) => process.stdout.write(`RESULT ${JSON.stringify(obj)}\n`, () => r()));
}

/** Counts the journal's transactions (each commit is one) and the time spent in them, fsync included. */
async function meterTransactions(): Promise<{ n: number; ms: number; maxMs: number }> {
  const { default: Database } = await import('better-sqlite3');
  const proto = Database.prototype as unknown as { transaction: (fn: (...a: unknown[]) => unknown) => (...a: unknown[]) => unknown };
  const original = proto.transaction;
  const meter = { n: 0, ms: 0, maxMs: 0 };
  proto.transaction = function (this: unknown, fn) {
    const tx = original.call(this, fn);
    return (...args: unknown[]) => {
      const t0 = performance.now();
      try { return tx(...args); } finally {
        const d = performance.now() - t0;
        meter.n++; meter.ms += d; meter.maxMs = Math.max(meter.maxMs, d);
      }
    };
  };
  return meter;
}

/** What-if only: TCP_NODELAY on every socket mqtt.js opens (it leaves Nagle's algorithm on). */
async function forceNoDelay(): Promise<void> {
  const { default: net } = await import('node:net');
  const original = net.createConnection;
  (net as { createConnection: unknown }).createConnection = (...args: Parameters<typeof net.createConnection>) =>
    original(...args).setNoDelay(true);
}

// ---------------------------------------------------------------------------------------------
// The children.

async function roleAppend(): Promise<void> {
  const dir = flags.dir!;
  const fsync = flags.fsync as 'full' | 'normal' | 'off';
  const samples = Number(flags.samples);
  const tx = await meterTransactions();
  const { SqliteJournal } = await import('../gateway/journal/sqlite.ts');
  const pool = batchPool(Date.now());
  const journal = new SqliteJournal({ dir, fsync });
  journal.openCursor(UPSTREAM); // an upstream is configured: the records are kept for it
  tx.n = 0; tx.ms = 0; tx.maxMs = 0;
  process.stdout.write('START\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  for (let k = 0; n < samples; k++) {
    const b = pool[k % pool.length]!;
    journal.append(b.device, b.points);
    n += PER_RECORD;
  }
  journal.flush();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const files = journalBytes(dir);
  const stats = journal.stats();
  const mem = memMb();
  await journal.close();
  await result({
    samples: n, ms, perS: n / (ms / 1000), cpuPct: (cpu.user + cpu.system) / 10 / ms,
    commits: tx.n, commitMs: tx.ms, commitMaxMs: tx.maxMs, files, held: stats.points, ...mem,
  });
}

/** The backlog the drains start from: appended with a clock a minute behind, so it is historical. */
async function roleFill(): Promise<void> {
  const dir = flags.dir!;
  const samples = Number(flags.samples);
  const { SqliteJournal } = await import('../gateway/journal/sqlite.ts');
  const { systemClock } = await import('../gateway/model/index.ts');
  const clock = { now: () => Date.now() - 60_000, sleep: systemClock.sleep };
  const pool = batchPool(Date.now() - 60_000);
  process.stdout.write('START\n');
  const t0 = performance.now();
  const journal = new SqliteJournal({ dir, fsync: 'off', clock });
  let n = 0;
  for (let k = 0; n < samples; k++) {
    const b = pool[k % pool.length]!;
    journal.append(b.device, b.points);
    n += PER_RECORD;
  }
  const stats = journal.stats();
  await journal.close();
  // On disk before any drain starts: writeback of this file must not compete with the drains' fsyncs.
  fsyncFile(join(dir, 'journal.db'));
  await result({ samples: n, records: stats.records, bodyBytes: stats.bytes, ms: performance.now() - t0, files: journalBytes(dir) });
}

/** A logger that keeps what the uplink says: its window, and any warning or error. */
function keepingLogger(into: { window?: number; problems: string[] }): Logger {
  const log = (level: string) => (a: object | string, b?: string) => {
    const obj = typeof a === 'object' ? (a as Record<string, unknown>) : {};
    const msg = typeof a === 'string' ? a : (b ?? '');
    if (typeof obj.window === 'number') into.window = obj.window;
    if (level === 'warn' || level === 'error') into.problems.push(`${level}: ${msg}`);
  };
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

async function roleDrain(): Promise<void> {
  const dir = flags.dir!;
  const window = Number(flags.window);
  if (flags.nodelay) await forceNoDelay();
  const tx = await meterTransactions();
  const { SqliteJournal } = await import('../gateway/journal/sqlite.ts');
  const { MqttJsonUplink } = await import('../cloud-sync/mqtt-uplink.ts');
  const { systemClock } = await import('../gateway/model/index.ts');
  const { performance: perf } = await import('node:perf_hooks');

  const t0 = performance.now();
  // The gateway's defaults (config/schema.ts buffer): fsync full, commit_ms 250.
  const journal = new SqliteJournal({ dir });
  const openMs = performance.now() - t0;

  let drained!: () => void;
  const empty = new Promise<void>((r) => { drained = r; });
  // The journal as the uplink sees it, plus one check: the moment its backlog reaches zero.
  const watched: Journal = {
    append: (d, p) => journal.append(d, p),
    appendEvent: (c, d, b) => journal.appendEvent(c, d, b),
    openCursor: (u) => journal.openCursor(u),
    read: (u, n) => journal.read(u, n),
    rewind: (u) => journal.rewind(u),
    ack: (u, ids) => { journal.ack(u, ids); if (journal.backlog(u) === 0) drained(); },
    backlog: (u) => journal.backlog(u),
    stats: () => journal.stats(),
    onAppend: (l) => journal.onAppend(l),
    flush: () => journal.flush(),
    close: () => journal.close(),
  };
  const said: { window?: number; problems: string[] } = { problems: [] };
  const uplink = new MqttJsonUplink({
    upstream: { id: UPSTREAM, url: flags.url!, format: 'json', protocol_version: 5, keepalive_s: 30, inflight: window },
    site: { id: SITE, name: 'cityedge journal benchmark' },
    journal: watched, clock: systemClock, logger: keepingLogger(said), version: 'bench',
  });
  const records = journal.backlog(UPSTREAM);
  const samples = journal.stats().points;
  const abort = new AbortController();

  tx.n = 0; tx.ms = 0; tx.maxMs = 0;
  process.stdout.write('START\n');
  const elu0 = perf.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const t1 = performance.now();
  const running = uplink.run(abort.signal);
  await Promise.race([empty, running.then(() => { throw new Error(`the uplink stopped with ${journal.backlog(UPSTREAM)} records left: ${said.problems.join('; ')}`); })]);
  journal.flush(); // the last acknowledgements, committed: part of draining
  const ms = performance.now() - t1;
  const cpu = process.cpuUsage(cpu0);
  const elu = perf.eventLoopUtilization(elu0).utilization;
  const stats = uplink.stats();
  abort.abort();
  await running;
  await journal.close();
  await result({
    records, samples, ms, perS: samples / (ms / 1000), msgPerS: records / (ms / 1000), openMs,
    cpuPct: (cpu.user + cpu.system) / 10 / ms, elu, commits: tx.n, commitMs: tx.ms, commitMaxMs: tx.maxMs,
    window: said.window, published: stats.published, acked: stats.acked, connects: stats.connects, problems: said.problems.slice(0, 5),
  });
}

async function roleRaw(): Promise<void> {
  const messages = Number(flags.messages);
  if (flags.nodelay) await forceNoDelay();
  const { default: mqtt } = await import('mqtt');
  const { telemetryJson } = await import('../cloud-sync/json-format.ts');
  const { encodePoints } = await import('../gateway/journal/points.ts');
  // The same payloads the uplink sends for the same batches (historical, seq of the same width), built beforehand.
  const pool = batchPool(Date.now() - 60_000).map((b, i): { topic: string; payload: string } => {
    const rec: JournalRecord = { id: i + 1, lane: 'telemetry', channel: 'telemetry', device: b.device, seq: Math.floor(messages / DEVICES), ts: b.points[0]!.ts, count: b.points.length, body: encodePoints(b.points) };
    return { topic: `cityedge/v1/${SITE}/telemetry/${b.device}`, payload: telemetryJson(SITE, rec, true) };
  });
  const client = mqtt.connect(flags.url!, { protocolVersion: 5, clientId: `cityedge-bench-raw-${process.pid}`, clean: true, reconnectPeriod: 0, keepalive: 30, writeCache: false });
  const connack = await new Promise<{ properties?: { receiveMaximum?: number } }>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  // As the uplink does: the broker's Receive Maximum bounds the window.
  const window = Math.max(1, Math.min(Number(flags.window), connack.properties?.receiveMaximum ?? Infinity));
  process.stdout.write('START\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  let acked = 0;
  let bytes = 0;
  await new Promise<void>((resolve, reject) => {
    const next = () => {
      const m = pool[sent % pool.length]!;
      sent++;
      bytes += m.payload.length;
      client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
        if (err) { reject(err); return; }
        acked++;
        if (acked === messages) resolve();
        else if (sent < messages) next();
      });
    };
    for (let i = 0; i < window && sent < messages; i++) next();
  });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await client.endAsync();
  await result({ messages, samples: messages * PER_RECORD, ms, perS: (messages * PER_RECORD) / (ms / 1000), msgPerS: messages / (ms / 1000), cpuPct: (cpu.user + cpu.system) / 10 / ms, window, meanPayload: bytes / sent });
}

async function roleRssFill(): Promise<void> {
  const dir = flags.dir!;
  const samples = Number(flags.samples);
  const { SqliteJournal, RECORD_OVERHEAD_BYTES } = await import('../gateway/journal/sqlite.ts');
  const pool = batchPool(Date.now());
  const before = memMb();
  const journal = new SqliteJournal({ dir }); // fsync full, as in the gateway
  journal.openCursor(UPSTREAM); // held for an upstream that is away
  process.stdout.write('START\n');
  const t0 = performance.now();
  let n = 0;
  for (let k = 0; n < samples; k++) {
    const b = pool[k % pool.length]!;
    journal.append(b.device, b.points);
    n += PER_RECORD;
  }
  journal.flush();
  const ms = performance.now() - t0;
  const afterFlush = memMb();
  const filesOpen = journalBytes(dir);
  await sleep(3000);
  const afterIdle = memMb();
  const stats = journal.stats();
  const t1 = performance.now();
  await journal.close();
  const closeMs = performance.now() - t1;
  const filesClosed = journalBytes(dir);
  await result({ samples: n, ms, perS: n / (ms / 1000), before, afterFlush, afterIdle, filesOpen, filesClosed, closeMs, held: stats.points, records: stats.records, bodyChars: stats.bytes - stats.records * RECORD_OVERHEAD_BYTES });
}

async function roleRssReopen(): Promise<void> {
  const dir = flags.dir!;
  const { SqliteJournal } = await import('../gateway/journal/sqlite.ts');
  const before = memMb();
  process.stdout.write('START\n');
  const t0 = performance.now();
  const journal = new SqliteJournal({ dir });
  const openMs = performance.now() - t0;
  const t1 = performance.now();
  journal.openCursor(UPSTREAM);
  journal.rewind(UPSTREAM);
  const got = journal.read(UPSTREAM, 32);
  const readMs = performance.now() - t1;
  const after = memMb();
  const stats = journal.stats();
  const backlog = journal.backlog(UPSTREAM);
  await journal.close();
  await result({ openMs, readMs, read: got.length, before, after, held: stats.points, backlog });
}

// ---------------------------------------------------------------------------------------------
// The orchestrator.

const opts = {
  samples: Number(flags.samples),
  rssSamples: Number(flags['rss-samples']),
  windows: (flags.windows ?? '').split(',').filter(Boolean).map(Number),
  repeat: Number(flags.repeat),
  rss: !flags['no-rss'],
  nodelay: !flags['no-nodelay'],
  brokerDefault: flags['broker-default'] ?? false,
};

function progress(msg: string): void { process.stderr.write(`· ${msg}\n`); }

/** Like bench/lib/mosquitto.ts, plus a Receive Maximum large enough for the windows measured. */
async function startBroker(dir: string): Promise<Broker> {
  if (opts.brokerDefault) return startMosquitto(dir);
  const bin = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
  if (!bin) throw new Error('mosquitto not found in /usr/sbin: install the Debian package "mosquitto"');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const conf = join(dir, 'mosquitto-journal.conf');
    await writeFile(conf, [
      `listener ${port} ${LOOPBACK}`,
      'allow_anonymous true',
      'persistence false',
      // Mosquitto's default (20) is also the Receive Maximum it announces to MQTT 5 clients, and the
      // uplink keeps its window under it: with it, "window 256" would be window 20.
      `max_inflight_messages ${RECEIVE_MAX}`,
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'log_dest stderr',
      'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
      '',
    ].join('\n'));
    const child = startChild('mosquitto', bin, ['-c', conf]);
    try {
      await child.waitForLine(/mosquitto version \S+ running/, 15_000);
      return { url: `mqtt://${LOOPBACK}:${port}`, child };
    } catch (e) {
      await child.stop();
      if (attempt >= 3 || !/Address already in use/.test(String(e))) throw e;
    }
  }
}

interface Metered<T> { r: T; brokerPct: number; machineBusyPct: number }

/** Runs one child to its RESULT line; meters the broker and the machine between START and RESULT. */
async function runRole<T>(name: string, args: string[], timeoutMs: number, broker?: Broker): Promise<Metered<T>> {
  const c: Child = startChild(name, process.execPath, [RUN_TS, SELF, ...args]);
  try {
    await c.waitForLine(/^START$/, 60_000);
    const b0: ProcSample | undefined = broker ? sampleProcess(broker.child.pid) : undefined;
    const m0: MachineCpu = sampleMachine();
    const line = await c.waitForLine(/^RESULT /, timeoutMs);
    const b1 = broker ? sampleProcess(broker.child.pid) : undefined;
    const m1 = sampleMachine();
    const status = await c.stop(10_000);
    if (status !== 'code 0' && status !== 'signal SIGTERM') throw new Error(`${name} ended with ${status}; last lines:\n${c.lines.slice(-20).join('\n')}`);
    const seconds = (m1.at - m0.at) / 1000;
    return {
      r: JSON.parse(line.slice('RESULT '.length)) as T,
      brokerPct: b0 && b1 ? (100 * (b1.cpuS - b0.cpuS)) / seconds : NaN,
      machineBusyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total),
    };
  } finally {
    await c.stop(2000);
  }
}

interface AppendResult { samples: number; ms: number; perS: number; cpuPct: number; commits: number; commitMs: number; commitMaxMs: number; files: { db: number; wal: number }; held: number; rssMb: number; hwmMb: number }
interface FillResult { samples: number; records: number; bodyBytes: number; ms: number; files: { db: number; wal: number } }
interface DrainResult { records: number; samples: number; ms: number; perS: number; msgPerS: number; openMs: number; cpuPct: number; elu: number; commits: number; commitMs: number; commitMaxMs: number; window: number | undefined; published: number; acked: number; connects: number; problems: string[] }
interface RawResult { messages: number; samples: number; ms: number; perS: number; msgPerS: number; cpuPct: number; window: number; meanPayload: number }
interface Mem { rssMb: number; hwmMb: number }
interface RssFillResult { samples: number; ms: number; perS: number; before: Mem; afterFlush: Mem; afterIdle: Mem; filesOpen: { db: number; wal: number }; filesClosed: { db: number; wal: number }; closeMs: number; held: number; records: number; bodyChars: number }
interface ReopenResult { openMs: number; readMs: number; read: number; before: Mem; after: Mem; held: number; backlog: number }

/** Drops the file from the page cache (posix_fadvise DONTNEED through GNU dd): a cold open, without touching anything else. */
function evictFromCache(file: string): boolean {
  try { execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']); return true; } catch { return false; }
}

async function main(): Promise<void> {
  for (const [k, v] of Object.entries({ samples: opts.samples, 'rss-samples': opts.rssSamples, repeat: opts.repeat })) {
    if (!(v > 0) || !Number.isInteger(v)) { console.error(`bench:journal: --${k} must be a positive integer, not "${String(flags[k as 'samples'])}"`); process.exit(2); }
  }
  if (opts.samples < PER_RECORD * DEVICES || opts.windows.length === 0 || opts.windows.some((w) => !(w >= 1 && w <= 1000))) {
    console.error('bench:journal: --samples must be at least 2000 and --windows a list of 1…1000');
    process.exit(2);
  }

  // Read the load first: everything this run starts would raise it.
  const box = machine();
  const tmp = mkdtempSync(join(tmpdir(), 'cityedge-bench-journal-'));
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaned ??= (async () => {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  })());
  process.on('exit', () => { killAllNow(); rmSync(tmp, { recursive: true, force: true }); });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      console.error(`\nbench:journal: ${sig}, stopping every process it started`);
      void cleanup().finally(() => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)));
    });
  }
  const millions = opts.samples / 1e6;
  const budgetS = 240 + millions * 20 * opts.windows.length * opts.repeat * (opts.nodelay ? 2 : 1) + (opts.rss ? (opts.rssSamples / 1e6) * 8 : 0);
  const deadline = setTimeout(() => {
    console.error(`bench:journal: still running after ${Math.round(budgetS)} s; giving up`);
    void cleanup().finally(() => process.exit(1));
  }, budgetS * 1000);
  const childTimeout = (perMillion: number, of: number) => 60_000 + (of / 1e6) * perMillion * 1000;

  try {
    console.log(`cityedge bench:journal: SqliteJournal, ${DEVICES} devices, ${PER_RECORD} samples per append; append ${num(opts.samples)} samples (fsync full, normal); ` +
      `drain a backlog of ${num(opts.samples)} samples to Mosquitto, window ${opts.windows.join(', ')}, ${opts.repeat} run(s) each` +
      `${opts.rss ? `; RSS with ${num(opts.rssSamples)} samples held` : ''}`);
    for (const line of describeMachine(box)) console.log(line);
    console.log('');

    // 1. Append rate.
    const appends: { fsync: string; m: Metered<AppendResult> }[] = [];
    for (const fsync of ['full', 'normal']) {
      progress(`append ${num(opts.samples)} samples, fsync ${fsync}`);
      const dir = join(tmp, `append-${fsync}`);
      appends.push({ fsync, m: await runRole<AppendResult>(`append ${fsync}`, ['--role', 'append', '--dir', dir, '--fsync', fsync, '--samples', String(opts.samples)], childTimeout(30, opts.samples)) });
      rmSync(dir, { recursive: true, force: true });
    }

    // 2 and 3. Drain through the uplink, and the raw ceiling, on the same broker.
    progress(`starting Mosquitto${opts.brokerDefault ? ' (default configuration: Receive Maximum 20)' : ` (max_inflight_messages ${RECEIVE_MAX})`}`);
    const broker = await startBroker(tmp);
    progress(`filling a backlog of ${num(opts.samples)} samples`);
    const template = join(tmp, 'backlog');
    const fill = (await runRole<FillResult>('fill', ['--role', 'fill', '--dir', template, '--samples', String(opts.samples)], childTimeout(30, opts.samples))).r;
    const runs = new Map<string, Metered<DrainResult | RawResult>[]>();
    const keep = (key: string, m: Metered<DrainResult | RawResult>) => { runs.set(key, [...(runs.get(key) ?? []), m]); };
    let serial = 0;
    const drainOnce = async (window: number, nodelay: boolean) => {
      const dir = join(tmp, `drain-${++serial}`);
      mkdirSync(dir);
      copyFileSync(join(template, 'journal.db'), join(dir, 'journal.db'));
      fsyncFile(join(dir, 'journal.db'));
      try {
        return await runRole<DrainResult>(`drain w${window}`, ['--role', 'drain', '--dir', dir, '--url', broker.url, '--window', String(window), ...(nodelay ? ['--nodelay'] : [])], childTimeout(120, opts.samples), broker);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    for (const window of opts.windows) {
      for (let i = 1; i <= opts.repeat; i++) {
        // Interleaved, so that whatever else the machine does spreads over all three.
        progress(`window ${window}, run ${i} of ${opts.repeat}: raw mqtt.js, uplink${opts.nodelay ? ', uplink with TCP_NODELAY' : ''}`);
        keep(`raw ${window}`, await runRole<RawResult>(`raw w${window}`, ['--role', 'raw', '--url', broker.url, '--window', String(window), '--messages', String(fill.records)], childTimeout(60, opts.samples), broker));
        keep(`drain ${window}`, await drainOnce(window, false));
        if (opts.nodelay) keep(`nodelay ${window}`, await drainOnce(window, true));
      }
    }
    await broker.child.stop();
    rmSync(template, { recursive: true, force: true });

    // 4 and 5. Memory with a big backlog, and bytes per sample.
    let rssFill: RssFillResult | undefined;
    let reopenCold: ReopenResult | undefined;
    let reopenWarm: ReopenResult | undefined;
    let cold = false;
    if (opts.rss) {
      const dir = join(tmp, 'rss');
      progress(`appending ${num(opts.rssSamples)} samples in a child process, then its memory`);
      rssFill = (await runRole<RssFillResult>('rss fill', ['--role', 'rss-fill', '--dir', dir, '--samples', String(opts.rssSamples)], childTimeout(30, opts.rssSamples))).r;
      cold = evictFromCache(join(dir, 'journal.db'));
      progress(`reopening it in a fresh process${cold ? ', file evicted from the page cache' : ''}`);
      reopenCold = (await runRole<ReopenResult>('reopen cold', ['--role', 'rss-reopen', '--dir', dir], childTimeout(30, opts.rssSamples))).r;
      progress('reopening it again, file in the page cache');
      reopenWarm = (await runRole<ReopenResult>('reopen warm', ['--role', 'rss-reopen', '--dir', dir], childTimeout(30, opts.rssSamples))).r;
      rmSync(dir, { recursive: true, force: true });
    }

    report({ box, appends, fill, runs, rssFill, reopenCold, reopenWarm, cold });
    clearTimeout(deadline);
    await cleanup();
  } catch (e) {
    clearTimeout(deadline);
    console.error(`bench:journal: ${(e as Error).stack ?? String(e)}`);
    await cleanup();
    process.exitCode = 1;
  }
}

interface ReportInput {
  box: ReturnType<typeof machine>;
  appends: { fsync: string; m: Metered<AppendResult> }[];
  fill: FillResult;
  runs: Map<string, Metered<DrainResult | RawResult>[]>;
  rssFill: RssFillResult | undefined;
  reopenCold: ReopenResult | undefined;
  reopenWarm: ReopenResult | undefined;
  cold: boolean;
}

function report(r: ReportInput): void {
  const rows: [string, string, string, string][] = [['', 'measured', 'target', '']];
  const targets: string[] = [];
  const median = (xs: number[]) => summarize(xs).p50;
  const spread = (xs: number[]) => (xs.length > 1 ? ` (${num(Math.min(...xs))}–${num(Math.max(...xs))})` : '');

  for (const { fsync, m } of r.appends) {
    const a = m.r;
    const ok = a.perS >= APPEND_TARGET;
    rows.push([`append, samples/s (fsync ${fsync}, commits included)`, num(a.perS), `≥ ${num(APPEND_TARGET)}`, verdict(ok)]);
    targets.push(`  [${verdict(ok)}] append rate, fsync ${fsync}: ${num(a.perS)} samples/s (${num(a.samples)} samples in ${fmt(a.ms / 1000, 2)} s, ${a.commits} commits taking ${fmt(a.commitMs, 0)} ms, max ${fmt(a.commitMaxMs, 0)} ms)`);
  }

  const windows = opts.windows;
  const perWindow = windows.map((w) => {
    const drains = (r.runs.get(`drain ${w}`) ?? []) as Metered<DrainResult>[];
    const raws = (r.runs.get(`raw ${w}`) ?? []) as Metered<RawResult>[];
    const nodelay = (r.runs.get(`nodelay ${w}`) ?? []) as Metered<DrainResult>[];
    return { w, drains, raws, nodelay, drain: median(drains.map((x) => x.r.perS)), raw: median(raws.map((x) => x.r.perS)), nd: median(nodelay.map((x) => x.r.perS)) };
  });
  for (const p of perWindow) {
    const eff = p.drains[0]?.r.window ?? p.w;
    const label = eff === p.w ? `window ${p.w}` : `window ${p.w} (broker: ${eff})`;
    const share = p.drain / p.raw;
    const okRate = p.drain >= DRAIN_TARGET;
    const okShare = share >= DRAIN_RAW_SHARE;
    rows.push([`drain to Mosquitto via the uplink, samples/s, ${label}`, `${num(p.drain)}${spread(p.drains.map((x) => x.r.perS))}`, `≥ ${num(DRAIN_TARGET)}`, verdict(okRate)]);
    rows.push([`raw mqtt.js, same payloads, samples/s, ${label}`, `${num(p.raw)}${spread(p.raws.map((x) => x.r.perS))}`, '', '']);
    rows.push([`  drain ÷ raw, ${label}`, `${fmt(100 * share, 1)} %`, `≥ ${fmt(100 * DRAIN_RAW_SHARE, 0)} %`, verdict(okShare)]);
    if (p.nodelay.length) rows.push([`  what-if: uplink socket with TCP_NODELAY, ${label}`, `${num(p.nd)}${spread(p.nodelay.map((x) => x.r.perS))}`, '', '']);
    targets.push(`  [${verdict(okRate)}] drain, ${label}: ${num(p.drain)} samples/s (median of ${p.drains.length}), ${num(p.drain / PER_RECORD)} messages/s`);
    targets.push(`  [${verdict(okShare)}] drain ÷ raw mqtt.js, ${label}: ${fmt(100 * share, 1)} % (raw ${num(p.raw)} samples/s)`);
  }

  if (r.rssFill) {
    const f = r.rssFill;
    const okFlush = f.afterFlush.rssMb < RSS_TARGET_MB;
    rows.push([`RSS MB, ${num(f.held)} samples held: the appending process after flush`, fmt(f.afterFlush.rssMb), `< ${RSS_TARGET_MB}`, verdict(okFlush)]);
    rows.push(['  same process: peak while appending (VmHWM) / 3 s later', `${fmt(f.afterFlush.hwmMb)} / ${fmt(f.afterIdle.rssMb)}`, '', '']);
    targets.push(`  [${verdict(okFlush)}] RSS of the process that appended ${num(f.held)} samples, after flush: ${fmt(f.afterFlush.rssMb)} MB (peak ${fmt(f.afterFlush.hwmMb)} MB; ${fmt(f.afterIdle.rssMb)} MB 3 s later)`);
    for (const [name, o] of [[r.cold ? 'cold cache' : 'cache state unknown', r.reopenCold], ['warm cache', r.reopenWarm]] as const) {
      if (!o) continue;
      const ok = o.after.hwmMb < RSS_TARGET_MB;
      rows.push([`RSS MB, reopened in a fresh process, ${name} (VmRSS / VmHWM)`, `${fmt(o.after.rssMb)} / ${fmt(o.after.hwmMb)}`, `< ${RSS_TARGET_MB}`, verdict(ok)]);
      rows.push([`  open time, ${name}, ms (constructor; cursor + first read)`, `${num(o.openMs)}; ${fmt(o.readMs, 1)}`, '', '']);
      targets.push(`  [${verdict(ok)}] RSS after reopening the ${num(o.held)}-sample journal, ${name}: peak ${fmt(o.after.hwmMb)} MB (before opening: ${fmt(o.before.rssMb)} MB); open took ${num(o.openMs)} ms`);
    }
    const open = f.filesOpen.db + f.filesOpen.wal;
    rows.push(['journal bytes per sample held (db + wal, open / closed)', `${fmt(open / f.held, 1)} / ${fmt((f.filesClosed.db + f.filesClosed.wal) / f.held, 1)}`, '', '']);
    rows.push(['  of which the stored JSON text of a point', fmt(f.bodyChars / f.held, 1), '', '']);
  }

  console.log('');
  console.log('results');
  const w = [66, 26, 12, 6];
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(w[i]!)).join(' ').trimEnd());
  console.log('');
  console.log('targets');
  for (const t of targets) console.log(t);

  console.log('');
  console.log('every drain and raw run (samples/s; the process\'s CPU and event-loop use; Mosquitto\'s CPU; the whole machine):');
  for (const p of perWindow) {
    for (const [name, list] of [['raw mqtt.js', p.raws], ['uplink', p.drains], ['uplink, TCP_NODELAY', p.nodelay]] as const) {
      for (const m of list as Metered<DrainResult | RawResult>[]) {
        const x = m.r;
        const d = 'elu' in x ? x : undefined;
        console.log(`  w${String(p.w).padEnd(4)} ${name.padEnd(20)} ${num(x.perS).padStart(10)} samples/s, ${num(x.msgPerS).padStart(6)} msg/s, ${fmt(x.ms / 1000, 2)} s; ` +
          `CPU ${fmt(x.cpuPct, 0)} %${d ? `, event loop busy ${fmt(100 * d.elu, 0)} %, ${d.commits} commits ${fmt((100 * d.commitMs) / d.ms, 0)} % of the time (max ${fmt(d.commitMaxMs, 1)} ms), open ${fmt(d.openMs, 0)} ms` : ''}; ` +
          `Mosquitto ${fmt(m.brokerPct, 0)} %; machine ${fmt(m.machineBusyPct, 0)} % of ${r.box.cores} cores` +
          `${d && d.problems.length ? `; uplink said: ${d.problems.join(' | ')}` : ''}`);
      }
    }
  }
  const firstRaw = perWindow[0]?.raws[0]?.r;
  console.log(`  payloads: ${firstRaw ? `${num(firstRaw.meanPayload)} bytes` : 'n/a'} each (${PER_RECORD} samples, JSON flavour, historical); backlog ${num(r.fill.records)} records, ` +
    `journal file ${fmt(r.fill.files.db / 2 ** 20, 0)} MB (filled in ${fmt(r.fill.ms / 1000, 1)} s, fsync off, not measured)`);
  for (const { fsync, m } of r.appends) {
    console.log(`  append, fsync ${fsync}: CPU ${fmt(m.r.cpuPct, 0)} % of one core, file ${fmt((m.r.files.db + m.r.files.wal) / m.r.held, 1)} bytes/sample (db ${fmt(m.r.files.db / 2 ** 20, 0)} MB + wal ${fmt(m.r.files.wal / 2 ** 20, 0)} MB), process RSS ${fmt(m.r.rssMb)} MB, peak ${fmt(m.r.hwmMb)} MB`);
  }
  if (r.rssFill) {
    const f = r.rssFill;
    console.log(`  ${num(f.held)} samples appended at ${num(f.perS)} samples/s (fsync full); close (checkpoint) ${num(f.closeMs)} ms; ` +
      `files open: db ${fmt(f.filesOpen.db / 2 ** 20, 0)} MB + wal ${fmt(f.filesOpen.wal / 2 ** 20, 0)} MB; closed: ${fmt(f.filesClosed.db / 2 ** 20, 0)} MB`);
    console.log(`  RSS before opening the journal (node, the tsx loader these children run under, better-sqlite3): ${fmt(f.before.rssMb)} MB`);
  }
  console.log('');
  console.log('notes: the drain runs the uplink of cloud-sync/mqtt-uplink.ts unchanged on the journal, QoS 1, one publish per record, an ack');
  console.log('  per PUBACK; measured from run() to a backlog of zero plus the commit of the last acks. No subscriber is connected: Mosquitto');
  console.log('  acknowledges and drops. The "what-if" rows patch net.createConnection in that child only, to show what Nagle\'s algorithm costs.');
  console.log('  An event loop far from 100 % busy during a drain means the uplink was waiting for PUBACKs, not working.');
  console.log('  Children run through the tsx loader (bin/run-ts.mjs); the gateway itself runs a bundle, ~30 MB lighter.');
  console.log('machine (as at the start):');
  for (const l of describeMachine(r.box)) console.log(`  ${l}`);
}

switch (flags.role) {
  case undefined: await main(); break;
  case 'append': await roleAppend(); break;
  case 'fill': await roleFill(); break;
  case 'drain': await roleDrain(); break;
  case 'raw': await roleRaw(); break;
  case 'rss-fill': await roleRssFill(); break;
  case 'rss-reopen': await roleRssReopen(); break;
  default: console.error(`bench:journal: unknown role "${flags.role}"`); process.exit(2);
}
