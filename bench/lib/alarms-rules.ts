// The load of the rule-evaluation part of `npm run bench:alarms`: a configuration of 20 Modbus TCP
// devices × 500 tags with 10,000 alarm rules of mixed kinds, the scans fed to the engine (values
// mostly inside their limits, a few excursions so that transitions happen), and the raw ceiling:
// the same comparisons as a bare loop over arrays of limits.
//
// Per device (500 tags, 500 rules):
//   a000–a149  hr:0–149    level-like, uint16 × 0.01 m   above 4.0 (deadband 0.1, delay_on_s 0/0/3/5) and below 0.5 (deadband 0.1, delay 0/2)
//   c000–c099  hr:150–249  current-like, uint16 × 0.1 A  above 66 (deadband 2, delay_on_s 0 or 10)
//   s000–s074  di:0–74     bool                          equals true (delay_on_s 0 or 2)
//   h000–h023  hr:250–273  heartbeat, uint16             stale_s 10 or 30
//   n000–n150  hr:274–424  uint16                        no rule
//   one comm_loss_s 15 rule on the device
// so one scan of a device is 500 samples and 500 rule evaluations (349 tags with rules: 150 × 2 +
// 199 × 1, plus the device's communication-loss rule, judged once per scan).
import { stringify } from 'yaml';
import type { Sample } from '../../gateway/model/index.ts';

export const DEVICES = 20;
export const RULES_PER_DEVICE = 500;
export const RULES = DEVICES * RULES_PER_DEVICE;
/** Rounds of scans built in advance and replayed in a cycle (one round = every device scanned once = 1 s of simulated time). */
export const ROUNDS = 60;
/** Simulated time between two rounds (the devices' poll), and between two devices' scans within one (the scheduler's staggering). */
export const POLL_MS = 1000;
export const STAGGER_MS = Math.floor(POLL_MS / DEVICES);

const A = 150, C = 100, S = 75, H = 24, N = 151;
const DELAY_H = [0, 0, 3, 5] as const;
const DELAY_L = [0, 2] as const;
const DELAY_C = [0, 10] as const;
const DELAY_S = [0, 2] as const;
const STALE_S = [10, 10, 30] as const;

const deviceId = (d: number) => `d${String(d + 1).padStart(2, '0')}`;
const pad = (i: number) => String(i).padStart(3, '0');

/** The generated configuration as YAML text, for parseConfig (config/loader.ts): validated like any box's file. */
export function rulesConfigYaml(): string {
  const devices = [];
  const alarms: Record<string, unknown>[] = [];
  for (let d = 0; d < DEVICES; d++) {
    const dev = deviceId(d);
    const tags: Record<string, unknown>[] = [];
    for (let i = 0; i < A; i++) {
      tags.push({ name: `a${pad(i)}`, address: `hr:${i}`, type: 'uint16', scale: 0.01, unit: 'm' });
      const h = DELAY_H[i % DELAY_H.length]!;
      const l = DELAY_L[i % DELAY_L.length]!;
      alarms.push({ id: `${dev}_a${pad(i)}_h`, tag: `${dev}.a${pad(i)}`, above: 4.0, deadband: 0.1, ...(h ? { delay_on_s: h } : {}), severity: 'major' });
      alarms.push({ id: `${dev}_a${pad(i)}_l`, tag: `${dev}.a${pad(i)}`, below: 0.5, deadband: 0.1, ...(l ? { delay_on_s: l } : {}), severity: 'minor' });
    }
    for (let i = 0; i < C; i++) {
      tags.push({ name: `c${pad(i)}`, address: `hr:${150 + i}`, type: 'uint16', scale: 0.1, unit: 'A' });
      const delay = DELAY_C[i % DELAY_C.length]!;
      alarms.push({ id: `${dev}_c${pad(i)}_oc`, tag: `${dev}.c${pad(i)}`, above: 66, deadband: 2, ...(delay ? { delay_on_s: delay } : {}), severity: 'major' });
    }
    for (let i = 0; i < S; i++) {
      tags.push({ name: `s${pad(i)}`, address: `di:${i}`, type: 'bool' });
      const delay = DELAY_S[i % DELAY_S.length]!;
      alarms.push({ id: `${dev}_s${pad(i)}`, tag: `${dev}.s${pad(i)}`, equals: true, ...(delay ? { delay_on_s: delay } : {}), severity: 'warning' });
    }
    for (let i = 0; i < H; i++) {
      tags.push({ name: `h${pad(i)}`, address: `hr:${250 + i}`, type: 'uint16' });
      alarms.push({ id: `${dev}_h${pad(i)}_stale`, tag: `${dev}.h${pad(i)}`, stale_s: STALE_S[i % STALE_S.length]!, severity: 'critical' });
    }
    for (let i = 0; i < N; i++) tags.push({ name: `n${pad(i)}`, address: `hr:${274 + i}`, type: 'uint16' });
    alarms.push({ id: `${dev}_comm`, device: dev, comm_loss_s: 15, severity: 'critical' });
    // Config only: nothing listens on this port, the engine is fed directly.
    devices.push({ id: dev, driver: 'modbus-tcp', host: '127.0.0.1', port: 1502, unit: 1, poll_ms: POLL_MS, tags });
  }
  return stringify({
    site: { id: 'bench-alarms', name: 'cityedge alarm benchmark' },
    buffer: { journal: 'memory' },
    devices,
    alarms,
  }, { flow: false });
}

