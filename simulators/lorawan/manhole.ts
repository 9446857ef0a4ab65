// Manhole cover monitors (井盖, DOMAIN.md §5). Each reports an alarm event at once when an alarm
// flag changes (cover opened or closed, tilt, water in the well, methane) and a heartbeat every
// 6–24 h. Covers are opened rarely at random (maintenance, theft: 10–90 min) or by a test; the
// water in the well rises in rain towards a level set by the rain's intensity and drains after.
import { encodeManholeV1 } from './encode.ts';
import type { Random } from './random.ts';
import { ambientC, batteryAt, MINUTE_MS, type SensorInfo, type StepContext, type UplinkReason, type WorldUplink } from './types.ts';

/** Alarm thresholds with hysteresis, so a reading hovering at the limit does not chatter. */
export const MANHOLE_LIMITS = {
  /** DOMAIN.md §5: alarm above 10–15°. */
  tiltOnDeg: 12, tiltOffDeg: 10,
  waterOnCm: 100, waterOffCm: 90,
  /** 10 % of methane's lower explosive limit (5 % by volume). */
  methaneOnPpm: 5000, methaneOffPpm: 4000,
} as const;

export interface ManholeOptions {
  /** Heartbeat period range in hours; each monitor is configured with one value in it. */
  heartbeatH: readonly [number, number];
  /** Random openings per cover per day. */
  opensPerDay: number;
}

export class Manhole {
  coverOpen = false;
  /** When a random opening ends; Infinity while a test holds the cover open. */
  #openUntil = 0;
  /** Water in the well, cm, continuous. */
  waterLevelCm: number;
  #tiltOverride: number | null = null;
  #methaneOverride: number | null | undefined;
  nextHeartbeatAt: number;
  nextOpenAt: number;
  readonly heartbeatMs: number;
  #alarms = { water: false, tilt: false, methane: false };
  #lastFlags = 0;
  readonly #tiltBase: number;
  readonly #standingCm: number;
  readonly #cmPerMmH: number;
  readonly #tauS: number;
  readonly #battery: number;
  readonly #rssi: number;
  readonly #tempOffset: number;

  constructor(readonly info: SensorInfo, readonly options: ManholeOptions, readonly rng: Random, readonly since: number) {
    this.#tiltBase = rng.uniform(0.2, 2.0);
    // Some wells hold a little standing water; in rain a well fills towards 2.4 cm per mm/h of rain
    // (about 120 cm at 50 mm/h, past the alarm), more or less depending on what drains into it.
    this.#standingCm = rng.chance(0.3) ? 0 : rng.uniform(0, 15);
    this.#cmPerMmH = 2.4 * rng.uniform(0.6, 1.4);
    this.#tauS = rng.uniform(20, 40) * 60;
    this.waterLevelCm = this.#standingCm;
    this.#battery = rng.uniform(60, 100);
    this.#rssi = rng.uniform(-105, -65);
    this.#tempOffset = rng.normal(-4, 1.5); // below the street, cooler than the air
    const [lo, hi] = options.heartbeatH;
    this.heartbeatMs = rng.uniform(lo, hi) * 60 * MINUTE_MS;
    this.nextHeartbeatAt = since + rng.uniform(0, this.heartbeatMs);
    this.nextOpenAt = since + rng.exponential(options.opensPerDay / 86_400) * 1000;
  }

