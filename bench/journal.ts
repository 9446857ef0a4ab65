// `npm run bench:journal`: the durable journal (gateway/journal/sqlite.ts) measured in one run: how
// fast it takes samples in, how fast the MQTT uplink drains a backlog out of it to a real Mosquitto,
// what mqtt.js alone gets from the same broker (the ceiling), what a process holding 10 million
// samples of backlog costs in memory, how long opening that journal takes after a clean stop and
// after a crash, and what a sample costs on disk (docs/performance.md, Journal). Then the real
// gateway (`node bin/cityedge.mjs run`) through a broker outage that leaves it 10 M samples of
// backlog, and the drain when the broker returns (bench/lib/journal-gateway.ts): that run gives the
// figure for the RSS target; the journal children above isolate the journal.
//
//   npm run bench:journal -- [--samples 2000000] [--rss-samples 10000000] [--windows 32,256] [--repeat 3]
//                            [--no-rss] [--broker-default] [--no-gateway] [--gateway-samples 10000000]
//                            [--gateway-poll-ms 100] [--gateway-node-args="--trace-gc"] [--gateway-log FILE]
//
// Every measured part runs in a child process of its own (bench/lib/journal-roles.ts), so each
// figure comes from a fresh heap. Children print `START` when their clock starts and `RESULT {json}`
// when done; this process meters Mosquitto and the machine between the two, and prints the report
// (bench/lib/journal-report.ts). Speed is measured, not asserted: a missed target is printed as
// MISSED and the exit code stays 0; only a run that could not measure (a child died, the deadline
// passed) exits non-zero.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startChild, type Child } from './lib/children.ts';
import {
  DEVICES, PER_RECORD, fsyncFile, num,
  type AppendResult, type DrainResult, type FillResult, type Metered, type RawResult, type ReopenResult, type RssFillResult,
} from './lib/journal-common.ts';
import { startJournalBroker } from './lib/journal-broker.ts';
import { runGateway, type GatewayResult } from './lib/journal-gateway.ts';
import { report, type Reopen } from './lib/journal-report.ts';
import { describeMachine } from './lib/machine.ts';
import { startMosquitto, type Broker } from './lib/mosquitto.ts';
import { sampleMachine, sampleProcess, type MachineCpu, type ProcSample } from './lib/procfs.ts';
import { runBench } from './lib/run.ts';
import { nodeArgs } from './lib/flags.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROLES = join(ROOT, 'bench', 'lib', 'journal-roles.ts');
const RUN_TS = join(ROOT, 'bin', 'run-ts.mjs');
/** What the bench broker advertises as MQTT 5 Receive Maximum, so the windows asked for are the windows used. */
const RECEIVE_MAX = 1000;

const { values: flags } = parseArgs({
  options: {
    samples: { type: 'string', default: '2000000' },
    'rss-samples': { type: 'string', default: '10000000' },
    windows: { type: 'string', default: '32,256' },
    repeat: { type: 'string', default: '3' },
    'no-rss': { type: 'boolean', default: false },
    // Debian's Mosquitto as configured by bench/lib/mosquitto.ts: Receive Maximum 20, which caps every window at 20.
    'broker-default': { type: 'boolean', default: false },
    'no-gateway': { type: 'boolean', default: false },
    'gateway-samples': { type: 'string', default: '10000000' },
    'gateway-poll-ms': { type: 'string', default: '100' },
    // For exploring, not for the figures: node flags for the gateway (with "=": the value starts with a
    // dash), e.g. --gateway-node-args="--trace-gc"; and a file that gets every line the gateway prints.
    'gateway-node-args': { type: 'string', default: '' },
    'gateway-log': { type: 'string' },
  },
});

const opts = {
  samples: Number(flags.samples),
  rssSamples: Number(flags['rss-samples']),
  windows: (flags.windows ?? '').split(',').filter(Boolean).map(Number),
  repeat: Number(flags.repeat),
  rss: !flags['no-rss'],
  brokerDefault: flags['broker-default'] ?? false,
  gateway: !flags['no-gateway'],
  gatewaySamples: Number(flags['gateway-samples']),
  gatewayPollMs: Number(flags['gateway-poll-ms']),
};
/** The PLCs of the gateway run: those of bench:modbus, polled faster (100,000 points/s at 100 ms). */
const GW_PLCS = 20;
const GW_TAGS = 500;

function progress(msg: string): void { process.stderr.write(`· ${msg}\n`); }

/** Like bench/lib/mosquitto.ts, plus a Receive Maximum large enough for the windows measured. */
function startBroker(dir: string): Promise<Broker> {
  return opts.brokerDefault ? startMosquitto(dir) : startJournalBroker(dir, { receiveMax: RECEIVE_MAX });
}

