// The city the network server hears: parking lots, manhole covers and water-logging points under one
// sky. Pure and steppable: time advances only through step(seconds), in sub-steps of at most 10 s
// (events keep their exact times; the sub-step only bounds the water physics), and the same seed
// gives the same run. step() returns the uplinks the sensors sent, in time order; the setters
// (tests, demos) queue theirs for the next step() or drain().
import type { ParkingCodec } from './encode.ts';
import { Manhole } from './manhole.ts';
import { ParkingLot, type Bay } from './parking.ts';
import { hash32, hex64, Random } from './random.ts';
import { MINUTE_MS, type SensorInfo, type SensorKind, type StepContext, type WorldUplink } from './types.ts';
import { WaterlogPoint } from './waterlog.ts';

export interface LotSpec {
  /** Device id of the lot in the gateway config, e.g. `lot-a`. */
  id: string;
  bays: number;
  codec: ParkingCodec;
}

export interface SensorSpec {
  parking?: { lots: readonly LotSpec[] };
  manholes?: number;
  waterlogging?: number;
}

export interface WorldOptions extends SensorSpec {
  /** Seeds the physics and the DevEUIs. Default 1. */
  seed?: number;
  /** Simulated epoch ms at the start; arrivals follow its time of day (UTC+8). Default 2024-06-03 08:00 CST. */
  start?: number;
  /** Parking heartbeat period, minutes. Default 60. */
  heartbeatMin?: number;
  /** Multiplies the parking arrival rates. Default 1. */
  arrivalScale?: number;
  /** Buses stopping beside each lot per day (magnetic interference). Default 4. */
  interferencePerDay?: number;
  /** Manhole heartbeat range, hours. Default [6, 24]. */
  manholeHeartbeatH?: readonly [number, number];
  /** Random cover openings per cover per day. Default 0.02. */
  coverOpensPerDay?: number;
  /** Random showers per day (intensity around 12 mm/h, up to 150; 20–180 min). Default 0.5; 0 for a dry run. */
  rainPerDay?: number;
}

export const MAX_SUBSTEP_S = 10;
const DEFAULT_START = Date.UTC(2024, 5, 3, 0, 0, 0); // Monday 08:00 in China Standard Time

/** A DevEUI per sensor from the seed and the sensor's place: adding manholes does not renumber bays. */
function devEuiFor(seed: number, key: string, taken: Set<string>): string {
  let eui = hex64(`${seed}/${key}`);
  for (let salt = 1; taken.has(eui); salt++) eui = hex64(`${seed}/${key}/${salt}`);
  taken.add(eui);
  return eui;
}

const numbered = (prefix: string, i: number, count: number): string =>
  `${prefix}${String(i + 1).padStart(Math.max(3, String(count).length), '0')}`;

/** The sensors a spec describes, in a fixed order: lots in order, then manholes, then water-logging points. */
export function sensorList(spec: SensorSpec, seed = 1): SensorInfo[] {
  const taken = new Set<string>();
  const out: SensorInfo[] = [];
  const lots = spec.parking?.lots ?? [];
  if (new Set(lots.map((l) => l.id)).size !== lots.length) throw new RangeError('parking lots need distinct ids');
  for (const lot of lots) {
    if (lot.codec !== 'bosch-pls' && lot.codec !== 'cityedge-parking-v1') throw new RangeError(`lot ${lot.id}: codec ${String(lot.codec)} is not a parking codec`);
    if (!Number.isInteger(lot.bays) || lot.bays < 0) throw new RangeError(`lot ${lot.id}: bays ${lot.bays}, expected a whole number ≥ 0`);
    for (let i = 0; i < lot.bays; i++) {
      out.push({ devEui: devEuiFor(seed, `parking/${lot.id}/${i}`, taken), kind: 'parking', codec: lot.codec, name: numbered('bay', i, lot.bays), lot: lot.id });
    }
  }
  const manholes = spec.manholes ?? 0, waterlogging = spec.waterlogging ?? 0;
  for (let i = 0; i < manholes; i++) {
    out.push({ devEui: devEuiFor(seed, `manhole/${i}`, taken), kind: 'manhole', codec: 'cityedge-manhole-v1', name: numbered('mh', i, manholes) });
  }
  for (let i = 0; i < waterlogging; i++) {
    out.push({ devEui: devEuiFor(seed, `waterlogging/${i}`, taken), kind: 'waterlogging', codec: 'cityedge-waterlog-v1', name: numbered('wl', i, waterlogging) });
  }
  return out;
}

