// Encoders for the sensor payload formats of docs/drivers/lorawan-codecs.md, written from that text
// (never from the gateway's decoders, so a decoding bug there shows up as a disagreement here).
// Each encoder returns the frame (the FRMPayload a network server puts in `data`) together with the
// `object` a network server codec would decode from it. The object is built from the values as
// quantised into the frame (0.1°, whole µT, mm), so frame and object always agree.

export type Codec = 'bosch-pls' | 'cityedge-parking-v1' | 'cityedge-manhole-v1' | 'cityedge-waterlog-v1';
export type ParkingCodec = 'bosch-pls' | 'cityedge-parking-v1';
export const CODECS: readonly Codec[] = ['bosch-pls', 'cityedge-parking-v1', 'cityedge-manhole-v1', 'cityedge-waterlog-v1'];

/** Decoded fields, named as the codec doc names them (they become tags `{sensor}_{field}`). */
export type DecodedObject = Record<string, number | boolean | null>;

export interface Encoded {
  fPort: number;
  frame: Buffer;
  object: DecodedObject;
}

/**
 * Minimum frame length of every port each codec knows (the doc's "length" columns). A frame shorter
 * than this, or on a port not listed, is refused by a conforming decoder: the malformed-frame fault
 * uses it to make `short frame` and `unknown port` uplinks.
 */
export const PORT_LENGTHS: Readonly<Record<Codec, Readonly<Record<number, number>>>> = {
  'bosch-pls': { 1: 1, 2: 2 },
  'cityedge-parking-v1': { 1: 8, 2: 11 },
  'cityedge-manhole-v1': { 1: 10, 2: 10 },
  'cityedge-waterlog-v1': { 1: 5 },
};

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const u8 = (v: number): number => clamp(Math.round(v), 0, 0xff);
const i8 = (v: number): number => clamp(Math.round(v), -128, 127);
const u16 = (v: number, max = 0xffff): number => clamp(Math.round(v), 0, max);
const i16 = (v: number): number => clamp(Math.round(v), -32768, 32767);

// ---- bosch-pls (DOMAIN.md §4): fPort 1 status, fPort 2 heartbeat with int8 temperature.

export interface BoschPlsReading {
  occupied: boolean;
  /** °C, heartbeat only. */
  temperature: number;
}

export function encodeBoschPls(r: BoschPlsReading, fPort: 1 | 2): Encoded {
  if (fPort === 1) return { fPort, frame: Buffer.from([r.occupied ? 1 : 0]), object: { occupied: r.occupied } };
  const t = i8(r.temperature);
  const frame = Buffer.alloc(2);
  frame[0] = r.occupied ? 1 : 0;
  frame.writeInt8(t, 1);
  return { fPort, frame, object: { occupied: r.occupied, temperature: t } };
}

// ---- cityedge-parking-v1: 8 status bytes; the heartbeat (fPort 2) appends temperature and interval.

export interface ParkingReading {
  occupied: boolean;
  /** Magnetic interference: the occupied bit is then meaningless and decodes to null. */
  interference: boolean;
  /** %, 0–100. */
  battery: number;
  /** µT. */
  magX: number;
  magY: number;
  magZ: number;
  /** °C, heartbeat only. */
  temperature: number;
  /** Minutes between heartbeats, heartbeat only. */
  heartbeatMin: number;
}

export function encodeParkingV1(r: ParkingReading, fPort: 1 | 2): Encoded {
  const frame = Buffer.alloc(fPort === 1 ? 8 : 11);
  frame[0] = (r.occupied ? 1 : 0) | (r.interference ? 2 : 0);
  frame[1] = u8(clamp(r.battery, 0, 100));
  frame.writeInt16BE(i16(r.magX), 2);
  frame.writeInt16BE(i16(r.magY), 4);
  frame.writeInt16BE(i16(r.magZ), 6);
  const object: DecodedObject = {
    occupied: r.interference ? null : r.occupied, interference: r.interference, battery: frame[1]!,
    mag_x: frame.readInt16BE(2), mag_y: frame.readInt16BE(4), mag_z: frame.readInt16BE(6),
  };
  if (fPort === 2) {
    frame.writeInt8(i8(r.temperature), 8);
    frame.writeUInt16BE(u16(r.heartbeatMin), 9);
    object.temperature = frame.readInt8(8);
    object.heartbeat_min = frame.readUInt16BE(9);
  }
  return { fPort, frame, object };
}