/**
 * Runs one child role to its RESULT line; meters the broker and the machine between START and
 * RESULT. `crashes`: the child (run with --crash) is then killed with SIGKILL, its journal still open.
 */
async function runRole<T>(name: string, args: string[], timeoutMs: number, o: { broker?: Broker; crashes?: boolean; nodeArgs?: string[] } = {}): Promise<Metered<T>> {
  const c: Child = startChild(name, process.execPath, [...(o.nodeArgs ?? []), RUN_TS, ROLES, ...args]);
  try {
    await c.waitForLine(/^START$/, 60_000);
    const b0: ProcSample | undefined = o.broker ? sampleProcess(o.broker.child.pid) : undefined;
    const m0: MachineCpu = sampleMachine();
    const line = await c.waitForLine(/^RESULT /, timeoutMs);
    const b1 = o.broker ? sampleProcess(o.broker.child.pid) : undefined;
    const m1 = sampleMachine();
    if (o.crashes) { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone already: the status says how */ } }
    const status = await c.stop(10_000);
    const expected = o.crashes ? ['signal SIGKILL'] : ['code 0', 'signal SIGTERM'];
    if (!expected.includes(status)) throw new Error(`${name} ended with ${status}; last lines:\n${c.lines.slice(-20).join('\n')}`);
    const seconds = (m1.at - m0.at) / 1000;
    return {
      r: JSON.parse(line.slice('RESULT '.length)) as T,
      brokerPct: b0 && b1 ? (100 * (b1.cpuS - b0.cpuS)) / seconds : NaN,
      machineBusyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total),
    };
  } finally {
    await c.stop(2000);
  }
}

/** Drops the files from the page cache (posix_fadvise DONTNEED through GNU dd): a cold open, without touching anything else. */
function evictFromCache(...files: string[]): boolean {
  try {
    for (const f of files) if (existsSync(f)) execFileSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
    return true;
  } catch {
    return false;
  }
}

for (const [k, v] of Object.entries({ samples: opts.samples, 'rss-samples': opts.rssSamples, repeat: opts.repeat, 'gateway-samples': opts.gatewaySamples, 'gateway-poll-ms': opts.gatewayPollMs })) {
  if (!(v > 0) || !Number.isInteger(v)) { console.error(`bench:journal: --${k} must be a positive integer, not "${String(flags[k as 'samples'])}"`); process.exit(2); }
}
if (opts.samples < PER_RECORD * DEVICES || opts.windows.length === 0 || opts.windows.some((w) => !(w >= 1 && w <= 1000))) {
  console.error('bench:journal: --samples must be at least 2000 and --windows a list of 1…1000');
  process.exit(2);
}

const millions = opts.samples / 1e6;
// The gateway run: the outage (its own limit: 3× the expected time), up to 90 s for the reconnect, the drain (at ≥ 100,000/s net).
const gatewayPerS = (GW_PLCS * GW_TAGS * 1000) / opts.gatewayPollMs;
const gatewayS = opts.gateway ? 300 + (opts.gatewaySamples / gatewayPerS) * 3 + opts.gatewaySamples / 1e5 : 0;
const budgetS = 240 + millions * 20 * opts.windows.length * opts.repeat + (opts.rss ? (opts.rssSamples / 1e6) * 12 : 0) + gatewayS;
const childTimeout = (perMillion: number, of: number) => 60_000 + (of / 1e6) * perMillion * 1000;

