// What the sensor models of the world share: the sensor's identity, the uplinks it sends, and the
// context one sub-step of the world gives each sensor. Kept apart from world.ts so the sensor kinds
// (parking.ts, manhole.ts, waterlog.ts) and the world import it without importing each other.
import type { Codec, DecodedObject } from './encode.ts';
import type { Random } from './random.ts';

export type SensorKind = 'parking' | 'manhole' | 'waterlogging';

export interface SensorInfo {
  /** 16 lower-case hex characters, derived from the world's seed, the kind, the lot and the index. */
  devEui: string;
  kind: SensorKind;
  codec: Codec;
  /** `bay001`, `mh001`, `wl001`: unique within its lot (parking) or its kind. */
  name: string;
  /** Parking bays only: the lot's id. */
  lot?: string;
}

/** Why a sensor sent: a state change, its periodic report, an alarm, or a request from a test. */
export type UplinkReason = 'status' | 'heartbeat' | 'alarm' | 'measurement' | 'forced';

export interface WorldUplink {
  devEui: string;
  kind: SensorKind;
  /** Simulated epoch ms at which the sensor sent it. */
  at: number;
  reason: UplinkReason;
  fPort: number;
  frame: Buffer;
  /** What a network-server codec would decode from the frame. */
  object: DecodedObject;
}

export interface StepContext {
  /** Simulated epoch ms at the end of this sub-step. */
  now: number;
  /** Length of this sub-step in simulated seconds. */
  dt: number;
  /** Rain intensity over the sub-step, mm/h (0 when dry). */
  rainMmH: number;
  rng: Random;
  emit(uplink: WorldUplink): void;
}

const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

/** Local hour (0–24, fractional) in China Standard Time, UTC+8 all year: arrivals follow the city's clock. */
export function hourOfDay(epochMs: number): number {
  return (((epochMs / HOUR_MS + 8) % 24) + 24) % 24;
}

/** Outdoor air temperature, °C: a daily swing of ±6 °C around 22 °C, warmest at 15:00. */
export function ambientC(epochMs: number): number {
  return 22 + 6 * Math.sin((2 * Math.PI * (hourOfDay(epochMs) - 9)) / 24);
}

/** Battery %, falling about 1 % every 20 days from the sensor's starting charge. */
export function batteryAt(start: number, since: number, epochMs: number): number {
  return Math.max(0, Math.floor(start - (epochMs - since) / (20 * 24 * HOUR_MS)));
}
