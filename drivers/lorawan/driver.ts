// LoRaWAN sensors (parking bays, manhole covers, water-logging points) through a network server's
// MQTT: the router hands this device the uplinks of its sensors; each is decoded (the sensor's codec,
// or the network server's `object`), and every scan passes on what arrived since the last one. A
// sensor silent for missed_heartbeats × heartbeat_s turns offline and its values bad; a parking
// bay's occupancy is debounced; a lot reports its free, occupied and unknown bays.
import {
  HANDOFF_SAMPLES, silentLogger, systemClock, tagPath,
  type Clock, type DeviceDriver, type LorawanDeviceConfig, type Logger, type MessageSource, type Sample, type ScanResult, type Value,
} from '../../gateway/model/index.ts';
import { CodecError, decodeFrame, decodeObject, type CodecName } from './codecs/index.ts';
import { LorawanRouter, type IngestStats } from './router.ts';
import type { Uplink } from './uplink.ts';

export interface LorawanDriverOptions { clock?: Clock; logger?: Logger; source: MessageSource; sourceKey: string; fields: readonly string[] }

const PARKING = new Set(['bosch-pls', 'cityedge-parking-v1']);
const DEFAULT_PARKING_DEBOUNCE_S = 60;
/** Manhole monitors report every 6–24 h when nothing happens; the others hourly or more. */
const defaultHeartbeatS = (codec: string) => (codec === 'cityedge-manhole-v1' ? 86_400 : 3600);

interface SensorState {
  name: string;
  /** Tag paths by field, built once: every lookup downstream (RBE, alarms, journal) hashes them. */
  tags: Record<string, string>;
  heartbeatMs: number;
  lastHeard: number | undefined;
  online: boolean | undefined;
  /** Parking: the occupancy passed on, and a different reading waiting to be confirmed. */
  occupied: boolean | null | undefined;
  pending: { value: boolean; since: number } | undefined;
}

export class LorawanDriver implements DeviceDriver {
  readonly deviceId: string;
  readonly requestsPerScan = 0;
  readonly #d: LorawanDeviceConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #router: LorawanRouter;
  readonly #sensors: SensorState[];
  readonly #fields: readonly string[];
  readonly #debounceMs: number;
  #queue: Sample[] = [];
  #wake: (() => void) | undefined;
  /** A sensor never heard since start is judged silent from here. */
  readonly #startedAt: number;

