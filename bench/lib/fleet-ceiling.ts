// One raw-ceiling phase of `npm run bench:fleet`: the bare writer (bench/lib/fleet-writer.ts) flat out
// into the run's VictoriaMetrics, with a given number of writes in flight and a given HTTP client.
// Window edges on the writer's own STATS lines (count and time from the same moment); /proc of the
// writer and the store, the store's own counters and the machine over the same window.
import { join } from 'node:path';
import { startChild } from './children.ts';
import type { FleetSpec, WriterLine } from './fleet-common.ts';
import { storeCounters } from './fleet-victoria.ts';
import { ProcessSampler, sampleMachine, windowCost, type WindowCost } from './procfs.ts';

export interface CeilingResult {
  label: string; client: 'fetch' | 'http'; concurrency: number;
  seconds: number;
  writesPerS: number; pointsPerS: number;
  /** Samples per second the store counted (vm_rows_inserted_total). */
  storeRowsPerS: number;
  failures: number; lastError: string | undefined;
  writer: WindowCost; usPerWrite: number;
  store: WindowCost;
  machine: { busyPct: number; stealPct: number };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runCeiling(o: {
  root: string; storeUrl: string; storePid: number; fleet: FleetSpec; t0: number;
  concurrency: number; client: 'fetch' | 'http'; warmupS: number; seconds: number; progress: (m: string) => void;
}): Promise<CeilingResult> {
  const label = `raw ${o.client}, ${o.concurrency} in flight`;
  const measurement = `fleetraw_${o.client}_${o.concurrency}`;
  const w = startChild(`writer (${label})`, process.execPath, [join(o.root, 'bin', 'run-ts.mjs'), join(o.root, 'bench', 'lib', 'fleet-writer.ts'),
    '--url', o.storeUrl, '--bucket', 'fleet', '--measurement', measurement, '--boxes', String(o.fleet.boxes), '--devices', String(o.fleet.devicesPerBox),
    '--t0', String(o.t0), '--concurrency', String(o.concurrency), '--client', o.client]);
  const samplers: ProcessSampler[] = [];
  try {
    const lines: WriterLine[] = [];
    w.onLine((l) => { if (l.startsWith('STATS ')) lines.push(JSON.parse(l.slice(6)) as WriterLine); });
    await w.waitForLine(/^STARTED$/, 60_000);
    const ws = new ProcessSampler(w.pid); samplers.push(ws);
    const vs = new ProcessSampler(o.storePid); samplers.push(vs);
    o.progress(`ceiling: ${label}, measurement ${measurement}; warm-up ${o.warmupS} s, window ${o.seconds} s`);
    await sleep(o.warmupS * 1000);
    // Wait for a fresh STATS line: the window opens on it.
    const n0 = lines.length;
    while (lines.length === n0 && w.running()) await sleep(20);
    const l0 = lines[lines.length - 1]!; const w0 = ws.sample()!; const v0 = vs.sample()!; const m0 = sampleMachine(); const c0 = await storeCounters(o.storeUrl);
    await sleep(o.seconds * 1000);
    const n1 = lines.length;
    while (lines.length === n1 && w.running()) await sleep(20);
    const l1 = lines[lines.length - 1]!; const w1 = ws.sample(); const v1 = vs.sample(); const m1 = sampleMachine(); const c1 = await storeCounters(o.storeUrl);
    if (!w.running() || !w1 || !v1) throw new Error(`ceiling (${label}): a process exited; last lines:\n${w.lines.slice(-10).join('\n')}`);
    const seconds = (l1.at - l0.at) / 1000;
    const writer = windowCost(ws.samples, w0, w1);
    const writes = l1.writes - l0.writes;
    return {
      label, client: o.client, concurrency: o.concurrency, seconds,
      writesPerS: writes / seconds, pointsPerS: (l1.points - l0.points) / seconds,
      storeRowsPerS: (c1.rows - c0.rows) / ((c1.at - c0.at) / 1000),
      failures: l1.failures, lastError: l1.lastError,
      writer, usPerWrite: (writer.cpuS * 1e6) / writes,
      store: windowCost(vs.samples, v0, v1),
      machine: { busyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total), stealPct: (100 * (m1.steal - m0.steal)) / (m1.total - m0.total) },
    };
  } finally {
    for (const s of samplers) s.stop();
    await w.stop(5000);
  }
}
