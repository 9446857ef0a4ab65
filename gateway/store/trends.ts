// Recent history of every numeric tag for the console's trend chart: mean, min and max per step
// (10 s by default) over the last day, in trends.db next to the journal. Not the journal: trends
// are for looking at on the box, are never sent upstream, and losing the last step in a crash
// costs nothing, so they are written once per step with synchronous=NORMAL.
//
// Memory stays flat whatever the history: one accumulator per tag (the step being filled) and a
// prepared statement; the history itself is on disk.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock, Logger, Sample } from '../model/index.ts';

interface Acc { id: number; bucket: number; sum: number; n: number; min: number; max: number }
/** [t, mean, min, max]: t is the start of the step, epoch ms. */
export type TrendPoint = [number, number, number, number];

export interface TrendOptions {
  /** The folder of trends.db, or undefined for a box without storage (kept in memory). */
  dir: string | undefined;
  stepMs: number;
  keepMs: number;
  clock: Clock;
  logger: Logger;
}

/** Points a query returns at most: more than a chart is wide; longer spans are merged steps. */
const MAX_POINTS = 1500;
/** Tags whose old steps are forgotten per step (see #trim). */
const TRIM_TAGS = 100;

export class TrendStore {
  readonly #o: TrendOptions;
  readonly #db: Database.Database;
  readonly #acc = new Map<string, Acc>();
  readonly #ids = new Map<string, number>();
  #closed: TrendPoint[] = [];
  #closedIds: number[] = [];
  readonly #insert: Database.Statement;
  readonly #insertTag: Database.Statement;
  readonly #delete: Database.Statement;
  #trimNext = -1;

