// The uplink events a ChirpStack network server publishes on its MQTT integration, in the v4 shape
// (`application/{applicationId}/device/{devEui}/event/up`, camelCase, protobuf JSON mapping) and the
// v3 shape (`application/{applicationID}/device/{devEUI}/rx`, `objectJSON` a JSON string, `loRaSNR`),
// with the radio metadata of a CN470 network (470.3 MHz + 0.2 MHz × channel, DR0–5 = SF12–SF7),
// and the malformed variants the fault injection sends.
import { randomUUID } from 'node:crypto';
import type { DecodedObject } from './encode.ts';
import { hash32, hex64, uuidFrom, type Random } from './random.ts';
import type { SensorInfo } from './types.ts';

export type Format = 'v4' | 'v3';
export type MalformedReason = 'bad-json' | 'bad-base64' | 'short-frame' | 'unknown-dev-eui' | 'wrong-fport';
export const MALFORMED_REASONS: readonly MalformedReason[] = ['bad-json', 'bad-base64', 'short-frame', 'unknown-dev-eui', 'wrong-fport'];

export interface NetworkIdentity {
  tenantId: string;
  tenantName: string;
  applicationId: string;
  applicationName: string;
  /** The gateways of the network: 16 hex chars each. */
  gateways: readonly string[];
}

/** How one gateway heard one uplink. */
export interface Reception { gatewayId: string; rssi: number; snr: number }

export interface Uplink {
  sensor: SensorInfo;
  fCnt: number;
  fPort: number;
  /** The frame, base64, or (malformed) whatever text the fault puts there. */
  data: string;
  object?: DecodedObject;
  devAddr: string;
  dr: number;
  channel: number;
  rx: Reception[];
  time: Date;
  deduplicationId: string;
}

export function topicFor(format: Format, applicationId: string, devEui: string): string {
  return format === 'v4' ? `application/${applicationId}/device/${devEui}/event/up` : `application/${applicationId}/device/${devEui}/rx`;
}

/** ChirpStack prints RFC 3339 with an explicit offset: `2024-06-03T08:00:00.123+00:00`. */
const rfc3339 = (d: Date): string => d.toISOString().replace('Z', '+00:00');
const CN470_MHZ = (channel: number): number => Math.round((470.3 + 0.2 * channel) * 1e6);
const REGION = { region_common_name: 'CN470', region_config_id: 'cn470_0' } as const;

/**
 * A sensor's place in the radio network, fixed for the run: its session address, its data rate
 * (ADR settles it by distance), how strongly its nearest gateway hears it, and whether a second
 * gateway hears it too.
 */
export class Radio {
  readonly devAddr: string;
  readonly dr: number;
  readonly #rssi: number;
  readonly #gateways: string[];
  readonly #rng: Random;

