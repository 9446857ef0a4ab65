// The PLCs of the Modbus benchmark, in a process of their own so that the gateway's CPU is measured
// without them: `node bin/run-ts.mjs bench/modbus-sims.ts --plcs 20 --tags 500 --poll-ms 1000`.
//
// Each PLC is one of our own Modbus TCP servers (simulators/modbus/tcp-server.ts, which answers from
// the socket's data event: modbus-serial's ServerTCP would cap the run at ~780 requests/s) with
// holding registers 0…tags-1. Besides answering, each PLC watches the requests it receives, which is
// the only honest view of the wire we have: how many requests one scan costs, and how long a scan
// keeps the PLC busy.
//
// Talks to bench/modbus.ts over stdio, one line each way:
//   stdout  READY {"ports":[…]}          once every server listens
//   stdin   window                        start a measurement window now (answer: WINDOW)
//   stdin   report                        answer REPORT {json} for the window so far
//   stdin   EOF                           the bench is gone: close and exit
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { RegisterBank, startModbusTcpServer, type ModbusTcpServer, type RegisterTable } from '../simulators/modbus/tcp-server.ts';

const { values: flags } = parseArgs({
  options: {
    plcs: { type: 'string', default: '20' },
    tags: { type: 'string', default: '500' },
    'poll-ms': { type: 'string', default: '1000' },
  },
});
const PLCS = Number(flags.plcs);
const TAGS = Number(flags.tags);
const POLL_MS = Number(flags['poll-ms']);

/** One scan as the PLC saw it: a burst of requests, separated from the next by a quiet gap. */
export interface Burst { startMs: number; spanMs: number; requests: number }

export interface PlcReport {
  port: number;
  /** Requests and exception answers in the window, from the server's own counters. */
  requests: number;
  exceptions: number;
  connections: number;
  open: number;
  /** Scans that began inside the window (the last may still be running at the report). */
  scansStarted: number;
  /** Scans that began and ended inside the window. */
  bursts: Burst[];
}

export interface SimReport { windowS: number; plcs: PlcReport[] }

/**
 * A register bank that notes every register read. Requests of one scan arrive back to back (the
 * gateway sends the next when the previous answer is in); a request more than half a poll period
 * after the previous one starts a new scan.
 *
 * The values move at the start of every scan: register i holds (scan + i) & 0xffff, so report by
 * exception has every point to deliver every scan. Tying the change to the wall-clock second instead
 * would let a device whose scan falls on the second boundary read the same second twice now and then,
 * and the benchmark would count the simulator's phase, not the gateway.
 */
class WatchedBank extends RegisterBank {
  scan = 0;
  #first = -Infinity;
  #last = -Infinity;
  #count = 0;
  #windowStart = Infinity;
  bursts: Burst[] = [];
  scansStarted = 0;

  constructor(readonly tags: number) { super({ hr: [{ start: 0, count: tags }] }); }

  startWindow(now: number): void { this.#windowStart = now; this.bursts = []; this.scansStarted = 0; }

  override readRegisters(table: RegisterTable, address: number, count: number): number[] {
    const now = performance.now();
    if (now - this.#last > POLL_MS / 2) {
      this.#close();
      this.#first = now;
      this.#count = 0;
      this.scan++;
      if (now >= this.#windowStart) this.scansStarted++;
      const next = Array.from({ length: this.tags }, (_, i) => (this.scan + i) & 0xffff);
      super.writeRegisters('hr', 0, next);
    }
    this.#last = now;
    this.#count++;
    return super.readRegisters(table, address, count);
  }

  #close(): void {
    if (this.#count > 0 && this.#first >= this.#windowStart) {
      this.bursts.push({ startMs: this.#first - this.#windowStart, spanMs: this.#last - this.#first, requests: this.#count });
    }
  }
}

const plcs: { server: ModbusTcpServer; bank: WatchedBank; base: { requests: number; exceptions: number } }[] = [];
for (let i = 0; i < PLCS; i++) {
  const bank = new WatchedBank(TAGS);
  const server = await startModbusTcpServer({ host: '127.0.0.1', port: 0, banks: new Map([[1, bank]]) });
  plcs.push({ server, bank, base: { requests: 0, exceptions: 0 } });
}
let windowAt = performance.now();
process.stdout.write(`READY ${JSON.stringify({ ports: plcs.map((p) => p.server.port) })}\n`);

const shutdown = async (): Promise<void> => {
  await Promise.allSettled(plcs.map((p) => p.server.close()));
  process.exit(0);
};
process.once('SIGTERM', () => { void shutdown(); });
process.once('SIGINT', () => { void shutdown(); });

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'window') {
    windowAt = performance.now();
    for (const p of plcs) {
      p.bank.startWindow(windowAt);
      p.base = { requests: p.server.stats.requests, exceptions: p.server.stats.exceptions };
    }
    process.stdout.write('WINDOW\n');
  } else if (cmd === 'report') {
    const report: SimReport = {
      windowS: (performance.now() - windowAt) / 1000,
      plcs: plcs.map((p) => ({
        port: p.server.port,
        requests: p.server.stats.requests - p.base.requests,
        exceptions: p.server.stats.exceptions - p.base.exceptions,
        connections: p.server.stats.connections,
        open: p.server.stats.open,
        scansStarted: p.bank.scansStarted,
        bursts: p.bank.bursts,
      })),
    };
    process.stdout.write(`REPORT ${JSON.stringify(report)}\n`);
  }
});
rl.on('close', () => { void shutdown(); }); // stdin closed: the bench that started us is gone
