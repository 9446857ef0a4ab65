// One configuration of `npm run bench:fleet`: K `cityedge ingest` processes in one shared-subscription
// group on the run's Mosquitto, writing into the run's VictoriaMetrics, fed by the publisher child
// (bench/lib/fleet-publisher.ts).
//
//   1. The instances start (`node bin/cityedge.mjs ingest … --connections C --stats-every-s 1`, their
//      own group, client ids and measurement, so configurations do not mix); each is ready when all
//      its sessions logged "ingest subscribed".
//   2. The publisher connects its boxes and publishes; each instance's stats line (once a second) is
//      summed and handed to it as `consumed N`, which keeps the broker's backlog a few seconds deep.
//   3. Warm-up, then the window: the instances' counters (their stats lines nearest the two ends),
//      the store's own counters, /proc of every process (instances, publisher, Mosquitto,
//      VictoriaMetrics), this process and the machine.
//   4. The publisher stops (its in-flight PUBACKs awaited) and says how far each device's seqs went;
//      the instances are left until they have handled every message sent and their counters stand
//      still; then every sample is looked for in the store (bench/lib/fleet-victoria.ts).
//   5. The instances get SIGTERM (their "ingest stopped" line has the final counters) and their
//      sessions are ended at the broker (a clean connect with each client id), so the next
//      configuration's messages are not queued for sessions nobody will resume.
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startChild, type Child } from './children.ts';
import { parseIngestLine, wallNow, type FleetSpec, type IngestLine, type PubLine } from './fleet-common.ts';
import { checkStore, storeCounters, type StoreCheck } from './fleet-victoria.ts';
import { descendants, ProcessSampler, sampleMachine, windowCost, type ProcSample, type WindowCost } from './procfs.ts';

export interface FleetPhaseOptions {
  root: string;
  /** Names the group, the client ids and the measurement. */
  id: string;
  instances: number;
  connections: number;
  fleet: FleetSpec;
  t0: number;
  /** Messages per second in all; 0: flat out. */
  rate: number;
  repeatRate: number;
  leadS: number;
  warmupS: number;
  seconds: number;
  broker: { url: string; pid: number };
  store: { url: string; pid: number };
  nodeArgs: string[];
  progress: (msg: string) => void;
}

export interface InstanceResult {
  name: string; pid: number;
  messagesPerS: number; pointsPerS: number; duplicatesPerS: number;
  cost: WindowCost;
  /** The counters of its "ingest stopped" line (whole run). */
  final: IngestLine | undefined;
  stop: string;
  tree: { pid: number; comm: string }[];
  log: { warn: number; error: number; byMessage: [string, number][] };
  rssSeriesMb: number[];
}