  constructor(o: TrendOptions) {
    this.#o = o;
    this.#db = openDb(o.dir, o.logger);
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS trend (tag INTEGER NOT NULL, t INTEGER NOT NULL, mean REAL, min REAL, max REAL, PRIMARY KEY (tag, t)) WITHOUT ROWID;
    `);
    for (const r of this.#db.prepare('SELECT id, name FROM tags').all() as { id: number; name: string }[]) this.#ids.set(r.name, r.id);
    this.#insert = this.#db.prepare('INSERT OR REPLACE INTO trend (tag, t, mean, min, max) VALUES (?, ?, ?, ?, ?)');
    this.#insertTag = this.#db.prepare('INSERT INTO tags (name) VALUES (?)');
    this.#delete = this.#db.prepare('DELETE FROM trend WHERE tag = ? AND t < ?');
  }

  /** Good numeric and boolean samples (as 0/1) join their tag's current step. */
  add(samples: readonly Sample[]): void {
    for (const s of samples) {
      if (s.quality !== 'good') continue;
      const v = typeof s.value === 'number' ? s.value : typeof s.value === 'boolean' ? Number(s.value) : NaN;
      if (!Number.isFinite(v)) continue;
      const bucket = s.ts - (s.ts % this.#o.stepMs);
      let a = this.#acc.get(s.tag);
      // A late sample (a sensor's buffered reading) would reopen a step already written, and its
      // rewrite would replace the whole step with this one value: it is left out of the chart.
      if (a && bucket < a.bucket) continue;
      if (a && a.bucket !== bucket) { this.#close(a); a.bucket = bucket; a.sum = 0; a.n = 0; a.min = Infinity; a.max = -Infinity; }
      if (!a) this.#acc.set(s.tag, (a = { id: this.#idOf(s.tag), bucket, sum: 0, n: 0, min: Infinity, max: -Infinity }));
      a.sum += v; a.n++;
      if (v < a.min) a.min = v;
      if (v > a.max) a.max = v;
    }
  }

  /**
   * Writes the steps that are over, and forgets what is older than `keep`. Runs until the signal
   * aborts, once per step; then writes what it holds, the unfinished steps too.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.#o.clock.sleep(this.#o.stepMs, signal).catch(() => {});
      const now = this.#o.clock.now();
      for (const a of this.#acc.values()) {
        if (a.n > 0 && a.bucket + this.#o.stepMs <= now) { this.#close(a); a.n = 0; a.sum = 0; a.min = Infinity; a.max = -Infinity; }
      }
      this.#write();
      this.#trim(now);
    }
    for (const a of this.#acc.values()) if (a.n > 0) this.#close(a);
    this.#write();
  }

  /** The tag's steps over the last `spanMs`, merged so that at most MAX_POINTS come back; the open step last. */
  query(tag: string, spanMs: number): { stepMs: number; points: TrendPoint[] } {
    const sinceMs = this.#o.clock.now() - spanMs;
    const id = this.#ids.get(tag);
    if (id === undefined) return { stepMs: this.#o.stepMs, points: [] };
    const rows = this.#db.prepare('SELECT t, mean, min, max FROM trend WHERE tag = ? AND t >= ? ORDER BY t').raw().all(id, sinceMs) as TrendPoint[];
    // Steps closed but not yet written, and the one being filled, so the chart reaches now.
    this.#closedIds.forEach((cid, i) => { if (cid === id && this.#closed[i]![0] >= sinceMs) rows.push(this.#closed[i]!); });
    const a = this.#acc.get(tag);
    if (a && a.n > 0 && a.bucket >= sinceMs) rows.push([a.bucket, a.sum / a.n, a.min, a.max]);
    const span = Math.max(1, Math.ceil(spanMs / this.#o.stepMs / MAX_POINTS));
    return span === 1 ? { stepMs: this.#o.stepMs, points: rows } : { stepMs: this.#o.stepMs * span, points: merge(rows, this.#o.stepMs * span) };
  }

  close(): void {
    this.#write();
    this.#db.close();
  }

  #idOf(tag: string): number {
    let id = this.#ids.get(tag);
    if (id === undefined) {
      id = Number(this.#insertTag.run(tag).lastInsertRowid);
      this.#ids.set(tag, id);
    }
    return id;
  }

  #close(a: Acc): void {
    if (a.n === 0) return;
    this.#closed.push([a.bucket, a.sum / a.n, a.min, a.max]);
    this.#closedIds.push(a.id);
  }

  #write(): void {
    if (this.#closed.length === 0) return;
    const rows = this.#closed;
    const ids = this.#closedIds;
    this.#closed = [];
    this.#closedIds = [];
    try {
      this.#db.transaction(() => { rows.forEach((r, i) => this.#insert.run(ids[i], r[0], r[1], r[2], r[3])); })();
    } catch (e) {
      // A full disk must not stop the gateway; the chart just has a gap.
      this.#o.logger.warn({ code: 'CE_ERR_TRENDS', err: (e as Error).message, steps: rows.length }, 'trend steps could not be written');
    }
  }

  /**
   * Forgets old steps a few tags per step, along the primary key: one `DELETE … WHERE t < ?` over the
   * whole table scans it (the key starts with the tag) and held the gateway's thread for 0.7 s with
   * 10,000 tags and an hour of steps. At TRIM_TAGS per 10 s step, 10,000 tags take 17 minutes a round.
   */
  #trim(now: number): void {
    const ids = [...this.#ids.values()];
    if (ids.length === 0) return;
    try {
      this.#db.transaction(() => {
        for (let i = 0; i < Math.min(TRIM_TAGS, ids.length); i++) {
          this.#trimNext = (this.#trimNext + 1) % ids.length;
          this.#delete.run(ids[this.#trimNext], now - this.#o.keepMs);
        }
      })();
    } catch (e) {
      this.#o.logger.warn({ code: 'CE_ERR_TRENDS', err: (e as Error).message }, 'old trend steps could not be removed');
    }
  }
}

function merge(rows: readonly TrendPoint[], stepMs: number): TrendPoint[] {
  const out: TrendPoint[] = [];
  let cur: TrendPoint | undefined;
  let n = 0;
  for (const [t, mean, min, max] of rows) {
    const b = t - (t % stepMs);
    if (!cur || cur[0] !== b) {
      if (cur) { cur[1] /= n; out.push(cur); }
      cur = [b, 0, min, max];
      n = 0;
    }
    cur[1] += mean; n++;
    if (min < cur[2]) cur[2] = min;
    if (max > cur[3]) cur[3] = max;
  }
  if (cur) { cur[1] /= n; out.push(cur); }
  return out;
}

/** A damaged trends file is moved aside and a new one begun: history is nice to have, not worth a stop. */
function openDb(dir: string | undefined, logger: Logger): Database.Database {
  if (dir === undefined) return new Database(':memory:');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'trends.db');
  try {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    return db;
  } catch (e) {
    const aside = `${file}.damaged-${Date.now()}`;
    if (existsSync(file)) renameSync(file, aside);
    for (const ext of ['-wal', '-shm']) if (existsSync(file + ext)) renameSync(file + ext, aside + ext);
    logger.warn({ code: 'CE_ERR_TRENDS', err: (e as Error).message, movedTo: aside }, 'trends.db was damaged: moved aside, trends start afresh');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    return db;
  }
}
