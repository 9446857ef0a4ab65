// The durable journal: SQLite in WAL mode through better-sqlite3 (docs/durability.md).
//
// Appends wait in memory at most `commitMs` and are committed together in one transaction, which
// also gives them their ids and per-device seqs, so a committed record always has a seq and a lost
// uncommitted one never had. Acknowledgements are committed on the next turn of the event loop:
// after a crash an upstream is sent again only what was in flight. Cursors (one per upstream),
// seqs and the last id live in the same file and change in the same transactions as the records.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../model/clock.ts';
import { systemClock } from '../model/clock.ts';
import { RateMeter } from '../model/rate.ts';
import type { Logger } from '../model/logger.ts';
import { silentLogger } from '../model/logger.ts';
import type { Sample } from '../model/sample.ts';
import { Cursor, type RecordSource } from './cursor.ts';
import type { Journal, JournalRecord, JournalStats, Lane } from './journal.ts';
import { encodePoints } from './points.ts';
import { closeClean, openOrRecover } from './sqlite-recover.ts';
import { SCHEMA } from './sqlite-schema.ts';

export type FsyncPolicy = 'full' | 'normal' | 'off';

export interface SqliteJournalOptions {
  /** Folder of the journal file (`journal.db`). */
  dir: string;
  clock?: Clock;
  logger?: Logger;
  /** Appends are committed at least this often (ms). */
  commitMs?: number;
  /** full: every commit survives power loss; normal: a process crash; off: neither (tests, benchmarks). */
  fsync?: FsyncPolicy;
  /** Bound of the records kept (UTF-8 bodies plus a per-record overhead); the oldest telemetry goes first. */
  maxBytes?: number;
  /** Telemetry older than this (ms) is dropped. */
  maxAgeMs?: number;
}

/** Estimated bytes a record takes in the file besides its body (row header, ids, seq, ts, index entry). */
export const RECORD_OVERHEAD_BYTES = 48;
const LANES: Lane[] = ['priority', 'telemetry'];
const laneNo = (l: Lane): number => (l === 'priority' ? 0 : 1);
/** Appends held in memory before a commit is forced, whatever the timer says. */
const MAX_PENDING_POINTS = 50_000; // a forced commit of 200,000 blocked the event loop ~200 ms (bench:journal)

interface Pending { lane: Lane; channel: string; device: string; ts: number; count: number; body: string }
interface Row { id: number; lane: number; channel: string; device: string; seq: number; ts: number; count: number; body: string }

export class SqliteJournal implements Journal, RecordSource {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #o: Required<Pick<SqliteJournalOptions, 'commitMs' | 'fsync'>> & SqliteJournalOptions;
  readonly #st: ReturnType<typeof prepare>;
  #pending: Pending[] = [];
  #pendingPoints = 0;
  #lastId = 0;
  readonly #seq = new Map<string, number>();
  /** Where the seq of a key not in the file starts: 0, or above anything sent before a recovery (sqlite-recover.ts). */
  #seqBase = 0;
  readonly #cursors = new Map<string, Cursor>();
  /** Cursors whose acks or low changed since the last commit. */
  readonly #dirty = new Map<string, number[]>();
  readonly #listeners = new Set<() => void>();
  #records = 0;
  #points = 0;
  #bytes = 0;
  #oldestTs: number | undefined;
  #appended = 0;
  #dropped = 0;
  #droppedPoints = 0;
  #full = false;
  readonly #rate: RateMeter;
  #timer: NodeJS.Timeout | undefined;
  #soon: NodeJS.Immediate | undefined;
  #closed = false;