// ---- cityedge-manhole-v1: fPort 1 alarm event, fPort 2 heartbeat, same 10 bytes.

export interface ManholeReading {
  coverOpen: boolean;
  waterAlarm: boolean;
  tiltAlarm: boolean;
  methaneAlarm: boolean;
  /** Degrees from level; sent in 0.1°. */
  tiltDeg: number;
  /** cm of water in the well; null = no reading (0xFFFF). */
  waterLevelCm: number | null;
  /** ppm; null = no reading (0xFFFF). */
  methanePpm: number | null;
  battery: number;
  temperature: number;
  /** The sensor's own view of the downlink, dBm. */
  rssiDbm: number;
}

const NO_READING = 0xffff;

export function encodeManholeV1(r: ManholeReading, fPort: 1 | 2): Encoded {
  const frame = Buffer.alloc(10);
  frame[0] = (r.coverOpen ? 1 : 0) | (r.waterAlarm ? 2 : 0) | (r.tiltAlarm ? 4 : 0) | (r.methaneAlarm ? 8 : 0);
  frame.writeUInt16BE(u16(r.tiltDeg * 10), 1);
  // 0xFFFF means "no reading", so a real value stops one short of it.
  frame.writeUInt16BE(r.waterLevelCm === null ? NO_READING : u16(r.waterLevelCm, NO_READING - 1), 3);
  frame.writeUInt16BE(r.methanePpm === null ? NO_READING : u16(r.methanePpm, NO_READING - 1), 5);
  frame[7] = u8(clamp(r.battery, 0, 100));
  frame.writeInt8(i8(r.temperature), 8);
  frame.writeInt8(i8(r.rssiDbm), 9);
  const water = frame.readUInt16BE(3), methane = frame.readUInt16BE(5);
  return {
    fPort, frame, object: {
      cover_open: r.coverOpen, water_alarm: r.waterAlarm, tilt_alarm: r.tiltAlarm, methane_alarm: r.methaneAlarm,
      tilt_deg: frame.readUInt16BE(1) / 10,
      water_level_cm: water === NO_READING ? null : water,
      methane_ppm: methane === NO_READING ? null : methane,
      battery: frame[7]!, temperature: frame.readInt8(8), rssi_dbm: frame.readInt8(9),
    },
  };
}

// ---- cityedge-waterlog-v1: fPort 1 measurement, 5 bytes.

export interface WaterlogReading {
  /** mm above the road surface. Ignored (sent as 0xFFFF) when `fault` is set. */
  depthMm: number;
  battery: number;
  fault: boolean;
  wet: boolean;
  /** Minutes to the next report. */
  intervalMin: number;
}

export function encodeWaterlogV1(r: WaterlogReading): Encoded {
  const frame = Buffer.alloc(5);
  frame.writeUInt16BE(r.fault ? NO_READING : u16(r.depthMm, NO_READING - 1), 0);
  frame[2] = u8(clamp(r.battery, 0, 100));
  frame[3] = (r.fault ? 1 : 0) | (r.wet ? 2 : 0);
  frame[4] = u8(r.intervalMin);
  const depth = frame.readUInt16BE(0);
  return {
    fPort: 1, frame, object: {
      depth_cm: r.fault || depth === NO_READING ? null : depth / 10,
      fault: r.fault, wet: r.wet, battery: frame[2]!, interval_min: frame[4]!,
    },
  };
}
