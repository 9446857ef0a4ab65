// The platform side's reference consumer (`cityedge ingest`): the JSON telemetry of many boxes from
// a broker, through an MQTT shared subscription so N instances split the load, repeats dropped by
// (site, device, seq), points written to an InfluxDB v2 write API.
//
// At least once from the broker to the store: a message is acknowledged (PUBACK) only after the
// store took its points, in a session the broker keeps (a fixed client id, clean: false), so an
// instance killed mid-write gets its unacknowledged messages again when it is back (or the broker
// gives them to another member of the group). mqtt.js handles a connection's incoming messages one
// at a time while an acknowledgement is pending, so each instance opens `connections` sessions in
// the group to write in parallel.
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { Backoff, RateMeter, type Clock, type Logger } from '../../gateway/model/index.ts';
import { pointLines, seriesKey, escapeKey } from '../line-protocol.ts';
import { SeqDedup } from './dedup.ts';
import { postText } from '../http-post.ts';

export interface IngestOptions {
  broker: string;
  username?: string;
  password?: string;
  /** The shared subscription's group: instances with the same group split the messages. */
  group: string;
  /** Topic filter of the boxes' telemetry. */
  topic: string;
  /** Base of the client ids; each connection appends `-{n}`. Fixed, so the broker keeps the sessions. */
  clientId: string;
  connections: number;
  /** How long the broker keeps a session (and its unacknowledged messages) after a disconnect, s. */
  sessionExpiryS: number;
  influx: { url: string; org?: string; bucket: string; token?: string; measurement: string };
  clock: Clock;
  logger: Logger;
}

export interface IngestStats {
  connected: number;
  messages: number;
  /** Batches seen before by (site, device, seq): acknowledged, not written again. */
  duplicates: number;
  /** Not a telemetry payload (bad JSON, no seq): acknowledged and counted, never retried. */
  rejected: number;
  /** Refused by the store as malformed (4xx other than 429): acknowledged, counted, logged. */
  refusedByStore: number;
  points: number;
  writeFailures: number;
  /** Points written per second over the last 10 s. */
  rate: number;
  lastError: string | undefined;
}

interface Telemetry { site: string; device: string; seq: number; points: { tag: string; v: unknown; q?: string; t: number }[] }

export class Ingest {
  readonly #o: IngestOptions;
  readonly #dedup = new SeqDedup();
  readonly #rate: RateMeter;
  readonly #fieldKeys = new Map<string, string>();
  readonly #s = { connected: 0, messages: 0, duplicates: 0, rejected: 0, refusedByStore: 0, points: 0, writeFailures: 0, lastError: undefined as string | undefined };
  readonly #writeUrl: URL;

  constructor(o: IngestOptions) {
    this.#o = o;
    this.#rate = new RateMeter(o.clock);
    const q = new URLSearchParams({ bucket: o.influx.bucket, precision: 'ms', ...(o.influx.org ? { org: o.influx.org } : {}) });
    this.#writeUrl = new URL(`${o.influx.url.replace(/\/+$/, '')}/api/v2/write?${q}`);
  }

