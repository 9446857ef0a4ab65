// The broker outage of `npm run bench:nodered`: with a gateway (Node-RED or cityedge) polling the PLCs,
// the platform's broker goes away for N seconds and comes back; how many of the points read while it
// was away reach the platform in the end?
//
//   1. The subscriber below holds a persistent session (clean start off, one hour of session expiry) on
//      a broker that saves it across a restart (bench/lib/nodered-broker.ts), so nothing published
//      after the restart can slip past it, whoever reconnects first.
//   2. Broker stopped; then, at once, the outage window opens at the PLCs (bench/modbus-sims.ts
//      `window`) and on the wall clock. N seconds later it closes (`report`: the scans the PLCs served
//      in it × registers = the points read during the outage), and the broker starts again.
//   3. A point counts as delivered when a batch carrying it reaches the subscriber with its `t` (read
//      time, epoch ms) inside the window; a batch seen before (same site, device, seq) counts once.
//   4. The phase ends when every point read in the window has arrived, or the gateway is publishing
//      fresh reads again and no point of the window has come for 15 s, or at a deadline long enough for
//      cityedge's reconnect backoff (capped at 60 s) and the drain behind it.
import mqtt, { type MqttClient } from 'mqtt';
import type { SimReport } from '../modbus-sims.ts';
import type { Child } from './children.ts';
import type { OutageBroker } from './nodered-broker.ts';
import { ProcessSampler, windowCost, type WindowCost } from './procfs.ts';

/** One telemetry message as it arrived: its points counted per read time, as pairs [t, n, t, n, …]. */
interface Arrival { at: number; site: string; points: number; duplicate: boolean; historical: boolean; byT: number[]; maxT: number }

interface Telemetry { site: string; device: string; seq: number; historical?: boolean; points: { t: number }[] }

export class OutageWatch {
  readonly #arrivals: Arrival[] = [];
  readonly #seen = new Set<string>();
  #client: MqttClient | undefined;
  malformed = 0;

  async connect(url: string): Promise<void> {
    const client = await mqtt.connectAsync(url, {
      clientId: `cityedge-bench-outage-${process.pid}`, protocolVersion: 5,
      clean: false, properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 250, connectTimeout: 5000,
    });
    this.#client = client;
    client.on('error', () => { /* connection refused while the broker is away: mqtt.js tries again */ });
    client.on('message', (_topic, payload) => {
      let body: Telemetry;
      try { body = JSON.parse(payload.toString()) as Telemetry; } catch { this.malformed++; return; }
      if (!Array.isArray(body.points)) { this.malformed++; return; }
      const byT: number[] = [];
      let maxT = 0;
      for (const p of body.points) {
        if (byT.length && byT[byT.length - 2] === p.t) byT[byT.length - 1]!++; else byT.push(p.t, 1);
        if (p.t > maxT) maxT = p.t;
      }
      const key = `${body.site}/${body.device}/${body.seq}`;
      const duplicate = this.#seen.has(key);
      this.#seen.add(key);
      this.#arrivals.push({ at: performance.now(), site: body.site, points: body.points.length, duplicate, historical: body.historical === true, byT, maxT });
    });
    await client.subscribeAsync('cityedge/v1/+/telemetry/#', { qos: 1 });
  }

