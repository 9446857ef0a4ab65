// The platform's side of the gateway run of `npm run bench:journal`: a QoS 1 subscriber that tells
// when the gateway's backlog has been delivered, from the payloads alone (docs/mqtt.md, JSON flavour).
//
// Each device's batches carry seqs 1, 2, 3, … with no gap (docs/durability.md), and after a reconnect
// live batches go ahead of the backlog. So once the link is back: the backlog is delivered when every
// device has a live batch and no gap below it. That moment is exact, and needs no count from inside
// the gateway.
//
// Payloads are read with string scans, not JSON.parse: the subscriber shares the machine with the
// gateway it measures, and a drain brings ~1 GB of JSON. The head of every payload is checked against
// the contract's shape; one that does not match is parsed in full.
import mqtt, { type MqttClient } from 'mqtt';

const HEAD = /^\{"site":"[^"]*","device":"([^"]+)","seq":(\d+),"historical":(true|false),"points":\[/;

/** What one telemetry message said, and when it came. */
export interface Arrival {
  /** performance.now() at arrival. */
  at: number;
  /** Arrival (Date.now()) minus the oldest point's `t`, ms. */
  latencyMs: number;
  /** The oldest point's `t` (epoch ms). */
  t: number;
  points: number;
  historical: boolean;
  duplicate: boolean;
}

interface Head { device: string; seq: number; historical: boolean; points: number; bad: number; t: number }

function readHead(text: string): Head | undefined {
  const m = HEAD.exec(text);
  if (m) {
    let points = 0; let good = 0; let t = Infinity;
    for (let i = text.indexOf('{"tag":', m[0].length); i >= 0; i = text.indexOf('{"tag":', i + 7)) points++;
    for (let i = text.indexOf('"q":"good"'); i >= 0; i = text.indexOf('"q":"good"', i + 10)) good++;
    for (let i = text.indexOf(',"t":'); i >= 0; i = text.indexOf(',"t":', i + 5)) {
      let j = i + 5; let v = 0;
      for (let c = text.charCodeAt(j); c >= 48 && c <= 57; c = text.charCodeAt(++j)) v = v * 10 + (c - 48);
      if (v < t) t = v;
    }
    return { device: m[1]!, seq: Number(m[2]), historical: m[3] === 'true', points, bad: points - good, t };
  }
  try {
    const b = JSON.parse(text) as { device: string; seq: number; historical: boolean; points: { q: string; t: number }[] };
    if (!Array.isArray(b.points)) return undefined;
    return { device: b.device, seq: b.seq, historical: b.historical, points: b.points.length, bad: b.points.filter((p) => p.q !== 'good').length, t: Math.min(...b.points.map((p) => p.t)) };
  } catch {
    return undefined;
  }
}

interface DeviceSeqs { seen: Set<number>; max: number; maxT: number }

export class DrainWatch {
  readonly arrivals: Arrival[] = [];
  readonly #devices = new Map<string, DeviceSeqs>();
  #client: MqttClient | undefined;
  /** Σ over devices of the seqs missing below the highest seen. */
  #gaps = 0;
  #withLive = 0;
  malformed = 0;
  badPoints = 0;
  /** performance.now() and Date.now() when the gateway's retained status said online: its reconnect. */
  online: { at: number; wall: number } | undefined;
  /** performance.now() when the last gap closed with every device live: the backlog delivered. */
  drained: number | undefined;

  constructor(readonly expectedDevices: number) {}

  async connect(url: string): Promise<void> {
    const client = await mqtt.connectAsync(url, { clientId: `cityedge-bench-journal-sub-${process.pid}`, protocolVersion: 5, reconnectPeriod: 0, clean: true });
    this.#client = client;
    client.on('message', (topic, payload) => {
      const at = performance.now();
      const wall = Date.now();
      if (topic.endsWith('/status')) {
        let online = false;
        try { online = (JSON.parse(payload.toString()) as { online?: boolean }).online === true; } catch { this.malformed++; }
        if (online && !this.online) this.online = { at, wall };
        return;
      }
      const h = readHead(payload.toString());
      if (!h) { this.malformed++; return; }
      this.badPoints += h.bad;
      this.arrivals.push({ at, latencyMs: wall - h.t, t: h.t, points: h.points, historical: h.historical, duplicate: !this.#note(h) });
    });
    await client.subscribeAsync(['cityedge/v1/+/telemetry/#', 'cityedge/v1/+/status'], { qos: 1 });
  }

  /** Books a seq; false if it came before. */
  #note(h: Head): boolean {
    let d = this.#devices.get(h.device);
    if (!d) { d = { seen: new Set(), max: 0, maxT: 0 }; this.#devices.set(h.device, d); }
    if (d.seen.has(h.seq)) return false;
    d.seen.add(h.seq);
    const wasLive = this.online !== undefined && d.maxT >= this.online.wall;
    if (h.seq > d.max) { this.#gaps += h.seq - d.max - 1; d.max = h.seq; d.maxT = h.t; } else this.#gaps--;
    if (!wasLive && this.online !== undefined && d.maxT >= this.online.wall) this.#withLive++;
    if (this.drained === undefined && this.#gaps === 0 && this.#withLive >= this.expectedDevices) this.drained = performance.now();
    return true;
  }

  /** Devices seen, seqs still missing below each device's highest, devices with a live batch. */
  progress(): { devices: number; gaps: number; live: number; points: number } {
    return { devices: this.#devices.size, gaps: this.#gaps, live: this.#withLive, points: this.arrivals.reduce((n, a) => n + (a.duplicate ? 0 : a.points), 0) };
  }

  async close(): Promise<void> { await this.#client?.endAsync(true).catch(() => {}); }
}
