// The raw ceiling of `npm run bench:sensors`: the same network-server simulator, flat out, into
// aedes alone (bench/lib/sensors-aedes.ts: a bare broker process, one in-process subscriber that
// counts, no login check, no JSON, no decoding, no journal, no uplink). Both processes metered from
// /proc over the window; the broker's count read from its STATS lines.
import { join } from 'node:path';
import { startChild, type Child } from './children.ts';
import { ProcessSampler, sampleMachine, windowCost, type WindowCost } from './procfs.ts';
import type { AedesLine, NsLine } from './sensors-common.ts';

export interface CeilingResult {
  seconds: number;
  received: number; receivedPerS: number;
  /** Mean payload, bytes. */
  payloadBytes: number;
  nsPublishedPerS: number;
  aedes: WindowCost; usPerUplink: number;
  nsPct: number;
  machine: { busyPct: number; stealPct: number };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runCeiling(o: { root: string; warmupS: number; seconds: number; progress: (m: string) => void }): Promise<CeilingResult> {
  const runTs = join(o.root, 'bin', 'run-ts.mjs');
  const children: Child[] = [];
  const samplers: ProcessSampler[] = [];
  try {
    const aedes = startChild('aedes', process.execPath, [runTs, join(o.root, 'bench', 'lib', 'sensors-aedes.ts')]);
    children.push(aedes);
    const lines: AedesLine[] = [];
    aedes.onLine((l) => { if (l.startsWith('STATS ')) lines.push(JSON.parse(l.slice(6)) as AedesLine); });
    const port = Number((await aedes.waitForLine(/^LISTENING \d+$/, 60_000)).split(' ')[1]);
    const ns = startChild('network server', process.execPath, [runTs, join(o.root, 'bench', 'lib', 'sensors-ns.ts'), '--url', `mqtt://127.0.0.1:${port}`, '--period', '0'], { stdin: 'pipe' });
    children.push(ns);
    const nsLines: NsLine[] = [];
    ns.onLine((l) => { if (l.startsWith('STATS ')) nsLines.push(JSON.parse(l.slice(6)) as NsLine); });
    await ns.waitForLine(/^STARTED$/, 60_000);
    const aS = new ProcessSampler(aedes.pid, 1000); samplers.push(aS);
    const nS = new ProcessSampler(ns.pid, 1000); samplers.push(nS);
    o.progress(`raw ceiling: aedes alone on port ${port}, the network server flat out; warm-up ${o.warmupS} s, window ${o.seconds} s`);
    await sleep(o.warmupS * 1000);
    // Window edges on the broker's own STATS lines: the count and its time come from the same moment.
    const l0 = lines[lines.length - 1]!; const a0 = aS.sample()!; const n0 = nS.sample()!; const m0 = sampleMachine(); const ns0 = nsLines[nsLines.length - 1];
    await sleep(o.seconds * 1000);
    const l1 = lines[lines.length - 1]!; const a1 = aS.sample()!; const n1 = nS.sample()!; const m1 = sampleMachine(); const ns1 = nsLines[nsLines.length - 1];
    if (!aedes.running() || !ns.running()) throw new Error(`raw ceiling: a process exited; last lines:\n${[...aedes.lines.slice(-10), ...ns.lines.slice(-10)].join('\n')}`);
    const seconds = (l1.at - l0.at) / 1000;
    const received = l1.received - l0.received;
    const cost = windowCost(aS.samples, a0, a1);
    return {
      seconds, received, receivedPerS: received / seconds, payloadBytes: (l1.bytes - l0.bytes) / received,
      nsPublishedPerS: ns0 && ns1 ? (ns1.published - ns0.published) / ((ns1.at - ns0.at) / 1000) : NaN,
      aedes: cost, usPerUplink: (cost.cpuS * 1e6) / received,
      nsPct: (100 * (n1.cpuS - n0.cpuS)) / ((n1.at - n0.at) / 1000),
      machine: { busyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total), stealPct: (100 * (m1.steal - m0.steal)) / (m1.total - m0.total) },
    };
  } finally {
    for (const s of samplers) s.stop();
    await Promise.allSettled(children.map((c) => c.stop(5000)));
  }
}