  get tiltDeg(): number {
    if (this.#tiltOverride !== null) return this.#tiltOverride;
    // The sensor sits on the cover: a lifted cover leans against the frame or lies on the road.
    return this.coverOpen ? 75 : this.#tiltBase;
  }

  get methanePpm(): number | null {
    return this.#methaneOverride === undefined ? 8 : this.#methaneOverride;
  }

  advance(ctx: StepContext): void {
    const { now, dt, rainMmH } = ctx;
    const target = this.#standingCm + this.#cmPerMmH * rainMmH;
    this.waterLevelCm = target + (this.waterLevelCm - target) * Math.exp(-dt / this.#tauS);
    for (;;) {
      const at = Math.min(this.nextOpenAt, this.#openUntil > 0 ? this.#openUntil : Infinity, this.nextHeartbeatAt);
      if (at > now) break;
      if (at === this.nextOpenAt) {
        if (!this.coverOpen) this.setCoverOpen(true, at, ctx.emit, at + this.rng.uniform(10, 90) * MINUTE_MS);
        this.nextOpenAt = at + this.rng.exponential(this.options.opensPerDay / 86_400) * 1000;
      } else if (at === this.#openUntil) {
        this.setCoverOpen(false, at, ctx.emit);
      } else {
        ctx.emit(this.uplink(at, 'heartbeat'));
        this.nextHeartbeatAt = at + this.heartbeatMs;
      }
    }
    this.#checkAlarms(now, ctx.emit);
  }

  /** Opens or closes the cover at `at`; `until` ends a random opening (Infinity: until told). */
  setCoverOpen(open: boolean, at: number, emit: (u: WorldUplink) => void, until = Infinity): void {
    this.coverOpen = open;
    this.#openUntil = open ? until : 0;
    this.#checkAlarms(at, emit);
  }

  /** Tilt override in degrees (a cover knocked askew by a truck); null returns to the model. */
  setTilt(deg: number | null, at: number, emit: (u: WorldUplink) => void): void {
    this.#tiltOverride = deg;
    this.#checkAlarms(at, emit);
  }

  /** Methane override in ppm; null is "no reading" (a failed gas cell); undefined returns to clean air. */
  setMethane(ppm: number | null | undefined, at: number, emit: (u: WorldUplink) => void): void {
    this.#methaneOverride = ppm;
    this.#checkAlarms(at, emit);
  }

  #flags(): number {
    return (this.coverOpen ? 1 : 0) | (this.#alarms.water ? 2 : 0) | (this.#alarms.tilt ? 4 : 0) | (this.#alarms.methane ? 8 : 0);
  }

  /** Updates the alarm flags and sends an event (fPort 1) at once when any flag changed. */
  #checkAlarms(at: number, emit: (u: WorldUplink) => void): void {
    const L = MANHOLE_LIMITS;
    const a = this.#alarms;
    a.tilt = a.tilt ? this.tiltDeg >= L.tiltOffDeg : this.tiltDeg >= L.tiltOnDeg;
    a.water = a.water ? this.waterLevelCm >= L.waterOffCm : this.waterLevelCm >= L.waterOnCm;
    const ch4 = this.methanePpm;
    a.methane = ch4 !== null && (a.methane ? ch4 >= L.methaneOffPpm : ch4 >= L.methaneOnPpm);
    if (this.#flags() !== this.#lastFlags) emit(this.uplink(at, 'alarm'));
  }

  uplink(at: number, reason: UplinkReason): WorldUplink {
    this.#lastFlags = this.#flags();
    const encoded = encodeManholeV1({
      coverOpen: this.coverOpen, waterAlarm: this.#alarms.water, tiltAlarm: this.#alarms.tilt, methaneAlarm: this.#alarms.methane,
      tiltDeg: Math.max(0, this.tiltDeg + this.rng.normal(0, 0.05)),
      waterLevelCm: Math.max(0, this.waterLevelCm + this.rng.normal(0, 0.5)),
      methanePpm: this.methanePpm === null ? null : Math.max(0, this.methanePpm + this.rng.normal(0, 2)),
      battery: batteryAt(this.#battery, this.since, at),
      temperature: ambientC(at) + this.#tempOffset,
      rssiDbm: this.#rssi + this.rng.normal(0, 2),
    }, reason === 'heartbeat' || reason === 'forced' ? 2 : 1);
    return { devEui: this.info.devEui, kind: 'manhole', at, reason, ...encoded };
  }
}
