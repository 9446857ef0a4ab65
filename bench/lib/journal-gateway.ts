// The gateway run of `npm run bench:journal`: the real gateway (`node bin/cityedge.mjs run`) polling
// simulated PLCs through a broker outage long enough to hold a backlog of N samples (10 M by
// default), metered from /proc; then the broker comes back and the backlog drains to a subscriber
// while the PLCs keep being polled.
//
//   1. The PLCs of bench:modbus (bench/modbus-sims.ts: every register changes every scan, so report
//      by exception lets every point through) and a config like bench:modbus writes, with the
//      journal's defaults (fsync full, commit_ms 250, no max_bytes) and an upstream on a port where
//      no broker listens yet.
//   2. The gateway runs until the PLCs have answered N points' worth of scans, plus a second for the
//      last commit. Counted at the PLCs (scans × registers), because the journal cannot be opened
//      from outside while the gateway holds it (exclusive locking).
//   3. Mosquitto starts on that port, a QoS 1 subscriber connects, and the gateway reconnects when
//      its backoff says so (up to 60 s: that wait is the product's, and is reported).
//   4. Drained: every device has a live batch and no seq missing below it (bench/lib/journal-subscriber.ts).
import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { SimReport } from '../modbus-sims.ts';
import { startChild, type Child } from './children.ts';
import { journalBytes, type Files } from './journal-common.ts';
import { reservePort, startJournalBroker } from './journal-broker.ts';
import { DrainWatch, type Arrival } from './journal-subscriber.ts';
import { descendants, ProcessSampler, sampleMachine, sampleProcess, windowCost, type MachineCpu, type ProcSample, type WindowCost } from './procfs.ts';
import { summarize, type Summary } from './stats.ts';

export interface GatewayOptions {
  root: string;
  dir: string;
  samples: number;
  plcs: number;
  tags: number;
  pollMs: number;
  /** The broker's max_inflight_messages; undefined: Mosquitto's default (20). */
  receiveMax: number | undefined;
  /** Node flags for the gateway, for exploring (e.g. --trace-gc); the headline figures run without. */
  nodeArgs: string[];
  /** Every line the gateway prints, appended to this file (with the bench's clock, s since its start). */
  logFile: string | undefined;
  progress: (msg: string) => void;
}

/** Where a live batch counts from: the gateway's reconnect (its retained status, online, at the subscriber). */
export interface Latencies { live: Summary; livePoints: number; grace: Summary; gracePoints: number }

