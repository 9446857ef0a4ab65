// What the kernel says a process costs: CPU from /proc/PID/stat (utime + stime, in clock ticks) and
// memory from /proc/PID/status (VmRSS now, VmHWM the peak since start). Read from outside, so the
// measured process runs no measuring code of its own. Linux only, as the boxes are.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticks: number | undefined;
/** Clock ticks per second of utime/stime (USER_HZ; 100 on every Linux we ship). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try { ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { ticks = 100; }
  }
  return ticks;
}

export interface ProcSample {
  /** performance.now() of this process when read. */
  at: number;
  /** utime + stime of the process (all its threads), in seconds. */
  cpuS: number;
  rssKb: number;
  hwmKb: number;
  threads: number;
}

/** Fields after "pid (comm) ": comm may hold spaces and parentheses, so split after the last ')'. */
function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export function sampleProcess(pid: number): ProcSample | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  // proc(5): field 14 utime and 15 stime; f[0] is field 3 (state), so field N is f[N - 3].
  const cpuS = (Number(f[11]) + Number(f[12])) / clockTicks();
  let status: string;
  try { status = readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return undefined; }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { at: performance.now(), cpuS, rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), threads: kb('Threads') };
}

/** The process's children, grandchildren, …: to check that the PID measured is the one doing the work. */
export function descendants(pid: number): { pid: number; comm: string }[] {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = readFileSync(`/proc/${e}/stat`, 'utf8');
      comm.set(Number(e), s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')));
      parent.set(Number(e), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* exited meanwhile */ }
  }
  const out: { pid: number; comm: string }[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) { out.push({ pid: c, comm: comm.get(c) ?? '?' }); walk(c); }
  };
  walk(pid);
  return out;
}

export interface MachineCpu { at: number; busy: number; idle: number; steal: number; total: number }

/** Whole-machine CPU counters from /proc/stat, to tell whether the box was saturated (or stolen from). */
export function sampleMachine(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is already in user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const idleAll = idle + iowait;
  const busy = user + nice + system + irq + softirq;
  return { at: performance.now(), busy, idle: idleAll, steal, total: busy + idleAll + steal };
}

/**
 * Samples one process every `everyMs` and keeps the series, so a window's CPU is the difference of
 * two samples (exact, whatever the sampling jitter) and its RSS can be averaged and its trend seen.
 */
export class ProcessSampler {
  readonly samples: ProcSample[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(readonly pid: number, everyMs = 1000) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
  }

  sample(): ProcSample | undefined {
    const s = sampleProcess(this.pid);
    if (s) this.samples.push(s);
    return s;
  }

  stop(): void { clearInterval(this.#timer); }
}

export interface WindowCost {
  seconds: number;
  cpuS: number;
  /** Percent of one core over the window. */
  cpuPct: number;
  /** Busiest 1-second sample, percent of one core. */
  cpuPctMaxSecond: number;
  rssMeanMb: number;
  rssMaxMb: number;
  /** VmHWM at the end of the window: the peak since the process started, start-up included. */
  hwmMb: number;
  /** Least-squares slope of RSS over the window, MB per minute: a leak shows here first. */
  rssSlopeMbPerMin: number;
  threads: number;
}

const MB = 1024; // kB per MiB; figures are printed in MiB and called MB, as top and ps do

/** The cost of the samples taken between `from` and `to` (performance.now() times), both samples included. */
export function windowCost(samples: readonly ProcSample[], from: ProcSample, to: ProcSample): WindowCost {
  const inside = samples.filter((s) => s.at >= from.at && s.at <= to.at);
  const seconds = (to.at - from.at) / 1000;
  const cpuS = to.cpuS - from.cpuS;
  let maxSecond = 0;
  for (let i = 1; i < inside.length; i++) {
    const dt = (inside[i]!.at - inside[i - 1]!.at) / 1000;
    if (dt > 0.5) maxSecond = Math.max(maxSecond, (100 * (inside[i]!.cpuS - inside[i - 1]!.cpuS)) / dt);
  }
  const rss = inside.map((s) => s.rssKb / MB);
  const xs = inside.map((s) => (s.at - from.at) / 60_000);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = rss.reduce((a, b) => a + b, 0) / rss.length;
  let num = 0; let den = 0;
  for (let i = 0; i < xs.length; i++) { num += (xs[i]! - mx) * (rss[i]! - my); den += (xs[i]! - mx) ** 2; }
  return {
    seconds, cpuS, cpuPct: (100 * cpuS) / seconds, cpuPctMaxSecond: maxSecond,
    rssMeanMb: my, rssMaxMb: Math.max(...rss), hwmMb: to.hwmKb / MB,
    rssSlopeMbPerMin: den > 0 ? num / den : 0, threads: to.threads,
  };
}
