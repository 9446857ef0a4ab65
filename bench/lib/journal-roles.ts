// The measured children of `npm run bench:journal` (bench/journal.ts starts them, one process per
// figure, so each comes from a fresh heap):
//
//   node bin/run-ts.mjs bench/lib/journal-roles.ts ROLE --dir DIR [--samples N] [--fsync full|normal|off]
//                                                       [--url mqtt://…] [--window 32] [--messages N] [--crash]
//
//   append      append rate into a fresh journal
//   fill        the backlog the drains start from (fsync off, closed cleanly; not measured)
//   drain       MqttJsonUplink from cloud-sync/mqtt-uplink.ts, as gateway/main.ts builds it, on that backlog
//   raw         a bare mqtt.js client publishing payloads of the same bytes: the ceiling
//   rss-fill    appends a big backlog and reads its own memory
//   rss-reopen  opens that journal in a fresh process: open time, memory
//
// With --crash, rss-fill and rss-reopen leave the journal open after their RESULT and wait to be
// killed with SIGKILL, so the next open is one after a crash.
//
// Each prints `START` when its clock starts and `RESULT {json}` (bench/lib/journal-common.ts) when done.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Journal, JournalRecord } from '../../gateway/journal/journal.ts';
import type { Logger, Sample } from '../../gateway/model/index.ts';
import {
  DEVICES, PER_RECORD, SITE, UPSTREAM,
  fsyncFile, journalBytes, type AppendResult, type DrainResult, type FillResult, type Mem, type RawResult, type ReopenResult, type RssFillResult,
} from './journal-common.ts';
import { sampleProcess } from './procfs.ts';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string' },
    samples: { type: 'string', default: '0' },
    fsync: { type: 'string', default: 'full' },
    url: { type: 'string' },
    window: { type: 'string', default: '32' },
    messages: { type: 'string', default: '0' },
    crash: { type: 'boolean', default: false },
  },
});

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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

/** Appends `samples` samples from the pool, 100 per call; returns how many. */
function appendAll(journal: Journal, pool: Batch[], samples: number): number {
  let n = 0;
  for (let k = 0; n < samples; k++) {
    const b = pool[k % pool.length]!;
    journal.append(b.device, b.points);
    n += PER_RECORD;
  }
  return n;
}

function memMb(): Mem {
  const s = sampleProcess(process.pid);
  const m = process.memoryUsage();
  return { rssMb: (s?.rssKb ?? NaN) / 1024, hwmMb: (s?.hwmKb ?? NaN) / 1024, heapUsedMb: m.heapUsed / 2 ** 20, heapTotalMb: m.heapTotal / 2 ** 20 };
}

function result(obj: object): Promise<void> {
  return new Promise((r) => process.stdout.write(`RESULT ${JSON.stringify(obj)}\n`, () => r()));
}

/** With --crash: the journal is left open, and the process waits for the SIGKILL bench/journal.ts sends it (a crash, as far as the journal can tell). */
function awaitKill(): void {
  setInterval(() => {}, 1 << 30);
}

type Proto = Record<string, (...a: unknown[]) => unknown>;

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

/** Whether and for how long the journal ran PRAGMA quick_check (gateway/journal/sqlite-recover.ts). */
async function meterQuickCheck(): Promise<{ runs: number; ms: number }> {
  const { default: Database } = await import('better-sqlite3');
  const proto = Database.prototype as unknown as Proto;
  const original = proto.pragma!;
  const meter = { runs: 0, ms: 0 };
  proto.pragma = function (this: unknown, ...args: unknown[]) {
    if (typeof args[0] !== 'string' || !/^\s*quick_check/i.test(args[0])) return original.apply(this, args);
    const t0 = performance.now();
    try { return original.apply(this, args); } finally { meter.runs++; meter.ms += performance.now() - t0; }
  };
  return meter;
}