export interface GatewayResult {
  plcs: number; tags: number; pollMs: number; target: number;
  /** Gateway start → the PLCs' first scan, s. */
  firstScanS: number;
  outage: {
    /** Gateway start → broker start, s. */
    seconds: number;
    /** Points the PLCs had served at broker start (scans × registers). */
    pointsRead: number;
    /** Points read per second over the metered window. */
    readPerS: number;
    /** From 15 s after the gateway's start (bundle import, plan, first GC behind it) to broker start. */
    cost: WindowCost;
    /** Mean RSS over the last 10 s before the broker started, MB. */
    rssLast10Mb: number;
    /** Seconds after the gateway's start of the first 1-s sample that showed the VmHWM of broker start: when the peak happened. */
    hwmAtS: number;
    rssSeriesMb: number[];
    files: Files;
    simsPct: number;
    machineBusyPct: number;
  };
  reconnect: {
    /** Broker start → the gateway's status online at the subscriber, s. */
    waitS: number;
    /** Points the PLCs had served at the reconnect. */
    pointsRead: number;
    /** Broker start → reconnect: gateway RSS max, VmHWM at the reconnect, MB. */
    rssMaxMb: number; hwmMb: number;
    files: Files;
  };
  drain: {
    seconds: number;
    /** Batches marked historical; live-marked batches whose points were read before the reconnect; points read after it. */
    historicalPoints: number; gracePoints: number; livePoints: number;
    messages: number; duplicates: number; badPoints: number; malformed: number;
    latency: Latencies;
    cost: WindowCost;
    brokerPct: number; benchPct: number; simsPct: number; machineBusyPct: number;
    files: Files;
  };
  /** The seconds after the drain: live only. */
  after: { seconds: number; latency: Latencies; pointsPerS: number; cpuPct: number; rssMb: number };
  stop: { status: string; ms: number; files: Files };
  tree: { pid: number; comm: string }[];
  /** The gateway's log lines by message: how many, and when the first came (s after the gateway's start). */
  log: { total: number; byMessage: [string, { n: number; firstS: number }][] };
  /** Gateway start → broker start, reconnect and drained, s: to place the log lines. */
  marks: { brokerS: number; reconnectS: number; drainedS: number };
  brokerNotes: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MB = 1024;

async function simCommand(sims: Child, cmd: 'window' | 'report'): Promise<string> {
  const answer = sims.waitForLine(cmd === 'window' ? /^WINDOW$/ : /^REPORT /, 20_000, true);
  sims.proc.stdin?.write(`${cmd}\n`);
  return answer;
}

async function pointsRead(sims: Child, tags: number): Promise<number> {
  const r = JSON.parse((await simCommand(sims, 'report')).slice('REPORT '.length)) as SimReport;
  return r.plcs.reduce((n, p) => n + p.scansStarted, 0) * tags;
}

function writeConfig(o: GatewayOptions, url: string, ports: number[]): string {
  const config = {
    site: { id: 'bench', name: 'cityedge journal benchmark' },
    // The journal's defaults: fsync full, commit_ms 250, no max_bytes.
    buffer: { path: join(o.dir, 'data') },
    upstreams: [{ id: 'platform', url, format: 'json' }],
    devices: ports.map((port, i) => ({
      id: `plc${String(i + 1).padStart(2, '0')}`,
      driver: 'modbus-tcp', host: '127.0.0.1', port, unit: 1, poll_ms: o.pollMs,
      tags: Array.from({ length: o.tags }, (_, r) => ({ name: `r${r}`, address: `hr:${r}`, type: 'uint16' })),
    })),
  };
  const file = join(o.dir, 'gateway.yaml');
  writeFileSync(file, stringify(config, { flow: false }));
  return file;
}

function latencies(arrivals: readonly Arrival[], from: number, to: number, reconnectWall: number): Latencies {
  const live: number[] = []; const grace: number[] = [];
  let livePoints = 0; let gracePoints = 0;
  for (const a of arrivals) {
    if (a.at < from || a.at > to || a.historical || a.duplicate) continue;
    if (a.t >= reconnectWall) { live.push(a.latencyMs); livePoints += a.points; } else { grace.push(a.latencyMs); gracePoints += a.points; }
  }
  return { live: summarize(live), livePoints, grace: summarize(grace), gracePoints };
}

const pct = (a: ProcSample | undefined, b: ProcSample | undefined) => (a && b ? (100 * (b.cpuS - a.cpuS)) / ((b.at - a.at) / 1000) : NaN);
const busy = (a: MachineCpu, b: MachineCpu) => (100 * (b.busy - a.busy)) / (b.total - a.total);

export async function runGateway(o: GatewayOptions): Promise<GatewayResult> {
  const cli = join(o.root, 'bin', 'cityedge.mjs');
  mkdirSync(o.dir, { recursive: true });
  const port = await reservePort();
  const url = `mqtt://127.0.0.1:${port}`;

  o.progress(`gateway run: starting ${o.plcs} simulated PLCs (${o.tags} registers, every register changing every scan)`);
  const sims = startChild('simulators', process.execPath,
    [join(o.root, 'bin', 'run-ts.mjs'), join(o.root, 'bench', 'modbus-sims.ts'), '--plcs', String(o.plcs), '--tags', String(o.tags), '--poll-ms', String(o.pollMs)],
    { stdin: 'pipe' });
  const ports = (JSON.parse((await sims.waitForLine(/^READY /, 60_000)).slice('READY '.length)) as { ports: number[] }).ports;
  const config = writeConfig(o, url, ports);
  // Validates the config, and bundles the sources if they changed, before anything is timed.
  await promisify(execFile)(process.execPath, [cli, 'check', '--config', config], { maxBuffer: 64 * 2 ** 20 });

  const watch = new DrainWatch(o.plcs);
  const samplers: ProcessSampler[] = [];
  try {
    await simCommand(sims, 'window');
    o.progress(`gateway run: the gateway polls ${o.plcs} × ${o.tags} registers every ${o.pollMs} ms; no broker on port ${port} until the journal holds ${(o.samples / 1e6).toLocaleString('en-US')} M samples`);
    const gw = startChild('gateway', process.execPath, [...o.nodeArgs, cli, 'run', '--config', config], { env: { CITYEDGE_LOG_LEVEL: 'warn' } });
    const t0 = performance.now();
    if (o.logFile) { const f = o.logFile; gw.onLine((line) => appendFileSync(f, `${((performance.now() - t0) / 1000).toFixed(3)} ${line}\n`)); }
    const log = new Map<string, { n: number; firstS: number }>();
    let logTotal = 0;
    gw.onLine((line) => {
      logTotal++;
      let key = line.slice(0, 160);
      try { const r = JSON.parse(line) as { level?: number; msg?: string; code?: string }; key = `${r.level ?? '?'} ${r.code ? `${r.code}: ` : ''}${(r.msg ?? '?').replace(/:\d+/g, ':…')}`; } catch { /* not JSON */ }
      const seen = log.get(key);
      if (seen) seen.n++; else log.set(key, { n: 1, firstS: (performance.now() - t0) / 1000 });
    });
    const gwS = new ProcessSampler(gw.pid, 1000); samplers.push(gwS);
    const simsS = new ProcessSampler(sims.pid, 1000); samplers.push(simsS);
    const alive = (what: string) => { if (!gw.running()) throw new Error(`the gateway exited ${what}; its output:\n${gw.lines.slice(-30).join('\n')}`); };

    // 1. The outage: until the PLCs have served N points.
    const expectedPerS = (o.plcs * o.tags * 1000) / o.pollMs;
    const giveUpAt = t0 + 60_000 + (o.samples / expectedPerS) * 3000;
    let firstScanS = NaN;
    let read = 0;
    let last = { at: t0, read: 0 };
    let rate = expectedPerS;
    let metered: { s: ProcSample; sims: ProcSample | undefined; m: MachineCpu; read: number } | undefined;
    while (read < o.samples) {
      const wait = Number.isNaN(firstScanS) ? 1000 : Math.min(5000, Math.max(200, ((o.samples - read) / rate) * 1000 + 100));
      await sleep(wait);
      alive('while the broker was away');
      if (performance.now() > giveUpAt) throw new Error(`the gateway read only ${read.toLocaleString('en-US')} points in ${Math.round((performance.now() - t0) / 1000)} s (expected ${expectedPerS.toLocaleString('en-US')}/s)`);
      read = await pointsRead(sims, o.tags);
      const now = performance.now();
      if (read > 0 && Number.isNaN(firstScanS)) firstScanS = (now - t0) / 1000;
      if (read > last.read && now - last.at > 500) { rate = (read - last.read) / ((now - last.at) / 1000); last = { at: now, read }; }
      if (!metered && now - t0 >= 15_000) metered = { s: gwS.sample()!, sims: simsS.sample(), m: sampleMachine(), read };
      if (Math.floor((now - t0) / 20_000) !== Math.floor((now - wait - t0) / 20_000)) {
        const f = journalBytes(join(o.dir, 'data'));
        o.progress(`gateway run: ${(read / 1e6).toFixed(1)} M points read, journal ${((f.db + f.wal) / 2 ** 20).toFixed(0)} MB, gateway RSS ${((sampleProcess(gw.pid)?.rssKb ?? NaN) / MB).toFixed(0)} MB`);
      }
    }
    await sleep(1000); // a scan in progress, then the last commit (commit_ms 250)
    alive('while the broker was away');
    const tb = gwS.sample()!;
    const tbSims = simsS.sample();
    const mb = sampleMachine();
    const readAtBroker = await pointsRead(sims, o.tags);
    const filesAtBroker = journalBytes(join(o.dir, 'data'));
    if (!metered) metered = { s: gwS.samples[0]!, sims: simsS.samples[0], m: mb, read: 0 };
    const outageCost = windowCost(gwS.samples, metered.s, tb);
    const last10 = gwS.samples.filter((s) => s.at >= tb.at - 10_500 && s.at <= tb.at).map((s) => s.rssKb / MB);

    // 2. The broker comes back; the subscriber first.
    o.progress(`gateway run: ${(readAtBroker / 1e6).toFixed(2)} M points read; starting Mosquitto on port ${port}, waiting for the gateway to reconnect (its backoff: up to 60 s)`);
    const broker = await startJournalBroker(o.dir, { port, receiveMax: o.receiveMax, unboundedQueue: true, name: 'mosquitto-gateway' });
    const brokerAt = performance.now();
    const brokerS = new ProcessSampler(broker.child.pid, 1000); samplers.push(brokerS);
    await watch.connect(url);
    while (!watch.online) {
      alive('before reconnecting');
      if (performance.now() - brokerAt > 90_000) throw new Error(`the gateway did not reconnect within 90 s of the broker's start; its output:\n${gw.lines.slice(-20).join('\n')}`);
      await sleep(50);
    }
    const t1 = watch.online.at;
    const r1 = gwS.sample()!;
    const b1 = brokerS.sample();
    const s1 = simsS.sample();
    const m1 = sampleMachine();
    const self1 = process.cpuUsage();
    const filesAtReconnect = journalBytes(join(o.dir, 'data'));
    const readAtReconnect = await pointsRead(sims, o.tags);
    const order = broker.child.lines.filter((l) => /New client connected/.test(l));
    if (order.length > 0 && !/cityedge-bench-journal-sub/.test(order[0]!)) {
      throw new Error('the gateway reconnected before the subscriber had subscribed (a race of a few ms against a backoff of 30–60 s): its first batches went to nobody; run again');
    }
    const between = gwS.samples.filter((s) => s.at >= brokerAt && s.at <= r1.at);

    // 3. The drain.
    o.progress(`gateway run: reconnected ${((t1 - brokerAt) / 1000).toFixed(1)} s after the broker started, with ~${(readAtReconnect / 1e6).toFixed(2)} M points held; draining`);
    const drainGiveUp = t1 + 60_000 + (readAtReconnect / 100_000) * 1000;
    let lastNote = t1;
    while (watch.drained === undefined) {
      alive('while draining');
      if (performance.now() > drainGiveUp) {
        const p = watch.progress();
        throw new Error(`the backlog was not delivered within ${Math.round((performance.now() - t1) / 1000)} s: ${p.points.toLocaleString('en-US')} points arrived, ${p.gaps} seqs still missing, ${p.live} of ${o.plcs} devices live`);
      }
      if (performance.now() - lastNote > 10_000) {
        lastNote = performance.now();
        const p = watch.progress();
        o.progress(`gateway run: ${(p.points / 1e6).toFixed(2)} M points at the subscriber, ${p.gaps} seqs to go`);
      }
      await sleep(100);
    }
    const t2 = watch.drained;
    const r2 = gwS.sample()!;
    const b2 = brokerS.sample();
    const s2 = simsS.sample();
    const m2 = sampleMachine();
    const self2 = process.cpuUsage(self1);
    const filesDrained = journalBytes(join(o.dir, 'data'));

    // 4. Live only, for comparison; then a clean stop.
    await sleep(5000);
    alive('after the drain');
    const r3 = gwS.sample()!;
    const t3 = performance.now();
    const tree = descendants(gw.pid);
    const stopAt = performance.now();
    const status = await gw.stop(30_000);
    const stopMs = performance.now() - stopAt;
    const filesStopped = journalBytes(join(o.dir, 'data'));
    await broker.child.stop();
    await sims.stop();

    const inDrain = watch.arrivals.filter((a) => a.at >= t1 && a.at <= t2);
    const sumPts = (xs: Arrival[], f: (a: Arrival) => boolean) => xs.reduce((n, a) => n + (!a.duplicate && f(a) ? a.points : 0), 0);
    const drainLat = latencies(watch.arrivals, t1, t2, watch.online.wall);
    const afterLat = latencies(watch.arrivals, t2, t3, watch.online.wall);
    const afterPts = sumPts(watch.arrivals.filter((a) => a.at > t2 && a.at <= t3), () => true);
    return {
      plcs: o.plcs, tags: o.tags, pollMs: o.pollMs, target: o.samples, firstScanS,
      outage: {
        seconds: (brokerAt - t0) / 1000, pointsRead: readAtBroker,
        readPerS: (readAtBroker - metered.read) / ((tb.at - metered.s.at) / 1000),
        cost: outageCost, rssLast10Mb: last10.reduce((a, b) => a + b, 0) / last10.length,
        hwmAtS: ((gwS.samples.find((s) => s.hwmKb >= tb.hwmKb)?.at ?? NaN) - t0) / 1000,
        rssSeriesMb: gwS.samples.filter((s) => s.at <= tb.at).filter((_, i) => i % 10 === 0).map((s) => s.rssKb / MB),
        files: filesAtBroker, simsPct: pct(metered.sims, tbSims), machineBusyPct: busy(metered.m, mb),
      },
      reconnect: {
        waitS: (t1 - brokerAt) / 1000, pointsRead: readAtReconnect,
        rssMaxMb: Math.max(...between.map((s) => s.rssKb / MB)), hwmMb: r1.hwmKb / MB, files: filesAtReconnect,
      },
      drain: {
        seconds: (t2 - t1) / 1000,
        historicalPoints: sumPts(inDrain, (a) => a.historical), gracePoints: drainLat.gracePoints, livePoints: drainLat.livePoints,
        messages: inDrain.length, duplicates: inDrain.filter((a) => a.duplicate).length, badPoints: watch.badPoints, malformed: watch.malformed,
        latency: drainLat, cost: windowCost(gwS.samples, r1, r2),
        brokerPct: pct(b1, b2), benchPct: (100 * (self2.user + self2.system)) / 1e6 / ((t2 - t1) / 1000), simsPct: pct(s1, s2),
        machineBusyPct: busy(m1, m2), files: filesDrained,
      },
      after: { seconds: (t3 - t2) / 1000, latency: afterLat, pointsPerS: afterPts / ((t3 - t2) / 1000), cpuPct: pct(r2, r3), rssMb: r3.rssKb / MB },
      stop: { status, ms: stopMs, files: filesStopped },
      tree,
      log: { total: logTotal, byMessage: [...log].sort((a, b) => b[1].n - a[1].n).slice(0, 8) },
      marks: { brokerS: (brokerAt - t0) / 1000, reconnectS: (t1 - t0) / 1000, drainedS: (t2 - t0) / 1000 },
      brokerNotes: broker.child.lines.filter((l) => /drop|error|warning|denied/i.test(l) && !/as root/.test(l)).slice(0, 5),
    };
  } finally {
    for (const s of samplers) s.stop();
    await watch.close();
  }
}
