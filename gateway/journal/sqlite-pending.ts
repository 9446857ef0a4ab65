// What waits for the SQLite journal's next commit: appended records (telemetry bodies as UTF-8 in
// the arena, gateway/journal/body-arena.ts) and states put since (the latest per key). A commit
// takes them all; a commit the disk refuses gives them back, to wait for the next one.
import { BodyArena } from './body-arena.ts';
import type { Lane } from './journal.ts';

/** A record waiting for its commit. A telemetry body is in the arena (`body` undefined) until a failed commit makes it a string. */
export interface Pending { lane: Lane; channel: string; device: string; ts: number; count: number; body: string | undefined; off: number; len: number }

export interface Taken { records: Pending[]; states: Map<string, string | undefined> }

export class PendingWrites {
  #records: Pending[] = [];
  /** Points of the telemetry waiting (events count 1 each). */
  points = 0;
  #states = new Map<string, string | undefined>();
  readonly #arena = new BodyArena();

  get records(): number { return this.#records.length; }
  get empty(): boolean { return this.#records.length === 0 && this.#states.size === 0; }

  telemetry(device: string, ts: number, count: number, body: string): void {
    const { off, len } = this.#arena.put(body);
    this.#add({ lane: 'telemetry', channel: 'telemetry', device, ts, count, body: undefined, off, len });
  }

  event(channel: string, device: string, ts: number, body: string): void {
    this.#add({ lane: 'priority', channel, device, ts, count: 1, body, off: -1, len: Buffer.byteLength(body) });
  }

  state(key: string, value: string | undefined): void { this.#states.set(key, value); }

  /** `committed` (key → value) as it will be once what waits is committed. */
  overlayStates(prefix: string, committed: Map<string, string>): Map<string, string> {
    for (const [k, v] of this.#states) {
      if (!k.startsWith(prefix)) continue;
      if (v === undefined) committed.delete(k); else committed.set(k, v);
    }
    return committed;
  }

  /** Everything waiting, for one transaction; the arena's bytes stay valid until `done` or `giveBack`. */
  take(): Taken {
    const taken = { records: this.#records, states: this.#states };
    this.#records = [];
    this.#states = new Map();
    this.points = 0;
    return taken;
  }

  /** The body to bind: a string, or a view of the arena's bytes. */
  body(p: Pending): string | Buffer { return p.body ?? this.#arena.view(p.off, p.len); }

  /** The taken ones are committed. */
  done(): void { this.#arena.clear(); }

  /**
   * The commit failed: the taken ones wait again, ahead of anything added since (states added
   * since win), their bodies as strings (the arena is for the next commit). Past `maxPoints` the
   * oldest waiting telemetry is dropped; what was dropped is returned, to be counted.
   */
  giveBack(taken: Taken, maxPoints: number): { records: number; points: number } {
    for (const p of taken.records) if (p.body === undefined) p.body = this.#arena.text(p.off, p.len);
    this.#arena.clear();
    for (const [k, v] of this.#states) taken.states.set(k, v);
    this.#states = taken.states;
    this.#records = taken.records.concat(this.#records);
    this.points = this.#records.reduce((n, p) => n + p.count, 0);
    const dropped = { records: 0, points: 0 };
    while (this.points > maxPoints) {
      const i = this.#records.findIndex((p) => p.lane === 'telemetry');
      if (i < 0) break;
      const [gone] = this.#records.splice(i, 1);
      this.points -= gone!.count;
      dropped.records++;
      dropped.points += gone!.count;
    }
    return dropped;
  }

  #add(p: Pending): void {
    this.#records.push(p);
    this.points += p.count;
  }
}