export interface FleetPhaseResult {
  id: string; label: string; instances: number; connections: number; measurement: string;
  warmupS: number; rate: number;
  startupS: number;
  window: {
    seconds: number;
    /** Summed over the instances, from their stats lines. */
    messagesPerS: number; pointsPerS: number; duplicatesPerS: number;
    /** What the store counted: samples and write requests per second. */
    storeRowsPerS: number; storeWritesPerS: number;
    /** What the publisher had acknowledged per second, repeats included; distinct points per second. */
    publishedPerS: number; publishedPointsPerS: number;
    /** Share of the window the publisher held back because the ingest had enough unread (flat out: near 100 %). */
    heldPct: number;
    /** Messages acknowledged by the broker but not yet taken by an instance, at the two ends. */
    backlog: [number, number];
    /** Mean payload, bytes. */
    payloadBytes: number;
    /** Sum of the instances' CPU ÷ messages and ÷ points handled. */
    usPerMessage: number; usPerPoint: number;
    publisher: WindowCost; mosquitto: WindowCost; store: WindowCost;
    benchPct: number;
    machine: { busyPct: number; stealPct: number };
  };
  instancesResult: InstanceResult[];
  run: {
    published: PubLine;
    /** The instances' final counters, summed. */
    messages: number; duplicates: number; rejected: number; refusedByStore: number; writeFailures: number; points: number;
    /** Publisher stopped → every message handled and the counters still. */
    drainS: number;
  };
  check: StoreCheck;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MB = 1024;

interface Instance { child: Child; stats: IngestLine[]; final: IngestLine | undefined; subscribed: number; log: Map<string, number>; warn: number; error: number }

/** The instance's stats line whose time is nearest `wall`. */
function nearest(lines: readonly IngestLine[], wall: number): IngestLine | undefined {
  let best: IngestLine | undefined;
  for (const l of lines) if (!best || Math.abs(l.time - wall) < Math.abs(best.time - wall)) best = l;
  return best;
}

export async function runFleetPhase(o: FleetPhaseOptions): Promise<FleetPhaseResult> {
  const cli = join(o.root, 'bin', 'cityedge.mjs');
  const label = `${o.instances} instance${o.instances > 1 ? 's' : ''} × ${o.connections} connections`;
  const measurement = `fleet_${o.id}`;
  const group = `fleet-${o.id}`;
  const clientId = (n: number) => `fleet-${o.id}-ingest-${n}`;
  const children: Child[] = [];
  const samplers: ProcessSampler[] = [];
  let publisher: Child | undefined;
  // Set once the publisher was told to stop: it exits by itself then.
  let publisherDone = false;
  try {
    const t0 = performance.now();
    const instances: Instance[] = [];
    const consumed = () => instances.reduce((a, x) => a + (x.stats[x.stats.length - 1]?.messages ?? 0), 0);
    for (let n = 1; n <= o.instances; n++) {
      const child = startChild(`ingest ${n}`, process.execPath, [...o.nodeArgs, cli, 'ingest', '--broker', o.broker.url, '--influx', o.store.url,
        '--bucket', 'fleet', '--client-id', clientId(n), '--group', group, '--measurement', measurement,
        '--connections', String(o.connections), '--stats-every-s', '1'], { env: { CITYEDGE_LOG_LEVEL: 'info' } });
      children.push(child);
      const x: Instance = { child, stats: [], final: undefined, subscribed: 0, log: new Map(), warn: 0, error: 0 };
      instances.push(x);
      child.onLine((line) => {
        const st = parseIngestLine(line);
        if (st) {
          if (st.stopped) x.final = st.s; else x.stats.push(st.s);
          if (publisher && !publisherDone) publisher.proc.stdin?.write(`consumed ${consumed()}\n`);
          return;
        }
        if (line.includes('"msg":"ingest subscribed"')) x.subscribed++;
        let r: { level?: number; msg?: string };
        try { r = JSON.parse(line) as typeof r; } catch { r = { level: 0, msg: line.slice(0, 160) }; }
        if ((r.level ?? 0) < 40 && r.level !== 0) return;
        if (r.level === 40) x.warn++; else if ((r.level ?? 0) >= 50) x.error++;
        const key = `${r.level ?? '?'} ${(r.msg ?? '?').replace(/\d+/g, 'N')}`;
        x.log.set(key, (x.log.get(key) ?? 0) + 1);
      });
    }
    const alive = (what: string) => {
      for (const x of instances) if (!x.child.running()) throw new Error(`${x.child.name} exited ${what}; its output:\n${x.child.lines.slice(-30).join('\n')}`);
      if (publisher && !publisherDone && !publisher.running()) throw new Error(`the publisher exited ${what}; its output:\n${publisher.lines.slice(-30).join('\n')}`);
    };
    for (const x of instances) {
      const until = performance.now() + 90_000;
      while (x.subscribed < o.connections) {
        alive('before subscribing');
        if (performance.now() > until) throw new Error(`${x.child.name}: ${x.subscribed} of ${o.connections} sessions subscribed after 90 s; last lines:\n${x.child.lines.slice(-20).join('\n')}`);
        await sleep(50);
      }
    }
    const startupS = (performance.now() - t0) / 1000;
    const iS = instances.map((x) => { const s = new ProcessSampler(x.child.pid); samplers.push(s); return s; });
    o.progress(`${label}: ${o.instances} instance(s) subscribed in ${startupS.toFixed(1)} s (group ${group}); starting ${o.fleet.boxes} boxes, ${o.rate > 0 ? `${o.rate} messages/s` : 'flat out'}`);

    const pubLines: PubLine[] = [];
    publisher = startChild('publisher', process.execPath, [join(o.root, 'bin', 'run-ts.mjs'), join(o.root, 'bench', 'lib', 'fleet-publisher.ts'),
      '--url', o.broker.url, '--boxes', String(o.fleet.boxes), '--devices', String(o.fleet.devicesPerBox), '--t0', String(o.t0),
      '--rate', String(o.rate), '--repeat', String(o.repeatRate), '--lead-s', String(o.leadS), '--id', o.id], { stdin: 'pipe' });
    children.push(publisher);
    const pub = publisher;
    pub.proc.stdin?.on('error', () => { /* it exited: surfaces through alive() */ });
    pub.onLine((l) => { if (l.startsWith('STATS ')) pubLines.push(JSON.parse(l.slice(6)) as PubLine); });
    await pub.waitForLine(/^STARTED$/, 60_000);
    const pS = new ProcessSampler(pub.pid); samplers.push(pS);
    const qS = new ProcessSampler(o.broker.pid); samplers.push(qS);
    const vS = new ProcessSampler(o.store.pid); samplers.push(vS);
    const lastPub = () => pubLines[pubLines.length - 1];

    const startedAt = performance.now();
    for (let s = 0; s < o.warmupS; s += 5) {
      await sleep(Math.min(5, o.warmupS - s) * 1000);
      alive('during warm-up');
    }
    const w0 = wallNow(); const c0 = await storeCounters(o.store.url); const p0 = lastPub(); const back0 = (p0?.acked ?? 0) - consumed();
    const i0 = iS.map((s) => s.sample()!); const pub0 = pS.sample()!; const q0 = qS.sample()!; const v0 = vS.sample()!;
    const m0 = sampleMachine(); const self0 = process.cpuUsage();
    o.progress(`${label}: window of ${o.seconds} s opens (${consumed().toLocaleString('en-US')} messages handled so far)`);
    for (let s = 0; s < o.seconds; s += 10) {
      await sleep(Math.min(10, o.seconds - s) * 1000);
      alive('during the window');
      const rates = instances.map((x) => x.stats[x.stats.length - 1]?.rate ?? 0);
      o.progress(`${label}: ${((performance.now() - startedAt) / 1000).toFixed(0)} s, ${consumed().toLocaleString('en-US')} messages handled, ` +
        `${Math.round(rates.reduce((a, b) => a + b, 0)).toLocaleString('en-US')} points/s (the instances' 10-s rate), backlog ${((lastPub()?.acked ?? 0) - consumed()).toLocaleString('en-US')} messages`);
    }
    const w1 = wallNow(); const c1 = await storeCounters(o.store.url); const p1 = lastPub(); const back1 = (p1?.acked ?? 0) - consumed();
    const i1 = iS.map((s) => s.sample()); const pub1 = pS.sample(); const q1 = qS.sample(); const v1 = vS.sample();
    const m1 = sampleMachine(); const self = process.cpuUsage(self0);
    alive('at the end of the window');
    const seconds = (w1 - w0) / 1000;

    const perInstance = instances.map((x, n) => {
      const a = nearest(x.stats, w0); const b = nearest(x.stats, w1);
      const dt = a && b && b.time > a.time ? (b.time - a.time) / 1000 : NaN;
      return {
        messagesPerS: a && b ? (b.messages - a.messages) / dt : NaN,
        pointsPerS: a && b ? (b.points - a.points) / dt : NaN,
        duplicatesPerS: a && b ? (b.duplicates - a.duplicates) / dt : NaN,
        cost: windowCost(iS[n]!.samples, i0[n]!, i1[n] as ProcSample),
      };
    });
    const sum = (f: (p: typeof perInstance[number]) => number) => perInstance.reduce((acc, p) => acc + f(p), 0);
    const cpuS = sum((p) => p.cost.cpuS);
    const pubDt = p0 && p1 ? (p1.at - p0.at) / 1000 : NaN;

    // Stop the boxes; let the instances take in everything that was acknowledged to them.
    const stopAt = performance.now();
    publisherDone = true;
    pub.proc.stdin?.write('stop\n');
    const published = JSON.parse((await pub.waitForLine(/^STOPPED /, 60_000)).slice('STOPPED '.length)) as PubLine;
    o.progress(`${label}: publisher stopped after ${published.acked.toLocaleString('en-US')} messages (${published.repeats.toLocaleString('en-US')} repeats, ${published.points.toLocaleString('en-US')} distinct samples); waiting for the instances to take them in`);
    let stable = 0; let lastPoints = -1;
    while (stable < 2) {
      alive('while draining');
      if (performance.now() - stopAt > 120_000) throw new Error(`not drained 120 s after the publisher stopped: ${consumed()} of ${published.acked} messages handled`);
      const before = instances.map((x) => x.stats.length);
      while (instances.some((x, n) => x.stats.length === before[n]) && performance.now() - stopAt < 120_000) await sleep(50);
      const points = instances.reduce((a, x) => a + (x.stats[x.stats.length - 1]?.points ?? 0), 0);
      stable = consumed() >= published.acked && points === lastPoints ? stable + 1 : 0;
      lastPoints = points;
    }
    const drainS = (performance.now() - stopAt) / 1000;
    const tree = instances.map((x) => descendants(x.child.pid));

    o.progress(`${label}: drained in ${drainS.toFixed(1)} s; checking ${published.points.toLocaleString('en-US')} samples in the store`);
    let check = await checkStore(o.store.url, measurement, o.fleet, o.t0, published.maxSeq ?? []);
    if (check.missing > 0) {
      // Not expected (a PUBACK waits for the store's 204), but a store that shows rows late would look like a loss.
      await sleep(5000);
      check = await checkStore(o.store.url, measurement, o.fleet, o.t0, published.maxSeq ?? []);
    }

    for (const s of samplers) s.stop();
    const stops = await Promise.all(instances.map((x) => x.child.stop(30_000)));
    await pub.stop(5000);
    await endSessions(o.broker.url, Array.from({ length: o.instances }, (_, n) => clientId(n + 1)), o.connections);

    const finals = instances.map((x) => x.final);
    const total = (k: 'messages' | 'duplicates' | 'rejected' | 'refusedByStore' | 'writeFailures' | 'points') => finals.reduce((a, f) => a + (f?.[k] ?? NaN), 0);
    return {
      id: o.id, label, instances: o.instances, connections: o.connections, measurement, warmupS: o.warmupS, rate: o.rate, startupS,
      window: {
        seconds,
        messagesPerS: sum((p) => p.messagesPerS), pointsPerS: sum((p) => p.pointsPerS), duplicatesPerS: sum((p) => p.duplicatesPerS),
        storeRowsPerS: (c1.rows - c0.rows) / ((c1.at - c0.at) / 1000), storeWritesPerS: (c1.writes - c0.writes) / ((c1.at - c0.at) / 1000),
        publishedPerS: p0 && p1 ? (p1.acked - p0.acked) / pubDt : NaN,
        publishedPointsPerS: p0 && p1 ? (p1.points - p0.points) / pubDt : NaN,
        heldPct: p0 && p1 ? (100 * (p1.heldMs - p0.heldMs)) / (p1.at - p0.at) : NaN,
        backlog: [back0, back1],
        payloadBytes: p0 && p1 ? (p1.bytes - p0.bytes) / (p1.acked - p0.acked) : NaN,
        usPerMessage: (cpuS * 1e6) / (sum((p) => p.messagesPerS) * seconds),
        usPerPoint: (cpuS * 1e6) / (sum((p) => p.pointsPerS) * seconds),
        publisher: windowCost(pS.samples, pub0, pub1!), mosquitto: windowCost(qS.samples, q0, q1!), store: windowCost(vS.samples, v0, v1!),
        benchPct: (100 * (self.user + self.system)) / 1e6 / seconds,
        machine: { busyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total), stealPct: (100 * (m1.steal - m0.steal)) / (m1.total - m0.total) },
      },
      instancesResult: instances.map((x, n) => ({
        name: x.child.name, pid: x.child.pid,
        messagesPerS: perInstance[n]!.messagesPerS, pointsPerS: perInstance[n]!.pointsPerS, duplicatesPerS: perInstance[n]!.duplicatesPerS,
        cost: perInstance[n]!.cost, final: x.final, stop: stops[n]!, tree: tree[n]!,
        log: { warn: x.warn, error: x.error, byMessage: [...x.log].sort((a, b) => b[1] - a[1]).slice(0, 8) },
        rssSeriesMb: iS[n]!.samples.filter((_, i) => i % 5 === 0).map((s) => s.rssKb / MB),
      })),
      run: {
        published,
        messages: total('messages'), duplicates: total('duplicates'), rejected: total('rejected'),
        refusedByStore: total('refusedByStore'), writeFailures: total('writeFailures'), points: total('points'),
        drainS,
      },
      check,
    };
  } finally {
    for (const s of samplers) s.stop();
    await Promise.allSettled(children.map((c) => c.stop(10_000)));
  }
}

/** Ends the instances' sessions at the broker: a clean start with each client id, then a disconnect. */
async function endSessions(url: string, ids: string[], connections: number): Promise<void> {
  await Promise.allSettled(ids.flatMap((id) => Array.from({ length: connections }, async (_, n) => {
    const c = await mqtt.connectAsync(url, { clientId: `${id}-${n}`, protocolVersion: 5, clean: true, reconnectPeriod: 0, properties: { sessionExpiryInterval: 0 } });
    await c.endAsync();
  })));
}
