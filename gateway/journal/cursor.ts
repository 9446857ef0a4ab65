// One upstream's position in the journal, shared by both journal implementations: what it has
// acknowledged, what it has been given since its last rewind, and the live/backlog split that lets
// live telemetry overtake a draining backlog.
import type { JournalRecord, Lane } from './journal.ts';

/** What a cursor needs from a journal's storage. Ids increase across lanes. */
export interface RecordSource {
  /** Records of `lane` with afterId < id ≤ upTo, oldest first, at most `limit`. */
  scan(lane: Lane, afterId: number, upTo: number, limit: number): JournalRecord[];
  /** Ids of every lane above afterId, oldest first, at most `limit`. */
  idsAfter(afterId: number, limit: number): number[];
  lastId(): number;
}

export interface CursorState { low: number; acked: readonly number[] }

export class Cursor {
  /** Every record with an id up to `low` is acknowledged (or gone). */
  low: number;
  /** Acknowledged ids above `low` (acks arrive out of order, and live records overtake the backlog). */
  readonly acked: Set<number>;
  /** Read since the last rewind and not acknowledged yet. */
  readonly #given = new Set<number>();
  /** Records not acknowledged, kept as a count: counting a 10-million-record table per status is not an option. */
  unacked: number;
  /** Telemetry above this id is live; at or below it, backlog. */
  #liveMark: number;
  #prio: number;
  #live: number;
  #back: number;
  readonly #src: RecordSource;

  constructor(src: RecordSource, state: CursorState, unacked: number) {
    this.#src = src;
    this.low = state.low;
    this.acked = new Set(state.acked);
    this.unacked = unacked;
    this.#liveMark = this.#prio = this.#live = this.#back = state.low;
  }

  read(limit: number): JournalRecord[] {
    const out: JournalRecord[] = [];
    this.#prio = this.#take('priority', this.#prio, Infinity, limit, out);
    this.#live = this.#take('telemetry', Math.max(this.#live, this.#liveMark), Infinity, limit, out);
    this.#back = this.#take('telemetry', this.#back, this.#liveMark, limit, out);
    return out;
  }

  /** `backlogTo`: the last telemetry id that counts as backlog (see Journal.rewind). */
  rewind(backlogTo: number): number {
    this.#given.clear();
    this.#liveMark = Math.max(backlogTo, this.low);
    this.#prio = this.#back = this.low;
    this.#live = this.#liveMark;
    return this.#liveMark;
  }

  /** The ids newly acknowledged (those given and not acknowledged before). */
  ack(ids: Iterable<number>): number[] {
    const fresh: number[] = [];
    for (const id of ids) {
      if (!this.#given.delete(id)) continue;
      this.acked.add(id);
      this.unacked--;
      fresh.push(id);
    }
    return fresh;
  }

  /** Moves `low` over the acknowledged ids in a row; true if it moved. */
  advance(): boolean {
    const before = this.low;
    for (;;) {
      // No more ids can be walked than are acknowledged: in the usual case (acks in order) one.
      const page = Math.min(256, this.acked.size + 1);
      const ids = this.#src.idsAfter(this.low, page);
      let i = 0;
      for (; i < ids.length && this.acked.delete(ids[i]!); i++) this.low = ids[i]!;
      if (i < ids.length) break;
      if (ids.length === 0) {
        // Nothing left above: every id up to the last is acknowledged or gone.
        this.low = Math.max(this.low, this.#src.lastId());
        this.acked.clear();
      }
      if (ids.length < page) break;
    }
    return this.low !== before;
  }

  /** A record dropped by the quota: it counts as passed, acknowledged or not. */
  dropped(id: number): void {
    if (id <= this.low) return;
    if (!this.acked.delete(id)) { this.unacked--; this.#given.delete(id); }
  }

  committed(n: number): void { this.unacked += n; }

  #take(lane: Lane, after: number, upTo: number, limit: number, out: JournalRecord[]): number {
    let pos = after;
    while (out.length < limit && pos < upTo) {
      const page = this.#src.scan(lane, pos, upTo, limit - out.length);
      for (const r of page) {
        pos = r.id;
        if (this.acked.has(r.id)) continue;
        this.#given.add(r.id);
        out.push(r);
      }
      if (page.length === 0 || out.length >= limit) break;
    }
    return pos;
  }
}
