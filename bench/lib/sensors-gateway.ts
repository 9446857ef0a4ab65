// One gateway phase of `npm run bench:sensors`: the real gateway (`node bin/cityedge.mjs run`) in a
// process of its own, with its embedded broker (`broker:`, a user for the network server), LoRaWAN
// devices for the 10,000 sensors of bench/lib/sensors-common.ts, its journal on disk as shipped
// (fsync full, commit_ms 250) in the run's temp dir, an upstream to the run's Mosquitto, and the HTTP
// API on a free port with a viewer token, which is how the counters are read from outside:
// `GET /api/status` (`ingest_topics`, `ingest`, `upstreams`, `journal`, `broker`) once a second.
//
//   1. `cityedge check` on the config (validation, and the bundle rebuilt if a source changed,
//      before anything is timed), the platform subscriber on Mosquitto, then the gateway.
//   2. Its log says where the broker and the API listen (port 0 in the config: free ports).
//   3. The network-server simulator (bench/lib/sensors-ns.ts) starts publishing at the phase's rate
//      (0: flat out), recording what it sends.
//   4. Warm-up, then the window: the gateway's counters, /proc (gateway, simulator, Mosquitto), this
//      process and the machine, read at its two ends.
//   5. The simulator stops; the gateway is left to take in what was sent and to deliver its journal
//      (counters: received = published, upstream backlog 0); then it is stopped (SIGTERM) and the
//      uplinks are checked end to end (bench/lib/sensors-platform.ts).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { deviceBlocks, type SensorInfo } from '../../simulators/lorawan/index.ts';
import { startChild, type Child } from './children.ts';
import { descendants, ProcessSampler, sampleMachine, windowCost, type MachineCpu, type ProcSample, type WindowCost } from './procfs.ts';
import { endToEnd, PlatformSubscriber, type EndToEnd } from './sensors-platform.ts';
import { deviceOf, NS_PASSWORD, NS_USER, sha256hex, SITE, type NsLine } from './sensors-common.ts';
import { summarize, type Summary } from './stats.ts';

export interface GatewayPhaseOptions {
  root: string;
  dir: string;
  label: string;
  /** The simulator's period: every sensor once every periodS seconds; 0: flat out. */
  periodS: number;
  warmupS: number;
  seconds: number;
  mosquitto: { url: string; pid: number };
  sensors: readonly SensorInfo[];
  nodeArgs: string[];
  /** The devices' poll_ms (how often what arrived is handed on); undefined: the default, 1000. */
  pollMs: number | undefined;
  /** Every line the gateway prints, appended to this file (s since its start, then the line): for exploring. */
  logFile: string | undefined;
  progress: (msg: string) => void;
}

/** What `GET /api/status` said, when. */
export interface StatusPoint {
  at: number;
  /** Request → response, ms: how long the API took to answer (the gateway's event loop included). */
  latencyMs: number;
  received: number; accepted: number; rejected: Record<string, number>;
  /** Upstream: records not yet acknowledged by Mosquitto; points held in the journal. */
  backlog: number; journalPoints: number;
  /** Messages the embedded broker let through from clients (broker.published). */
  brokerPublished: number;
  /** Whether the devices' own `ingest` counts add up to the topics' (every message named a known sensor). */
  ingestAddsUp: boolean;
  devices: number;
}

