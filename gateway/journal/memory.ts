// The in-memory journal: the default for tests and for boxes without a disk buffer. It loses its
// contents on restart (the durable journal does not) and is bounded: past `maxPoints` the oldest
// records are dropped and counted.
import type { Clock } from '../model/clock.ts';
import { systemClock } from '../model/clock.ts';
import type { Sample } from '../model/sample.ts';
import type { Journal, JournalRecord, JournalStats } from './journal.ts';

export interface MemoryJournalOptions { clock?: Clock; maxPoints?: number }

/**
 * What one upstream has acknowledged: every id up to `low`, plus the ids above it acked out of
 * order (QoS 1 acks within the in-flight window). Reads start after `low`, so a cursor that is
 * up to date costs nothing however much another, stalled upstream holds in the journal.
 */
interface Cursor { low: number; above: Set<number> }

export class MemoryJournal implements Journal {
  readonly #clock: Clock;
  readonly #maxPoints: number;
  /** Records in id order; `#head` is the first live one (shifting a big array on every delete is O(n)). */
  #records: JournalRecord[] = [];
  #head = 0;
  #points = 0;
  #nextId = 1;
  readonly #seq = new Map<string, number>();
  readonly #seqBase: number;
  readonly #cursors = new Map<string, Cursor>();
  readonly #listeners = new Set<() => void>();
  #appended = 0;
  #dropped = 0;

  constructor(opts: MemoryJournalOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#maxPoints = opts.maxPoints ?? 1_000_000;
    // Nothing is stored across restarts, yet seq must keep increasing so consumers that drop
    // duplicates by (device, seq) do not drop a restarted box's data. Starting from the clock in
    // milliseconds does it while the clock is right: a device appends far less than one batch per
    // millisecond. (A clock set back across a restart breaks this; the durable journal stores seq.)
    this.#seqBase = this.#clock.now();
  }

  append(device: string, points: readonly Sample[]): JournalRecord {
    const seq = (this.#seq.get(device) ?? this.#seqBase) + 1;
    this.#seq.set(device, seq);
    // The caller hands over the array (the scheduler builds a new one per scan): no copy.
    const rec: JournalRecord = { id: this.#nextId++, device, seq, ts: this.#clock.now(), points };
    this.#records.push(rec);
    this.#points += points.length;
    this.#appended++;
    while (this.#points > this.#maxPoints && this.#size() > 1) {
      this.#removeFirst();
      this.#dropped++;
    }
    for (const l of this.#listeners) l();
    return rec;
  }

  openCursor(upstream: string): void {
    if (!this.#cursors.has(upstream)) this.#cursors.set(upstream, { low: this.#firstId() - 1, above: new Set() });
  }

  read(upstream: string, limit: number, skip?: ReadonlySet<number>): JournalRecord[] {
    const c = this.#cursor(upstream);
    const out: JournalRecord[] = [];
    for (let i = this.#indexAfter(c.low); i < this.#records.length && out.length < limit; i++) {
      const r = this.#records[i]!;
      if (!c.above.has(r.id) && !skip?.has(r.id)) out.push(r);
    }
    return out;
  }

  ack(upstream: string, ids: Iterable<number>): void {
    const c = this.#cursor(upstream);
    const first = this.#firstId();
    // An ack for a record already dropped (quota) or acked changes nothing.
    for (const id of ids) if (id > c.low && id >= first && id < this.#nextId) c.above.add(id);
    this.#advance(c);
    this.#trim();
  }

  backlog(upstream: string): number {
    const c = this.#cursor(upstream);
    return this.#records.length - this.#indexAfter(c.low) - c.above.size;
  }

  stats(): JournalStats {
    return {
      records: this.#size(), points: this.#points, oldestTs: this.#records[this.#head]?.ts,
      appended: this.#appended, dropped: this.#dropped,
    };
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> { this.#listeners.clear(); }

  #cursor(upstream: string): Cursor {
    const c = this.#cursors.get(upstream);
    if (!c) throw new Error(`journal: no cursor "${upstream}"; call openCursor first`);
    return c;
  }

  #size(): number { return this.#records.length - this.#head; }
  #firstId(): number { return this.#records[this.#head]?.id ?? this.#nextId; }

  /** Index of the first live record with an id above `id` (ids are increasing: binary search). */
  #indexAfter(id: number): number {
    let lo = this.#head;
    let hi = this.#records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#records[mid]!.id <= id) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** Moves the low-water mark over ids acked in a row, or dropped under it. */
  #advance(c: Cursor): void {
    for (let i = this.#indexAfter(c.low); i < this.#records.length; i++) {
      const id = this.#records[i]!.id;
      if (!c.above.delete(id)) break;
      c.low = id;
    }
  }

  /** A record leaves once every upstream has it; records are in id order, so trim from the front. */
  #trim(): void {
    if (this.#cursors.size === 0) return;
    let minLow = Infinity;
    for (const c of this.#cursors.values()) minLow = Math.min(minLow, c.low);
    while (this.#size() > 0 && this.#records[this.#head]!.id <= minLow) this.#removeFirst();
  }

  #removeFirst(): void {
    const r = this.#records[this.#head]!;
    // Clear the slot: until the array is compacted it would keep the record's points alive (with
    // 20 batches/s of 500 points, up to a minute of telemetry).
    (this.#records as (JournalRecord | undefined)[])[this.#head++] = undefined;
    this.#points -= r.points.length;
    for (const c of this.#cursors.values()) {
      c.above.delete(r.id);
      // A dropped record counts as passed for every cursor, or its low-water mark would stall below it.
      if (c.low < r.id) { c.low = r.id; this.#advance(c); }
    }
    if (this.#head > 1024 && this.#head * 2 > this.#records.length) {
      this.#records = this.#records.slice(this.#head);
      this.#head = 0;
    }
  }
}
