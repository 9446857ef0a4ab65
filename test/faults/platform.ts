// The platform's side of the fault campaign: a subscriber with a persistent session on one upstream
// broker, recording every telemetry point, alarm event and status it is given (docs/mqtt.md). It
// keeps what it saw across broker restarts (the session is in the broker's persistence file).
import mqtt, { type MqttClient } from 'mqtt';

export interface PointSeen { device: string; tag: string; v: unknown; q: string; t: number }
export interface AlarmSeen { id: string; rule: string; state: string; t: number; value?: unknown }
export interface StatusSeen { at: number; online: boolean; journal?: { backlog: number; dropped: number; droppedPoints: number; full: boolean } }

interface Telemetry { device: string; seq: number; historical: boolean; points: { tag: string; v: unknown; q: string; t: number }[] }

export class Platform {
  readonly points: PointSeen[] = [];
  readonly alarms: AlarmSeen[] = [];
  readonly statuses: StatusSeen[] = [];
  messages = 0;
  /** Telemetry messages whose (device, seq) was seen before: at-least-once redelivery. */
  duplicateBatches = 0;
  historicalBatches = 0;
  /** Arrival − oldest point of each live (not historical) batch, ms. */
  readonly liveLatencyMs: number[] = [];
  malformed = 0;
  readonly #seqs = new Set<string>();
  #client: MqttClient | undefined;

  constructor(readonly name: string, readonly site: string) {}

  async connect(url: string): Promise<void> {
    // Fixed client id, no clean start: the broker queues for us while we are away.
    const c = await mqtt.connectAsync(url, { clientId: `faults-platform-${this.name}`, clean: false, protocolVersion: 4, reconnectPeriod: 500 });
    this.#client = c;
    c.on('message', (topic, payload) => this.#onMessage(topic, payload));
    await c.subscribeAsync(`cityedge/v1/${this.site}/#`, { qos: 1 });
  }

  #onMessage(topic: string, payload: Buffer): void {
    const now = Date.now();
    let body: unknown;
    try { body = JSON.parse(payload.toString()); } catch { this.malformed++; return; }
    if (topic.includes('/telemetry/')) {
      const b = body as Telemetry;
      this.messages++;
      const key = `${b.device}/${b.seq}`;
      if (this.#seqs.has(key)) { this.duplicateBatches++; return; }
      this.#seqs.add(key);
      if (b.historical) this.historicalBatches++;
      else if (b.points.length) this.liveLatencyMs.push(now - Math.min(...b.points.map((p) => p.t)));
      for (const p of b.points) this.points.push({ device: b.device, tag: p.tag, v: p.v, q: p.q, t: p.t });
    } else if (topic.endsWith('/alarms')) {
      const a = body as AlarmSeen;
      if (!this.alarms.some((x) => x.id === a.id && x.state === a.state)) this.alarms.push(a);
    } else if (topic.endsWith('/status')) {
      const s = body as Omit<StatusSeen, 'at'>;
      this.statuses.push({ at: now, online: s.online, ...(s.journal ? { journal: s.journal } : {}) });
    }
  }

  /** The last status the box published, or undefined. */
  lastStatus(): StatusSeen | undefined { return this.statuses.at(-1); }

  async close(): Promise<void> { await this.#client?.endAsync(true).catch(() => {}); }
}