export interface GatewayPhaseResult {
  label: string; periodS: number; warmupS: number;
  configKb: number; devices: number;
  /** The devices' poll_ms. */
  pollMs: number;
  /** Gateway start → broker and API listening, s; RSS then. */
  startup: { readyS: number; rssMb: number; hwmMb: number };
  window: {
    seconds: number;
    accepted: number; received: number; acceptedPerS: number; receivedPerS: number;
    /** Messages the simulator published per second over the window (its STATS lines), and how far behind its schedule it was at the end. */
    nsPublishedPerS: number; nsBehind: number;
    delivered: { messages: number; points: number }; pointsPerS: number;
    cost: WindowCost; usPerUplink: number; usPerPoint: number;
    backlog: [number, number]; journalPoints: [number, number];
    statusLatency: Summary;
    othersPct: { ns: number; mosquitto: number; bench: number };
    machine: { busyPct: number; stealPct: number };
  };
  run: {
    ns: NsLine; received: number; accepted: number; rejected: Record<string, number>;
    /** Simulator stopped → everything received and delivered, s. */
    drainS: number;
    hwmMb: number;
  };
  e2e: EndToEnd;
  /** At every status read, the devices' accepted uplinks summed to the topics'. */
  ingestAddsUp: boolean;
  tree: { pid: number; comm: string }[];
  stop: { status: string; ms: number };
  log: { warn: number; error: number; byMessage: [string, number][] };
  rssSeriesMb: number[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const MB = 1024;

function writeConfig(o: GatewayPhaseOptions, tokenSha: string): { file: string; kb: number; devices: number } {
  const blocks = deviceBlocks(o.sensors);
  const config = {
    site: { id: SITE, name: 'cityedge sensors benchmark' },
    // As shipped: the SQLite journal, fsync full, commit_ms 250.
    buffer: { path: join(o.dir, 'data') },
    upstreams: [{ id: 'platform', url: o.mosquitto.url, format: 'json' }],
    broker: {
      host: '127.0.0.1', port: 0,
      users: [{ username: NS_USER, password_sha256: sha256hex(NS_PASSWORD), publish: ['application/#'] }],
    },
    api: { host: '127.0.0.1', port: 0, users: [{ name: 'bench', role: 'viewer', token_sha256: tokenSha }] },
    devices: blocks.map((b) => {
      const first = b.sensors[0]!;
      const id = deviceOf(first);
      return {
        id, driver: 'lorawan', codec: b.codec,
        ...(first.kind === 'parking' ? { lot: id } : {}),
        ...(o.pollMs !== undefined ? { poll_ms: o.pollMs } : {}),
        sensors: b.sensors.map((s) => ({ name: s.name, dev_eui: s.devEui })),
      };
    }),
  };
  const file = join(o.dir, 'gateway.yaml');
  const text = stringify(config, { flow: false });
  writeFileSync(file, text);
  return { file, kb: text.length / 1024, devices: blocks.length };
}

interface StatusBody {
  ingest: Record<string, { received: number; accepted: number; rejected: Record<string, number> }>;
  ingest_topics: Record<string, { received: number; accepted: number; rejected: Record<string, number> }>;
  upstreams: Record<string, { backlog: number }>;
  journal: { points: number };
  broker?: { published: number };
}

async function readStatus(apiUrl: string, token: string): Promise<StatusPoint> {
  const t0 = performance.now();
  const res = await fetch(`${apiUrl}/api/status`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /api/status: HTTP ${res.status}`);
  const body = (await res.json()) as StatusBody;
  const at = performance.now();
  // The topics hold every message; the devices their own sensors' share.
  const topics = { received: 0, accepted: 0, rejected: {} as Record<string, number> };
  for (const e of Object.values(body.ingest_topics)) {
    topics.received += e.received;
    topics.accepted += e.accepted;
    for (const [r, n] of Object.entries(e.rejected)) topics.rejected[r] = (topics.rejected[r] ?? 0) + n;
  }
  const devices = Object.values(body.ingest);
  const devicesAccepted = devices.reduce((a, e) => a + e.accepted, 0);
  return {
    at, latencyMs: at - t0,
    received: topics.received, accepted: topics.accepted, rejected: topics.rejected,
    backlog: body.upstreams.platform?.backlog ?? NaN, journalPoints: body.journal.points,
    brokerPublished: body.broker?.published ?? NaN,
    ingestAddsUp: devicesAccepted === topics.accepted, devices: devices.length,
  };
}

const pct = (a: ProcSample | undefined, b: ProcSample | undefined) => (a && b ? (100 * (b.cpuS - a.cpuS)) / ((b.at - a.at) / 1000) : NaN);

export async function runGatewayPhase(o: GatewayPhaseOptions): Promise<GatewayPhaseResult> {
  const cli = join(o.root, 'bin', 'cityedge.mjs');
  mkdirSync(o.dir, { recursive: true });
  const token = randomBytes(16).toString('hex');
  const cfg = writeConfig(o, sha256hex(token));
  o.progress(`${o.label}: checking the config (${cfg.devices} devices, ${o.sensors.length.toLocaleString('en-US')} sensors, ${cfg.kb.toFixed(0)} kB of YAML)`);
  await promisify(execFile)(process.execPath, [cli, 'check', '--config', cfg.file], { maxBuffer: 64 * 2 ** 20 });

  const platform = new PlatformSubscriber();
  await platform.connect(o.mosquitto.url, `cityedge-bench-sensors-platform-${process.pid}`);
  const samplers: ProcessSampler[] = [];
  const children: Child[] = [];
  let polling = false;
  try {
    const gw = startChild('gateway', process.execPath, [...o.nodeArgs, cli, 'run', '--config', cfg.file], { env: { CITYEDGE_LOG_LEVEL: 'info' } });
    children.push(gw);
    const t0 = performance.now();
    if (o.logFile) { const f = o.logFile; gw.onLine((line) => appendFileSync(f, `${((performance.now() - t0) / 1000).toFixed(3)} ${line}\n`)); }
    const log = new Map<string, number>();
    let warn = 0; let error = 0;
    gw.onLine((line) => {
      let r: { level?: number; msg?: string; code?: string };
      try { r = JSON.parse(line) as typeof r; } catch { r = { level: 0, msg: line.slice(0, 160) }; }
      if ((r.level ?? 0) < 40 && r.level !== 0) return;
      if (r.level === 40) warn++; else if ((r.level ?? 0) >= 50) error++;
      const key = `${r.level ?? '?'} ${r.code ? `${r.code}: ` : ''}${(r.msg ?? '?').replace(/\d+/g, 'N')}`;
      log.set(key, (log.get(key) ?? 0) + 1);
    });
    const gwS = new ProcessSampler(gw.pid, 1000); samplers.push(gwS);
    const alive = (what: string) => { if (!gw.running()) throw new Error(`the gateway exited ${what}; its output:\n${gw.lines.slice(-30).join('\n')}`); };

    const brokerLine = await gw.waitForLine(/"msg":"broker listening"/, 120_000);
    const apiLine = await gw.waitForLine(/"msg":"HTTP API listening"/, 120_000);
    const brokerPort = (JSON.parse(brokerLine) as { port: number }).port;
    const apiUrl = (JSON.parse(apiLine) as { url: string }).url;
    const ready = gwS.sample()!;
    const readyS = (performance.now() - t0) / 1000;
    o.progress(`${o.label}: gateway ready in ${readyS.toFixed(1)} s (broker port ${brokerPort}, RSS ${(ready.rssKb / MB).toFixed(0)} MB); starting the network server, ${o.periodS > 0 ? `each sensor every ${o.periodS} s (${Math.round(o.sensors.length / o.periodS)}/s)` : 'flat out'}`);

    const recordFile = join(o.dir, 'ns-records.jsonl');
    const ns = startChild('network server', process.execPath, [join(o.root, 'bin', 'run-ts.mjs'), join(o.root, 'bench', 'lib', 'sensors-ns.ts'),
      '--url', `mqtt://127.0.0.1:${brokerPort}`, '--username', NS_USER, '--password', NS_PASSWORD, '--period', String(o.periodS), '--record', recordFile], { stdin: 'pipe' });
    children.push(ns);
    const nsLines: NsLine[] = [];
    ns.onLine((l) => { if (l.startsWith('STATS ')) nsLines.push(JSON.parse(l.slice(6)) as NsLine); });
    await ns.waitForLine(/^STARTED$/, 60_000);
    const nsS = new ProcessSampler(ns.pid, 1000); samplers.push(nsS);
    const mqS = new ProcessSampler(o.mosquitto.pid, 1000); samplers.push(mqS);

    // The counters once a second, for progress and for the drain.
    const statuses: StatusPoint[] = [];
    polling = true;
    const poller = (async () => {
      while (polling) {
        try { statuses.push(await readStatus(apiUrl, token)); } catch { /* a slow answer under load: the next one */ }
        await sleep(1000);
      }
    })();
    const lastNs = () => nsLines[nsLines.length - 1];

    const startedAt = performance.now();
    for (let s = 0; s < o.warmupS; s += 5) {
      await sleep(Math.min(5, o.warmupS - s) * 1000);
      alive('during warm-up');
    }
    const st0 = await readStatus(apiUrl, token);
    const g0 = gwS.sample()!; const n0 = nsS.sample(); const q0 = mqS.sample(); const m0: MachineCpu = sampleMachine(); const self0 = process.cpuUsage();
    const ns0 = lastNs();
    o.progress(`${o.label}: window of ${o.seconds} s opens (${st0.accepted.toLocaleString('en-US')} uplinks accepted so far)`);
    for (let s = 0; s < o.seconds; s += 10) {
      await sleep(Math.min(10, o.seconds - s) * 1000);
      alive('during the window');
      const st = statuses[statuses.length - 1];
      if (st) o.progress(`${o.label}: ${((performance.now() - startedAt) / 1000).toFixed(0)} s, ${st.accepted.toLocaleString('en-US')} accepted, backlog ${st.backlog} records, gateway RSS ${((gwS.samples[gwS.samples.length - 1]?.rssKb ?? NaN) / MB).toFixed(0)} MB`);
    }
    const st1 = await readStatus(apiUrl, token);
    const g1 = gwS.sample()!; const n1 = nsS.sample(); const q1 = mqS.sample(); const m1 = sampleMachine(); const self1 = process.cpuUsage(self0);
    const ns1 = lastNs();
    const seconds = (st1.at - st0.at) / 1000;
    const delivered = platform.between(st0.at, st1.at);
    const cost = windowCost(gwS.samples, g0, g1);
    const accepted = st1.accepted - st0.accepted;

    // Stop the sensors; let the gateway take in and deliver what was sent.
    const stopAt = performance.now();
    ns.proc.stdin?.write('stop\n');
    const nsFinal = JSON.parse((await ns.waitForLine(/^STOPPED /, 60_000)).slice('STOPPED '.length)) as NsLine;
    o.progress(`${o.label}: network server stopped after ${nsFinal.published.toLocaleString('en-US')} messages; waiting for the gateway to take them in and deliver its journal`);
    let final = await readStatus(apiUrl, token);
    for (let quiet = 0; quiet < 2;) {
      alive('while draining');
      if (performance.now() - stopAt > 180_000) throw new Error(`not drained 180 s after the network server stopped: received ${final.received} of ${nsFinal.published}, backlog ${final.backlog} records`);
      await sleep(1000);
      final = await readStatus(apiUrl, token);
      // Received all, and two polls in a row with nothing unacknowledged (a scan and a commit after the last uplink).
      quiet = final.received >= nsFinal.published && final.backlog === 0 ? quiet + 1 : 0;
    }
    const drainS = (performance.now() - stopAt) / 1000;
    await sleep(1000); // Mosquitto → subscriber
    polling = false;
    await poller;
    const end = gwS.sample()!;
    const tree = descendants(gw.pid);

    const stopStarted = performance.now();
    const status = await gw.stop(30_000);
    const stopMs = performance.now() - stopStarted;
    await ns.stop(5000);
    await platform.close();
    o.progress(`${o.label}: checking ${nsFinal.published.toLocaleString('en-US')} uplinks end to end against ${platform.messages.length.toLocaleString('en-US')} telemetry messages`);
    const e2e = endToEnd(recordFile, platform.messages, o.sensors);

    const window = statuses.filter((s) => s.at >= st0.at && s.at <= st1.at);
    return {
      label: o.label, periodS: o.periodS, warmupS: o.warmupS, configKb: cfg.kb, devices: cfg.devices, pollMs: o.pollMs ?? 1000,
      startup: { readyS, rssMb: ready.rssKb / MB, hwmMb: ready.hwmKb / MB },
      window: {
        seconds, accepted, received: st1.received - st0.received,
        acceptedPerS: accepted / seconds, receivedPerS: (st1.received - st0.received) / seconds,
        nsPublishedPerS: ns0 && ns1 ? (ns1.published - ns0.published) / ((ns1.at - ns0.at) / 1000) : NaN,
        nsBehind: ns1?.behind ?? NaN,
        delivered, pointsPerS: delivered.points / seconds,
        cost, usPerUplink: (cost.cpuS * 1e6) / accepted, usPerPoint: (cost.cpuS * 1e6) / delivered.points,
        backlog: [st0.backlog, st1.backlog], journalPoints: [st0.journalPoints, st1.journalPoints],
        statusLatency: summarize(window.map((s) => s.latencyMs)),
        othersPct: { ns: pct(n0, n1), mosquitto: pct(q0, q1), bench: (100 * (self1.user + self1.system)) / 1e6 / seconds },
        machine: { busyPct: (100 * (m1.busy - m0.busy)) / (m1.total - m0.total), stealPct: (100 * (m1.steal - m0.steal)) / (m1.total - m0.total) },
      },
      run: { ns: nsFinal, received: final.received, accepted: final.accepted, rejected: final.rejected, drainS, hwmMb: end.hwmKb / MB },
      e2e,
      ingestAddsUp: statuses.every((s) => s.ingestAddsUp),
      tree,
      stop: { status, ms: stopMs },
      log: { warn, error, byMessage: [...log].sort((a, b) => b[1] - a[1]).slice(0, 8) },
      rssSeriesMb: gwS.samples.filter((_, i) => i % 5 === 0).map((x) => x.rssKb / MB),
    };
  } finally {
    polling = false;
    for (const s of samplers) s.stop();
    await Promise.allSettled(children.map((c) => c.stop(5000)));
    await platform.close();
  }
}
