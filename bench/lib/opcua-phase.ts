// One measured phase of `npm run bench:opcua`: a process under test (the gateway, or the bare
// node-opcua client) is started, metered from /proc from its first moment, timed to its first value
// and to every tag seen once, warmed up, then measured over a window that opens and closes at the
// same instants on every meter (its /proc counters, the other processes', the machine's, and what it
// delivered), then stopped.
import type { Child } from './children.ts';
import { descendants, ProcessSampler, sampleMachine, windowCost, type ProcSample, type WindowCost } from './procfs.ts';
import type { Delivery } from './opcua-subscriber.ts';

export type Mode = 'subscribe' | 'poll';

/** An RSS drop this large between two 1-s samples is V8 giving back its old generation after a full collection. */
const DROP_KB = 20 * 1024;

/** How a phase counts what its process handled: the subscriber for the gateway, the client's own counters for the raw one. */
export interface Counting {
  /** performance.now() of the first value and of every tag seen, and tags seen so far. */
  progress(): { firstAt: number | undefined; allAt: number | undefined; tags: number };
  /** Called when the window opens, when it ends, and (close) after late samples had time to come in. */
  open(): Promise<void>;
  end(): Promise<void>;
  /**
   * `from`/`to`: the window in performance.now() time; `wallFrom`/`wallTo` the same in Date.now() time.
   * `samples`/`seconds`: samples whose value time falls in the window's whole seconds (the figure);
   * `arrived`: samples that came in during the window, whatever their value time.
   */
  close(w: { from: number; to: number; wallFrom: number; wallTo: number }): Promise<{ samples: number; seconds: number; arrived: number; delivery?: Delivery; raw?: RawCounts }>;
}

export interface RawCounts { notifications: number; distinct: number; reads: number; readValues: number; changedValues: number; errors: number; badValues: number }

/** A log line worth placing in time: seconds after the process started. */
export interface Mark { what: string; atS: number }

export interface PhaseResult {
  name: string;
  mode: Mode;
  pid: number;
  tree: { pid: number; comm: string }[];
  tags: number;
  startup: {
    /** Process start → first value, → every tag seen once (at the subscriber for the gateway), s. */
    firstS: number | undefined;
    allS: number | undefined;
    /** Tags seen when the wait for all of them ended. */
    tagsSeen: number;
    /** CPU seconds from the process's start to every tag seen (or to the end of the wait). */
    cpuS: number;
    /** VmHWM by then, MB. */
    hwmMb: number;
    marks: Mark[];
  };
  cost: WindowCost;
  /**
   * The steady part of the window: from V8's last full collection seen in it (an RSS drop of 20 MB
   * or more between two 1-s samples; the gateway's first comes ~105 s after its start, the raw
   * client's within its first minute) to the window's end; the last 30 s if that would leave less.
   * Before that first collection the RSS only climbs and the CPU leaves out the collections that
   * belong to the steady state.
   */
  steady: { fromS: number; seconds: number; afterDrop: boolean; cpuPct: number; usPerSample: number; rssMeanMb: number };
  /** Lowest 1-s RSS sample of the window, MB. */
  rssMinMb: number;
  /** RSS every 5 s from the process's start to the end of the window, MB. */
  rssSeriesMb: number[];
  othersPct: Record<string, number>;
  machine: { busyPct: number; stealPct: number; cores: number };
  /** Samples with a value time in the window's whole seconds, and those seconds. */
  samples: number;
  valueSeconds: number;
  samplesPerS: number;
  /** Samples that arrived during the window, per second (moves with the window's phase: a burst a second). */
  arrivedPerS: number;
  /** CPU per sample: CPU per second over the window ÷ samples per second. */
  usPerSample: number;
  delivery: Delivery | undefined;
  raw: RawCounts | undefined;
  exit: string;
  stopMs: number;
}

export interface PhaseDeps {
  others: Record<string, number>;
  cores: number;
  warmupS: number;
  durationS: number;
  /** How long to wait for every tag to have come once. */
  allTimeoutS: number;
  /** After the window, how long to let samples with a value time inside it arrive (the process keeps running, unmetered). */
  settleS: number;
  sleep: (ms: number) => Promise<void>;
  progress: (msg: string) => void;
}

/**
 * Runs a phase on a process already started (`target`, started at `startedAt`, performance.now()).
 * `marks` are filled by the caller's log watcher as the process runs.
 */
