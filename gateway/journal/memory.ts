// The in-memory journal: the default for tests and for boxes without a disk buffer. It loses its
// contents on restart (the durable journal does not) and is bounded: past `maxPoints` the oldest
// records are dropped and counted.
import type { Clock } from '../model/clock.ts';
import { systemClock } from '../model/clock.ts';
import type { Sample } from '../model/sample.ts';
import type { Journal, JournalRecord, JournalStats } from './journal.ts';

export interface MemoryJournalOptions { clock?: Clock; maxPoints?: number }

export class MemoryJournal implements Journal {
  readonly #clock: Clock;
  readonly #maxPoints: number;
  #records: JournalRecord[] = [];
  #points = 0;
  #nextId = 1;
  readonly #seq = new Map<string, number>();
  readonly #seqBase: number;
  readonly #acked = new Map<string, Set<number>>();
  readonly #listeners = new Set<() => void>();
  #appended = 0;
  #dropped = 0;

  constructor(opts: MemoryJournalOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#maxPoints = opts.maxPoints ?? 1_000_000;
    // Nothing is stored across restarts, yet seq must keep increasing so consumers that drop
    // duplicates by (device, seq) do not drop a restarted box's data. Starting from the clock in
    // milliseconds does it: a device appends far less than one batch per millisecond.
    this.#seqBase = this.#clock.now();
  }

  append(device: string, points: readonly Sample[]): JournalRecord {
    const seq = (this.#seq.get(device) ?? this.#seqBase) + 1;
    this.#seq.set(device, seq);
    const rec: JournalRecord = { id: this.#nextId++, device, seq, ts: this.#clock.now(), points: [...points] };
    this.#records.push(rec);
    this.#points += points.length;
    this.#appended++;
    while (this.#points > this.#maxPoints && this.#records.length > 1) this.#dropOldest();
    for (const l of this.#listeners) l();
    return rec;
  }

  openCursor(upstream: string): void {
    if (!this.#acked.has(upstream)) this.#acked.set(upstream, new Set());
  }

  read(upstream: string, limit: number, skip?: ReadonlySet<number>): JournalRecord[] {
    const acked = this.#cursor(upstream);
    const out: JournalRecord[] = [];
    for (const r of this.#records) {
      if (out.length >= limit) break;
      if (!acked.has(r.id) && !skip?.has(r.id)) out.push(r);
    }
    return out;
  }

  ack(upstream: string, ids: Iterable<number>): void {
    const acked = this.#cursor(upstream);
    for (const id of ids) acked.add(id);
    // A record leaves once every upstream has it; records are in id order, so trim from the front.
    while (this.#records.length > 0) {
      const first = this.#records[0]!;
      if (![...this.#acked.values()].every((s) => s.has(first.id))) break;
      this.#remove();
    }
  }

  backlog(upstream: string): number {
    const acked = this.#cursor(upstream);
    let n = 0;
    for (const r of this.#records) if (!acked.has(r.id)) n++;
    return n;
  }

  stats(): JournalStats {
    return {
      records: this.#records.length, points: this.#points, oldestTs: this.#records[0]?.ts,
      appended: this.#appended, dropped: this.#dropped,
    };
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> { this.#listeners.clear(); }

  #cursor(upstream: string): Set<number> {
    const c = this.#acked.get(upstream);
    if (!c) throw new Error(`journal: no cursor "${upstream}"; call openCursor first`);
    return c;
  }

  #dropOldest(): void {
    this.#remove();
    this.#dropped++;
  }

  #remove(): void {
    const r = this.#records.shift()!;
    this.#points -= r.points.length;
    for (const s of this.#acked.values()) s.delete(r.id);
  }
}
