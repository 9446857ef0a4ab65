// Parking lots of geomagnetic bay sensors (智慧停车, DOMAIN.md §4). Cars arrive at an empty bay as a
// Poisson process whose rate follows the time of day, and stay a log-normal dwell (minutes to
// hours; overnight parkers for hours). A bay reports its status at once on every change it can see
// and a heartbeat every `heartbeatMin`. A bus stopping beside a few bays swamps their magnetometers
// for minutes: cityedge-parking-v1 then sets its interference flag, a bosch-pls sensor (which has
// none) sees a phantom car. Every event has an exact time; a sensor handles its events in order.
import { encodeBoschPls, encodeParkingV1, type Encoded, type ParkingCodec } from './encode.ts';
import type { Random } from './random.ts';
import { ambientC, batteryAt, hourOfDay, MINUTE_MS, type SensorInfo, type StepContext, type WorldUplink, type UplinkReason } from './types.ts';

/**
 * Car arrivals per empty bay per hour, by local hour: quiet nights, a morning and an evening peak
 * (a street lot in a business district). With dwells of about an hour this keeps a lot roughly
 * 40–60 % occupied by day and 10–20 % at night.
 */
const ARRIVALS_PER_HOUR = [
  0.05, 0.03, 0.03, 0.03, 0.05, 0.15, 0.5, 1.4, 1.6, 1.1, 1.0, 1.0,
  1.2, 1.2, 0.9, 0.9, 1.0, 1.4, 1.3, 0.8, 0.6, 0.4, 0.2, 0.1,
] as const;
const MAX_ARRIVALS_PER_HOUR = Math.max(...ARRIVALS_PER_HOUR);

export interface ParkingOptions {
  /** Minutes between heartbeats (DOMAIN.md §4: 10 min – 24 h). */
  heartbeatMin: number;
  /** Multiplies the arrival rates; 0 stops new arrivals (a test that wants a quiet lot). */
  arrivalScale: number;
  /** Buses stopping beside the lot per day. */
  interferencePerDay: number;
}

const isNight = (epochMs: number): boolean => { const h = hourOfDay(epochMs); return h >= 22 || h < 6; };

class Bay {
  occupied: boolean;
  /** Epoch ms when the bus leaves; Infinity while a test holds the interference on; 0 when none. */
  interferenceUntil = 0;
  nextChangeAt: number;
  nextHeartbeatAt: number;
  /** The last flags byte (cityedge) or occupied bit (bosch) sent: a sensor reports what changed. */
  #lastSent: number;
  /** What the occupied bit says while interference makes it meaningless: the last one sent. */
  #lastOccupiedBit: boolean;
  readonly #base: [number, number, number];
  #car: [number, number, number] = [0, 0, 0];
  #bus: [number, number, number] = [0, 0, 0];
  readonly #battery: number;
  readonly #tempOffset: number;

  constructor(readonly info: SensorInfo, readonly lot: ParkingLot, now: number) {
    const rng = lot.rng;
    // The earth's field as the buried sensor sees it (about 50 µT), different in every bay.
    this.#base = [Math.round(rng.normal(15, 10)), Math.round(rng.normal(-5, 10)), Math.round(rng.normal(-42, 6))];
    this.#battery = rng.uniform(70, 100);
    this.#tempOffset = rng.normal(0, 1.5);
    this.occupied = rng.chance(isNight(now) ? 0.15 : 0.5);
    if (this.occupied) this.#car = lot.carSignature();
    this.nextChangeAt = this.occupied ? now + lot.dwellMs(now) * rng.next() : lot.nextArrival(now);
    this.nextHeartbeatAt = now + rng.uniform(0, lot.options.heartbeatMin * MINUTE_MS);
    this.#lastOccupiedBit = this.occupied;
    this.#lastSent = this.#visible();
  }

  get interference(): boolean { return this.interferenceUntil > 0; }

