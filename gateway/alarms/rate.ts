// Rate of change of one tag, for rules such as "the wet well rises faster than 0.3 m/min". The
// slope is taken between the oldest and the newest reading of a sliding window, not between two
// consecutive scans: a level sensor's ripple between two polls one second apart would otherwise
// read as metres per minute.

export class RateWindow {
  readonly #windowMs: number;
  readonly #t: number[] = [];
  readonly #v: number[] = [];

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** A good reading. Returns the rate in units per minute, or undefined until half the window is covered. */
  push(t: number, v: number): number | undefined {
    this.#t.push(t);
    this.#v.push(v);
    // Keep one reading at or beyond the window's start, so the slope spans the whole window.
    while (this.#t.length > 2 && t - this.#t[1]! >= this.#windowMs) {
      this.#t.shift();
      this.#v.shift();
    }
    const span = t - this.#t[0]!;
    if (span < this.#windowMs / 2 || span <= 0) return undefined;
    return ((v - this.#v[0]!) / span) * 60_000;
  }

  /** After a gap (the device was silent) the old readings say nothing about the rate now. */
  reset(): void {
    this.#t.length = 0;
    this.#v.length = 0;
  }
}
