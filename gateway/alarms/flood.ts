// Alarm floods and chattering alarms (ISA-18.2 §16 / EEMUA 191): more new alarms than a person can
// handle, and one alarm that keeps coming back. Pure but for the times it is given.
//
// A flood starts when more than FLOOD_COUNT different alarms go active within FLOOD_WINDOW_MS, and
// ends when no more than FLOOD_END_COUNT did in the last window. Different alarms: one chattering
// rule is a chatter problem (flagged as such), not a flood that would hold back every other alarm.
// The gap between the two counts the gap keeps a site at the threshold from
// entering and leaving the flood on every alarm. A rule chatters when it goes active more than
// CHATTER_COUNT times within CHATTER_WINDOW_MS; the flag drops once it has gone active at most
// once in that window.

export const FLOOD_COUNT = 10;
export const FLOOD_END_COUNT = 5;
export const FLOOD_WINDOW_MS = 10 * 60_000;
export const CHATTER_COUNT = 3;
export const CHATTER_WINDOW_MS = 60_000;

/** Times within a sliding window. */
class Window {
  readonly #ms: number;
  readonly #times: number[] = [];
  constructor(ms: number) { this.#ms = ms; }
  add(t: number): number { this.#times.push(t); return this.count(t); }
  count(now: number): number {
    while (this.#times.length > 0 && now - this.#times[0]! >= this.#ms) this.#times.shift();
    return this.#times.length;
  }
}

export type FloodChange = 'start' | 'end' | undefined;

export class FloodWatch {
  /** When each rule last went active; a rule counts once per window however often it comes back. */
  readonly #last = new Map<string, number>();
  #flood = false;

  get flooding(): boolean { return this.#flood; }

  /** A rule went active. 'start' when this one tips the site into a flood. */
  activated(rule: string, now: number): FloodChange {
    this.#last.set(rule, now);
    if (!this.#flood && this.count(now) > FLOOD_COUNT) { this.#flood = true; return 'start'; }
    return undefined;
  }

  /** Called every tick: 'end' when the flood has ebbed. */
  check(now: number): FloodChange {
    if (this.#flood && this.count(now) <= FLOOD_END_COUNT) { this.#flood = false; return 'end'; }
    return undefined;
  }

  /** Different rules that went active within the window. */
  count(now: number): number {
    for (const [rule, t] of this.#last) if (now - t >= FLOOD_WINDOW_MS) this.#last.delete(rule);
    return this.#last.size;
  }

  /** After a restart in the middle of a flood, so it is not announced a second time. */
  restore(flooding: boolean): void { this.#flood = flooding; }
}

export class ChatterWatch {
  readonly #w = new Window(CHATTER_WINDOW_MS);
  #flag = false;

  get chattering(): boolean { return this.#flag; }

  /** The rule went active; true when this makes it chatter (flagged now, not before). */
  activated(now: number): boolean {
    const was = this.#flag;
    if (this.#w.add(now) > CHATTER_COUNT) this.#flag = true;
    return this.#flag && !was;
  }

  /** Called every tick: true when the flag drops. */
  check(now: number): boolean {
    if (this.#flag && this.#w.count(now) <= 1) { this.#flag = false; return true; }
    return false;
  }
}
