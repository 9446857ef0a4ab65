// A bound on how much garbage `cityedge run` lets V8's old generation gather between full
// collections (docs/operations.md, "Memory").
//
// V8 sizes its first old-generation limit for a heap it knows nothing about, and later ones as a
// multiple of what was live. The gateway promotes little (~75 KB/s at 10,000 points/s), so its old
// generation grew for minutes, a few hundred KB of RSS a second, until a collection far above the
// 14 MB that were live: measured, 79 → 91 MB of RSS over 100 s of bench:modbus, then back to 83.
// Collecting once the old generation holds `slack` more than after the last full collection costs a
// collection every minute or so at that rate (12–17 ms on the box's main thread), and never more
// than `maxDuty` of the time.
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** gc(), fetched through a throwaway context while the flag is on, then switched off again. */
function fetchGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (() => void) | undefined;
    setFlagsFromString('--no-expose-gc');
    return gc;
  } catch {
    return undefined;
  }
}

/** Bytes in V8's spaces that only full collections empty: everything but the young generation. */
export function oldBytes(): number {
  let n = 0;
  for (const s of getHeapSpaceStatistics()) if (!s.space_name.startsWith('new_')) n += s.space_used_size;
  return n;
}

/** Fast garbage or V8's own collections seen within this long: the heap is left to V8. */
const BUSY_MS = 30_000;

export interface HeapGovernorOptions {
  /** Garbage allowed above what the last full collection left, in MB; at least a quarter of that. 0: no watch (`collect` still works). */
  slackMb: number;
  /** How often it looks, ms. */
  everyMs?: number;
  /**
   * Share of the time its collections may take (default 1 %): after one of t ms it waits 100 × t.
   */
  maxDuty?: number;
}

export class HeapGovernor {
  readonly #gc: (() => void) | undefined;
  readonly #slackMb: number;
  readonly #maxDuty: number;
  #floor: number;
  #last: number;
  #quietUntil = 0;
  /** When garbage was last seen coming fast, or V8 collecting the old generation by itself. */
  #busyAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  /** Full collections it made. */
  collections = 0;

  constructor(o: HeapGovernorOptions) {
    this.#slackMb = o.slackMb;
    this.#maxDuty = o.maxDuty ?? 0.01;
    this.#gc = fetchGc();
    this.#floor = oldBytes();
    this.#last = this.#floor;
    if (this.#gc && o.slackMb > 0 && o.everyMs !== undefined) {
      this.#timer = setInterval(() => this.check(), o.everyMs);
      this.#timer.unref();
    }
  }

  get active(): boolean { return this.#gc !== undefined && this.#slackMb > 0; }

  /** One full collection now (after start-up, what building the drivers' plans left is garbage). */
  collect(): void {
    if (!this.#gc) return;
    const t0 = performance.now();
    this.#gc();
    const t1 = performance.now();
    this.collections++;
    this.#floor = oldBytes();
    this.#last = this.#floor;
    this.#quietUntil = t1 + (t1 - t0) / this.#maxDuty;
  }

  /** Collects if the old generation outgrew its allowance; whether it did. */
  check(): boolean {
    if (!this.#gc || this.#slackMb <= 0) return false;
    const used = oldBytes();
    const now = performance.now();
    const slack = Math.max(this.#slackMb * 2 ** 20, this.#floor / 4);
    // Between full collections the old generation only grows: less than last time, V8 collected.
    // Either that or a whole allowance gathered since the last look means garbage comes fast (a
    // backlog draining): V8 paces that itself, and a collection forced from here would also lower
    // the limit it sets for its next one. This is for the slow drift V8 leaves alone for minutes.
    if (used < this.#last || used - this.#last > slack) this.#busyAt = now;
    this.#last = used;
    if (used < this.#floor) { this.#floor = used; return false; }
    if (now - this.#busyAt < BUSY_MS) return false;
    if (used - this.#floor <= slack || now < this.#quietUntil) return false;
    this.collect();
    return true;
  }

  stop(): void { clearInterval(this.#timer); }
}
