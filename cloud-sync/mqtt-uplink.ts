// The MQTT uplink of the JSON flavour: drains the journal to one broker with QoS 1 and tells the
// journal what the broker acknowledged (PUBACK), so nothing leaves the journal unconfirmed.
// Reconnects itself with exponential backoff and jitter; mqtt.js's own fixed-interval reconnect
// is switched off.
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Journal, JournalRecord } from '../gateway/journal/journal.ts';
import { Backoff, CodedError, RateMeter, type Clock, type CommandHandler, type Logger, type SiteConfig, type UpstreamConfig } from '../gateway/model/index.ts';
import { offlinePayload, onlinePayload, telemetryJson, topicPrefix, topics } from './json-format.ts';
import { brokerCaps, publishSize, refusesQos, refusesRetain } from './mqtt-connect.ts';
import { clientOptions, connectError, endClient, openClient, refusesProtocol, within } from './mqtt-link.ts';

const STABLE_LINK_MS = 10_000;
const REFUSED_RETRY_MS = 30_000;
const LIVE_GRACE_MS = 5_000;
/** What #publishSome publishes before the event loop turns: records, and characters of their bodies. */
const SLICE_RECORDS = 8;
const SLICE_CHARS = 256 * 1024;
/** The retained status is refreshed this often, and at once when the journal fills or recovers. */
const STATUS_REFRESH_MS = 60_000;

/**
 * The state of one connection: what is in flight, what the broker refused (offered again together,
 * by one timer), how to wake the pump, the broker's Maximum Packet Size (CONNACK, MQTT 5 only) and
 * whether a telemetry batch above it was logged on this connection already.
 */
interface Link {
  open: boolean; inflight: Set<number>; refused: { id: number; historical: boolean }[]; wake: () => void;
  maxPacket: number | undefined; oversizeSaid: boolean;
}

export interface MqttUplinkOptions {
  upstream: UpstreamConfig;
  site: SiteConfig;
  journal: Journal;
  clock: Clock;
  logger: Logger;
  version: string;
  /** Commands on `…/cmd/{verb}`; subscribed only when the upstream lists verbs it may send. */
  onCommand?: CommandHandler;
}

export interface UplinkStats {
  connected: boolean;
  /** 5 = MQTT 5, 4 = MQTT 3.1.1 (after a fallback). */
  protocol: 4 | 5;
  connects: number;
  published: number;
  acked: number;
  refused: number;
  /**
   * Messages not sent because they are larger than the broker's Maximum Packet Size (MQTT 5 CONNACK):
   * journal records, dropped from the journal so the rest flows, and command replies.
   */
  oversize: number;
  inflight: number;
  backlog: number;
  /** Points acknowledged by the broker per second, over the last 10 s. */
  drainRate: number;
  lastError: string | undefined;
}

export class MqttJsonUplink {
  readonly id: string;
  readonly #o: MqttUplinkOptions;
  readonly #log: Logger;
  readonly #topics: ReturnType<typeof topics>;
  readonly #backoff: Backoff;
  /** Starts as configured; drops to 3.1.1 once if the broker refuses MQTT 5. */
  #protocol: 4 | 5;
  /** Until a broker says it keeps no retained messages (CONNACK, or refusing a retained will). */
  #retain = true;
  /** QoS 1, until a broker refuses a will above its maximum QoS (then it says why at CONNACK). */
  #willQos: 0 | 1 = 1;
  /** Capabilities already reported, so a broker that lacks one is said once, not at every reconnect. */
  readonly #said = new Set<string>();
  readonly #drain: RateMeter;
  readonly #s = { connected: false, connects: 0, published: 0, acked: 0, refused: 0, oversize: 0, inflight: 0, lastError: undefined as string | undefined };

  constructor(opts: MqttUplinkOptions) {
    this.#o = opts;
    this.id = opts.upstream.id;
    this.#log = opts.logger.child({ upstream: opts.upstream.id });
    this.#topics = topics(topicPrefix(opts.upstream, opts.site));
    this.#backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
    this.#protocol = opts.upstream.protocol_version;
    this.#drain = new RateMeter(opts.clock);
    opts.journal.openCursor(this.id);
  }