export interface Rain { intensityMmH: number; until: number }

export class LorawanWorld {
  readonly lots: ParkingLot[] = [];
  readonly manholes: Manhole[] = [];
  readonly waterlogging: WaterlogPoint[] = [];
  readonly #sensors: SensorInfo[];
  readonly #byEui = new Map<string, SensorInfo>();
  readonly #bays = new Map<string, Bay>();
  readonly #manholes = new Map<string, Manhole>();
  readonly #points = new Map<string, WaterlogPoint>();
  readonly #rng: Random;
  readonly #rainPerDay: number;
  #now: number;
  #rain: Rain | null = null;
  #nextRainAt: number;
  #pending: WorldUplink[] = [];

  constructor(options: WorldOptions = {}) {
    const seed = options.seed ?? 1;
    const start = options.start ?? DEFAULT_START;
    this.#now = start;
    this.#rng = new Random(seed);
    this.#rainPerDay = options.rainPerDay ?? 0.5;
    this.#nextRainAt = start + this.#rng.exponential(this.#rainPerDay / 86_400) * 1000;
    this.#sensors = sensorList(options, seed);
    for (const s of this.#sensors) this.#byEui.set(s.devEui, s);
    const parkingOptions = {
      heartbeatMin: options.heartbeatMin ?? 60, arrivalScale: options.arrivalScale ?? 1, interferencePerDay: options.interferencePerDay ?? 4,
    };
    if (!(parkingOptions.heartbeatMin > 0 && parkingOptions.heartbeatMin <= 0xffff)) throw new RangeError(`heartbeatMin ${parkingOptions.heartbeatMin}: expected 1–65535 minutes`);
    // Each group draws from its own stream, so adding manholes does not change what the bays do.
    for (const lot of options.parking?.lots ?? []) {
      const infos = this.#sensors.filter((s) => s.lot === lot.id);
      this.lots.push(new ParkingLot(lot.id, lot.codec, infos, parkingOptions, new Random(seed ^ hash32(`lot/${lot.id}`)), start));
    }
    const manholeRng = new Random(seed ^ hash32('manholes'));
    const manholeOptions = { heartbeatH: options.manholeHeartbeatH ?? [6, 24] as const, opensPerDay: options.coverOpensPerDay ?? 0.02 };
    for (const s of this.#sensors.filter((x) => x.kind === 'manhole')) this.manholes.push(new Manhole(s, manholeOptions, manholeRng, start));
    const waterRng = new Random(seed ^ hash32('waterlogging'));
    for (const s of this.#sensors.filter((x) => x.kind === 'waterlogging')) this.waterlogging.push(new WaterlogPoint(s, waterRng, start));
    for (const lot of this.lots) for (const b of lot.bays) this.#bays.set(b.info.devEui, b);
    for (const m of this.manholes) this.#manholes.set(m.info.devEui, m);
    for (const w of this.waterlogging) this.#points.set(w.info.devEui, w);
  }

  /** Simulated epoch ms. */
  get now(): number { return this.#now; }
  get rain(): Readonly<Rain> | null { return this.#rain; }

  sensors(): SensorInfo[] { return this.#sensors.map((s) => ({ ...s })); }
  sensor(devEui: string): SensorInfo | undefined { return this.#byEui.get(devEui); }

  /** Advances the world by `seconds` of simulated time; returns every uplink sent meanwhile, in time order. */
  step(seconds: number): WorldUplink[] {
    if (!(seconds >= 0) || !Number.isFinite(seconds)) throw new RangeError(`step(${seconds}): expected a finite number of seconds ≥ 0`);
    const out = this.#pending;
    this.#pending = [];
    const emit = (u: WorldUplink): void => { out.push(u); };
    let remaining = seconds;
    while (remaining > 0) {
      const dt = Math.min(remaining, MAX_SUBSTEP_S);
      remaining -= dt;
      this.#now += dt * 1000;
      const ctx: StepContext = { now: this.#now, dt, rainMmH: this.#weather(), rng: this.#rng, emit };
      for (const lot of this.lots) lot.advance(ctx);
      for (const m of this.manholes) m.advance(ctx);
      for (const w of this.waterlogging) w.advance(ctx);
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** Uplinks queued by the setters since the last step(), without advancing time. */
  drain(): WorldUplink[] { return this.step(0); }

  /** Starts or ends showers; returns the intensity over the sub-step ending now. */
  #weather(): number {
    if (this.#rain && this.#rain.until <= this.#now) this.#rain = null;
    while (this.#nextRainAt <= this.#now) {
      if (!this.#rain) {
        this.#rain = { intensityMmH: Math.min(150, this.#rng.lognormal(12, 0.8)), until: this.#nextRainAt + this.#rng.uniform(20, 180) * MINUTE_MS };
      }
      this.#nextRainAt += this.#rng.exponential(this.#rainPerDay / 86_400) * 1000;
    }
    return this.#rain?.intensityMmH ?? 0;
  }

  /** Rain over the whole city from now: the water rises over the next minutes. */
  startRain(intensityMmH: number, durationMin = 60): void {
    if (!(intensityMmH >= 0)) throw new RangeError(`rain intensity ${intensityMmH}: expected mm/h ≥ 0`);
    this.#rain = intensityMmH > 0 ? { intensityMmH, until: this.#now + durationMin * MINUTE_MS } : null;
  }

  stopRain(): void { this.#rain = null; }

  /** The current state as the sensor's periodic report (heartbeat, or measurement), sent now. */
  snapshot(devEui: string): WorldUplink {
    const model = this.#bays.get(devEui) ?? this.#manholes.get(devEui) ?? this.#points.get(devEui);
    if (!model) throw new RangeError(`no sensor with DevEUI ${devEui}`);
    return model.uplink(this.#now, 'forced');
  }

  // ---- Setters: what happens in the street, now. Their uplinks come with the next step()/drain().

  /** A car arrives (true) or leaves (false) now; a status uplink follows when the sensor sees a change. */
  setOccupied(devEui: string, occupied: boolean): void {
    this.#bay(devEui).setOccupied(occupied, this.#now, this.#queue);
  }

  /** Magnetic interference at a bay (a bus beside it) until turned off, or for `minutes`. */
  setInterference(devEui: string, on: boolean, minutes = Infinity): void {
    this.#bay(devEui).setInterference(on ? this.#now + minutes * MINUTE_MS : 0, this.#now, this.#queue);
  }

  /** Opens (or closes) a cover now: an alarm event follows at once. It stays open until closed. */
  openCover(devEui: string, open = true): void { this.#manhole(devEui).setCoverOpen(open, this.#now, this.#queue); }
  setTilt(devEui: string, deg: number | null): void { this.#manhole(devEui).setTilt(deg, this.#now, this.#queue); }
  setMethane(devEui: string, ppm: number | null | undefined): void { this.#manhole(devEui).setMethane(ppm, this.#now, this.#queue); }
  setWaterlogFault(devEui: string, fault: boolean): void { this.#waterlog(devEui).setFault(fault, this.#now, this.#queue); }

  /** A read-only view for tests and summaries. */
  state(devEui: string): { occupied?: boolean; interference?: boolean; coverOpen?: boolean; tiltDeg?: number; waterLevelCm?: number; depthCm?: number } {
    const s = this.#need(devEui);
    if (s.kind === 'parking') { const b = this.#bay(devEui); return { occupied: b.occupied, interference: b.interference }; }
    if (s.kind === 'manhole') { const m = this.#manhole(devEui); return { coverOpen: m.coverOpen, tiltDeg: m.tiltDeg, waterLevelCm: m.waterLevelCm }; }
    return { depthCm: this.#waterlog(devEui).depthCm };
  }

  readonly #queue = (u: WorldUplink): void => { this.#pending.push(u); };

  #need(devEui: string, kind?: SensorKind): SensorInfo {
    const s = this.#byEui.get(devEui);
    if (!s) throw new RangeError(`no sensor with DevEUI ${devEui}`);
    if (kind && s.kind !== kind) throw new RangeError(`${devEui} (${s.name}) is a ${s.kind} sensor, not ${kind}`);
    return s;
  }
  #bay(devEui: string): Bay { this.#need(devEui, 'parking'); return this.#bays.get(devEui)!; }
  #manhole(devEui: string): Manhole { this.#need(devEui, 'manhole'); return this.#manholes.get(devEui)!; }
  #waterlog(devEui: string): WaterlogPoint { this.#need(devEui, 'waterlogging'); return this.#points.get(devEui)!; }
}
