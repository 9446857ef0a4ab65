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
import { PendingWrites, type Taken } from './sqlite-pending.ts';
import { dropOldestTelemetry } from './sqlite-quota.ts';
import { prepare, type Statements } from './sqlite-schema.ts';

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
  /** A hard cap on the file (SQLite max_page_count): writes past it fail as on a full disk. For tests. */
  fileLimitBytes?: number;
}

/** Estimated bytes a record takes in the file besides its body (row header, ids, seq, ts, index entry). */
export const RECORD_OVERHEAD_BYTES = 48;
const LANES: Lane[] = ['priority', 'telemetry'];
const laneNo = (l: Lane): number => (l === 'priority' ? 0 : 1);
/** Appends held in memory before a commit is forced, whatever the timer says. */
const MAX_PENDING_POINTS = 50_000; // a forced commit of 200,000 blocked the event loop ~200 ms (bench:journal)
/** Over its quota the journal drops to this share of it; it counts as full until under the second. */
const DROP_TO = 0.9;
const FULL_CLEARS_AT = 0.8;
/** Points held in memory while the disk refuses writes, before the oldest are dropped. */
const MAX_HELD_POINTS = 1_000_000;

interface Row { id: number; lane: number; channel: string; device: string; seq: number; ts: number; count: number; body: string }

