// The machine a figure was measured on, printed with every run (STYLE habit 12): a benchmark number
// without its machine cannot be compared with anything.
import os from 'node:os';
import { readFileSync } from 'node:fs';

export interface Machine {
  cpu: string;
  cores: number;
  ramGb: number;
  node: string;
  os: string;
  virtualised: string;
  loadAvg: [number, number, number];
}

export function machine(): Machine {
  const cpus = os.cpus();
  let virtualised = 'no (or not detected)';
  try {
    // The "hypervisor" CPU flag is set inside a VM; then other guests can steal our cores.
    if (/^flags\s*:.*\bhypervisor\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'))) virtualised = 'yes (hypervisor flag set)';
  } catch { /* not Linux */ }
  const [a = 0, b = 0, c = 0] = os.loadavg();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    ramGb: os.totalmem() / 2 ** 30,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    virtualised,
    loadAvg: [a, b, c],
  };
}

export function describeMachine(m: Machine): string[] {
  return [
    `cpu      ${m.cpu}, ${m.cores} cores, virtualised: ${m.virtualised}`,
    `ram      ${m.ramGb.toFixed(1)} GiB`,
    `node     ${m.node} on ${m.os}`,
    `load     ${m.loadAvg.map((x) => x.toFixed(2)).join(' ')} (1/5/15 min average at start)`,
  ];
}
