// What the parts of `npm run bench:sensors` share: the 10,000 sensors (the network-server simulator's
// sensor list, so the gateway's config and the simulator agree on every DevEUI), the network
// server's account on the box's broker, and the lines the children print.
import { createHash } from 'node:crypto';
import { sensorList, type LotSpec, type SensorInfo, type SensorSpec } from '../../simulators/lorawan/index.ts';

export const SITE = 'bench';
export const SEED = 1;
/** 16 lots × 500 bays, 1,500 manhole covers, 500 water-logging points. */
export const LOTS = 16;
export const BAYS_PER_LOT = 500;
export const MANHOLES = 1500;
export const WATERLOGGING = 500;

const lotId = (i: number) => `lot-${String(i + 1).padStart(2, '0')}`;
export const SPEC: SensorSpec = {
  parking: { lots: Array.from({ length: LOTS }, (_, i): LotSpec => ({ id: lotId(i), bays: BAYS_PER_LOT, codec: 'cityedge-parking-v1' })) },
  manholes: MANHOLES,
  waterlogging: WATERLOGGING,
};

/** The sensors in the simulator's fixed order: lots, then manholes, then water-logging points. */
export const sensors = (): SensorInfo[] => sensorList(SPEC, SEED);

/** The device a sensor belongs to in the generated config (bench/sensors.ts): its lot, `manholes`, `waterlogging`. */
export const deviceOf = (s: SensorInfo): string => (s.kind === 'parking' ? s.lot! : s.kind);

/** The network server's login on the box's broker (the config keeps the SHA-256 only). */
export const NS_USER = 'chirpstack';
export const NS_PASSWORD = 'bench-only-password';
export const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** The network server's uplink topic filter (ChirpStack v4). */
export const UPLINK_FILTER = 'application/+/device/+/event/up';

/** `STATS {json}`, once a second, from the network-server child. */
export interface NsLine {
  /** performance.timeOrigin + performance.now() of the child: comparable across processes. */
  at: number;
  /** Well-formed transmissions (duplicates apart), MQTT messages handed to the broker, duplicates, failed publishes. */
  uplinks: number; published: number; duplicates: number; errors: number;
  /** Rate mode: transmissions owed by the schedule but not yet sent. */
  behind: number;
  connected: boolean;
}

/** `STATS {json}`, once a second, from the bare aedes broker. */
export interface AedesLine { at: number; received: number; bytes: number; clients: number }

/**
 * One MQTT message the simulator published, as the network-server child records it: the sensor's
 * index in `sensors()`, its frame counter and port, the event's `time` (epoch ms), the best
 * gateway's RSSI and SNR (the one the gateway's router picks: the first with the highest RSSI) and
 * the frame (base64).
 */
export type NsRecord = [sensor: number, fCnt: number, fPort: number, t: number, rssi: number | null, snr: number | null, data: string];

export const wallNow = (): number => performance.timeOrigin + performance.now();
