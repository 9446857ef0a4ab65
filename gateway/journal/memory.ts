// The in-memory journal: the default for tests and for boxes configured without a disk journal. It
// loses its contents on restart (the durable journal does not) and is bounded: past `maxPoints` the
// oldest telemetry is dropped and counted; events are never dropped. An append is committed at once.
import type { Clock } from '../model/clock.ts';
import { systemClock } from '../model/clock.ts';
import { RateMeter } from '../model/rate.ts';
import type { Sample } from '../model/sample.ts';
import { Cursor, type RecordSource } from './cursor.ts';
import type { Journal, JournalRecord, JournalStats, Lane } from './journal.ts';
import { encodePoints } from './points.ts';

export interface MemoryJournalOptions { clock?: Clock; maxPoints?: number }

/** One lane's records in id order; `head` is the first live one (shifting on every delete is O(n)). */
class LaneList {
  items: (JournalRecord | undefined)[] = [];
  head = 0;
  get size(): number { return this.items.length - this.head; }
  first(): JournalRecord | undefined { return this.items[this.head]; }
  push(r: JournalRecord): void { this.items.push(r); }
  shift(): JournalRecord {
    const r = this.items[this.head]!;
    // Clear the slot: until compaction it would keep the record alive.
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0; }
    return r;
  }
  /** Index of the first record with an id above `id` (binary search). */
  indexAfter(id: number): number {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.items[mid]!.id <= id) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
}

export class MemoryJournal implements Journal, RecordSource {
  readonly #clock: Clock;
  readonly #maxPoints: number;
  readonly #lanes: Record<Lane, LaneList> = { priority: new LaneList(), telemetry: new LaneList() };
  #points = 0;
  #bytes = 0;
  #lastId = 0;
  readonly #seq = new Map<string, number>();
  readonly #seqBase: number;
  readonly #cursors = new Map<string, Cursor>();
  readonly #listeners = new Set<() => void>();
  readonly #states = new Map<string, string>();
  #appended = 0;
  #dropped = 0;
  #droppedPoints = 0;
  #full = false;
  readonly #rate: RateMeter;

  constructor(opts: MemoryJournalOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#rate = new RateMeter(this.#clock);
    this.#maxPoints = opts.maxPoints ?? 1_000_000;
    // Nothing is stored across restarts, yet seq must keep increasing so consumers that drop
    // duplicates by (device, seq) do not drop a restarted box's data. Starting from the clock in
    // milliseconds does it while the clock is right: a device appends far less than one batch per
    // millisecond. (A clock set back across a restart breaks this; the durable journal stores seq.)
    this.#seqBase = this.#clock.now();
  }

