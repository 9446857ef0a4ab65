// Whether a rule's condition holds, from the values of its tag: limits with a deadband, discrete
// values, and the on/off delays that keep a noisy signal from chattering. Pure but for the time it
// is given: the engine feeds it samples and ticks, tests feed it fake time.
import type { Quality } from '../model/sample.ts';

export type Limit =
  | { kind: 'above'; limit: number; deadband: number }
  | { kind: 'below'; limit: number; deadband: number }
  | { kind: 'equals'; value: number | boolean | string };

export interface Delays { onMs: number; offMs: number }

/**
 * Raw condition of one value against a limit, given whether it is active now. A limit alarm goes
 * active at the limit (≥ for `above`, ≤ for `below`) and clears only past the deadband, so a level
 * hovering at the limit raises one alarm, not one per scan.
 */
export function rawActive(limit: Limit, value: number | boolean | string, activeNow: boolean): boolean {
  switch (limit.kind) {
    case 'above':
      if (typeof value !== 'number') return activeNow;
      return activeNow ? value > limit.limit - limit.deadband : value >= limit.limit;
    case 'below':
      if (typeof value !== 'number') return activeNow;
      return activeNow ? value < limit.limit + limit.deadband : value <= limit.limit;
    case 'equals':
      return value === limit.value;
  }
}

/** The debounced condition of one rule. */
export class ConditionTracker {
  #active = false;
  /** When the raw condition started to differ from #active; undefined while they agree. */
  #since: number | undefined;
  #limit: Limit;
  #delays: Delays;

  constructor(limit: Limit, delays: Delays, active = false) {
    this.#limit = limit;
    this.#delays = delays;
    this.#active = active;
  }

  get active(): boolean { return this.#active; }

  /** New limits (tuning) take effect from the next value; a pending change restarts its delay. */
  retune(limit: Limit, delays: Delays): void {
    this.#limit = limit;
    this.#delays = delays;
    this.#since = undefined;
  }

  /**
   * A new value. Returns the debounced condition when it changes, else undefined. A value of bad
   * quality changes nothing: a device that stops answering is the communication-loss rule's
   * business, and a stale reading must not raise or clear a limit alarm.
   */
  update(value: number | boolean | string | null, quality: Quality, now: number): boolean | undefined {
    if (quality === 'bad' || value === null) return undefined;
    const raw = rawActive(this.#limit, value, this.#active);
    if (raw === this.#active) {
      this.#since = undefined;
      return undefined;
    }
    this.#since ??= now;
    return this.due(now);
  }

  /** A delay may have run out without a new value: the engine calls this on its tick. */
  due(now: number): boolean | undefined {
    if (this.#since === undefined) return undefined;
    const wait = this.#active ? this.#delays.offMs : this.#delays.onMs;
    if (now - this.#since < wait) return undefined;
    this.#active = !this.#active;
    this.#since = undefined;
    return this.#active;
  }

  /** When the pending change, if any, becomes due (for the engine's timer). */
  dueAt(): number | undefined {
    if (this.#since === undefined) return undefined;
    return this.#since + (this.#active ? this.#delays.offMs : this.#delays.onMs);
  }
}
