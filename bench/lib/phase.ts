// One measured phase of the benchmark: a process under test (the gateway, or the raw client loop)
// warms up, then a window opens at the same instant on every meter (its /proc counters, the other
// processes', the machine's, the simulators' request log and the subscriber's arrivals) and closes
// after the same time on all of them.
import type { SimReport } from '../modbus-sims.ts';
import type { Child } from './children.ts';
import { descendants, ProcessSampler, sampleMachine, windowCost, type MachineCpu, type WindowCost } from './procfs.ts';
import type { Delivery, TelemetryCounter } from './subscriber.ts';

export interface PhaseResult {
  name: string;
  pid: number;
  /** Processes the measured one had started (tsx's esbuild service, workers), at the window's end. */
  tree: { pid: number; comm: string }[];
  cost: WindowCost;
  /** RSS every 5 s from the start of warm-up to the end of the window, MB: the shape behind the trend. */
  rssSeriesMb: number[];
  /** The same window for the processes not under test, percent of one core. */
  othersPct: Record<string, number>;
  machine: { busyPct: number; stealPct: number; cores: number };
  sims: SimReport;
  delivery: Delivery | undefined;
}

export interface PhaseDeps {
  sims: Child;
  others: Record<string, number>;
  counter?: TelemetryCounter;
  cores: number;
  sleep: (ms: number) => Promise<void>;
}

async function simCommand(sims: Child, cmd: 'window' | 'report'): Promise<string> {
  const answer = sims.waitForLine(cmd === 'window' ? /^WINDOW$/ : /^REPORT /, 10_000, true);
  sims.proc.stdin?.write(`${cmd}\n`);
  return answer;
}

function machineShare(a: MachineCpu, b: MachineCpu, cores: number): PhaseResult['machine'] {
  const total = b.total - a.total;
  return { busyPct: (100 * (b.busy - a.busy)) / total, stealPct: (100 * (b.steal - a.steal)) / total, cores };
}

export async function measurePhase(name: string, target: Child, warmupS: number, durationS: number, deps: PhaseDeps): Promise<PhaseResult> {
  const sampler = new ProcessSampler(target.pid);
  const others = Object.fromEntries(Object.entries(deps.others).map(([n, pid]) => [n, new ProcessSampler(pid)]));
  try {
    await deps.sleep(warmupS * 1000);
    if (!target.running()) throw new Error(`${name} exited during warm-up; last lines:\n${target.lines.slice(-20).join('\n')}`);

    await simCommand(deps.sims, 'window');
    const from = sampler.sample()!;
    const othersFrom = Object.fromEntries(Object.entries(others).map(([n, s]) => [n, s.sample()]));
    const selfFrom = process.cpuUsage();
    const m0 = sampleMachine();

    await deps.sleep(durationS * 1000);

    const to = sampler.sample();
    if (!to || !target.running()) throw new Error(`${name} exited during the window; last lines:\n${target.lines.slice(-20).join('\n')}`);
    const m1 = sampleMachine();
    const self = process.cpuUsage(selfFrom);
    const othersTo = Object.fromEntries(Object.entries(others).map(([n, s]) => [n, s.sample()]));
    const report = JSON.parse((await simCommand(deps.sims, 'report')).slice('REPORT '.length)) as SimReport;

    const seconds = (to.at - from.at) / 1000;
    const othersPct: Record<string, number> = {};
    for (const n of Object.keys(others)) {
      const a = othersFrom[n]; const b = othersTo[n];
      othersPct[n] = a && b ? (100 * (b.cpuS - a.cpuS)) / seconds : NaN;
    }
    othersPct['bench (this process: subscriber, meters)'] = (100 * (self.user + self.system)) / 1e6 / seconds;

    return {
      name,
      pid: target.pid,
      tree: descendants(target.pid),
      cost: windowCost(sampler.samples, from, to),
      rssSeriesMb: sampler.samples.filter((_, i) => i % 5 === 0).map((x) => x.rssKb / 1024),
      othersPct,
      machine: machineShare(m0, m1, deps.cores),
      sims: report,
      delivery: deps.counter?.between(from.at, to.at),
    };
  } finally {
    sampler.stop();
    for (const s of Object.values(others)) s.stop();
  }
}