  stats(): UplinkStats {
    return { ...this.#s, protocol: this.#protocol, backlog: this.#o.journal.backlog(this.id), drainRate: this.#drain.perSecond() };
  }

  /** The retained status: online, and what the journal holds for this upstream (docs/mqtt.md). */
  #status(): string {
    const { journal, clock } = this.#o;
    const j = journal.stats();
    const now = clock.now();
    return onlinePayload(this.#o.version, now, {
      backlog: journal.backlog(this.id), oldestAgeS: j.oldestTs === undefined ? 0 : Math.max(0, Math.round((now - j.oldestTs) / 1000)),
      dropped: j.dropped, droppedPoints: j.droppedPoints, full: j.full,
    });
  }

  /** Connects, drains, reconnects, until the signal aborts; then says goodbye on the status topic. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let retryNow = false;
      const client = await this.#connect(signal).catch((e: unknown) => {
        if (this.#protocol === 5 && refusesProtocol(e)) {
          // Brokers such as aedes and older Mosquitto answer MQTT 5 with "unacceptable protocol
          // version" (3.1.1 return code 1, MQTT 5 reason 0x84): speak 3.1.1 to them instead.
          this.#protocol = 4;
          this.#log.warn({ url: this.#o.upstream.url }, 'broker does not accept MQTT 5; falling back to MQTT 3.1.1');
          retryNow = true;
          return undefined;
        }
        if (this.#retain && refusesRetain(e)) {
          this.#retain = false;
          this.#sayOnce('retain', 'broker keeps no retained messages (CONNACK 0x9A): status and will are sent without retain');
          retryNow = true;
          return undefined;
        }
        if (this.#willQos === 1 && refusesQos(e)) {
          this.#willQos = 0;
          retryNow = true;
          return undefined;
        }
        failures++;
        const err = connectError(e, this.#o.upstream.url);
        this.#s.lastError = err.message;
        // The first failure and then one in ten: a broker down for a day must not fill the disk with logs.
        if (failures === 1 || failures % 10 === 0) this.#log.warn({ code: err.code, failures, backlog: this.#o.journal.backlog(this.id) }, err.message);
        return undefined;
      });
      if (client) {
        failures = 0;
        const since = this.#o.clock.now();
        await this.#pump(client.client, client.connack, signal);
        if (signal.aborted) { await this.#goodbye(client.client); break; }
        client.client.end(true);
        // A link that held for a while is a fresh start; one the broker drops at once (a client
        // id taken over, an ACL) keeps backing off instead of reconnecting in a tight loop.
        if (this.#o.clock.now() - since >= STABLE_LINK_MS) { this.#backoff.reset(); retryNow = true; }
      }
      if (signal.aborted) break;
      if (!retryNow) await this.#o.clock.sleep(this.#backoff.next(), signal).catch(() => {});
    }
  }

  #sayOnce(what: string, message: string): void {
    if (this.#said.has(what)) return;
    this.#said.add(what);
    this.#log.warn({ url: this.#o.upstream.url }, message);
  }

  #connect(signal: AbortSignal): Promise<{ client: MqttClient; connack: IConnackPacket }> {
    const u = this.#o.upstream;
    let opts: IClientOptions;
    try {
      opts = {
        ...clientOptions(u, this.#o.site.id, this.#protocol),
        will: { topic: this.#topics.status, payload: Buffer.from(offlinePayload()), qos: this.#willQos, retain: this.#retain },
      };
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return openClient(u.url, opts, signal, {
      beforeConnack: (client) => this.#listenForCommands(client),
      onError: (e) => { this.#s.lastError = e.message; },
    });
  }

  /** Publishes status, then journal records within the in-flight window, until the link drops. */
  async #pump(client: MqttClient, connack: IConnackPacket, signal: AbortSignal): Promise<void> {
    const { journal, clock } = this.#o;
    this.#s.connected = true;
    this.#s.connects++;
    const caps = brokerCaps(connack);
    if (!caps.retain) {
      this.#retain = false;
      this.#sayOnce('retain', 'broker keeps no retained messages (CONNACK Retain Available 0): the status is sent without retain; a platform sees it only while subscribed');
    }
    if (caps.maxQos === 0) return this.#qos0Broker(client, caps.maxPacket, signal);
    // MQTT 5 §3.2.2.3.3: the broker's Receive Maximum bounds our unacknowledged QoS 1 publishes.
    const window = Math.max(1, Math.min(this.#o.upstream.inflight, caps.receiveMax));
    this.#log.info({ url: this.#o.upstream.url, protocol: this.#protocol, window, backlog: journal.backlog(this.id) }, 'upstream connected');

    const link: Link = { open: true, inflight: new Set(), refused: [], wake: () => {}, maxPacket: caps.maxPacket, oversizeSaid: false };
    const wake = () => link.wake();
    const onClose = () => { link.open = false; wake(); };
    client.on('close', onClose);
    client.on('error', (e) => { this.#s.lastError = e.message; this.#log.warn({ code: 'CE_ERR_UPSTREAM_CONNECT' }, e.message); });
    signal.addEventListener('abort', wake, { once: true });
    const unsubscribe = journal.onAppend(wake);
    // Everything this upstream has not acknowledged is offered again on this connection. Records
    // that waited more than a few seconds for it are the backlog of an outage: sent after live data
    // and flagged historical. Those appended just before the CONNACK (a normal start) are live. One
    // boundary for both, kept by the journal (gateway/journal/cursor.ts).
    const backlogTo = journal.rewind(this.id, clock.now() - LIVE_GRACE_MS);

    let statusSaid = false;
    const publishStatus = () => {
      const status = this.#status();
      const bytes = publishSize(this.#topics.status, Buffer.byteLength(status), this.#protocol);
      if (link.maxPacket === undefined || bytes <= link.maxPacket) { client.publish(this.#topics.status, status, { qos: 1, retain: this.#retain }); return; }
      // Only a broker limit below a couple of hundred bytes gets here; telemetry would not fit either.
      if (statusSaid) return;
      statusSaid = true;
      this.#log.error({ code: 'CE_ERR_UPSTREAM_PUBLISH', topic: this.#topics.status, bytes, maxPacket: link.maxPacket },
        `the status is ${bytes} bytes, above the broker's Maximum Packet Size of ${link.maxPacket} bytes (CONNACK); it is not sent on this connection. Raise the broker's limit (Mosquitto: max_packet_size)`);
    };
    publishStatus();
    let statusAt = clock.now();
    let full = journal.stats().full;
    const refresh = setInterval(() => {
      const nowFull = journal.stats().full;
      if (nowFull !== full || clock.now() - statusAt >= STATUS_REFRESH_MS) { full = nowFull; statusAt = clock.now(); publishStatus(); }
    }, 1000);
    try {
      while (link.open && !signal.aborted) {
        const sent = this.#publishSome(client, window - link.inflight.size, backlogTo, link, signal);
        this.#s.inflight = link.inflight.size;
        if (sent === 0) await new Promise<void>((r) => { link.wake = r; });
        // mqtt.js corks the socket until the next tick: what was just published is held as strings
        // until then. A turn of the event loop between slices lets them go while V8 still has them
        // in its young generation (see #publishSome).
        else await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      clearInterval(refresh);
      unsubscribe();
      signal.removeEventListener('abort', wake);
      client.off('close', onClose);
      this.#s.connected = false;
      this.#s.inflight = 0;
      if (!signal.aborted) this.#log.warn({ backlog: journal.backlog(this.id) }, 'upstream connection lost; keeping data in the journal');
    }
  }

  /**
   * A broker that takes QoS 0 only can acknowledge nothing, and what is not acknowledged is not
   * deleted: the data stays in the journal, the status says so, and the link is tried again later.
   */
  async #qos0Broker(client: MqttClient, maxPacket: number | undefined, signal: AbortSignal): Promise<void> {
    const err = new CodedError('CE_ERR_UPSTREAM_PUBLISH', `${this.#o.upstream.url}: the broker accepts QoS 0 only (CONNACK Maximum QoS 0); nothing is sent, data stays in the journal`);
    this.#s.lastError = err.message;
    this.#sayOnce('qos0', err.message);
    const status = this.#status();
    // publishSize counts a QoS 1 packet id this QoS 0 PUBLISH does not have: 2 bytes to spare.
    if (maxPacket === undefined || publishSize(this.#topics.status, Buffer.byteLength(status), this.#protocol) <= maxPacket) {
      client.publish(this.#topics.status, status, { qos: 0, retain: this.#retain });
    }
    await this.#o.clock.sleep(REFUSED_RETRY_MS, signal).catch(() => {});
    this.#s.connected = false;
  }

  /**
   * `…/cmd/{verb}` from this platform. The reply goes straight out on this connection, ahead of any
   * backlog: to the MQTT 5 response topic with the correlation data, else to `…/cmd-result`.
   */
  #listenForCommands(client: MqttClient): void {
    const handler = this.#o.onCommand;
    const allowed = this.#o.upstream.commands;
    if (!handler || allowed.length === 0) return;
    const prefix = this.#topics.channel('cmd/');
    let maxPacket: number | undefined;
    client.once('connect', (connack: IConnackPacket) => {
      maxPacket = brokerCaps(connack).maxPacket;
      client.subscribe(`${prefix}+`, { qos: 1 }, (err) => {
        if (err) this.#log.error({ code: 'CE_ERR_UPSTREAM_CONNECT' }, `cannot subscribe to ${prefix}+: ${err.message}; commands from this platform will not arrive`);
      });
    });
    client.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => {
      if (!topic.startsWith(prefix)) return;
      if (packet.retain) {
        // A retained command would be obeyed again at every reconnect.
        this.#log.warn({ topic }, 'retained command ignored; send commands without the retain flag');
        return;
      }
      const props = packet.properties;
      const to = this.#protocol === 5 && props?.responseTopic ? props.responseTopic : this.#topics.channel('cmd-result');
      // A write waits for the device's read-back; the link may be gone by then, and the reply with it
      // (the platform resends with the same id, and gets the stored reply without a second write).
      void handler(topic.slice(prefix.length), payload, { source: `mqtt:${this.id}`, allowed }).then((reply) => {
        if (!client.connected) return;
        // A reply outlives its command by no more than the command itself was allowed to wait.
        const properties = {
          ...(to === props?.responseTopic && props.correlationData ? { correlationData: props.correlationData } : {}),
          ...(this.#protocol === 5 && props?.messageExpiryInterval !== undefined ? { messageExpiryInterval: props.messageExpiryInterval } : {}),
        };
        const body = JSON.stringify(reply);
        // Encoded properties (MQTT 5 §3.3.2.3): correlation data is 1 + 2 + its bytes, message expiry 1 + 4.
        const propsBytes = (properties.correlationData ? 3 + properties.correlationData.length : 0) + (properties.messageExpiryInterval !== undefined ? 5 : 0);
        const bytes = publishSize(to, Buffer.byteLength(body), this.#protocol, propsBytes);
        if (maxPacket !== undefined && bytes > maxPacket) {
          // [MQTT-3.2.2-15]: sent, it would make the broker drop the link (DISCONNECT 0x95). The
          // command has taken effect all the same; only its reply is lost, and said here.
          this.#s.oversize++;
          const err = new CodedError('CE_ERR_UPSTREAM_PUBLISH', `the reply to ${topic} is ${bytes} bytes, above the broker's Maximum Packet Size of ${maxPacket} bytes (CONNACK); not sent. Raise the broker's limit (Mosquitto: max_packet_size)`);
          this.#s.lastError = err.message;
          this.#log.error({ code: err.code, topic: to, bytes, maxPacket }, err.message);
          return;
        }
        client.publish(to, body, { qos: 1, ...(Object.keys(properties).length > 0 ? { properties } : {}) });
      });
    });
  }

  /**
   * Publishes up to `room` records; how many. A function of its own, not a block of the loop: an
   * async function keeps its registers across an await, and the last batch and record left in them
   * would stay reachable through the wait for the next commit, long enough for V8 to promote them
   * to the old generation (measured: most of the old generation's garbage at 10,000 points/s).
   */
  #publishSome(client: MqttClient, room: number, backlogTo: number, link: Link, signal: AbortSignal): number {
    let sent = 0;
    let chars = 0;
    // A slice, not the whole window at once: a draining backlog's records are tens of kilobytes,
    // and a window of them read and published in one go outlived two of V8's young-generation
    // collections (1 MB semi-spaces, bin/young-generation.mjs), so every body and payload of the
    // drain was promoted and the old generation swung by 60 MB (bench:journal, docs/performance.md).
    while (sent < room && chars < SLICE_CHARS) {
      const batch = this.#o.journal.read(this.id, Math.min(room - sent, SLICE_RECORDS));
      if (batch.length === 0) break;
      for (const rec of batch) {
        chars += rec.body.length;
        this.#publish(client, rec, rec.lane === 'telemetry' && rec.id <= backlogTo, link, signal);
      }
      sent += batch.length;
    }
    return sent;
  }

  #message(rec: JournalRecord, historical: boolean): { topic: string; payload: string } {
    if (rec.channel === 'telemetry') return { topic: this.#topics.telemetry(rec.device), payload: telemetryJson(this.#o.site.id, rec, historical) };
    return { topic: this.#topics.channel(rec.channel), payload: rec.body };
  }

  #publish(client: MqttClient, rec: JournalRecord, historical: boolean, link: Link, signal: AbortSignal): void {
    const { topic, payload } = this.#message(rec, historical);
    // Measured only against a broker that has a limit: a second pass over every payload otherwise.
    if (link.maxPacket !== undefined) {
      const bytes = publishSize(topic, Buffer.byteLength(payload), this.#protocol);
      if (bytes > link.maxPacket) return this.#oversize(rec, bytes, link);
    }
    link.inflight.add(rec.id);
    this.#s.published++;
    client.publish(topic, payload, { qos: 1 }, this.#onPuback(client, link, rec.id, rec.count, historical, signal));
  }

  /**
   * What a PUBACK does. Made from the record's id and count, not the record: a callback that
   * closed over the record kept its body until the PUBACK, and a backlog draining at a million
   * points a second had every body in flight promoted to V8's old generation (docs/performance.md).
   */
  #onPuback(client: MqttClient, link: Link, id: number, count: number, historical: boolean, signal: AbortSignal): (err?: Error) => void {
    return (err) => {
      if (!link.open) return; // the next connection sends it again from the journal
      link.inflight.delete(id);
      if (err) {
        this.#refused(client, link, { id, historical }, err, signal);
      } else {
        this.#o.journal.ack(this.id, [id]);
        this.#s.acked++;
        this.#drain.add(count);
      }
      link.wake();
    };
  }

  /**
   * Refused by the broker (an MQTT 5 PUBACK reason code such as 0x87 not authorized). It stays in
   * the journal: nothing is dropped for a broker's ACL. Held outside the in-flight window, so a
   * device whose topic is refused cannot stall the others, and offered again later, read back from
   * the journal, rather than in a tight loop.
   */
  #refused(client: MqttClient, link: Link, r: { id: number; historical: boolean }, err: Error, signal: AbortSignal): void {
    this.#s.refused++;
    link.refused.push(r);
    // One log line and one timer per round, not per batch: a broker refusing a whole topic tree
    // would otherwise write a line for every batch of every device.
    if (link.refused.length > 1) return;
    const [rec] = this.#o.journal.get([r.id]);
    this.#log.error({ code: 'CE_ERR_UPSTREAM_PUBLISH', device: rec?.device, seq: rec?.seq }, `${err.message}; kept in the journal, offered again in ${REFUSED_RETRY_MS / 1000} s`);
    this.#o.clock.sleep(REFUSED_RETRY_MS, signal).then(() => {
      const again = link.refused.splice(0);
      if (!link.open) return;
      const historical = new Map(again.map((a) => [a.id, a.historical]));
      // A record the quota dropped meanwhile is not there any more, and not offered.
      for (const rec of this.#o.journal.get(again.map((a) => a.id))) this.#publish(client, rec, historical.get(rec.id)!, link, signal);
    }, () => {});
  }

  /**
   * A record larger than the broker takes (MQTT 5 §3.2.2.3.6 Maximum Packet Size) is not sent
   * [MQTT-3.2.2-15]: the broker would answer with DISCONNECT 0x95, and the record, still in the
   * journal, would go first again after every reconnect, holding back everything behind it. It
   * cannot be split either: consumers drop duplicates by (site, device, seq), so a second half with
   * the same seq would be thrown away. It is acknowledged in the journal (dropped), counted, and
   * logged: telemetry once per connection, alarm events (rare, and they matter) each time.
   */
  #oversize(rec: JournalRecord, bytes: number, link: Link): void {
    this.#o.journal.ack(this.id, [rec.id]);
    this.#s.oversize++;
    const telemetry = rec.lane === 'telemetry';
    const what = telemetry ? `telemetry of ${rec.device} seq ${rec.seq}` : `${rec.channel} event of ${rec.device} seq ${rec.seq}`;
    const hint = telemetry
      ? 'Raise the broker\'s limit (Mosquitto: max_packet_size), or split the device\'s tags over two devices entries: a batch carries the tags of one scan that changed, every tag after a start'
      : 'Raise the broker\'s limit (Mosquitto: max_packet_size)';
    const err = new CodedError('CE_ERR_UPSTREAM_PUBLISH', `${what} is ${bytes} bytes, above the broker's Maximum Packet Size of ${link.maxPacket} bytes (CONNACK); not sent, dropped from the journal. ${hint}`);
    this.#s.lastError = err.message;
    if (telemetry && link.oversizeSaid) return;
    if (telemetry) link.oversizeSaid = true;
    this.#log.error({ code: err.code, channel: rec.channel, device: rec.device, seq: rec.seq, bytes, maxPacket: link.maxPacket },
      telemetry ? `${err.message}. Others on this connection are counted (oversize), not logged` : err.message);
  }

  /** On a clean shutdown the retained status says offline at once, rather than after the keepalive. */
  async #goodbye(client: MqttClient): Promise<void> {
    await within(client.publishAsync(this.#topics.status, offlinePayload(this.#o.clock.now()), { qos: 1, retain: this.#retain }), 2000);
    await endClient(client, 2000);
  }
}