  constructor(opts: SqliteJournalOptions) {
    this.#o = { commitMs: 250, fsync: 'full', ...opts };
    this.#clock = opts.clock ?? systemClock;
    this.#rate = new RateMeter(this.#clock);
    this.#log = opts.logger ?? silentLogger;
    mkdirSync(opts.dir, { recursive: true });
    this.file = join(opts.dir, 'journal.db');
    const opened = openOrRecover(this.file, this.#log, this.#clock.now());
    this.#db = opened.db;
    this.#db.pragma(`synchronous = ${this.#o.fsync === 'full' ? 'FULL' : this.#o.fsync === 'normal' ? 'NORMAL' : 'OFF'}`);
    this.#db.exec(SCHEMA);
    this.#st = prepare(this.#db);
    this.#load(opened.seqFloor);
    this.#timer = setInterval(() => this.#commit(), this.#o.commitMs);
    this.#timer.unref();
  }

  append(device: string, points: readonly Sample[]): void {
    this.#queue({ lane: 'telemetry', channel: 'telemetry', device, ts: this.#clock.now(), count: points.length, body: encodePoints(points) });
  }

  appendEvent(channel: string, device: string, body: string): void {
    this.#queue({ lane: 'priority', channel, device, ts: this.#clock.now(), count: 1, body });
    // An alarm does not wait for the timer.
    this.#commitSoon();
  }

  openCursor(upstream: string): void {
    if (this.#cursors.has(upstream)) return;
    const saved = this.#st.cursor.get(upstream) as { low: number } | undefined;
    let low: number;
    let acked: number[] = [];
    if (saved) {
      low = saved.low;
      acked = this.#st.acks.pluck().all(upstream) as number[];
    } else {
      // A new upstream gets everything still in the journal.
      const first = this.#st.firstId.pluck().get() as number | null;
      low = first === null ? this.#lastId : first - 1;
      this.#st.saveCursor.run(upstream, low);
    }
    const unacked = (this.#st.countAfter.pluck().get(low) as number) - acked.length;
    this.#cursors.set(upstream, new Cursor(this, { low, acked }, unacked));
  }

  read(upstream: string, limit: number): JournalRecord[] { return this.#cursor(upstream).read(limit); }
  rewind(upstream: string): void { this.#cursor(upstream).rewind(); }

  ack(upstream: string, ids: Iterable<number>): void {
    const fresh = this.#cursor(upstream).ack(ids);
    if (fresh.length === 0) return;
    const d = this.#dirty.get(upstream);
    if (d) d.push(...fresh); else this.#dirty.set(upstream, fresh);
    this.#commitSoon();
  }

  backlog(upstream: string): number { return this.#cursor(upstream).unacked; }

  stats(): JournalStats {
    return {
      records: this.#records, points: this.#points, bytes: this.#bytes, oldestTs: this.#oldestTs,
      appended: this.#appended, dropped: this.#dropped, droppedPoints: this.#droppedPoints, full: this.#full,
      commitRate: this.#rate.perSecond(),
    };
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  flush(): void { this.#commit(); }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#commit();
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#soon) clearImmediate(this.#soon);
    this.#listeners.clear();
    // A clean close checkpoints the WAL into the main file and removes it.
    closeClean(this.#db);
  }

  // RecordSource, for the cursors.
  scan(lane: Lane, afterId: number, upTo: number, limit: number): JournalRecord[] {
    const rows = this.#st.scan.all(laneNo(lane), afterId, Math.min(upTo, Number.MAX_SAFE_INTEGER), limit) as Row[];
    return rows.map((r) => ({ ...r, lane: LANES[r.lane]! }));
  }

  idsAfter(afterId: number, limit: number): number[] { return this.#st.idsAfter.pluck().all(afterId, limit) as number[]; }
  lastId(): number { return this.#lastId; }

  #queue(p: Pending): void {
    if (this.#closed) throw new Error('journal: closed');
    this.#pending.push(p);
    this.#pendingPoints += p.count;
    if (this.#pendingPoints >= MAX_PENDING_POINTS) this.#commit();
  }

  #commitSoon(): void {
    this.#soon ??= setImmediate(() => { this.#soon = undefined; this.#commit(); });
  }

  /** One transaction: new records with their ids and seqs, acks, cursors, trimming, the quota. */
  #commit(): void {
    if (this.#closed || (this.#pending.length === 0 && this.#dirty.size === 0)) return;
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingPoints = 0;
    const now = this.#clock.now();
    // A commit of acknowledgements only is not flushed to the disk on its own: losing it to a power
    // cut means sending those batches again, never losing them. The next commit with records
    // flushes it too. (WAL mode: `synchronous` may change between transactions.)
    const relaxed = pending.length === 0 && this.#o.fsync === 'full';
    if (relaxed) this.#st.syncNormal.run();
    this.#db.transaction(() => {
      const touched = new Set<string>();
      for (const p of pending) {
        const key = `${p.channel}/${p.device}`;
        const seq = (this.#seq.get(key) ?? this.#seqBase) + 1;
        this.#seq.set(key, seq);
        touched.add(key);
        this.#st.insert.run(++this.#lastId, laneNo(p.lane), p.channel, p.device, seq, p.ts, p.count, p.body);
        this.#records++;
        if (p.lane === 'telemetry') { this.#points += p.count; this.#rate.add(p.count); }
        this.#bytes += Buffer.byteLength(p.body) + RECORD_OVERHEAD_BYTES;
        this.#oldestTs ??= p.ts;
      }
      for (const key of touched) this.#st.saveSeq.run(key, this.#seq.get(key));
      if (pending.length > 0) this.#st.saveMeta.run('last_id', this.#lastId);
      for (const c of this.#cursors.values()) c.committed(pending.length);
      this.#enforceBounds(now);
      this.#saveCursors();
    })();
    if (relaxed) this.#st.syncFull.run();
    this.#appended += pending.length;
    if (pending.length > 0) for (const l of this.#listeners) l();
  }

  #saveCursors(): void {
    let trimTo = Infinity;
    for (const [name, c] of this.#cursors) {
      const fresh = this.#dirty.get(name);
      const moved = c.advance();
      if (fresh) for (const id of fresh) if (id > c.low) this.#st.saveAck.run(name, id);
      if (moved || fresh) {
        this.#st.saveCursor.run(name, c.low);
        this.#st.dropAcks.run(name, c.low);
      }
      trimTo = Math.min(trimTo, c.low);
    }
    this.#dirty.clear();
    if (Number.isFinite(trimTo) && this.#records > 0) this.#removeUpTo(trimTo);
  }

  /** Every record up to `id` has been acknowledged by every upstream. */
  #removeUpTo(id: number): void {
    const gone = this.#st.sumUpTo.get(id) as { n: number; points: number | null; bytes: number | null };
    if (gone.n === 0) return;
    this.#st.deleteUpTo.run(id);
    this.#forget(gone.n, gone.points ?? 0, gone.bytes ?? 0);
  }

  /** Drops the oldest telemetry past the age limit and while over the quota; never an event. */
  #enforceBounds(now: number): void {
    const { maxBytes, maxAgeMs } = this.#o;
    const ageLimit = maxAgeMs !== undefined ? now - maxAgeMs : -Infinity;
    const quota = maxBytes ?? Infinity;
    if (this.#bytes <= quota && (this.#oldestTs ?? Infinity) >= ageLimit) {
      if (this.#full && this.#bytes <= quota * 0.9) this.#full = false;
      return;
    }
    // Drop to 90 % of the quota, so a full journal does not drop on every commit.
    const target = this.#bytes > quota ? quota * 0.9 : Infinity;
    let bytes = this.#bytes;
    for (;;) {
      const rows = this.#st.oldestTelemetry.all(1000) as { id: number; ts: number; count: number; bytes: number }[];
      let last = -1;
      for (const r of rows) {
        if (bytes <= target && r.ts >= ageLimit) break;
        bytes -= r.bytes + RECORD_OVERHEAD_BYTES;
        last = r.id;
        this.#dropped++;
        this.#droppedPoints += r.count;
        for (const c of this.#cursors.values()) c.dropped(r.id);
      }
      if (last < 0) break;
      const gone = this.#st.sumTelemetryUpTo.get(last) as { n: number; points: number; bytes: number };
      this.#st.deleteTelemetryUpTo.run(last);
      this.#forget(gone.n, gone.points, gone.bytes);
      if (target < Infinity) this.#full = true;
      if (rows.length < 1000 || last !== rows.at(-1)!.id) break;
    }
    if (this.#bytes > quota) this.#full = true; // only events left: they are never dropped
  }

  #forget(n: number, points: number, bodyBytes: number): void {
    this.#records -= n;
    this.#points -= points;
    this.#bytes -= bodyBytes + n * RECORD_OVERHEAD_BYTES;
    this.#oldestTs = this.#records > 0 ? (this.#st.oldestTs.pluck().get() as number) : undefined;
  }

  #load(seqFloor: number): void {
    this.#seqBase = seqFloor;
    const meta = this.#st.meta.pluck().get('last_id') as number | undefined;
    const maxId = this.#st.maxId.pluck().get() as number | null;
    this.#lastId = Math.max(meta ?? 0, maxId ?? 0);
    for (const r of this.#st.seqs.all() as { key: string; seq: number }[]) this.#seq.set(r.key, Math.max(r.seq, seqFloor));
    const sums = this.#st.sums.get() as { n: number; points: number | null; bytes: number | null; oldest: number | null };
    this.#records = sums.n;
    this.#points = sums.points ?? 0;
    this.#bytes = (sums.bytes ?? 0) + sums.n * RECORD_OVERHEAD_BYTES;
    this.#oldestTs = sums.oldest ?? undefined;
    if (this.#records > 0) this.#log.info({ file: this.file, records: this.#records, points: this.#points, bytes: this.#bytes }, 'journal opened with a backlog');
  }

  #cursor(upstream: string): Cursor {
    const c = this.#cursors.get(upstream);
    if (!c) throw new Error(`journal: no cursor "${upstream}"; call openCursor first`);
    return c;
  }
}

function prepare(db: Database.Database) {
  return {
    syncNormal: db.prepare('PRAGMA synchronous = NORMAL'),
    syncFull: db.prepare('PRAGMA synchronous = FULL'),
    insert: db.prepare('INSERT INTO records (id, lane, channel, device, seq, ts, count, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    scan: db.prepare('SELECT id, lane, channel, device, seq, ts, count, body FROM records WHERE lane = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?'),
    idsAfter: db.prepare('SELECT id FROM records WHERE id > ? ORDER BY id LIMIT ?'),
    firstId: db.prepare('SELECT min(id) FROM records'),
    maxId: db.prepare('SELECT max(id) FROM records'),
    countAfter: db.prepare('SELECT count(*) FROM records WHERE id > ?'),
    // Through the lane index, not a scan: ids follow time within a lane.
    oldestTs: db.prepare('SELECT min(ts) FROM (SELECT ts FROM (SELECT ts FROM records WHERE lane = 0 ORDER BY id LIMIT 1) UNION ALL SELECT ts FROM (SELECT ts FROM records WHERE lane = 1 ORDER BY id LIMIT 1))'),
    sums: db.prepare('SELECT count(*) AS n, sum(count * (lane = 1)) AS points, sum(octet_length(body)) AS bytes, min(ts) AS oldest FROM records'),
    sumUpTo: db.prepare('SELECT count(*) AS n, sum(count * (lane = 1)) AS points, sum(octet_length(body)) AS bytes FROM records WHERE id <= ?'),
    deleteUpTo: db.prepare('DELETE FROM records WHERE id <= ?'),
    oldestTelemetry: db.prepare('SELECT id, ts, count, octet_length(body) AS bytes FROM records WHERE lane = 1 ORDER BY id LIMIT ?'),
    sumTelemetryUpTo: db.prepare('SELECT count(*) AS n, sum(count) AS points, sum(octet_length(body)) AS bytes FROM records WHERE lane = 1 AND id <= ?'),
    deleteTelemetryUpTo: db.prepare('DELETE FROM records WHERE lane = 1 AND id <= ?'),
    seqs: db.prepare('SELECT key, seq FROM seqs'),
    saveSeq: db.prepare('INSERT INTO seqs (key, seq) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET seq = excluded.seq'),
    meta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    saveMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    cursor: db.prepare('SELECT low FROM cursors WHERE upstream = ?'),
    saveCursor: db.prepare('INSERT INTO cursors (upstream, low) VALUES (?, ?) ON CONFLICT (upstream) DO UPDATE SET low = excluded.low'),
    acks: db.prepare('SELECT id FROM acks WHERE upstream = ? ORDER BY id'),
    saveAck: db.prepare('INSERT OR IGNORE INTO acks (upstream, id) VALUES (?, ?)'),
    dropAcks: db.prepare('DELETE FROM acks WHERE upstream = ? AND id <= ?'),
  };
}