export async function runPhase(name: string, mode: Mode, tags: number, target: Child, startedAt: number, counting: Counting, marks: Mark[], deps: PhaseDeps): Promise<PhaseResult> {
  const sampler = new ProcessSampler(target.pid);
  const others = Object.fromEntries(Object.entries(deps.others).map(([n, pid]) => [n, new ProcessSampler(pid)]));
  try {
    const first = sampler.samples[0]!;
    // Start-up: to the first value, then to every tag once.
    let said = false;
    for (;;) {
      if (!target.running()) throw new Error(`${name} exited during start-up; last lines:\n${target.lines.slice(-30).join('\n')}`);
      const p = counting.progress();
      if (p.firstAt !== undefined && !said) { said = true; deps.progress(`${name}: first value after ${((p.firstAt - startedAt) / 1000).toFixed(1)} s`); }
      if (p.allAt !== undefined) break;
      if (performance.now() - startedAt > deps.allTimeoutS * 1000) {
        deps.progress(`${name}: only ${p.tags} of ${tags} tags after ${deps.allTimeoutS} s; measuring anyway`);
        if (p.firstAt === undefined) throw new Error(`${name}: no value at all within ${deps.allTimeoutS} s; last lines:\n${target.lines.slice(-30).join('\n')}`);
        break;
      }
      await deps.sleep(100);
    }
    const p = counting.progress();
    const up: ProcSample = sampler.sample() ?? first;
    const startup = {
      firstS: p.firstAt === undefined ? undefined : (p.firstAt - startedAt) / 1000,
      allS: p.allAt === undefined ? undefined : (p.allAt - startedAt) / 1000,
      tagsSeen: p.tags,
      cpuS: up.cpuS, // from the process's own start: /proc counts its whole life
      hwmMb: up.hwmKb / 1024,
      marks,
    };
    deps.progress(`${name}: ${p.tags} tags seen${startup.allS !== undefined ? ` after ${startup.allS.toFixed(1)} s` : ''}; warm-up ${deps.warmupS} s, then measuring ${deps.durationS} s`);

    await deps.sleep(deps.warmupS * 1000);
    if (!target.running()) throw new Error(`${name} exited during warm-up; last lines:\n${target.lines.slice(-30).join('\n')}`);

    await counting.open();
    const from = sampler.sample()!;
    const wallFrom = Date.now();
    const othersFrom = Object.fromEntries(Object.entries(others).map(([n, s]) => [n, s.sample()]));
    const selfFrom = process.cpuUsage();
    const m0 = sampleMachine();

    await deps.sleep(deps.durationS * 1000);

    const to = sampler.sample();
    if (!to || !target.running()) throw new Error(`${name} exited during the window; last lines:\n${target.lines.slice(-30).join('\n')}`);
    const wallTo = Date.now();
    const m1 = sampleMachine();
    const self = process.cpuUsage(selfFrom);
    const othersTo = Object.fromEntries(Object.entries(others).map(([n, s]) => [n, s.sample()]));
    await counting.end();
    await deps.sleep(deps.settleS * 1000);
    if (!target.running()) throw new Error(`${name} exited after the window; last lines:\n${target.lines.slice(-30).join('\n')}`);
    const counted = await counting.close({ from: from.at, to: to.at, wallFrom, wallTo });
    const tree = descendants(target.pid);

    const seconds = (to.at - from.at) / 1000;
    const othersPct: Record<string, number> = {};
    for (const n of Object.keys(others)) {
      const a = othersFrom[n]; const b = othersTo[n];
      othersPct[n] = a && b ? (100 * (b.cpuS - a.cpuS)) / seconds : NaN;
    }
    othersPct['bench (this process: subscriber, meters)'] = (100 * (self.user + self.system)) / 1e6 / seconds;
    const cost = windowCost(sampler.samples, from, to);
    const inside = sampler.samples.filter((x) => x.at >= from.at && x.at <= to.at);
    let dropAt = -1;
    for (let i = 1; i < inside.length; i++) if (inside[i]!.rssKb < inside[i - 1]!.rssKb - DROP_KB) dropAt = i;
    const afterDrop = dropAt >= 0 && to.at - inside[dropAt]!.at >= 30_000;
    const s0 = afterDrop ? inside[dropAt]! : (inside.find((x) => x.at >= to.at - 30_000) ?? from);
    const steadySamples = inside.filter((x) => x.at >= s0.at);
    const steadyS = (to.at - s0.at) / 1000;
    const steadyPct = steadyS > 0 ? (100 * (to.cpuS - s0.cpuS)) / steadyS : NaN;

    const t0 = performance.now();
    const exit = await target.stop(10_000);
    const stopMs = performance.now() - t0;

    const total = m1.total - m0.total;
    return {
      name, mode, pid: target.pid, tree, tags, startup, cost,
      steady: {
        fromS: (s0.at - startedAt) / 1000, seconds: steadyS, afterDrop, cpuPct: steadyPct,
        usPerSample: counted.samples > 0 ? ((steadyPct / 100) * 1e6) / (counted.samples / counted.seconds) : NaN,
        rssMeanMb: steadySamples.reduce((n, x) => n + x.rssKb, 0) / steadySamples.length / 1024,
      },
      rssMinMb: Math.min(...inside.map((x) => x.rssKb)) / 1024,
      rssSeriesMb: sampler.samples.filter((_, i) => i % 5 === 0).map((x) => x.rssKb / 1024),
      othersPct,
      machine: { busyPct: (100 * (m1.busy - m0.busy)) / total, stealPct: (100 * (m1.steal - m0.steal)) / total, cores: deps.cores },
      samples: counted.samples,
      valueSeconds: counted.seconds,
      samplesPerS: counted.samples / counted.seconds,
      arrivedPerS: counted.arrived / seconds,
      usPerSample: counted.samples > 0 ? ((cost.cpuS / seconds) * 1e6) / (counted.samples / counted.seconds) : NaN,
      delivery: counted.delivery,
      raw: counted.raw,
      exit, stopMs,
    };
  } finally {
    sampler.stop();
    for (const s of Object.values(others)) s.stop();
  }
}
