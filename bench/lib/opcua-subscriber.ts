// The platform's side of `npm run bench:opcua`: a QoS 1 subscriber on the benchmark's Mosquitto that
// counts the points delivered on `cityedge/v1/+/telemetry/#` (docs/mqtt.md, JSON flavour), per
// device, and notes when each device's first point came and when every one of its tags had come at
// least once. Each gateway phase of the run uses its own device id, so phases never mix.
import mqtt, { type MqttClient } from 'mqtt';

interface Point { tag: string; v: unknown; q: string; t: number }
interface Telemetry { site: string; device: string; seq: number; historical: boolean; points: Point[] }

interface Arrival { at: number; wall: number; points: number; bad: number; historical: boolean; oldest: number; newest: number; duplicate: boolean }

interface DeviceTally {
  arrivals: Arrival[];
  seqs: Set<number>;
  /** Newest `t` delivered per tag: a point not newer than it repeats or reorders one already delivered. */
  lastT: Map<string, number>;
  /** Points delivered per second of value time (epoch second of `t`), duplicates left out. */
  bySecond: Map<number, number>;
  firstAt: number | undefined;
  allAt: number | undefined;
  stale: number;
}

export interface Delivery {
  messages: number;
  points: number;
  pointsPerS: number;
  /** Points with quality other than good. */
  badPoints: number;
  historicalPoints: number;
  duplicates: number;
  /** Points whose `t` was not newer than the last one delivered for the same tag. */
  stale: number;
  /** Per message: arrival − its oldest point's `t`, and arrival − its newest point's `t`, ms. */
  oldestLatencyMs: number[];
  newestLatencyMs: number[];
  /** Points per message. */
  sizes: number[];
}

export class OpcuaTelemetryCounter {
  readonly #devices = new Map<string, DeviceTally>();
  #client: MqttClient | undefined;
  /** Tags per device that count as "all seen". */
  readonly #expect = new Map<string, number>();
  online = false;
  malformed = 0;

  async connect(url: string): Promise<void> {
    const client = await mqtt.connectAsync(url, { clientId: `cityedge-bench-opcua-platform-${process.pid}`, protocolVersion: 5, reconnectPeriod: 0 });
    this.#client = client;
    client.on('message', (topic, payload) => {
      const at = performance.now();
      const wall = Date.now();
      if (topic.endsWith('/status')) {
        try { this.online = (JSON.parse(payload.toString()) as { online?: boolean }).online === true; } catch { this.malformed++; }
        return;
      }
      let body: Telemetry;
      try { body = JSON.parse(payload.toString()) as Telemetry; } catch { this.malformed++; return; }
      if (!Array.isArray(body.points) || typeof body.device !== 'string') { this.malformed++; return; }
      const d = this.#tally(body.device);
      const duplicate = d.seqs.has(body.seq);
      d.seqs.add(body.seq);
      let oldest = Infinity; let newest = -Infinity; let bad = 0;
      for (const p of body.points) {
        if (p.t < oldest) oldest = p.t;
        if (p.t > newest) newest = p.t;
        if (p.q !== 'good') bad++;
        if (duplicate) continue;
        const sec = Math.floor(p.t / 1000);
        d.bySecond.set(sec, (d.bySecond.get(sec) ?? 0) + 1);
        const before = d.lastT.get(p.tag);
        if (before !== undefined && p.t <= before) d.stale++;
        else d.lastT.set(p.tag, p.t);
      }
      d.firstAt ??= at;
      const expect = this.#expect.get(body.device);
      if (d.allAt === undefined && expect !== undefined && d.lastT.size >= expect) d.allAt = at;
      d.arrivals.push({ at, wall, points: body.points.length, bad, historical: body.historical === true, oldest, newest, duplicate });
    });
    // QoS 1 end to end: a message the broker could not hand over would be retried, not lost silently.
    await client.subscribeAsync(['cityedge/v1/+/telemetry/#', 'cityedge/v1/+/status'], { qos: 1 });
  }

  #tally(device: string): DeviceTally {
    let d = this.#devices.get(device);
    if (!d) {
      d = { arrivals: [], seqs: new Set(), lastT: new Map(), bySecond: new Map(), firstAt: undefined, allAt: undefined, stale: 0 };
      this.#devices.set(device, d);
    }
    return d;
  }

  /** From now on, `device` counts as all seen once `tags` distinct tags have arrived. */
  expect(device: string, tags: number): void { this.#expect.set(device, tags); }

  /** performance.now() of the device's first point, of the moment all its tags had come, and how many tags so far. */
  progress(device: string): { firstAt: number | undefined; allAt: number | undefined; tags: number; points: number } {
    const d = this.#devices.get(device);
    return { firstAt: d?.firstAt, allAt: d?.allAt, tags: d?.lastT.size ?? 0, points: d?.arrivals.reduce((n, a) => n + a.points, 0) ?? 0 };
  }

  /**
   * Points of `device` whose value time falls in the whole seconds between two wall-clock times
   * (Date.now()), delivered by now. Exact where counting arrivals is not: a message a second, each of
   * 5,000 points, makes a count by arrival move by 5,000 with the window's phase.
   */
  byValueTime(device: string, fromWall: number, toWall: number): { points: number; seconds: number } {
    const first = Math.ceil(fromWall / 1000);
    const end = Math.floor(toWall / 1000);
    const by = this.#devices.get(device)?.bySecond;
    let points = 0;
    for (let sec = first; sec < end; sec++) points += by?.get(sec) ?? 0;
    return { points, seconds: Math.max(0, end - first) };
  }

  /** What arrived for `device` between two performance.now() times. */
  between(device: string, from: number, to: number): Delivery {
    const inside = (this.#devices.get(device)?.arrivals ?? []).filter((a) => a.at >= from && a.at < to);
    const points = inside.reduce((n, a) => n + a.points, 0);
    return {
      messages: inside.length,
      points,
      pointsPerS: points / ((to - from) / 1000),
      badPoints: inside.reduce((n, a) => n + a.bad, 0),
      historicalPoints: inside.filter((a) => a.historical).reduce((n, a) => n + a.points, 0),
      duplicates: inside.filter((a) => a.duplicate).length,
      stale: this.#devices.get(device)?.stale ?? 0,
      oldestLatencyMs: inside.map((a) => a.wall - a.oldest),
      newestLatencyMs: inside.map((a) => a.wall - a.newest),
      sizes: inside.map((a) => a.points),
    };
  }

  async close(): Promise<void> { await this.#client?.endAsync(true).catch(() => {}); }
}