export class SqliteJournal implements Journal, RecordSource {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #o: Required<Pick<SqliteJournalOptions, 'commitMs' | 'fsync'>> & SqliteJournalOptions;
  readonly #st: Statements;
  readonly #pending = new PendingWrites();
  #lastId = 0;
  readonly #seq = new Map<string, number>();
  /** Where the seq of a key not in the file starts: 0, or above anything sent before a recovery (sqlite-recover.ts). */
  #seqBase = 0;
  readonly #cursors = new Map<string, Cursor>();
  /** Cursors whose acks or low changed since the last commit. */
  readonly #dirty = new Map<string, number[]>();
  /** Cursors with acknowledgements above their low saved in the acks table. */
  readonly #storedAcks = new Set<string>();
  /** A cursor moved since the last trim: records every upstream has can be deleted. */
  #trimDue = true;
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
  /** Set while commits fail (disk full, I/O errors): appends wait in memory, within a bound. */
  #failing = false;
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
    if (opts.fileLimitBytes !== undefined) {
      this.#db.pragma(`max_page_count = ${Math.ceil(opts.fileLimitBytes / (this.#db.pragma('page_size', { simple: true }) as number))}`);
    }
    this.#st = prepare(this.#db);
    this.#load(opened.seqFloor, opened.clean);
    this.#timer = setInterval(() => this.#commit(), this.#o.commitMs);
    this.#timer.unref();
  }

  append(device: string, points: readonly Sample[]): void {
    this.#open();
    this.#pending.telemetry(device, this.#clock.now(), points.length, encodePoints(points));
    this.#commitIfLarge();
  }

  appendEvent(channel: string, device: string, body: string): void {
    this.#open();
    this.#pending.event(channel, device, this.#clock.now(), body);
    this.#commitIfLarge();
    // An alarm does not wait for the timer.
    this.#commitSoon();
  }

  openCursor(upstream: string): void {
    if (!this.#cursors.has(upstream)) this.#cursors.set(upstream, this.#loadCursor(upstream));
  }

  #loadCursor(upstream: string): Cursor {
    const saved = this.#st.cursor.get(upstream) as { low: number } | undefined;
    let low: number;
    let acked: number[] = [];
    if (saved) {
      low = saved.low;
      acked = this.#st.acks.pluck().all(upstream) as number[];
      if (acked.length > 0) this.#storedAcks.add(upstream);
    } else {
      // A new upstream gets everything still in the journal.
      const first = this.#st.firstId.pluck().get() as number | null;
      low = first === null ? this.#lastId : first - 1;
      this.#st.saveCursor.run(upstream, low);
    }
    const unacked = (this.#st.countAfter.pluck().get(low) as number) - acked.length;
    return new Cursor(this, { low, acked }, unacked);
  }

  read(upstream: string, limit: number): JournalRecord[] { return this.#cursor(upstream).read(limit); }
  rewind(upstream: string, liveSince = Infinity): number {
    if (!Number.isFinite(liveSince)) return this.#cursor(upstream).rewind(this.#lastId);
    // From the newest telemetry back through the lane index: only the last seconds are read.
    const mark = this.#st.lastBefore.pluck().get(liveSince) as number | undefined;
    return this.#cursor(upstream).rewind(mark ?? 0);
  }

  get(ids: readonly number[]): JournalRecord[] {
    const out: JournalRecord[] = [];
    for (const id of [...ids].sort((a, b) => a - b)) {
      const r = this.#st.byId.get(id) as Row | undefined;
      if (r) out.push({ ...r, lane: LANES[r.lane]! });
    }
    return out;
  }

  ack(upstream: string, ids: Iterable<number>): void {
    const fresh = this.#cursor(upstream).ack(ids);
    if (fresh.length === 0) return;
    const d = this.#dirty.get(upstream);
    if (d) d.push(...fresh); else this.#dirty.set(upstream, fresh);
    this.#commitSoon();
  }

  putState(key: string, value: string | undefined): void {
    this.#open();
    // No commit of its own: the events put on the same turn bring one at once (appendEvent), and
    // a state without an event (a shelf's new expiry) rides the timer's, within commitMs.
    this.#pending.state(key, value);
  }

  states(prefix: string): Map<string, string> {
    const rows = this.#st.states.all(prefix, `${prefix}\uffff`) as { key: string; value: string }[];
    return this.#pending.overlayStates(prefix, new Map(rows.map((r) => [r.key, r.value])));
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
    if (this.#pending.records > 0) {
      // The disk still refuses writes: what waited in memory goes with the process. Said, not hidden.
      this.#log.error({ code: 'CE_ERR_JOURNAL_WRITE', file: this.file, lostRecords: this.#pending.records, lostPoints: this.#pending.points },
        'stopping while the journal cannot be written: the batches waiting in memory are lost');
    }
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#soon) clearImmediate(this.#soon);
    this.#listeners.clear();
    // A clean close checkpoints the WAL into the main file and removes it.
    closeClean(this.#db, { records: this.#records, points: this.#points, bytes: this.#bytes, oldestTs: this.#oldestTs ?? null });
  }

  // RecordSource, for the cursors.
  scan(lane: Lane, afterId: number, upTo: number, limit: number): JournalRecord[] {
    const rows = this.#st.scan.all(laneNo(lane), afterId, Math.min(upTo, Number.MAX_SAFE_INTEGER), limit) as Row[];
    return rows.map((r) => ({ ...r, lane: LANES[r.lane]! }));
  }

  idsAfter(afterId: number, limit: number): number[] { return this.#st.idsAfter.pluck().all(afterId, limit) as number[]; }
  lastId(): number { return this.#lastId; }

  #open(): void {
    if (this.#closed) throw new Error('journal: closed');
  }

  #commitIfLarge(): void {
    if (this.#pending.points >= MAX_PENDING_POINTS && !this.#failing) this.#commit();
  }

  #commitSoon(): void {
    this.#soon ??= setImmediate(() => { this.#soon = undefined; this.#commit(false); });
  }

  /** One transaction: new records with their ids and seqs, acks, cursors, trimming, the quota. */
  #commit(trim = true): void {
    if (this.#closed || (this.#pending.empty && this.#dirty.size === 0 && !this.#trimDue)) return;
    const taken = this.#pending.take();
    const pending = taken.records;
    const now = this.#clock.now();
    // A commit of acknowledgements only is not flushed to the disk on its own: losing it to a power
    // cut means sending those batches again, never losing them. The next commit with records
    // flushes it too. (WAL mode: `synchronous` may change between transactions.) A state is
    // flushed as a record is: an acknowledged alarm must not come back unacknowledged.
    const relaxed = pending.length === 0 && taken.states.size === 0 && this.#o.fsync === 'full';
    const before = { lastId: this.#lastId, dropped: this.#dropped, droppedPoints: this.#droppedPoints, seqs: new Map<string, number | undefined>() };
    try {
      if (relaxed) this.#st.syncNormal.run();
      this.#transaction(taken, now, before.seqs, trim);
    } catch (e) {
      this.#commitFailed(e as Error, taken, before);
      return;
    } finally {
      if (relaxed) this.#st.syncFull.run();
    }
    this.#pending.done();
    if (this.#failing) {
      this.#failing = false;
      this.#log.warn({ file: this.file }, 'journal writes again; what waited in memory is committed');
    }
    this.#appended += pending.length;
    if (pending.length > 0) for (const l of this.#listeners) l();
  }

  #transaction({ records: pending, states }: Taken, now: number, seqsBefore: Map<string, number | undefined>, trim: boolean): void {
    this.#db.transaction(() => {
      // Acknowledgements first: what they let go frees pages for the records below, so a full
      // disk that an upstream is draining gets room again.
      this.#saveCursors(trim || pending.length > 0);
      const touched = new Set<string>();
      for (const p of pending) {
        const key = `${p.channel}/${p.device}`;
        if (!seqsBefore.has(key)) seqsBefore.set(key, this.#seq.get(key));
        const seq = (this.#seq.get(key) ?? this.#seqBase) + 1;
        this.#seq.set(key, seq);
        touched.add(key);
        this.#st.insert.run(++this.#lastId, laneNo(p.lane), p.channel, p.device, seq, p.ts, p.count, this.#pending.body(p));
        this.#records++;
        if (p.lane === 'telemetry') { this.#points += p.count; this.#rate.add(p.count); }
        this.#bytes += p.len + RECORD_OVERHEAD_BYTES;
        this.#oldestTs ??= p.ts;
      }
      for (const key of touched) this.#st.saveSeq.run(key, this.#seq.get(key));
      for (const [k, v] of states) if (v === undefined) this.#st.dropState.run(k); else this.#st.saveState.run(k, v);
      if (pending.length > 0) this.#st.saveMeta.run('last_id', this.#lastId);
      for (const c of this.#cursors.values()) c.committed(pending.length);
      this.#enforceBounds(now);
    })();
  }

  /**
   * SQLite rolled the transaction back (disk full, an I/O error): undo what it changed in memory,
   * keep the batches to try again at the next commit, and say so once. Past a bound the oldest
   * waiting telemetry is dropped and counted, as the quota would.
   */
  #commitFailed(e: Error, taken: Taken, before: { lastId: number; dropped: number; droppedPoints: number; seqs: Map<string, number | undefined> }): void {
    this.#lastId = before.lastId;
    this.#dropped = before.dropped;
    this.#droppedPoints = before.droppedPoints;
    for (const [k, v] of before.seqs) if (v === undefined) this.#seq.delete(k); else this.#seq.set(k, v);
    const dropped = this.#pending.giveBack(taken, MAX_HELD_POINTS);
    if (dropped.records > 0) {
      this.#dropped += dropped.records;
      this.#droppedPoints += dropped.points;
      this.#full = true;
    }
    // Counters and cursors as the file has them: the transaction's changes to them did not happen.
    this.#loadSums();
    for (const name of this.#cursors.keys()) this.#cursors.set(name, this.#loadCursor(name));
    this.#dirty.clear();
    if (!this.#failing) {
      this.#failing = true;
      this.#log.error({ code: 'CE_ERR_JOURNAL_WRITE', file: this.file, sqlite: (e as { code?: string }).code, waiting: this.#pending.points },
        `cannot write to the journal: ${e.message}; holding up to ${MAX_HELD_POINTS} points in memory and trying again`);
    }
  }

  /**
   * Saves what moved in each cursor. Deleting what every upstream has is left to the timer's commit
   * (`trim`): an acknowledgement is committed as soon as it arrives (a crash then repeats only what
   * was in flight), and that commit should write one row, not free pages.
   */
  #saveCursors(trim: boolean): void {
    let trimTo = Infinity;
    for (const [name, c] of this.#cursors) {
      const fresh = this.#dirty.get(name);
      const moved = c.advance();
      if (fresh) {
        for (const id of fresh) if (id > c.low) { this.#st.saveAck.run(name, id); this.#storedAcks.add(name); }
      }
      if (moved || fresh) {
        this.#st.saveCursor.run(name, c.low);
        if (this.#storedAcks.has(name)) {
          this.#st.dropAcks.run(name, c.low);
          if (c.acked.size === 0) this.#storedAcks.delete(name);
        }
        if (moved) this.#trimDue = true;
      }
      trimTo = Math.min(trimTo, c.low);
    }
    this.#dirty.clear();
    if (trim && this.#trimDue) {
      this.#trimDue = false;
      if (Number.isFinite(trimTo) && this.#records > 0) this.#removeUpTo(trimTo);
    }
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
      // Cleared below the drop target, not at it: right after a drop the journal sits just under
      // 90 %, and a commit that adds no telemetry would otherwise call it drained (alarm chatter).
      if (this.#full && this.#bytes <= quota * FULL_CLEARS_AT) this.#full = false;
      return;
    }
    // Drop to 90 % of the quota, so a full journal does not drop on every commit.
    const target = this.#bytes > quota ? quota * DROP_TO : Infinity;
    const gone = dropOldestTelemetry(this.#st, { bytes: this.#bytes, target, ageLimit, overhead: RECORD_OVERHEAD_BYTES }, (id, points) => {
      this.#dropped++;
      this.#droppedPoints += points;
      for (const c of this.#cursors.values()) c.dropped(id);
    });
    if (gone.records > 0) {
      this.#forget(gone.records, gone.points, gone.bodyBytes);
      if (target < Infinity) this.#full = true;
    }
    if (this.#bytes > quota) this.#full = true; // only events left: they are never dropped
  }

  #forget(n: number, points: number, bodyBytes: number): void {
    this.#records -= n;
    this.#points -= points;
    this.#bytes -= bodyBytes + n * RECORD_OVERHEAD_BYTES;
    this.#oldestTs = this.#records > 0 ? (this.#st.oldestTs.pluck().get() as number) : undefined;
  }

  #load(seqFloor: number, clean: boolean): void {
    this.#seqBase = seqFloor;
    const meta = this.#st.meta.pluck().get('last_id') as number | undefined;
    const maxId = this.#st.maxId.pluck().get() as number | null;
    this.#lastId = Math.max(meta ?? 0, maxId ?? 0);
    for (const r of this.#st.seqs.all() as { key: string; seq: number }[]) this.#seq.set(r.key, Math.max(r.seq, seqFloor));
    const saved = clean ? this.#st.meta.pluck().get('totals') as string | undefined : undefined;
    if (saved) {
      const t = JSON.parse(saved) as { records: number; points: number; bytes: number; oldestTs: number | null };
      this.#records = t.records;
      this.#points = t.points;
      this.#bytes = t.bytes;
      this.#oldestTs = t.oldestTs ?? undefined;
    } else {
      this.#loadSums();
    }
    if (this.#records > 0) this.#log.info({ file: this.file, records: this.#records, points: this.#points, bytes: this.#bytes }, 'journal opened with a backlog');
  }

  #loadSums(): void {
    const sums = this.#st.sums.get() as { n: number; points: number | null; bytes: number | null; oldest: number | null };
    this.#records = sums.n;
    this.#points = sums.points ?? 0;
    this.#bytes = (sums.bytes ?? 0) + sums.n * RECORD_OVERHEAD_BYTES;
    this.#oldestTs = sums.oldest ?? undefined;
  }

  #cursor(upstream: string): Cursor {
    const c = this.#cursors.get(upstream);
    if (!c) throw new Error(`journal: no cursor "${upstream}"; call openCursor first`);
    return c;
  }
}