  /** Handles every event of this bay up to `t`, each at its own time, in order. */
  advanceTo(t: number, emit: (u: WorldUplink) => void): void {
    for (;;) {
      const end = this.interferenceUntil > 0 ? this.interferenceUntil : Infinity;
      const at = Math.min(this.nextChangeAt, end, this.nextHeartbeatAt);
      if (at > t) return;
      if (at === this.nextChangeAt) this.setOccupied(!this.occupied, at, emit); // a car arrives or leaves
      else if (at === end) { this.interferenceUntil = 0; this.#reportChange(at, emit); }
      else {
        emit(this.uplink(at, 'heartbeat'));
        this.nextHeartbeatAt = at + this.lot.options.heartbeatMin * MINUTE_MS;
      }
    }
  }

  /** The bay's state from `at` (a car arrived or left, or a test says so); the next change is drawn from then. */
  setOccupied(occupied: boolean, at: number, emit: (u: WorldUplink) => void): void {
    if (occupied !== this.occupied) {
      this.occupied = occupied;
      this.#car = occupied ? this.lot.carSignature() : [0, 0, 0];
    }
    this.nextChangeAt = occupied ? at + this.lot.dwellMs(at) : this.lot.nextArrival(at);
    this.#reportChange(at, emit);
  }

  setInterference(until: number, at: number, emit: (u: WorldUplink) => void): void {
    if (until > at && !this.interference) this.#bus = this.lot.busSignature();
    this.interferenceUntil = until > at ? Math.max(this.interferenceUntil, until) : 0;
    this.#reportChange(at, emit);
  }

  /** What the sensor can see: the flags byte (cityedge-parking-v1) or the occupied bit (bosch-pls). */
  #visible(): number {
    if (this.lot.codec === 'bosch-pls') return this.occupied || this.interference ? 1 : 0;
    return this.interference ? (this.#lastOccupiedBit ? 1 : 0) | 2 : this.occupied ? 1 : 0;
  }

  #reportChange(at: number, emit: (u: WorldUplink) => void): void {
    const visible = this.#visible();
    if (visible === this.#lastSent) return;
    emit(this.uplink(at, 'status'));
  }

  /** The frame the sensor sends at `at`: status (fPort 1) or heartbeat (fPort 2). */
  uplink(at: number, reason: UplinkReason): WorldUplink {
    const fPort = reason === 'status' ? 1 : 2;
    this.#lastSent = this.#visible();
    if (!this.interference) this.#lastOccupiedBit = this.occupied;
    const temperature = ambientC(at) + this.#tempOffset;
    let encoded: Encoded;
    if (this.lot.codec === 'bosch-pls') {
      encoded = encodeBoschPls({ occupied: this.#lastSent === 1, temperature }, fPort);
    } else {
      const rng = this.lot.rng;
      const mag = [0, 1, 2].map((i) => this.#base[i]! + this.#car[i]! + (this.interference ? this.#bus[i]! : 0) + rng.normal(0, 1.5));
      encoded = encodeParkingV1({
        occupied: (this.#lastSent & 1) === 1, interference: this.interference, battery: batteryAt(this.#battery, this.lot.since, at),
        magX: mag[0]!, magY: mag[1]!, magZ: mag[2]!, temperature, heartbeatMin: this.lot.options.heartbeatMin,
      }, fPort);
    }
    return { devEui: this.info.devEui, kind: 'parking', at, reason, ...encoded };
  }
}

export class ParkingLot {
  readonly bays: Bay[];
  nextInterferenceAt: number;

  constructor(
    readonly id: string,
    readonly codec: ParkingCodec,
    infos: readonly SensorInfo[],
    readonly options: ParkingOptions,
    readonly rng: Random,
    readonly since: number,
  ) {
    this.bays = infos.map((info) => new Bay(info, this, since));
    this.nextInterferenceAt = since + this.#interferenceGapMs();
  }

  #interferenceGapMs(): number { return this.rng.exponential(this.options.interferencePerDay / 86_400) * 1000; }

  /** The next arrival at an empty bay after `from`, by thinning a Poisson process at the peak rate. */
  nextArrival(from: number): number {
    const peak = (MAX_ARRIVALS_PER_HOUR * this.options.arrivalScale) / 3600;
    if (!(peak > 0)) return Infinity;
    let t = from;
    for (;;) {
      t += this.rng.exponential(peak) * 1000;
      if (this.rng.next() * MAX_ARRIVALS_PER_HOUR < ARRIVALS_PER_HOUR[Math.floor(hourOfDay(t))]!) return t;
    }
  }

  /** How long a car that arrives at `at` stays: about 45 min by day, about 6 h overnight; 30 s – 14 h. */
  dwellMs(at: number): number {
    const minutes = isNight(at) ? this.rng.lognormal(360, 0.5) : this.rng.lognormal(45, 1.0);
    return Math.min(14 * 60, Math.max(0.5, minutes)) * MINUTE_MS;
  }

  /** A car's steel over the sensor: mostly a strong vertical component. */
  carSignature(): [number, number, number] {
    return [Math.round(this.rng.normal(0, 60)), Math.round(this.rng.normal(0, 60)), Math.round(this.rng.uniform(120, 450))];
  }

  /** A bus next to the bay: a big field in every axis. */
  busSignature(): [number, number, number] {
    const big = (): number => Math.round(this.rng.uniform(300, 900) * (this.rng.chance(0.5) ? -1 : 1));
    return [big(), big(), Math.round(this.rng.uniform(500, 1500))];
  }

  advance(ctx: StepContext): void {
    while (this.nextInterferenceAt <= ctx.now) {
      const at = this.nextInterferenceAt;
      // A bus stops for 2–15 minutes beside 1–3 neighbouring bays.
      const first = this.rng.int(0, this.bays.length - 1);
      const until = at + this.rng.uniform(2, 15) * MINUTE_MS;
      for (const bay of this.bays.slice(first, first + this.rng.int(1, 3))) {
        bay.advanceTo(at, ctx.emit);
        bay.setInterference(until, at, ctx.emit);
      }
      this.nextInterferenceAt = at + this.#interferenceGapMs();
    }
    for (const bay of this.bays) bay.advanceTo(ctx.now, ctx.emit);
  }
}

export type { Bay };
