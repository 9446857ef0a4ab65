// Which (site, device, seq) the ingest has already written. A box resends what the broker did not
// acknowledge, so a batch can arrive twice; and it sends live data ahead of an outage's backlog, so
// seqs arrive far out of order (10,000 live, then 5,000…9,999). A window of recent seqs would
// take that backlog for repeats; this keeps every seq seen, as ranges, which stay few because seqs
// are consecutive. When a limit forces it to forget, it forgets towards letting a repeat through
// (the store keeps one point per series and time), never towards dropping a first arrival.

interface Seen { ranges: [number, number][] }

export interface DedupOptions {
  /** Devices (site, device) remembered at most; the least recently seen are forgotten first. */
  maxKeys?: number;
  /** Ranges per device at most (gaps in what arrived); the oldest are forgotten first. */
  maxRanges?: number;
}

export class SeqDedup {
  readonly #keys = new Map<string, Seen>();
  readonly #maxKeys: number;
  readonly #maxRanges: number;

  constructor(o: DedupOptions = {}) {
    this.#maxKeys = o.maxKeys ?? 200_000;
    this.#maxRanges = o.maxRanges ?? 256;
  }

  get devices(): number { return this.#keys.size; }

  /** Whether this (site, device, seq) was recorded; asks without recording. */
  has(site: string, device: string, seq: number): boolean {
    const r = this.#keys.get(`${site}\u0000${device}`)?.ranges;
    if (!r) return false;
    let lo = 0, hi = r.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (r[mid]![0] <= seq) lo = mid + 1; else hi = mid; }
    const before = r[lo - 1];
    return before !== undefined && seq <= before[1];
  }

  /** True the first time this (site, device, seq) is offered; false for a repeat. */
  firstTime(site: string, device: string, seq: number): boolean {
    const key = `${site}\u0000${device}`;
    let s = this.#keys.get(key);
    if (s) {
      // Most recently used last, so eviction takes the device silent the longest.
      this.#keys.delete(key);
    } else {
      s = { ranges: [] };
      if (this.#keys.size >= this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
    }
    this.#keys.set(key, s);
    return add(s, seq, this.#maxRanges);
  }
}

/** Inserts seq into sorted, disjoint, non-adjacent ranges; false if it was there already. */
function add(s: Seen, seq: number, maxRanges: number): boolean {
  const r = s.ranges;
  // The common case: the next seq of a device in order.
  const last = r[r.length - 1];
  if (last && seq === last[1] + 1) { last[1] = seq; return true; }
  // Binary search: the first range that starts after seq.
  let lo = 0, hi = r.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (r[mid]![0] <= seq) lo = mid + 1; else hi = mid; }
  const before = r[lo - 1];
  const after = r[lo];
  if (before && seq <= before[1]) return false;
  const joinsBefore = before !== undefined && before[1] + 1 === seq;
  const joinsAfter = after !== undefined && after[0] - 1 === seq;
  if (joinsBefore && joinsAfter) { before[1] = after[1]; r.splice(lo, 1); }
  else if (joinsBefore) before[1] = seq;
  else if (joinsAfter) after[0] = seq;
  else {
    r.splice(lo, 0, [seq, seq]);
    if (r.length > maxRanges) r.shift();
  }
  return true;
}
