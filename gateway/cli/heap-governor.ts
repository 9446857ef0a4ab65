// A bound on how much garbage `cityedge run` lets V8's old generation gather between full
// collections (docs/operations.md, "Memory").
//
// V8 sizes its first old-generation limit for a heap it knows nothing about, and later ones as a
// multiple of what was live. The gateway promotes little (~75 KB/s at 10,000 points/s), so its old
// generation grew for minutes, a few hundred KB of RSS a second, until a collection far above the
// 14 MB that were live: measured, 79 → 91 MB of RSS over 100 s of bench:modbus, then back to 83.
// Collecting once the old generation holds `slack` more than after the last full collection costs a
// collection every minute or so at that rate (12–17 ms on the box's main thread).
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

export interface HeapGovernorOptions {
  /** Garbage allowed above what the last full collection left, in MB; at least a quarter of that. 0: no watch (`collect` still works). */
  slackMb: number;
  /** How often it looks, ms. */
  everyMs?: number;
}

export class HeapGovernor {
  readonly #gc: (() => void) | undefined;
  readonly #slackMb: number;
  #floor: number;
  #timer: NodeJS.Timeout | undefined;
  /** Full collections it made. */
  collections = 0;

  constructor(o: HeapGovernorOptions) {
    this.#slackMb = o.slackMb;
    this.#gc = fetchGc();
    this.#floor = oldBytes();
    if (this.#gc && o.slackMb > 0 && o.everyMs !== undefined) {
      this.#timer = setInterval(() => this.check(), o.everyMs);
      this.#timer.unref();
    }
  }

  get active(): boolean { return this.#gc !== undefined && this.#slackMb > 0; }

  /** One full collection now (after start-up, what building the drivers' plans left is garbage). */
  collect(): void {
    if (!this.#gc) return;
    this.#gc();
    this.collections++;
    this.#floor = oldBytes();
  }

  /** Collects if the old generation outgrew its allowance; whether it did. */
  check(): boolean {
    if (!this.#gc || this.#slackMb <= 0) return false;
    const used = oldBytes();
    // V8 collected on its own since: what is left is the new floor.
    if (used < this.#floor) { this.#floor = used; return false; }
    const slack = Math.max(this.#slackMb * 2 ** 20, this.#floor / 4);
    if (used - this.#floor <= slack) return false;
    this.collect();
    return true;
  }

  stop(): void { clearInterval(this.#timer); }
}