  constructor(sensor: SensorInfo, net: NetworkIdentity, rng: Random) {
    const h = hash32(`radio/${sensor.devEui}`);
    this.#rng = rng;
    this.devAddr = hex64(`devaddr/${sensor.devEui}`).slice(0, 8);
    // Far sensors are heard weakly and ADR gives them a slow data rate; buried manhole and parking
    // sensors are weaker than a pole-mounted water-level sensor.
    const buried = sensor.kind === 'waterlogging' ? 0 : 12;
    this.#rssi = -70 - buried - (h % 40);
    this.dr = Math.max(0, Math.min(5, Math.round((this.#rssi + 125) / 9)));
    const first = h % net.gateways.length;
    this.#gateways = [net.gateways[first]!];
    if (net.gateways.length > 1 && (h >>> 8) % 10 < 4) this.#gateways.push(net.gateways[(first + 1) % net.gateways.length]!);
  }

  /** The gateways that heard this transmission, best first, with fading of a few dB. */
  hear(): Reception[] {
    return this.#gateways.map((gatewayId, i) => {
      // A gateway further away hears it weaker; nothing below about -130 dBm is demodulated at all.
      const rssi = Math.max(-130, Math.round(this.#rssi - i * this.#rng.uniform(3, 15) + this.#rng.normal(0, 2)));
      // The SX1301 reports SNR in 0.25 dB steps; near the noise floor it goes negative.
      const snr = Math.round(Math.max(-20, Math.min(13.5, (rssi + 112) / 3 + this.#rng.normal(0, 1))) * 4) / 4;
      return { gatewayId, rssi, snr };
    });
  }
}

export interface BuildOptions { format: Format; decoded: boolean; net: NetworkIdentity; rng: Random }

/** The event body as ChirpStack v4 publishes it. */
export function chirpstackV4(u: Uplink, o: BuildOptions): Record<string, unknown> {
  const sf = 12 - u.dr;
  return {
    deduplicationId: u.deduplicationId,
    time: rfc3339(u.time),
    deviceInfo: {
      tenantId: o.net.tenantId, tenantName: o.net.tenantName,
      applicationId: o.net.applicationId, applicationName: o.net.applicationName,
      deviceProfileId: uuidFrom(`profile/${u.sensor.codec}`),
      deviceProfileName: u.sensor.codec,
      deviceName: u.sensor.name, devEui: u.sensor.devEui, deviceClassEnabled: 'CLASS_A',
      tags: { kind: u.sensor.kind, ...(u.sensor.lot === undefined ? {} : { lot: u.sensor.lot }) },
    },
    devAddr: u.devAddr, adr: true, dr: u.dr, fCnt: u.fCnt, fPort: u.fPort, confirmed: false,
    data: u.data,
    ...(o.decoded && u.object ? { object: u.object } : {}),
    rxInfo: u.rx.map((r) => ({
      gatewayId: r.gatewayId,
      uplinkId: o.rng.int(1, 0xffff),
      gwTime: rfc3339(new Date(u.time.getTime() - o.rng.int(20, 120))),
      nsTime: rfc3339(u.time),
      rssi: r.rssi, snr: r.snr, channel: u.channel, rfChain: u.channel < 4 ? 0 : 1,
      location: {},
      context: Buffer.from(Array.from({ length: 4 }, () => o.rng.int(0, 255))).toString('base64'),
      metadata: { ...REGION },
      crcStatus: 'CRC_OK',
    })),
    txInfo: { frequency: CN470_MHZ(u.channel), modulation: { lora: { bandwidth: 125000, spreadingFactor: sf, codeRate: 'CR_4_5' } } },
    regionConfigId: REGION.region_config_id,
  };
}

/** The event body as ChirpStack v3's application server published it (its `json_v3` marshaler). */
export function chirpstackV3(u: Uplink, o: BuildOptions): Record<string, unknown> {
  return {
    applicationID: o.net.applicationId, applicationName: o.net.applicationName,
    deviceName: u.sensor.name, devEUI: u.sensor.devEui,
    rxInfo: u.rx.map((r, i) => ({
      gatewayID: r.gatewayId, uplinkID: randomUUID(), name: `gw-${i + 1}`, time: u.time.toISOString(),
      rssi: r.rssi, loRaSNR: r.snr, location: { latitude: 31.2304, longitude: 121.4737, altitude: 12 },
    })),
    txInfo: { frequency: CN470_MHZ(u.channel), dr: u.dr },
    adr: true, fCnt: u.fCnt, fPort: u.fPort, data: u.data,
    ...(o.decoded && u.object ? { objectJSON: JSON.stringify(u.object) } : {}),
    tags: { kind: u.sensor.kind, ...(u.sensor.lot === undefined ? {} : { lot: u.sensor.lot }) },
  };
}

export function eventBody(u: Uplink, o: BuildOptions): Record<string, unknown> {
  return o.format === 'v4' ? chirpstackV4(u, o) : chirpstackV3(u, o);
}

/** A fresh deduplication id and reception time for a transmission. */
export function transmission(): { deduplicationId: string; time: Date } {
  return { deduplicationId: randomUUID(), time: new Date() };
}
