// What an MQTT upstream's connection needs beyond the URL: TLS material (read at every connect, so a
// certificate renewed on disk is used from the next reconnect on), the session, and what the
// broker's CONNACK says it can do. Shared by every MQTT flavour.
import { readFileSync } from 'node:fs';
import type { IClientOptions, IConnackPacket } from 'mqtt';
import { CodedError, type UpstreamConfig } from '../gateway/model/index.ts';

/** What the broker said it can do (MQTT 5 CONNACK properties; 3.1.1 brokers say nothing: all of it). */
export interface BrokerCaps {
  /** §3.2.2.3.5 Retain Available. Without it the status is not retained and the will is not either. */
  retain: boolean;
  /** §3.2.2.3.4 Maximum QoS. At 0 nothing can be acknowledged, so nothing leaves the journal. */
  maxQos: 0 | 1 | 2;
  /** §3.2.2.3.3 Receive Maximum: our in-flight window is never larger. */
  receiveMax: number;
  /** §3.2.2.3.6 Maximum Packet Size, if the broker has one. */
  maxPacket: number | undefined;
}

export function brokerCaps(connack: IConnackPacket): BrokerCaps {
  const p = connack.properties;
  return {
    retain: p?.retainAvailable !== false,
    maxQos: (p?.maximumQoS ?? 2) as 0 | 1 | 2,
    receiveMax: p?.receiveMaximum ?? 65_535,
    maxPacket: p?.maximumPacketSize,
  };
}

/** TLS options of an upstream; throws CE_ERR_UPSTREAM_TLS naming the key and file it cannot read. */
export function tlsOptions(u: UpstreamConfig): IClientOptions {
  const tls = u.tls;
  if (tls === undefined) return {};
  const read = (key: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    const file = tls[key];
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (e) {
      throw new CodedError('CE_ERR_UPSTREAM_TLS', `upstreams ${u.id}: tls.${key} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
    rejectUnauthorized: tls.verify,
  };
}

/** A clean session each time, or one the broker keeps for session_expiry_s (commands wait in it). */
export function sessionOptions(u: UpstreamConfig, protocol: 4 | 5): IClientOptions {
  if (u.session_expiry_s === 0) return { clean: true };
  return protocol === 5 ? { clean: false, properties: { sessionExpiryInterval: u.session_expiry_s } } : { clean: false };
}

/** Node's and OpenSSL's names for a handshake that failed on a certificate or the protocol. */
const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_|ERR_OSSL_)/;

export function isTlsFailure(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && TLS_CODES.test(code)) return true;
  return /certificate|SSL routines|handshake|tlsv1\d? alert/i.test((e as Error)?.message ?? '');
}

/** MQTT 5 reason 0x9A: the will asked to be retained and the broker keeps no retained messages. */
export const refusesRetain = (e: unknown): boolean => (e as { code?: unknown }).code === 0x9a || /retain not supported/i.test((e as Error)?.message ?? '');

/** MQTT 5 reason 0x9B: the will's QoS is above the broker's maximum. */
export const refusesQos = (e: unknown): boolean => (e as { code?: unknown }).code === 0x9b || /QoS not supported/i.test((e as Error)?.message ?? '');

/**
 * Bytes of a QoS 1 PUBLISH on the wire (§3.3): fixed header, topic, packet id, properties (MQTT 5),
 * payload. mqtt.js checks the broker's Maximum Packet Size only on what it receives; a PUBLISH
 * above it is answered with DISCONNECT 0x95, and the same message sent again after the reconnect
 * would loop for ever. `propsBytes`: the encoded properties, without their length.
 */
export function publishSize(topic: string, payloadBytes: number, protocol: 4 | 5, propsBytes = 0): number {
  const varint = (n: number) => (n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4);
  const remaining = 2 + Buffer.byteLength(topic) + 2 + (protocol === 5 ? varint(propsBytes) + propsBytes : 0) + payloadBytes;
  return 1 + varint(remaining) + remaining;
}