/** mulberry32 with a normal deviate: the same seed gives the same scans. */
export function prng(seed: number): { uniform: () => number; normal: (sigma: number) => number } {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (sigma: number): number => sigma * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

/** `scans[round][device]`: every sample of one device's scan, in tag order, quality good. */
export type Scans = Sample[][][];

export interface ScanPlan {
  scans: Scans;
  /** Excursions started over the cycle of ROUNDS rounds (a value past its limit, a bool true, a frozen heartbeat). */
  excursions: number;
}

/**
 * `crossings`: excursions started per round, on average, over the 6,980 tags with rules. 0 gives
 * quiet scans: every value inside its limits, nothing changes state after the first round.
 */
export function buildScans(crossings: number, seed = 20240611): ScanPlan {
  const rnd = prng(seed);
  const ruled = DEVICES * (A + C + S + H);
  const pStart = crossings / ruled;
  let excursions = 0;
  /** For one tag: per round, 0 (normal) or the excursion's kind. */
  const schedule = (minLen: number, maxLen: number): Uint8Array => {
    const out = new Uint8Array(ROUNDS);
    for (let r = 0; r < ROUNDS; r++) {
      if (out[r] || rnd.uniform() >= pStart) continue;
      excursions++;
      const len = minLen + Math.floor(rnd.uniform() * (maxLen - minLen + 1));
      const kind = rnd.uniform() < 0.7 ? 1 : 2; // analog: 1 high, 2 low
      for (let k = 0; k < len && r + k < ROUNDS; k++) out[r + k] = kind;
    }
    return out;
  };
  const q2 = (x: number) => Math.round(x * 100) / 100;
  const q1 = (x: number) => Math.round(x * 10) / 10;
  const scans: Scans = Array.from({ length: ROUNDS }, () => Array.from({ length: DEVICES }, () => [] as Sample[]));
  for (let d = 0; d < DEVICES; d++) {
    const dev = deviceId(d);
    // One string per tag path, as a driver's read plan holds them, not one per sample.
    const paths = new Map<string, string>();
    const push = (r: number, name: string, value: number | boolean) => {
      let tag = paths.get(name);
      if (tag === undefined) { tag = `${dev}.${name}`; paths.set(name, tag); }
      scans[r]![d]!.push({ tag, value, quality: 'good', ts: 0 });
    };
    // Tag order as in the config: the engine sees a device's scan as the driver would give it.
    for (let i = 0; i < A; i++) {
      const ex = schedule(2, 12);
      const phase = rnd.uniform();
      for (let r = 0; r < ROUNDS; r++) {
        // Normal: 1.5–2.5 m, a slow swing plus sensor noise. High: hovers at 4.1 ± 0.08, in and out of
        // the 0.1 deadband but not below it. Low: 0.35 ± 0.05.
        const v = ex[r] === 1 ? 4.1 + rnd.normal(0.04) : ex[r] === 2 ? 0.35 + rnd.normal(0.03)
          : 2.0 + 0.5 * Math.sin(2 * Math.PI * (r / ROUNDS + phase)) + rnd.normal(0.02);
        push(r, `a${pad(i)}`, q2(Math.max(0, v)));
      }
    }
    for (let i = 0; i < C; i++) {
      const ex = schedule(3, 15);
      for (let r = 0; r < ROUNDS; r++) push(r, `c${pad(i)}`, q1(ex[r] ? 69 + rnd.normal(1) : 50 + rnd.normal(0.8)));
    }
    for (let i = 0; i < S; i++) {
      const ex = schedule(1, 8);
      for (let r = 0; r < ROUNDS; r++) push(r, `s${pad(i)}`, ex[r] !== 0);
    }
    for (let i = 0; i < H; i++) {
      const ex = schedule(12, 35);
      let v = Math.floor(rnd.uniform() * 60_000);
      for (let r = 0; r < ROUNDS; r++) {
        if (!ex[r]) v = (v + 1) & 0xffff; // +1 a second; frozen during an excursion
        push(r, `h${pad(i)}`, v);
      }
    }
    for (let i = 0; i < N; i++) {
      for (let r = 0; r < ROUNDS; r++) push(r, `n${pad(i)}`, Math.floor(rnd.uniform() * 65536));
    }
  }
  return { scans, excursions };
}

/** Rule evaluations in one device scan: samples whose tag has rules × its rules, plus the device's comm-loss rule. */
export const EVALS_PER_SCAN = 2 * A + C + S + H + 1;

// ---------------------------------------------------------------------------------------------
// The raw ceiling: the comparisons the engine makes (limit with deadband, equals, stale), as a bare
// loop over typed arrays indexed by position, with no Map lookup, no delays, no lifecycle, no event,
// no state saved. What the engine costs above it is its bookkeeping.

const ABOVE = 0, BELOW = 1, EQUALS = 2, STALE = 3;

interface RawDevice {
  start: Int32Array; end: Int32Array;
  kind: Uint8Array; lim: Float64Array; db: Float64Array; staleMs: Float64Array; eq: (number | boolean | string)[];
  active: Uint8Array; last: (number | boolean | string | null)[]; changedAt: Float64Array;
  commActive: boolean;
}

export class RawCeiling {
  readonly #devs: RawDevice[] = [];
  changes = 0;

  constructor(t0: number) {
    for (let d = 0; d < DEVICES; d++) {
      const rules: { kind: number; lim: number; db: number; staleMs: number; eq: number | boolean | string }[][] = [];
      for (let i = 0; i < A; i++) {
        rules.push([{ kind: ABOVE, lim: 4.0, db: 0.1, staleMs: 0, eq: 0 }, { kind: BELOW, lim: 0.5, db: 0.1, staleMs: 0, eq: 0 }]);
      }
      for (let i = 0; i < C; i++) rules.push([{ kind: ABOVE, lim: 66, db: 2, staleMs: 0, eq: 0 }]);
      for (let i = 0; i < S; i++) rules.push([{ kind: EQUALS, lim: 0, db: 0, staleMs: 0, eq: true }]);
      for (let i = 0; i < H; i++) rules.push([{ kind: STALE, lim: 0, db: 0, staleMs: STALE_S[i % STALE_S.length]! * 1000, eq: 0 }]);
      for (let i = 0; i < N; i++) rules.push([]);
      const flat = rules.flat();
      const start = new Int32Array(rules.length);
      const end = new Int32Array(rules.length);
      let k = 0;
      rules.forEach((rs, i) => { start[i] = k; k += rs.length; end[i] = k; });
      this.#devs.push({
        start, end,
        kind: Uint8Array.from(flat.map((r) => r.kind)), lim: Float64Array.from(flat.map((r) => r.lim)),
        db: Float64Array.from(flat.map((r) => r.db)), staleMs: Float64Array.from(flat.map((r) => r.staleMs)), eq: flat.map((r) => r.eq),
        active: new Uint8Array(flat.length), last: flat.map(() => null), changedAt: new Float64Array(flat.length).fill(t0),
        commActive: false,
      });
    }
  }

  /** One device's scan: every comparison, and the count of raw condition changes (so none is optimised away). */
  scan(d: number, samples: readonly Sample[], now: number): void {
    const x = this.#devs[d]!;
    let silent = true;
    for (let i = 0; i < samples.length; i++) if (samples[i]!.quality !== 'bad') { silent = false; break; }
    if (silent !== x.commActive) { x.commActive = silent; this.changes++; }
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]!.value;
      if (v === null) continue;
      for (let k = x.start[i]!; k < x.end[i]!; k++) {
        const act = x.active[k] === 1;
        let a: boolean;
        switch (x.kind[k]) {
          case ABOVE: a = typeof v === 'number' ? (act ? v > x.lim[k]! - x.db[k]! : v >= x.lim[k]!) : act; break;
          case BELOW: a = typeof v === 'number' ? (act ? v < x.lim[k]! + x.db[k]! : v <= x.lim[k]!) : act; break;
          case EQUALS: a = v === x.eq[k]; break;
          default:
            if (v !== x.last[k]) { x.last[k] = v; x.changedAt[k] = now; }
            a = now - x.changedAt[k]! >= x.staleMs[k]!;
        }
        if (a !== act) { x.active[k] = a ? 1 : 0; this.changes++; }
      }
    }
  }
}
