// Sensors that publish plain JSON on MQTT (a weather station, a level radar with its own modem):
// each configured tag is a JSON pointer into the message. Every scan passes on what arrived since
// the last; a sensor silent past its heartbeats turns bad. A message that is not JSON, or whose
// values are not what a tag can hold, is rejected and counted; the others read on.
import {
  HANDOFF_SAMPLES, silentLogger, systemClock, tagPath,
  type Clock, type DeviceDriver, type Logger, type MessageSource, type MqttDeviceConfig, type Quality, type Sample, type ScanResult, type Value,
} from '../../gateway/model/index.ts';

export interface MqttDriverOptions { clock?: Clock; logger?: Logger; source: MessageSource }

export interface JsonIngestStats { received: number; accepted: number; rejected: Partial<Record<'bad json' | 'no values', number>> }

const LOG_EVERY_MS = 60_000;

/** RFC 6901: `/a/b/0`, with `~1` for `/` and `~0` for `~` inside a step. */
function pointer(doc: unknown, path: string): unknown {
  let v = doc;
  for (const raw of path.split('/').slice(1)) {
    const step = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[step];
  }
  return v;
}

/** Epoch ms from epoch ms, epoch seconds (a sensor's clock, 10 digits) or ISO 8601. */
function timeOf(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v < 1e11 ? v * 1000 : v;
  if (typeof v === 'string') { const t = Date.parse(v); return Number.isFinite(t) ? t : undefined; }
  return undefined;
}

export class MqttJsonDriver implements DeviceDriver {
  readonly deviceId: string;
  readonly requestsPerScan = 0;
  readonly #d: MqttDeviceConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #unsubscribe: () => void;
  readonly #s: JsonIngestStats = { received: 0, accepted: 0, rejected: {} };
  #queue: Sample[] = [];
  #wake: (() => void) | undefined;
  /** Tag paths built once, in the order of the configured tags. */
  readonly #paths: readonly string[];
  #lastHeard: number;
  #online: boolean | undefined;
  #loggedAt = -Infinity;

  constructor(d: MqttDeviceConfig, o: MqttDriverOptions) {
    this.deviceId = d.id;
    this.#d = d;
    this.#clock = o.clock ?? systemClock;
    this.#log = (o.logger ?? silentLogger).child({ device: d.id });
    this.#lastHeard = this.#clock.now();
    this.#paths = d.tags.map((t) => tagPath(d.id, t.name));
    this.#unsubscribe = o.source.subscribe(d.topic, (_topic, payload) => this.#receive(payload));
  }

  readPlan(): string[] { return [`${this.#d.tags.length} tag(s) from JSON on ${this.#d.topic}, bad after ${this.#d.missed_heartbeats} × ${this.#d.heartbeat_s} s of silence`]; }

  stats(): JsonIngestStats { return { ...this.#s, rejected: { ...this.#s.rejected } }; }

  wakeWith(wake: () => void): void { this.#wake = wake; }

  #reject(reason: 'bad json' | 'no values', detail: string): void {
    this.#s.rejected[reason] = (this.#s.rejected[reason] ?? 0) + 1;
    const now = this.#clock.now();
    if (now - this.#loggedAt < LOG_EVERY_MS) return;
    this.#loggedAt = now;
    this.#log.warn({ code: 'CE_ERR_SENSOR_PAYLOAD', rejected: this.#s.rejected }, `sensor message rejected: ${detail}`);
  }

  #receive(payload: Buffer): void {
    this.#s.received++;
    let doc: unknown;
    try { doc = JSON.parse(payload.toString('utf8')); } catch (e) { return this.#reject('bad json', (e as Error).message); }
    const now = this.#clock.now();
    const ts = (this.#d.time_path !== undefined ? timeOf(pointer(doc, this.#d.time_path)) : undefined) ?? now;
    const out: Sample[] = [];
    for (const [i, t] of this.#d.tags.entries()) {
      const raw = pointer(doc, t.path);
      if (raw === undefined) continue; // a message may carry some of the tags only
      let value: Value | null = null;
      let quality: Quality = 'good';
      // 15 significant digits: 101 × 0.1 is 10.1, not 10.100000000000001.
      if (typeof raw === 'number' && Number.isFinite(raw)) value = t.scale === undefined && t.offset === undefined ? raw : Number((raw * (t.scale ?? 1) + (t.offset ?? 0)).toPrecision(15));
      else if (typeof raw === 'boolean' || typeof raw === 'string') value = raw;
      else quality = 'bad'; // null, NaN written as null, an object where a reading was expected
      out.push({ tag: this.#paths[i]!, value, quality, ts });
    }
    if (out.length === 0) return this.#reject('no values', `none of the tags' paths in a message on ${this.#d.topic}`);
    this.#s.accepted++;
    this.#lastHeard = now;
    this.#online = true;
    const before = this.#queue.length;
    for (const s of out) this.#queue.push(s);
    if (before < HANDOFF_SAMPLES && this.#queue.length >= HANDOFF_SAMPLES) this.#wake?.();
  }

  async scan(): Promise<ScanResult> {
    const now = this.#clock.now();
    if (this.#online !== false && now - this.#lastHeard > this.#d.heartbeat_s * 1000 * this.#d.missed_heartbeats) {
      this.#online = false;
      this.#log.warn(`no message for ${Math.round((now - this.#lastHeard) / 1000)} s: every tag bad`);
      for (const tag of this.#paths) this.#queue.push({ tag, value: null, quality: 'bad', ts: now });
    }
    const samples = this.#queue;
    this.#queue = [];
    return { samples, requests: 0 };
  }

  async close(): Promise<void> { this.#unsubscribe(); }
}
