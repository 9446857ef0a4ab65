// Road water-logging depth sensors (积水点, DOMAIN.md §5). In rain the water at a low point rises
// over minutes towards a depth set by the rain's intensity and the point's catchment, and drains
// after the rain stops. The sensor reports hourly while dry and every 1–10 min while wet, more
// often the deeper the water; it reports at once when its probe gets wet and when the water rises
// into a deeper band (5 / 15 / 27 cm, below the usual alarm steps of 15 / 27 / 40 cm).
import { encodeWaterlogV1 } from './encode.ts';
import type { Random } from './random.ts';
import { batteryAt, MINUTE_MS, type SensorInfo, type StepContext, type UplinkReason, type WorldUplink } from './types.ts';

/** Water at or above this counts as wet (the probe's contacts are bridged). */
export const WET_CM = 0.3;

/** Minutes to the next report for a depth: deeper water, more frequent reports. */
export function reportIntervalMin(depthCm: number, fault: boolean): number {
  if (fault) return 10;
  if (depthCm >= 27) return 1;
  if (depthCm >= 15) return 2;
  if (depthCm >= 5) return 5;
  if (depthCm >= WET_CM) return 10;
  return 60;
}

export class WaterlogPoint {
  /** Water above the road surface, cm, continuous. */
  depthCm = 0;
  fault = false;
  nextReportAt: number;
  #lastInterval = 60;
  readonly #cmPerMmH: number;
  readonly #tauS: number;
  readonly #battery: number;

  constructor(readonly info: SensorInfo, readonly rng: Random, readonly since: number) {
    // About 0.8 cm of standing water per mm/h of rain (40 cm at 50 mm/h, a rainstorm), from 0.5× at a
    // well-drained point to 1.4× at an underpass; it settles with a time constant of 15–30 min.
    this.#cmPerMmH = 0.8 * rng.uniform(0.5, 1.4);
    this.#tauS = rng.uniform(15, 30) * 60;
    this.#battery = rng.uniform(60, 100);
    this.nextReportAt = since + rng.uniform(0, 60 * MINUTE_MS);
  }

  get wet(): boolean { return this.depthCm >= WET_CM; }

  advance(ctx: StepContext): void {
    const target = this.#cmPerMmH * ctx.rainMmH;
    this.depthCm = target + (this.depthCm - target) * Math.exp(-ctx.dt / this.#tauS);
    if (this.depthCm < 0.01) this.depthCm = 0;
    // A shorter interval than the one last announced means the water rose into a deeper band (or
    // the probe just got wet): report now instead of waiting out the old interval.
    const interval = reportIntervalMin(this.depthCm, this.fault);
    if (ctx.now >= this.nextReportAt || interval < this.#lastInterval) ctx.emit(this.uplink(ctx.now, 'measurement'));
  }

  setFault(fault: boolean, at: number, emit: (u: WorldUplink) => void): void {
    if (fault === this.fault) return;
    this.fault = fault;
    emit(this.uplink(at, 'measurement'));
  }

  uplink(at: number, reason: UplinkReason): WorldUplink {
    const intervalMin = reportIntervalMin(this.depthCm, this.fault);
    this.#lastInterval = intervalMin;
    this.nextReportAt = at + intervalMin * MINUTE_MS;
    const depthMm = this.depthCm > 0 ? Math.max(0, this.depthCm * 10 + this.rng.normal(0, 1)) : 0;
    const encoded = encodeWaterlogV1({
      depthMm, battery: batteryAt(this.#battery, this.since, at), fault: this.fault, wet: this.wet, intervalMin,
    });
    return { devEui: this.info.devEui, kind: 'waterlogging', at, reason, ...encoded };
  }
}