  stats(): IngestStats { return { ...this.#s, rate: this.#rate.perSecond() }; }

  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(Array.from({ length: this.#o.connections }, (_, n) => this.#session(n, signal)));
  }

  /** One session in the group: connect, take messages one at a time, reconnect with backoff. */
  async #session(n: number, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    const log = this.#o.logger.child({ session: n });
    while (!signal.aborted) {
      const client = mqtt.connect(this.#o.broker, this.#clientOptions(n));
      // A write outlives no connection: when it closes, the write stops without a PUBACK, and the
      // broker gives the message again to whichever session takes it.
      const conn = new AbortController();
      const stop = () => conn.abort();
      signal.addEventListener('abort', stop, { once: true });
      let connected = false;
      // Called by mqtt.js before it sends the PUBACK: the PUBACK waits for the store.
      client.handleMessage = (packet, done) => {
        this.#handle(packet as IPublishPacket, conn.signal).then(() => done(), (e: Error) => done(e));
      };
      const ended = new Promise<void>((resolve) => {
        conn.signal.addEventListener('abort', () => resolve(), { once: true });
        client.on('connect', () => {
          connected = true;
          this.#s.connected++;
          backoff.reset();
          log.info({ broker: this.#o.broker }, 'ingest connected');
          const filter = `$share/${this.#o.group}/${this.#o.topic}`;
          client.subscribe(filter, { qos: 1 }, (err, granted) => {
            const refused = err?.message ?? (granted?.[0] && granted[0].qos > 2 ? `reason 0x${granted[0].qos.toString(16)}` : undefined);
            if (refused) log.error({ filter }, `cannot subscribe: ${refused}`);
            else log.info({ filter }, 'ingest subscribed');
          });
        });
        client.on('error', (e) => { this.#s.lastError = e.message; });
        client.on('close', stop);
      });
      await ended;
      signal.removeEventListener('abort', stop);
      const wasConnected = connected;
      if (wasConnected) this.#s.connected--;
      client.end(true);
      if (signal.aborted) break;
      if (wasConnected) log.warn('ingest connection lost; reconnecting');
      await this.#o.clock.sleep(backoff.next(), signal).catch(() => {});
    }
  }

  #clientOptions(n: number): IClientOptions {
    const o = this.#o;
    return {
      protocolVersion: 5,
      clientId: `${o.clientId}-${n}`,
      clean: false,
      properties: { sessionExpiryInterval: o.sessionExpiryS },
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
    };
  }

  async #handle(packet: IPublishPacket, signal: AbortSignal): Promise<void> {
    this.#s.messages++;
    const m = parseTelemetry(packet.payload);
    if (!m) { this.#s.rejected++; return; }
    if (this.#dedup.has(m.site, m.device, m.seq)) { this.#s.duplicates++; return; }
    const lines = pointLines(seriesKey(this.#o.influx.measurement, m.site, m.device), m.points as never, this.#fieldKey);
    if (lines.fields > 0) await this.#write(lines.text, signal);
    // Recorded only once the store has it: a repeat of a batch whose write failed must be written.
    this.#dedup.firstTime(m.site, m.device, m.seq);
    this.#s.points += lines.fields;
    this.#rate.add(lines.fields);
  }

  readonly #fieldKey = (tag: string): string => {
    let k = this.#fieldKeys.get(tag);
    if (k === undefined) {
      if (this.#fieldKeys.size > 100_000) this.#fieldKeys.clear();
      k = `${escapeKey(tag)}=`;
      this.#fieldKeys.set(tag, k);
    }
    return k;
  };

  /** Until the store takes it, or the ingest stops (then no PUBACK: the broker sends it again). */
  async #write(body: string, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 30_000 });
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', ...(this.#o.influx.token ? { authorization: `Token ${this.#o.influx.token}` } : {}) };
    for (let failures = 0; ; failures++) {
      if (signal.aborted) throw new Error('stopping before the store took the batch');
      let status = 0;
      let text = '';
      try {
        const res = await postText(this.#writeUrl, headers, body, { timeoutMs: 30_000, signal });
        status = res.status;
        text = res.text.slice(0, 300);
        if (status >= 200 && status < 300) return;
      } catch (e) {
        text = (e as Error).message;
      }
      this.#s.lastError = `${status || 'no answer'}: ${text}`;
      if (status >= 400 && status < 500 && status !== 429) {
        // A line the store refuses (a field whose type changed) would be refused for ever: holding
        // it would stop this session. Counted and logged; its points are not in the store.
        this.#s.refusedByStore++;
        this.#o.logger.error({ status, store: text }, 'the store refused a batch; dropped');
        return;
      }
      this.#s.writeFailures++;
      if (failures === 0 || failures % 10 === 0) this.#o.logger.warn({ status, failures: failures + 1 }, `store write failed: ${this.#s.lastError}; retrying`);
      await this.#o.clock.sleep(backoff.next(), signal).catch(() => {});
    }
  }
}

/** The JSON flavour's telemetry payload (docs/mqtt.md), or undefined; points that are not points are left out. */
export function parseTelemetry(payload: Buffer | string): Telemetry | undefined {
  let m: unknown;
  try { m = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8')); } catch { return undefined; }
  if (typeof m !== 'object' || m === null) return undefined;
  const { site, device, seq, points } = m as Record<string, unknown>;
  if (typeof site !== 'string' || typeof device !== 'string' || !Number.isInteger(seq) || !Array.isArray(points)) return undefined;
  const good = points.filter((p: unknown): p is Telemetry['points'][number] => {
    if (typeof p !== 'object' || p === null) return false;
    const { tag, v, t } = p as Record<string, unknown>;
    return typeof tag === 'string' && tag !== '' && Number.isFinite(t) && (v === null || typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)));
  });
  return { site, device, seq: seq as number, points: good };
}
