// A network server's uplink message as one shape, whichever ChirpStack wrote it: v4
// (`…/event/up`, camelCase, `deviceInfo.devEui`, `object`) or v3 (`…/rx`, `devEUI`, `objectJSON`
// as text). Anything else is a rejection with a reason, counted by the router, never an exception.

export interface Uplink {
  devEui: string;
  fCnt: number;
  fPort: number;
  /** The frame, when the network server passed it on (`data`, base64). */
  frame: Uint8Array | undefined;
  /** The network server's own decoding, when it has a codec for the device. */
  object: unknown;
  /** When the network server received it (epoch ms), if it says. */
  time: number | undefined;
  /** The best gateway's view of the radio. */
  rssi: number | undefined;
  snr: number | undefined;
}

export type RejectReason = 'bad json' | 'not an uplink' | 'bad base64' | 'short frame' | 'unknown port' | 'bad value' | 'unknown device' | 'duplicate';

export type Parsed = { ok: true; uplink: Uplink } | { ok: false; reason: RejectReason; detail: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function parseUplink(payload: Buffer): Parsed {
  let m: Record<string, unknown>;
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'bad json', detail: 'not a JSON object' };
    m = v as Record<string, unknown>;
  } catch (e) {
    return { ok: false, reason: 'bad json', detail: (e as Error).message };
  }
  const info = (m.deviceInfo ?? {}) as Record<string, unknown>;
  const eui = typeof info.devEui === 'string' ? info.devEui : typeof m.devEUI === 'string' ? m.devEUI : undefined;
  if (eui === undefined || !/^[0-9a-fA-F]{16}$/.test(eui)) return { ok: false, reason: 'not an uplink', detail: 'no DevEUI (deviceInfo.devEui or devEUI)' };
  const fCnt = m.fCnt, fPort = m.fPort;
  if (typeof fCnt !== 'number' || !Number.isInteger(fCnt) || fCnt < 0) return { ok: false, reason: 'not an uplink', detail: `${eui}: no fCnt` };
  if (typeof fPort !== 'number' || !Number.isInteger(fPort) || fPort < 0 || fPort > 255) return { ok: false, reason: 'not an uplink', detail: `${eui}: no fPort` };
  let frame: Uint8Array | undefined;
  if (m.data !== undefined && m.data !== null) {
    if (typeof m.data !== 'string' || m.data.length % 4 !== 0 || !BASE64.test(m.data)) return { ok: false, reason: 'bad base64', detail: `${eui}: data is not base64` };
    frame = Buffer.from(m.data, 'base64');
  }
  let object: unknown = m.object;
  if (object === undefined && typeof m.objectJSON === 'string' && m.objectJSON !== '') {
    try { object = JSON.parse(m.objectJSON); } catch { return { ok: false, reason: 'bad json', detail: `${eui}: objectJSON is not JSON` }; }
  }
  const t = typeof m.time === 'string' ? Date.parse(m.time) : NaN;
  const rx = Array.isArray(m.rxInfo) ? (m.rxInfo as Record<string, unknown>[]) : [];
  // The gateway that heard it best: the one the network server would answer through.
  let rssi: number | undefined, snr: number | undefined;
  for (const r of rx) {
    const ri = typeof r.rssi === 'number' ? r.rssi : undefined;
    const si = typeof r.snr === 'number' ? r.snr : typeof r.loRaSNR === 'number' ? r.loRaSNR : undefined;
    if (ri !== undefined && (rssi === undefined || ri > rssi)) { rssi = ri; snr = si; }
  }
  return { ok: true, uplink: { devEui: eui.toLowerCase(), fCnt, fPort, frame, object, time: Number.isFinite(t) ? t : undefined, rssi, snr } };
}
