// Runs bench/lib/mqtt-ceiling.ts (mqtt.js alone publishing batches at QoS 1) for one window of
// `npm run bench:nodered`, metered from /proc like the gateways: its CPU and RSS, the broker's CPU, and
// the points the broker acknowledged in the window (the publisher's own count of PUBACKs).
import { join } from 'node:path';
import { startChild, type Child } from './children.ts';
import { ProcessSampler, sampleMachine, windowCost, type WindowCost } from './procfs.ts';

export interface CeilingResult {
  name: string;
  cost: WindowCost;
  /** Points in batches the broker acknowledged (PUBACK) during the window. */
  points: number;
  pointsPerS: number;
  messages: number;
  errors: number;
  receiveMaximum: number;
  brokerPct: number;
  machineBusyPct: number;
}

export interface CeilingOptions {
  root: string;
  url: string;
  devices: number;
  points: number;
  pollMs: number;
  /** As fast as the broker acknowledges, instead of one batch per device per poll period. */
  flatOut: boolean;
  warmupS: number;
  durationS: number;
  brokerPid: number;
  sleep: (ms: number) => Promise<void>;
}

async function ask(c: Child, cmd: 'window' | 'report'): Promise<string> {
  const answer = c.waitForLine(cmd === 'window' ? /^WINDOW$/ : /^REPORT /, 10_000, true);
  c.proc.stdin?.write(`${cmd}\n`);
  return answer;
}

export async function measureCeiling(name: string, o: CeilingOptions): Promise<CeilingResult> {
  const c = startChild(name, process.execPath, [
    join(o.root, 'bin', 'run-ts.mjs'), join(o.root, 'bench', 'lib', 'mqtt-ceiling.ts'),
    '--url', o.url, '--devices', String(o.devices), '--points', String(o.points), '--poll-ms', String(o.pollMs),
    ...(o.flatOut ? ['--flat-out'] : []),
  ], { stdin: 'pipe' });
  try {
    const ready = JSON.parse((await c.waitForLine(/^READY /, 60_000)).slice('READY '.length)) as { receiveMaximum: number };
    const sampler = new ProcessSampler(c.pid);
    const broker = new ProcessSampler(o.brokerPid);
    try {
      await o.sleep(o.warmupS * 1000);
      await ask(c, 'window');
      const from = sampler.sample()!;
      const b0 = broker.sample();
      const m0 = sampleMachine();
      await o.sleep(o.durationS * 1000);
      const to = sampler.sample();
      if (!to || !c.running()) throw new Error(`${name} exited during its window; last lines:\n${c.lines.slice(-20).join('\n')}`);
      const b1 = broker.sample();
      const m1 = sampleMachine();
      const r = JSON.parse((await ask(c, 'report')).slice('REPORT '.length)) as { points: number; messages: number; errors: number; seconds: number };
      const cost = windowCost(sampler.samples, from, to);
      return {
        name, cost, points: r.points, pointsPerS: r.points / r.seconds, messages: r.messages, errors: r.errors,
        receiveMaximum: ready.receiveMaximum,
        brokerPct: b0 && b1 ? (100 * (b1.cpuS - b0.cpuS)) / cost.seconds : NaN,
        machineBusyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total),
      };
    } finally {
      sampler.stop();
      broker.stop();
    }
  } finally {
    await c.stop();
  }
}