  constructor(d: LorawanDeviceConfig, o: LorawanDriverOptions) {
    this.deviceId = d.id;
    this.#d = d;
    this.#clock = o.clock ?? systemClock;
    this.#startedAt = this.#clock.now();
    this.#log = (o.logger ?? silentLogger).child({ device: d.id });
    this.#fields = o.fields;
    this.#debounceMs = (d.debounce_s ?? (PARKING.has(d.codec) ? DEFAULT_PARKING_DEBOUNCE_S : 0)) * 1000;
    const heartbeatS = d.heartbeat_s ?? defaultHeartbeatS(d.codec);
    this.#sensors = d.sensors.map((s) => ({
      name: s.name, tags: Object.create(null) as Record<string, string>, heartbeatMs: (s.heartbeat_s ?? heartbeatS) * 1000,
      lastHeard: undefined, online: undefined, occupied: undefined, pending: undefined,
    }));
    this.#router = LorawanRouter.acquire(o.sourceKey, o.source, d.topic, { clock: this.#clock, logger: o.logger ?? silentLogger });
    d.sensors.forEach((s, i) => this.#router.register(s.dev_eui, this, i));
  }

  readPlan(): string[] {
    return [`${this.#d.sensors.length} sensor(s) on ${this.#d.topic}, codec ${this.#d.codec}, offline after ${this.#d.missed_heartbeats} × ${this.#d.heartbeat_s ?? defaultHeartbeatS(this.#d.codec)} s of silence`];
  }

  /** This device's sensors' uplinks: received, accepted, refused (duplicates, codec errors). */
  stats(): IngestStats { return this.#router.statsOf(this); }

  /** The whole topic this device shares with others, including messages that name no device. */
  topicStats(): { router: string; topic: string; stats: IngestStats } {
    return { router: this.#router.key, topic: this.#router.topic, stats: this.#router.stats() };
  }

  wakeWith(wake: () => void): void { this.#wake = wake; }

  #tag(s: SensorState, field: string): string {
    return s.tags[field] ??= tagPath(this.#d.id, `${s.name}_${field}`);
  }

  onUplink(i: number, u: Uplink): void {
    const s = this.#sensors[i]!;
    const now = this.#clock.now();
    let fields: Record<string, Value | null>;
    try {
      if (this.#d.codec === 'object') {
        if (u.object === undefined) throw new CodecError('network server', 'bad value', 'the network server sent no decoded object');
        fields = pick(u.object, this.#d.fields ?? []);
      } else if (u.frame !== undefined) {
        fields = decodeFrame(this.#d.codec as CodecName, u.fPort, u.frame).fields;
      } else if (u.object !== undefined) {
        fields = decodeObject(this.#d.codec as CodecName, u.object);
      } else {
        throw new CodecError(this.#d.codec, 'bad value', 'neither data nor object');
      }
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.#router.rejectDecoded(this, e.reason === 'bad value' ? 'bad value' : e.reason, `${s.name}: ${e.message}`);
      return;
    }
    // The radio measurement time when the network server gives one, else now.
    const ts = u.time ?? now;
    s.lastHeard = now;
    const out = this.#queue;
    const before = out.length;
    const tag = (f: string) => this.#tag(s, f);
    if (s.online !== true) { s.online = true; out.push({ tag: tag('online'), value: true, quality: 'good', ts }); }
    for (const [f, v] of Object.entries(fields)) {
      if (f === 'occupied' && PARKING.has(this.#d.codec)) { this.#occupancy(s, v as boolean | null, ts, now); continue; }
      out.push({ tag: tag(f), value: v, quality: v === null ? 'bad' : 'good', ts });
    }
    if (u.rssi !== undefined) out.push({ tag: tag('rssi'), value: u.rssi, quality: 'good', ts });
    if (u.snr !== undefined) out.push({ tag: tag('snr'), value: u.snr, quality: 'good', ts });
    if (before < HANDOFF_SAMPLES && out.length >= HANDOFF_SAMPLES) this.#wake?.();
  }

  /**
   * A bay's occupancy changes after two readings agree or the new one held for debounce_s (a car
   * manoeuvring flips a geomagnetic sensor back and forth). Interference is unknown, not a flip.
   */
  #occupancy(s: SensorState, v: boolean | null, ts: number, now: number): void {
    const tag = this.#tag(s, 'occupied');
    if (v === null) {
      s.pending = undefined;
      this.#queue.push({ tag, value: s.occupied ?? null, quality: 'uncertain', ts });
      return;
    }
    if (s.occupied === undefined || this.#debounceMs === 0 || v === s.occupied) {
      s.pending = undefined;
      this.#setOccupied(s, v, ts);
    } else if (s.pending?.value === v) {
      s.pending = undefined;
      this.#setOccupied(s, v, ts);
    } else {
      s.pending = { value: v, since: now };
    }
  }

  #setOccupied(s: SensorState, v: boolean, ts: number): void {
    s.occupied = v;
    this.#queue.push({ tag: this.#tag(s, 'occupied'), value: v, quality: 'good', ts });
  }

  async scan(): Promise<ScanResult> {
    const now = this.#clock.now();
    for (const s of this.#sensors) {
      if (s.pending && now - s.pending.since >= this.#debounceMs) {
        const v = s.pending.value;
        s.pending = undefined;
        this.#setOccupied(s, v, now);
      }
      // Offline: silent past its heartbeats, or never heard since the gateway started.
      const silentSince = s.lastHeard ?? this.#startedAt;
      if (s.online !== false && now - silentSince > s.heartbeatMs * this.#d.missed_heartbeats) {
        s.online = false;
        s.occupied = undefined;
        this.#queue.push({ tag: this.#tag(s, 'online'), value: false, quality: 'good', ts: now });
        for (const f of this.#fields) {
          if (f !== 'online') this.#queue.push({ tag: this.#tag(s, f), value: null, quality: 'bad', ts: now });
        }
        this.#log.warn({ sensor: s.name }, `sensor ${s.name} silent for ${Math.round((now - silentSince) / 1000)} s: offline`);
      }
    }
    if (this.#d.lot !== undefined) this.#lotSummary(now);
    const samples = this.#queue;
    this.#queue = [];
    return { samples, requests: 0 };
  }

  /** Free, occupied and unknown bays of the lot, for the parking guidance system (停车诱导). */
  #lotSummary(now: number): void {
    let free = 0, occupied = 0, unknown = 0;
    for (const s of this.#sensors) {
      if (s.online !== true || s.occupied === undefined || s.occupied === null) unknown++;
      else if (s.occupied) occupied++;
      else free++;
    }
    const q = 'good' as const;
    this.#queue.push(
      { tag: tagPath(this.#d.id, 'bays_free'), value: free, quality: q, ts: now },
      { tag: tagPath(this.#d.id, 'bays_occupied'), value: occupied, quality: q, ts: now },
      { tag: tagPath(this.#d.id, 'bays_unknown'), value: unknown, quality: q, ts: now },
    );
  }

  async close(): Promise<void> { this.#router.release(); }
}

/** The configured fields of a network server's object, each a number, a boolean or null. */
function pick(object: unknown, fields: readonly string[]): Record<string, Value | null> {
  if (typeof object !== 'object' || object === null) throw new CodecError('network server', 'bad value', 'the object is not an object');
  const out: Record<string, Value | null> = {};
  for (const f of fields) {
    const v = (object as Record<string, unknown>)[f];
    if (v === undefined) continue;
    if (v !== null && typeof v !== 'number' && typeof v !== 'boolean' && typeof v !== 'string') throw new CodecError('network server', 'bad value', `${f} is ${typeof v}`);
    out[f] = v as Value | null;
  }
  return out;
}
