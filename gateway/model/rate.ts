// A rate over the last few seconds (commits, drains) for the status payload, the console and
// metrics: whole-second buckets in a ring, so reading and adding are O(1) and nothing grows.
import type { Clock } from './clock.ts';

export class RateMeter {
  readonly #clock: Clock;
  readonly #buckets: Float64Array;
  #second: number;

  constructor(clock: Clock, windowS = 10) {
    this.#clock = clock;
    this.#buckets = new Float64Array(windowS);
    this.#second = Math.floor(clock.now() / 1000);
  }

  add(n: number): void {
    this.#roll();
    this.#buckets[this.#second % this.#buckets.length]! += n;
  }

  /** Per second over the last full window (the current, partial second left out). */
  perSecond(): number {
    this.#roll();
    let sum = 0;
    const cur = this.#second % this.#buckets.length;
    for (let i = 0; i < this.#buckets.length; i++) if (i !== cur) sum += this.#buckets[i]!;
    return sum / (this.#buckets.length - 1);
  }

  #roll(): void {
    const now = Math.floor(this.#clock.now() / 1000);
    const gap = Math.min(now - this.#second, this.#buckets.length);
    for (let i = 1; i <= gap; i++) this.#buckets[(this.#second + i) % this.#buckets.length] = 0;
    if (now > this.#second) this.#second = now;
  }
}
