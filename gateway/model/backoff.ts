// Reconnect delays: exponential, capped, with jitter, so a thousand boxes coming back after a
// city-wide outage do not hit the broker in step.
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor?: number;
  /** 0 = none, 1 = "full jitter" (uniform in [0, delay]); the default 0.5 keeps at least half the delay. */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  #attempt = 0;
  readonly #o: Required<BackoffOptions>;
  constructor(opts: BackoffOptions) {
    this.#o = { factor: 2, jitter: 0.5, random: Math.random, ...opts };
    if (this.#o.initialMs <= 0 || this.#o.maxMs < this.#o.initialMs) {
      throw new RangeError(`backoff needs 0 < initialMs <= maxMs (got ${this.#o.initialMs}, ${this.#o.maxMs})`);
    }
  }
  /** The delay before the next attempt; each call counts one failure. */
  next(): number {
    const { initialMs, maxMs, factor, jitter, random } = this.#o;
    // The exponent is capped so a box that has been offline for a week does not overflow to Infinity.
    const base = Math.min(maxMs, initialMs * factor ** Math.min(this.#attempt, 64));
    this.#attempt++;
    return Math.round(base * (1 - jitter * random()));
  }
  reset(): void { this.#attempt = 0; }
  get attempts(): number { return this.#attempt; }
}