  /** Arrivals of `site` since `sincePerf` (performance.now()). */
  count(site: string, sincePerf: number): number {
    let n = 0;
    for (let i = this.#arrivals.length - 1; i >= 0 && this.#arrivals[i]!.at >= sincePerf; i--) if (this.#arrivals[i]!.site === site) n++;
    return n;
  }

  /** What arrived of `site` with a read time in [fromT, toT] (epoch ms). */
  inWindow(site: string, fromT: number, toT: number) {
    let points = 0; let historical = 0; let duplicates = 0; let last: number | undefined;
    for (const a of this.#arrivals) {
      if (a.site !== site) continue;
      let n = 0;
      for (let i = 0; i < a.byT.length; i += 2) if (a.byT[i]! >= fromT && a.byT[i]! <= toT) n += a.byT[i + 1]!;
      if (n === 0) continue;
      if (a.duplicate) { duplicates++; continue; }
      points += n;
      if (a.historical) historical += n;
      last = a.at;
    }
    return { points, historical, duplicates, last };
  }

  /** performance.now() of the first arrival of `site` carrying a point read after `t` (epoch ms). */
  firstReadAfter(site: string, t: number): number | undefined {
    return this.#arrivals.find((a) => a.site === site && a.maxT > t)?.at;
  }

  /**
   * Unsubscribes and ends the session (expiry 0), so the broker stops queueing for it. With the broker
   * away (a run stopped mid-outage) mqtt.js would hold the unsubscribe until a reconnect that never
   * comes: then, and after 2 s in any case, the connection is just dropped.
   */
  async close(): Promise<void> {
    const c = this.#client;
    if (!c) return;
    this.#client = undefined;
    const within = (p: Promise<unknown>) => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
    if (c.connected) {
      await within(c.unsubscribeAsync('cityedge/v1/+/telemetry/#'));
      await within(c.endAsync(false, { properties: { sessionExpiryInterval: 0 } }));
    }
    c.end(true);
  }
}

export interface OutageResult {
  name: string;
  outageS: number;
  /** Points the PLCs served during the outage: scans started in it × registers. */
  expected: number;
  /** Distinct points read during the outage that reached the subscriber. */
  delivered: number;
  historical: number;
  duplicates: number;
  /** Broker back → the first batch of a fresh read at the subscriber, s. */
  liveAgainS: number | undefined;
  /** Broker back → the last point of the outage at the subscriber, s. */
  lastS: number | undefined;
  ended: 'all delivered' | 'quiet' | 'deadline';
  /** The process over the outage itself (broker away). */
  cost: WindowCost;
  /** Peak RSS from the broker's stop to the phase's end (the drain included), MB. */
  rssMaxMb: number;
}

export interface OutageDeps {
  site: string;
  target: Child;
  broker: OutageBroker;
  sims: Child;
  watch: OutageWatch;
  tags: number;
  sleep: (ms: number) => Promise<void>;
  progress: (msg: string) => void;
}

const QUIET_MS = 15_000;

async function simCommand(sims: Child, cmd: 'window' | 'report'): Promise<string> {
  const answer = sims.waitForLine(cmd === 'window' ? /^WINDOW$/ : /^REPORT /, 20_000, true);
  sims.proc.stdin?.write(`${cmd}\n`);
  return answer;
}

export async function measureOutage(name: string, outageS: number, d: OutageDeps): Promise<OutageResult> {
  const alive = () => { if (!d.target.running()) throw new Error(`${name} exited during the outage phase; last lines:\n${d.target.lines.slice(-20).join('\n')}`); };
  // The subscriber sees this gateway's batches before anything is taken away.
  const since = performance.now();
  while (d.watch.count(d.site, since) === 0) {
    alive();
    if (performance.now() - since > 30_000) throw new Error(`the outage subscriber saw nothing from ${name} within 30 s`);
    await d.sleep(100);
  }
  const sampler = new ProcessSampler(d.target.pid);
  try {
    d.progress(`${name}: broker stopped for ${outageS} s`);
    await d.broker.stop();
    const fromT = Date.now();
    await simCommand(d.sims, 'window');
    const from = sampler.sample()!;
    await d.sleep(outageS * 1000);
    alive();
    const toT = Date.now();
    const report = JSON.parse((await simCommand(d.sims, 'report')).slice('REPORT '.length)) as SimReport;
    const to = sampler.sample()!;
    const expected = report.plcs.reduce((n, p) => n + p.scansStarted, 0) * d.tags;
    await d.broker.start();
    const back = performance.now();
    d.progress(`${name}: broker back; waiting for the points read during the outage (${expected})`);

    const deadlineMs = Math.max(120, 2 * outageS + 60) * 1000;
    let ended: OutageResult['ended'];
    for (;;) {
      alive();
      const w = d.watch.inWindow(d.site, fromT, toT);
      const live = d.watch.firstReadAfter(d.site, toT);
      const now = performance.now();
      if (w.points >= expected) { ended = 'all delivered'; break; }
      if (live !== undefined && now - Math.max(live, w.last ?? 0) >= QUIET_MS) { ended = 'quiet'; break; }
      if (now - back >= deadlineMs) { ended = 'deadline'; break; }
      await d.sleep(500);
    }
    sampler.sample();
    const w = d.watch.inWindow(d.site, fromT, toT);
    const live = d.watch.firstReadAfter(d.site, toT);
    return {
      name, outageS: (toT - fromT) / 1000, expected,
      delivered: w.points, historical: w.historical, duplicates: w.duplicates,
      liveAgainS: live === undefined ? undefined : (live - back) / 1000,
      lastS: w.last === undefined || w.last < back ? undefined : (w.last - back) / 1000,
      ended,
      cost: windowCost(sampler.samples, from, to),
      rssMaxMb: Math.max(...sampler.samples.filter((s) => s.at >= from.at).map((s) => s.rssKb / 1024)),
    };
  } finally {
    sampler.stop();
  }
}
