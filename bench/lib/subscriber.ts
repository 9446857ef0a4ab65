// The platform's side of the benchmark: an MQTT subscriber on the broker that counts the telemetry
// points that really arrived (docs/mqtt.md, JSON flavour), so "delivered" means delivered.
import mqtt, { type MqttClient } from 'mqtt';

interface Point { tag: string; v: unknown; q: string; t: number }
interface Telemetry { site: string; device: string; seq: number; historical: boolean; points: Point[] }

interface Arrival { at: number; points: number; bad: number; historical: boolean; latencyMs: number; duplicate: boolean }

export interface Delivery {
  messages: number;
  points: number;
  pointsPerS: number;
  /** Points with quality other than good: a device the gateway could not read. */
  badPoints: number;
  historicalPoints: number;
  /** Messages seen before with the same (device, seq): at-least-once redelivery. */
  duplicates: number;
  /** Read time of a batch's oldest point → its arrival here, ms, one value per message. */
  latenciesMs: number[];
}

export class TelemetryCounter {
  readonly #arrivals: Arrival[] = [];
  readonly #seen = new Set<string>();
  #client: MqttClient | undefined;
  online = false;
  malformed = 0;

  async connect(url: string): Promise<void> {
    const client = await mqtt.connectAsync(url, { clientId: `cityedge-bench-platform-${process.pid}`, protocolVersion: 5, reconnectPeriod: 0 });
    this.#client = client;
    client.on('message', (topic, payload) => {
      const now = Date.now();
      if (topic.endsWith('/status')) {
        try { this.online = (JSON.parse(payload.toString()) as { online?: boolean }).online === true; } catch { this.malformed++; }
        return;
      }
      let body: Telemetry;
      try { body = JSON.parse(payload.toString()) as Telemetry; } catch { this.malformed++; return; }
      if (!Array.isArray(body.points)) { this.malformed++; return; }
      let oldest = Infinity; let bad = 0;
      for (const p of body.points) { if (p.t < oldest) oldest = p.t; if (p.q !== 'good') bad++; }
      const key = `${body.device}/${body.seq}`;
      const duplicate = this.#seen.has(key);
      this.#seen.add(key);
      this.#arrivals.push({ at: performance.now(), points: body.points.length, bad, historical: body.historical, latencyMs: now - oldest, duplicate });
    });
    // QoS 1 end to end: a message the broker could not hand over would be retried, not lost silently.
    await client.subscribeAsync(['cityedge/v1/+/telemetry/#', 'cityedge/v1/+/status'], { qos: 1 });
  }

  /** What arrived between two performance.now() times. */
  between(from: number, to: number): Delivery {
    const inside = this.#arrivals.filter((a) => a.at >= from && a.at < to);
    const points = inside.reduce((n, a) => n + a.points, 0);
    return {
      messages: inside.length,
      points,
      pointsPerS: points / ((to - from) / 1000),
      badPoints: inside.reduce((n, a) => n + a.bad, 0),
      historicalPoints: inside.filter((a) => a.historical).reduce((n, a) => n + a.points, 0),
      duplicates: inside.filter((a) => a.duplicate).length,
      latenciesMs: inside.map((a) => a.latencyMs),
    };
  }

  get total(): number { return this.#arrivals.length; }

  async close(): Promise<void> { await this.#client?.endAsync(true).catch(() => {}); }
}
