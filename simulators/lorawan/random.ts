// A seeded random source for the sensor world: the same seed gives the same run, so world tests
// can assert exact outcomes and a demo can be replayed. Nothing here is cryptographic.

/** MurmurHash3's 32-bit finaliser: neighbouring seeds must give unrelated streams. */
export function mix32(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a over the text, then mixed: a stable 32-bit hash for deriving ids from names. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return mix32(h >>> 0);
}

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** 16 hex characters derived from the text: a DevEUI, or two of them a UUID. */
export function hex64(text: string): string {
  return hex8(hash32(`${text}#hi`)) + hex8(hash32(`${text}#lo`));
}

/** A version-4-shaped UUID derived from the text (stable ids for tenants, applications, profiles). */
export function uuidFrom(text: string): string {
  const h = hex64(`${text}/a`) + hex64(`${text}/b`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[parseInt(h[16]!, 16) & 3]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class Random {
  #s: number;
  constructor(seed: number) { this.#s = mix32(seed) || 1; }

  /** Uniform in [0, 1), mulberry32. */
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number { return lo + (hi - lo) * this.next(); }
  int(lo: number, hi: number): number { return Math.floor(this.uniform(lo, hi + 1)); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(items: readonly T[]): T { return items[Math.floor(this.next() * items.length)]!; }

  /** Standard normal deviate (Box–Muller). */
  normal(mean = 0, sigma = 1): number {
    return mean + sigma * Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
  }

  /** Waiting time of a Poisson process of `ratePerS` events per second. */
  exponential(ratePerS: number): number {
    return ratePerS > 0 ? -Math.log(1 - this.next()) / ratePerS : Infinity;
  }

  /** Log-normal with the given median and shape (dwell times: many short, a long tail). */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }
}
