// One MQTT connection of an upstream, the part every MQTT flavour (JSON, Sparkplug) does the same
// way: the client options, opening it up to the CONNACK (or a clear failure), what a failed connect
// means, and closing it without hanging on a broker that stopped answering.
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { CodedError, type UpstreamConfig } from '../gateway/model/index.ts';
import { isTlsFailure, sessionOptions, tlsOptions } from './mqtt-connect.ts';
import { PacketIdStore } from './mqtt-outgoing-store.ts';

/**
 * Client options shared by the flavours; throws CE_ERR_UPSTREAM_TLS when a certificate file cannot
 * be read. The caller adds its will (and Sparkplug its clean session).
 */
export function clientOptions(u: UpstreamConfig, siteId: string, protocol: 4 | 5): IClientOptions {
  return {
    protocolVersion: protocol,
    clientId: u.client_id ?? `cityedge-${siteId}-${u.id}`,
    keepalive: u.keepalive_s,
    ...sessionOptions(u, protocol),
    ...tlsOptions(u),
    // Our own loops reconnect, with backoff and jitter; mqtt.js's fixed period would fight them.
    reconnectPeriod: 0,
    connectTimeout: 15_000,
    // mqtt-packet otherwise pre-builds a 2-byte Buffer for each of the 65,536 packet ids: 6 MB
    // of heap, measured, for a saving the benchmark cannot see.
    writeCache: false,
    ...(u.username !== undefined ? { username: u.username } : {}),
    ...(u.password !== undefined ? { password: u.password } : {}),
  };
}

/**
 * Connects and resolves at the CONNACK; rejects on an error, a close or the signal before it.
 * `beforeConnack` runs on the new client at once: a kept session delivers what waited for the box
 * right behind the CONNACK, in the same read, and mqtt.js acknowledges a message nobody listened for.
 * `onError` keeps an 'error' listener from then on (until the caller adds its own), since an
 * 'error' with none would end the process.
 */
export function openClient(url: string, opts: IClientOptions, signal: AbortSignal, on: { beforeConnack?: (c: MqttClient) => void; onError: (e: Error) => void }): Promise<{ client: MqttClient; connack: IConnackPacket }> {
  return new Promise((resolve, reject) => {
    // One store per client: it must never see the packet ids of another connection. It keeps no
    // packets to send again, so mqtt.js must never reconnect this client (our loops open a new one).
    const client = mqtt.connect(url, { ...opts, reconnectPeriod: 0, outgoingStore: new PacketIdStore() });
    on.beforeConnack?.(client);
    const fail = (e: Error) => { cleanup(); client.end(true); reject(e); };
    const onClose = () => fail(new Error('connection closed before CONNACK'));
    const onAbort = () => fail(new Error('aborted'));
    const cleanup = () => {
      client.off('connect', onConnect); client.off('error', fail); client.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onConnect = (connack: IConnackPacket) => {
      cleanup();
      client.on('error', on.onError);
      // Nagle's algorithm holds small publishes back for the peer's delayed ACK: with a window of
      // 32 a backlog drained at 14–17 % of what mqtt.js alone reaches; without it 46–54 %
      // (bench:journal). mqtt.js leaves it on.
      (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
      resolve({ client, connack });
    };
    client.on('connect', onConnect);
    client.on('error', fail);
    client.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Brokers such as aedes and older Mosquitto answer MQTT 5 with return code 1 / reason 0x84. */
export function refusesProtocol(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 1 || code === 0x84 || /unacceptable protocol version|unsupported protocol version/i.test((e as Error).message ?? '');
}

/** A failed connect as the coded error it is logged with: TLS (a certificate, the handshake) or not. */
export function connectError(e: unknown, url: string): CodedError {
  if (e instanceof CodedError) return e;
  return new CodedError(isTlsFailure(e) ? 'CE_ERR_UPSTREAM_TLS' : 'CE_ERR_UPSTREAM_CONNECT', `${url}: ${(e as Error).message}`);
}

/** The promise's outcome, or undefined once `ms` have passed. */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.catch(() => undefined),
    new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), ms); timer.unref(); }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * A polite end (DISCONNECT, with `properties` over MQTT 5), within `ms`. A broker that stopped
 * acknowledging would keep it waiting for ever; and while it waits, end(true) is a no-op (mqtt.js:
 * a disconnect is in progress): the socket itself goes then.
 */
export async function endClient(client: MqttClient, ms: number, properties?: { reasonCode: number }): Promise<void> {
  const ended = await within(client.endAsync(false, properties ?? {}).then(() => true), ms);
  if (ended !== true) client.stream?.destroy();
}