  append(device: string, points: readonly Sample[]): void {
    this.#add('telemetry', 'telemetry', device, points.length, encodePoints(points));
    while (this.#points > this.#maxPoints && this.#lanes.telemetry.size > 1) this.#drop();
    if (this.#full && this.#points <= this.#maxPoints * 0.9) this.#full = false;
    this.#notify();
  }

  appendEvent(channel: string, device: string, body: string): void {
    this.#add('priority', channel, device, 1, body);
    this.#notify();
  }

  openCursor(upstream: string): void {
    if (this.#cursors.has(upstream)) return;
    const first = Math.min(this.#lanes.priority.first()?.id ?? Infinity, this.#lanes.telemetry.first()?.id ?? Infinity);
    const low = Number.isFinite(first) ? first - 1 : this.#lastId;
    this.#cursors.set(upstream, new Cursor(this, { low, acked: [] }, this.#lanes.priority.size + this.#lanes.telemetry.size));
  }

  read(upstream: string, limit: number): JournalRecord[] { return this.#cursor(upstream).read(limit); }
  rewind(upstream: string, liveSince = Infinity): number {
    const l = this.#lanes.telemetry;
    let i = l.items.length - 1;
    while (i >= l.head && l.items[i]!.ts >= liveSince) i--;
    return this.#cursor(upstream).rewind(i >= l.head ? l.items[i]!.id : (Number.isFinite(liveSince) ? 0 : this.#lastId));
  }

  get(ids: readonly number[]): JournalRecord[] {
    const out: JournalRecord[] = [];
    for (const id of ids) {
      for (const l of Object.values(this.#lanes)) {
        const r = l.items[l.indexAfter(id - 1)];
        if (r?.id === id) { out.push(r); break; }
      }
    }
    return out.sort((a, b) => a.id - b.id);
  }

  ack(upstream: string, ids: Iterable<number>): void {
    const c = this.#cursor(upstream);
    if (c.ack(ids).length > 0 && c.advance()) this.#trim();
  }

  putState(key: string, value: string | undefined): void {
    if (value === undefined) this.#states.delete(key); else this.#states.set(key, value);
  }

  states(prefix: string): Map<string, string> {
    return new Map([...this.#states].filter(([k]) => k.startsWith(prefix)));
  }

  backlog(upstream: string): number { return this.#cursor(upstream).unacked; }

  stats(): JournalStats {
    const { priority, telemetry } = this.#lanes;
    const oldest = Math.min(priority.first()?.ts ?? Infinity, telemetry.first()?.ts ?? Infinity);
    return {
      records: priority.size + telemetry.size, points: this.#points, bytes: this.#bytes,
      oldestTs: Number.isFinite(oldest) ? oldest : undefined,
      appended: this.#appended, dropped: this.#dropped, droppedPoints: this.#droppedPoints, full: this.#full,
      commitRate: this.#rate.perSecond(),
    };
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  flush(): void {}
  async close(): Promise<void> { this.#listeners.clear(); }

  // RecordSource, for the cursors.
  scan(lane: Lane, afterId: number, upTo: number, limit: number): JournalRecord[] {
    const l = this.#lanes[lane];
    const out: JournalRecord[] = [];
    for (let i = l.indexAfter(afterId); i < l.items.length && out.length < limit; i++) {
      const r = l.items[i]!;
      if (r.id > upTo) break;
      out.push(r);
    }
    return out;
  }

  idsAfter(afterId: number, limit: number): number[] {
    const a = this.scan('priority', afterId, Infinity, limit).map((r) => r.id);
    const b = this.scan('telemetry', afterId, Infinity, limit).map((r) => r.id);
    return [...a, ...b].sort((x, y) => x - y).slice(0, limit);
  }

  lastId(): number { return this.#lastId; }

  #add(lane: Lane, channel: string, device: string, count: number, body: string): void {
    const key = `${channel}/${device}`;
    const seq = (this.#seq.get(key) ?? this.#seqBase) + 1;
    this.#seq.set(key, seq);
    this.#lanes[lane].push({ id: ++this.#lastId, lane, channel, device, seq, ts: this.#clock.now(), count, body });
    if (lane === 'telemetry') { this.#points += count; this.#rate.add(count); }
    this.#bytes += Buffer.byteLength(body);
    this.#appended++;
    for (const c of this.#cursors.values()) c.committed(1);
  }

  #notify(): void { for (const l of this.#listeners) l(); }

  #drop(): void {
    const r = this.#remove('telemetry');
    this.#dropped++;
    this.#droppedPoints += r.count;
    this.#full = true;
    for (const c of this.#cursors.values()) { c.dropped(r.id); c.advance(); }
  }

  #remove(lane: Lane): JournalRecord {
    const r = this.#lanes[lane].shift();
    if (lane === 'telemetry') this.#points -= r.count;
    this.#bytes -= Buffer.byteLength(r.body);
    return r;
  }

  /** A record leaves once every upstream has it. */
  #trim(): void {
    let minLow = Infinity;
    for (const c of this.#cursors.values()) minLow = Math.min(minLow, c.low);
    for (const lane of ['priority', 'telemetry'] as const) {
      while ((this.#lanes[lane].first()?.id ?? Infinity) <= minLow) this.#remove(lane);
    }
  }

  #cursor(upstream: string): Cursor {
    const c = this.#cursors.get(upstream);
    if (!c) throw new Error(`journal: no cursor "${upstream}"; call openCursor first`);
    return c;
  }
}