await runBench('journal', { budgetS }, async ({ box, tmp }) => {
  console.log(`cityedge bench:journal: SqliteJournal, ${DEVICES} devices, ${PER_RECORD} samples per append; append ${num(opts.samples)} samples (fsync full, normal); ` +
    `drain a backlog of ${num(opts.samples)} samples to Mosquitto, window ${opts.windows.join(', ')}, ${opts.repeat} run(s) each` +
    `${opts.rss ? `; RSS with ${num(opts.rssSamples)} samples held, open after a crash and after a clean close` : ''}` +
    `${opts.gateway ? `; the gateway through a broker outage until ${num(opts.gatewaySamples)} samples are held, then the drain` : ''}`);
  for (const line of describeMachine(box)) console.log(line);
  console.log('');

  // 1. Append rate.
  const appends: { fsync: string; m: Metered<AppendResult> }[] = [];
  for (const fsync of ['full', 'normal']) {
    progress(`append ${num(opts.samples)} samples, fsync ${fsync}`);
    const dir = join(tmp, `append-${fsync}`);
    appends.push({ fsync, m: await runRole<AppendResult>(`append ${fsync}`, ['append', '--dir', dir, '--fsync', fsync, '--samples', String(opts.samples)], childTimeout(30, opts.samples)) });
    rmSync(dir, { recursive: true, force: true });
  }

  // 2 and 3. Drain through the uplink, and the raw ceiling, on the same broker.
  progress(`starting Mosquitto${opts.brokerDefault ? ' (default configuration: Receive Maximum 20)' : ` (max_inflight_messages ${RECEIVE_MAX})`}`);
  const broker = await startBroker(tmp);
  progress(`filling a backlog of ${num(opts.samples)} samples`);
  const template = join(tmp, 'backlog');
  const fill = (await runRole<FillResult>('fill', ['fill', '--dir', template, '--samples', String(opts.samples)], childTimeout(30, opts.samples))).r;
  const runs = new Map<string, Metered<DrainResult | RawResult>[]>();
  const keep = (key: string, m: Metered<DrainResult | RawResult>) => { runs.set(key, [...(runs.get(key) ?? []), m]); };
  let serial = 0;
  const drainOnce = async (window: number) => {
    const dir = join(tmp, `drain-${++serial}`);
    mkdirSync(dir);
    copyFileSync(join(template, 'journal.db'), join(dir, 'journal.db'));
    fsyncFile(join(dir, 'journal.db'));
    try {
      return await runRole<DrainResult>(`drain w${window}`, ['drain', '--dir', dir, '--url', broker.url, '--window', String(window)], childTimeout(120, opts.samples), { broker });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  for (const window of opts.windows) {
    for (let i = 1; i <= opts.repeat; i++) {
      // Interleaved, so that whatever else the machine does spreads over both.
      progress(`window ${window}, run ${i} of ${opts.repeat}: raw mqtt.js, uplink`);
      keep(`raw ${window}`, await runRole<RawResult>(`raw w${window}`, ['raw', '--url', broker.url, '--window', String(window), '--messages', String(fill.records)], childTimeout(60, opts.samples), { broker }));
      keep(`drain ${window}`, await drainOnce(window));
    }
  }
  await broker.child.stop();
  rmSync(template, { recursive: true, force: true });

  // 4 and 5. Memory with a big backlog, opening it after a crash and after a clean close, bytes per sample.
  let rssFill: RssFillResult | undefined;
  const reopens: Reopen[] = [];
  if (opts.rss) {
    const dir = join(tmp, 'rss');
    const files = [join(dir, 'journal.db'), join(dir, 'journal.db-wal')];
    progress(`appending ${num(opts.rssSamples)} samples in a child process, its memory, then SIGKILL`);
    rssFill = (await runRole<RssFillResult>('rss fill', ['rss-fill', '--dir', dir, '--samples', String(opts.rssSamples), '--crash'], childTimeout(30, opts.rssSamples), { crashes: true, nodeArgs: ['--expose-gc'] })).r;
    // Cold, then warm, after a crash (the first reopen is killed too), then the same after a clean close.
    const plan: { after: Reopen['after']; cold: boolean; crash: boolean }[] = [
      { after: 'a crash', cold: true, crash: true },
      { after: 'a crash', cold: false, crash: false },
      { after: 'a clean close', cold: true, crash: false },
      { after: 'a clean close', cold: false, crash: false },
    ];
    for (const step of plan) {
      const evicted = step.cold && evictFromCache(...files);
      const cache = step.cold ? (evicted ? 'cold' : 'cache unknown') : 'warm';
      progress(`reopening it after ${step.after}, ${cache} cache${step.crash ? ', then SIGKILL' : ''}`);
      const args = ['rss-reopen', '--dir', dir, ...(step.crash ? ['--crash'] : [])];
      const r = (await runRole<ReopenResult>(`reopen ${reopens.length + 1}`, args, childTimeout(30, opts.rssSamples), { crashes: step.crash })).r;
      reopens.push({ after: step.after, cache, r });
    }
    rmSync(dir, { recursive: true, force: true });
  }

  // 6. The real gateway: the backlog of a broker outage, its memory, the drain.
  let gateway: GatewayResult | undefined;
  if (opts.gateway) {
    gateway = await runGateway({
      root: ROOT, dir: join(tmp, 'gateway'), samples: opts.gatewaySamples, plcs: GW_PLCS, tags: GW_TAGS, pollMs: opts.gatewayPollMs,
      receiveMax: opts.brokerDefault ? undefined : RECEIVE_MAX, progress,
      nodeArgs: nodeArgs(flags['gateway-node-args']), logFile: flags['gateway-log'],
    });
    rmSync(join(tmp, 'gateway'), { recursive: true, force: true });
  }

  report({ box, windows: opts.windows, appends, fill, runs, rssFill, reopens, gateway });
});