async function roleAppend(): Promise<void> {
  const dir = flags.dir!;
  const fsync = flags.fsync as 'full' | 'normal' | 'off';
  const tx = await meterTransactions();
  const { SqliteJournal } = await import('../../gateway/journal/sqlite.ts');
  const pool = batchPool(Date.now());
  const journal = new SqliteJournal({ dir, fsync });
  journal.openCursor(UPSTREAM); // an upstream is configured: the records are kept for it
  tx.n = 0; tx.ms = 0; tx.maxMs = 0;
  process.stdout.write('START\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n = appendAll(journal, pool, Number(flags.samples));
  journal.flush();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const files = journalBytes(dir);
  const held = journal.stats().points;
  const mem = memMb();
  await journal.close();
  await result({
    samples: n, ms, perS: n / (ms / 1000), cpuPct: (cpu.user + cpu.system) / 10 / ms,
    commits: tx.n, commitMs: tx.ms, commitMaxMs: tx.maxMs, files, held, ...mem,
  } satisfies AppendResult);
}

/** The backlog the drains start from: appended with a clock a minute behind, so it is historical. */
async function roleFill(): Promise<void> {
  const dir = flags.dir!;
  const { SqliteJournal } = await import('../../gateway/journal/sqlite.ts');
  const { systemClock } = await import('../../gateway/model/index.ts');
  const clock = { now: () => Date.now() - 60_000, sleep: systemClock.sleep };
  const pool = batchPool(Date.now() - 60_000);
  process.stdout.write('START\n');
  const t0 = performance.now();
  const journal = new SqliteJournal({ dir, fsync: 'off', clock });
  const n = appendAll(journal, pool, Number(flags.samples));
  journal.flush(); // stats() counts committed records only
  const stats = journal.stats();
  await journal.close();
  // On disk before any drain starts: writeback of this file must not compete with the drains' fsyncs.
  fsyncFile(join(dir, 'journal.db'));
  await result({ samples: n, records: stats.records, bodyBytes: stats.bytes, ms: performance.now() - t0, files: journalBytes(dir) } satisfies FillResult);
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
  const tx = await meterTransactions();
  const { SqliteJournal } = await import('../../gateway/journal/sqlite.ts');
  const { MqttJsonUplink } = await import('../../cloud-sync/mqtt-uplink.ts');
  const { systemClock } = await import('../../gateway/model/index.ts');
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
    get: (ids) => journal.get(ids),
    putState: (k, v) => journal.putState(k, v),
    states: (p) => journal.states(p),
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
    upstream: { id: UPSTREAM, url: flags.url!, format: 'json', protocol_version: 5, keepalive_s: 30, inflight: window, commands: [], session_expiry_s: 0 },
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
  } satisfies DrainResult);
}

/** mqtt.js as it comes (Nagle's algorithm left on), the next publish as each PUBACK arrives. */
async function roleRaw(): Promise<void> {
  const messages = Number(flags.messages);
  const { default: mqtt } = await import('mqtt');
  const { telemetryJson } = await import('../../cloud-sync/json-format.ts');
  const { encodePoints } = await import('../../gateway/journal/points.ts');
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
  await result({ messages, samples: messages * PER_RECORD, ms, perS: (messages * PER_RECORD) / (ms / 1000), msgPerS: messages / (ms / 1000), cpuPct: (cpu.user + cpu.system) / 10 / ms, window, meanPayload: bytes / sent } satisfies RawResult);
}

async function roleRssFill(): Promise<void> {
  const dir = flags.dir!;
  const { SqliteJournal, RECORD_OVERHEAD_BYTES } = await import('../../gateway/journal/sqlite.ts');
  const pool = batchPool(Date.now());
  const before = memMb();
  const journal = new SqliteJournal({ dir }); // fsync full, as in the gateway
  journal.openCursor(UPSTREAM); // held for an upstream that is away
  process.stdout.write('START\n');
  const t0 = performance.now();
  const n = appendAll(journal, pool, Number(flags.samples));
  journal.flush();
  const ms = performance.now() - t0;
  const afterFlush = memMb();
  const filesOpen = journalBytes(dir);
  await sleep(3000);
  const afterIdle = memMb();
  // Started with --expose-gc: what of that is garbage V8 has not collected yet (read after the figures above).
  const gc = (globalThis as { gc?: () => void }).gc;
  let afterGc: Mem | undefined;
  if (gc) { gc(); await sleep(200); afterGc = memMb(); }
  const stats = journal.stats();
  await result({
    samples: n, ms, perS: n / (ms / 1000), before, afterFlush, afterIdle, afterGc, filesOpen,
    held: stats.points, records: stats.records, bodyChars: stats.bytes - stats.records * RECORD_OVERHEAD_BYTES,
  } satisfies RssFillResult);
  if (flags.crash) awaitKill();
  else await journal.close();
}

async function roleRssReopen(): Promise<void> {
  const dir = flags.dir!;
  const check = await meterQuickCheck();
  const { SqliteJournal } = await import('../../gateway/journal/sqlite.ts');
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
  const out: ReopenResult = {
    openMs, quickCheck: check.runs > 0, quickCheckMs: check.ms, readMs, read: got.length,
    before, after, held: stats.points, backlog: journal.backlog(UPSTREAM),
  };
  if (flags.crash) {
    await result(out);
    awaitKill();
    return;
  }
  const t2 = performance.now();
  await journal.close();
  await result({ ...out, closeMs: performance.now() - t2, filesClosed: journalBytes(dir) });
}

const roles: Record<string, () => Promise<void>> = {
  append: roleAppend, fill: roleFill, drain: roleDrain, raw: roleRaw, 'rss-fill': roleRssFill, 'rss-reopen': roleRssReopen,
};
const role = roles[positionals[0] ?? ''];
if (!role) {
  console.error(`journal-roles: unknown role "${positionals[0] ?? ''}"; one of ${Object.keys(roles).join(', ')}`);
  process.exit(2);
}
await role();
