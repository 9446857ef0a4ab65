// The Sparkplug B 3.0 edge node upstream (`format: sparkplug`, docs/sparkplug.md): the box is one
// edge node, each configured device a Sparkplug device. Drains the journal like the JSON uplink:
// births first, then DDATA by alias, acknowledged to the journal on PUBACK (QoS `data_qos`, 1 by
// default, where the spec says 0: the journal deletes only what the broker has). Reconnects with
// exponential backoff and jitter; MQTT 5 falling back to 3.1.1; the NDEATH is the will.
import type { IClientOptions, IConnackPacket, MqttClient } from 'mqtt';
import type { Journal, JournalRecord } from '../../gateway/journal/journal.ts';
import { Backoff, CodedError, RateMeter, type Clock, type CommandHandler, type Logger, type SiteConfig, type UpstreamConfig } from '../../gateway/model/index.ts';
import { brokerCaps, publishSize } from '../mqtt-connect.ts';
import { clientOptions, connectError, endClient, openClient, refusesProtocol, within } from '../mqtt-link.ts';
import type { UplinkStats } from '../mqtt-uplink.ts';
import { BdSeqStore, births, MetricCatalogue, ndeath, recordMessages, type DeviceSpec, type Message } from './metrics.ts';
import { NodeCommands, parseState } from './node-commands.ts';
import { encodePayload, type SpPayload } from './payload.ts';
import { sparkplugIds, sparkplugTopics, type DeviceVerb, type NodeVerb, type SparkplugTopics } from './topics.ts';

const STABLE_LINK_MS = 10_000;
/** Records appended this long before the connection are the backlog of an outage (is_historical). */
const LIVE_GRACE_MS = 5_000;
const QOS0_RETRY_MS = 30_000;
/** A message the broker refused (PUBACK reason ≥ 0x80) is offered again after this, not in a tight loop. */
const REFUSED_RETRY_MS = 30_000;
const GOODBYE_MS = 2_000;
/** Tahu's JavaScript decoder reads UInt32 only from long_value (payload.ts, EncodeOptions). */
const ENCODE = { uint32InLongValue: true };

export interface SparkplugEdgeNodeOptions {
  upstream: UpstreamConfig;
  site: SiteConfig;
  /** Every device and all its tag names (config/tag-names.ts), in configuration order: the aliases. */
  devices: readonly DeviceSpec[];
  journal: Journal;
  clock: Clock;
  logger: Logger;
  version: string;
  /** DCMD writes go here as `write` commands. */
  onCommand?: CommandHandler;
  /** Where bdSeq is kept across restarts (`sparkplug-{id}.json`); without it, in memory only. */
  dataDir?: string;
}

export interface SparkplugStats extends UplinkStats {
  /** bdSeq of the current (last) connection; the last seq sent; birth sequences (NBIRTH + DBIRTHs) sent. */
  bdSeq: number; seq: number; births: number;
  /** The primary host says it is online (always true without primary_host_id, while connected). */
  hostOnline: boolean;
  /** DCMD writes handed to the command handler; NCMD/DCMD/STATE messages that could not be used. */
  writes: number; garbage: number;
  /** Messages larger than the broker's Maximum Packet Size that could not be split (a birth, one metric): dropped. */
  oversize: number;
}

/** A message waiting for a slot in the in-flight window; seq and timestamp are set when it is sent. */
interface Out { verb: Message['verb']; device: string | undefined; topic: string; payload: SpPayload; ids: number[]; points: number }

/** One connection: what waits, what is in flight, whether the host may be told anything. */
interface Link {
  client: MqttClient; open: boolean; window: number; qos: 0 | 1; inflight: number; outbox: Out[];
  /** Telemetry with an id up to this is the backlog of an outage: is_historical. */
  backlogTo: number;
  born: boolean; hostOnline: boolean; rebirth: boolean; hostLeft: boolean;
  /** The devices the host holds alive on this connection (metrics.ts, births and recordMessages). */
  devices: Set<string>;
  /** CONNACK Maximum Packet Size, if the broker has one. */
  maxPacket: number | undefined;
  /**
   * The broker refused a message: `retry` is set when the wait is over, and the journal is then read
   * again from what is unacknowledged (after a new birth when a birth or death was refused).
   */
  refusal: { waiting: boolean; retry: boolean; rebirth: boolean };
  /** Devices whose DBIRTH was refused: their records wait in the journal for the retry's births. */
  unborn: Set<string>;
  /** Births of the last birth sequence not acknowledged yet: no data goes out before them. */
  birthsDue: number;
  /** Aborted when the connection's pump ends, and with it the timers that belong to it. */
  done: AbortController;
  wake: () => void;
}

export class SparkplugEdgeNode {
  readonly id: string;
  readonly #o: SparkplugEdgeNodeOptions;
  readonly #log: Logger;
  readonly #topics: SparkplugTopics;
  readonly #catalogue: MetricCatalogue;
  readonly #commands: NodeCommands;
  readonly #bdSeq: BdSeqStore;
  readonly #backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  readonly #drain: RateMeter;
  readonly #said = new Set<string>();
  #protocol: 4 | 5;
  #seq = 0;
  /** The newest STATE timestamp accepted; older ones are stale. */
  #stateTs: number | undefined;
  readonly #s = { connected: false, connects: 0, published: 0, acked: 0, refused: 0, oversize: 0, inflight: 0, births: 0, hostOnline: false, lastError: undefined as string | undefined };

  constructor(opts: SparkplugEdgeNodeOptions) {
    this.#o = opts;
    this.id = opts.upstream.id;
    this.#log = opts.logger.child({ upstream: opts.upstream.id });
    this.#topics = sparkplugTopics(sparkplugIds(opts.upstream, opts.site));
    this.#catalogue = new MetricCatalogue(opts.devices, { version: opts.version, site: opts.site.id });
    this.#commands = new NodeCommands({
      upstreamId: this.id, allowed: opts.upstream.commands, catalogue: this.#catalogue, clock: opts.clock, logger: this.#log, onCommand: opts.onCommand,
    });
    this.#bdSeq = new BdSeqStore(opts.dataDir, this.id, (e) => this.#sayOnce('bdseq', `sparkplug: cannot keep bdSeq in ${opts.dataDir}: ${e.message}; it restarts from 0 after a restart`));
    this.#protocol = opts.upstream.protocol_version;
    this.#drain = new RateMeter(opts.clock);
    if (opts.upstream.session_expiry_s !== 0) this.#sayOnce('session', 'sparkplug: session_expiry_s ignored; Sparkplug edge nodes connect with a clean session');
    opts.journal.openCursor(this.id);
  }

  stats(): SparkplugStats {
    const c = this.#commands.stats();
    return {
      ...this.#s, protocol: this.#protocol, backlog: this.#o.journal.backlog(this.id), drainRate: this.#drain.perSecond(),
      bdSeq: this.#bdSeq.current, seq: this.#seq, writes: c.writes, garbage: c.garbage,
    };
  }

  /** Connects, births, drains, reconnects, until the signal aborts; then NDEATH and DISCONNECT. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let retryNow = false;
      const conn = await this.#connect(signal).catch((e: unknown) => {
        if (this.#protocol === 5 && refusesProtocol(e)) {
          this.#protocol = 4;
          this.#log.warn({ url: this.#o.upstream.url }, 'broker does not accept MQTT 5; falling back to MQTT 3.1.1');
          retryNow = true;
          return undefined;
        }
        failures++;
        const err = connectError(e, this.#o.upstream.url);
        this.#s.lastError = err.message;
        if (failures === 1 || failures % 10 === 0) this.#log.warn({ code: err.code, failures, backlog: this.#o.journal.backlog(this.id) }, err.message);
        return undefined;
      });
      if (conn) {
        failures = 0;
        const since = this.#o.clock.now();
        const hostLeft = await this.#pump(conn.client, conn.connack, signal);
        if (signal.aborted || hostLeft) await this.#goodbye(conn.client);
        else conn.client.end(true);
        if (signal.aborted) break;
        // [tck-id-operational-behavior-edge-node-termination-host-offline-reconnect] at once after a host left.
        if (hostLeft || this.#o.clock.now() - since >= STABLE_LINK_MS) { this.#backoff.reset(); retryNow = true; }
      }
      if (signal.aborted) break;
      if (!retryNow) await this.#o.clock.sleep(this.#backoff.next(), signal).catch(() => {});
    }
  }

  #connect(signal: AbortSignal): Promise<{ client: MqttClient; connack: IConnackPacket }> {
    const u = this.#o.upstream;
    let opts: IClientOptions;
    try {
      opts = {
        // [tck-id-principles-persistence-clean-session-311] [tck-id-principles-persistence-clean-session-50]
        ...clientOptions({ ...u, session_expiry_s: 0 }, this.#o.site.id, this.#protocol),
      };
    } catch (e) {
      return Promise.reject(e as Error);
    }
    // [tck-id-topics-nbirth-bdseq-increment] a new bdSeq for every CONNECT, kept before it is sent.
    const bdSeq = this.#bdSeq.next();
    // [tck-id-payloads-ndeath-will-message] [tck-id-payloads-ndeath-will-message-qos] [tck-id-payloads-ndeath-will-message-retain]
    opts.will = { topic: this.#topics.node('NDEATH'), payload: toBuffer(encodePayload(ndeath(bdSeq, this.#o.clock.now()), ENCODE)), qos: 1, retain: false };
    return openClient(u.url, opts, signal, { onError: (e) => { this.#s.lastError = e.message; } });
  }

  /**
   * One connection: subscribe, wait for the primary host if there is one, births, then journal
   * records within the in-flight window, until the link drops, the signal aborts or the host
   * leaves (returns true then: NDEATH, disconnect, connect again).
   */
  async #pump(client: MqttClient, connack: IConnackPacket, signal: AbortSignal): Promise<boolean> {
    const { journal, clock, upstream } = this.#o;
    const caps = brokerCaps(connack);
    const qos = upstream.data_qos ?? 1;
    this.#s.connected = true;
    this.#s.connects++;
    if (qos === 1 && caps.maxQos === 0) {
      // Nothing could be acknowledged, so nothing could leave the journal.
      const err = new CodedError('CE_ERR_UPSTREAM_PUBLISH', `${upstream.url}: the broker accepts QoS 0 only (CONNACK Maximum QoS 0); nothing is sent, data stays in the journal (data_qos: 0 would send it unacknowledged)`);
      this.#sayOnce('qos0', this.#s.lastError = err.message);
      await clock.sleep(QOS0_RETRY_MS, signal).catch(() => {});
      this.#s.connected = false;
      return false;
    }
    const waitHost = this.#topics.state !== undefined;
    const link: Link = {
      client, open: true, window: Math.max(1, Math.min(upstream.inflight, caps.receiveMax)), qos, inflight: 0, outbox: [], backlogTo: 0,
      born: false, hostOnline: !waitHost, rebirth: !waitHost, hostLeft: false, devices: new Set(), maxPacket: caps.maxPacket,
      refusal: { waiting: false, retry: false, rebirth: false }, unborn: new Set(), birthsDue: 0, done: new AbortController(), wake: () => {},
    };
    this.#s.hostOnline = link.hostOnline;
    const wake = () => link.wake();
    const onClose = () => { link.open = false; wake(); };
    const onMessage = (topic: string, payload: Buffer, packet: { retain: boolean }) => this.#onMessage(link, topic, payload, packet.retain);
    client.on('close', onClose);
    client.on('error', (e) => { this.#s.lastError = e.message; this.#log.warn({ code: 'CE_ERR_UPSTREAM_CONNECT' }, e.message); });
    client.on('message', onMessage);
    signal.addEventListener('abort', wake, { once: true });
    const unsubscribe = journal.onAppend(wake);
    this.#log.info({ url: upstream.url, protocol: this.#protocol, window: link.window, bdSeq: this.#bdSeq.current, backlog: journal.backlog(this.id) }, 'sparkplug: connected');
    try {
      await this.#subscribe(client);
      // Unacknowledged records are offered again; those that waited for this connection are the backlog.
      link.backlogTo = journal.rewind(this.id, clock.now() - LIVE_GRACE_MS);
      while (link.open && !signal.aborted && !link.hostLeft) {
        // After a refusal, once nothing is in flight: what is not acknowledged is read again (no
        // duplicates of what is still on its way), after births if the host's view may be wrong.
        if (link.refusal.retry && link.inflight === 0) {
          link.refusal.retry = false;
          // A birth or death not sent yet would be lost with the outbox: births again instead.
          if (link.outbox.some((o) => o.verb !== 'DDATA' && o.verb !== 'NDATA')) link.refusal.rebirth = true;
          link.outbox = [];
          link.backlogTo = journal.rewind(this.id, clock.now() - LIVE_GRACE_MS);
          if (link.refusal.rebirth) { link.refusal.rebirth = false; link.rebirth = true; }
          link.unborn.clear();
        }
        // [tck-id-operational-behavior-data-commands-rebirth-action-1] [tck-id-operational-behavior-data-commands-rebirth-action-2]
        // births go ahead of any data still waiting.
        if (link.rebirth && link.hostOnline && !link.refusal.retry) {
          link.rebirth = false;
          link.born = true;
          this.#s.births++;
          const msgs = births(this.#catalogue, this.#bdSeq.current, clock.now(), link.devices);
          // A refused birth is known only from its PUBACK: data waits for them, so that none goes
          // out for a device the host did not see born. One round trip per birth sequence.
          link.birthsDue = link.qos === 1 ? msgs.length : 0;
          link.outbox.unshift(...msgs.map((m) => this.#out(m, [], 0)));
        }
        let read = 0;
        if (link.born && link.hostOnline && !link.refusal.retry && link.birthsDue === 0 && link.outbox.length === 0 && link.inflight < link.window) {
          const batch = journal.read(this.id, link.window - link.inflight);
          read = batch.length;
          for (const rec of batch) this.#convert(rec, link);
        }
        let sent = 0;
        while (link.hostOnline && !link.refusal.retry && link.outbox.length > 0 && link.inflight < link.window) {
          if (link.birthsDue > 0 && !link.outbox[0]!.verb.endsWith('BIRTH')) break;
          this.#send(link, link.outbox.shift()!);
          sent++;
        }
        this.#s.inflight = link.inflight;
        if (read === 0 && sent === 0) await new Promise<void>((r) => { link.wake = r; });
      }
    } catch (e) {
      this.#log.error({ code: 'CE_ERR_UPSTREAM_PUBLISH' }, `sparkplug: ${(e as Error).message}`);
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', wake);
      client.off('close', onClose);
      client.off('message', onMessage);
      link.wake = () => {};
      link.done.abort();
      Object.assign(this.#s, { connected: false, hostOnline: false, inflight: 0 });
      if (!signal.aborted && !link.hostLeft) this.#log.warn({ backlog: journal.backlog(this.id) }, 'sparkplug: connection lost; keeping data in the journal');
    }
    return link.hostLeft;
  }

  /** NCMD, DCMD (QoS 1) and STATE, before the NBIRTH [tck-id-message-flow-edge-node-ncmd-subscribe] [tck-id-message-flow-device-dcmd-subscribe]. */
  async #subscribe(client: MqttClient): Promise<void> {
    const filters = [this.#topics.node('NCMD'), this.#topics.dcmdFilter, ...(this.#topics.state ? [this.#topics.state] : [])];
    const refused = await client.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])))
      .then((granted) => granted.filter((g) => g.qos >= 0x80).map((g) => g.topic), (e: Error) => [e.message]);
    if (refused.length > 0) this.#log.error({ code: 'CE_ERR_UPSTREAM_CONNECT', refused }, 'sparkplug: subscriptions refused; commands (and the primary host STATE) will not arrive');
  }

  #onMessage(link: Link, topic: string, payload: Buffer, retained: boolean): void {
    const what = this.#topics.parse(topic);
    if (what === undefined) return;
    if (what.kind === 'STATE') return this.#onState(link, payload);
    this.#commands.handle(what.kind, what.kind === 'DCMD' ? what.device : undefined, payload, retained, () => { link.rebirth = true; link.wake(); });
  }

  /** The primary host's `{"online":bool,"timestamp":n}` (retained). */
  #onState(link: Link, payload: Buffer): void {
    const s = parseState(payload);
    if (!s) return this.#commands.garbage('STATE', 'not {"online": true|false, "timestamp": ms}');
    // [tck-id-message-flow-edge-node-birth-publish-phid-wait-timestamp] [tck-id-operational-behavior-edge-node-termination-host-offline-timestamp]
    if (this.#stateTs !== undefined && s.timestamp < this.#stateTs) return;
    this.#stateTs = s.timestamp;
    if (s.online && !link.hostOnline) {
      // [tck-id-message-flow-edge-node-birth-publish-phid-wait-online] [tck-id-operational-behavior-edge-node-birth-sequence-wait]
      this.#log.info({ host: this.#o.upstream.primary_host_id }, 'sparkplug: primary host online; births, then data');
      link.hostOnline = link.rebirth = true;
    } else if (!s.online && link.hostOnline) {
      // [tck-id-operational-behavior-edge-node-termination-host-offline] NDEATH, disconnect, connect again and wait.
      this.#log.warn({ host: this.#o.upstream.primary_host_id }, 'sparkplug: primary host offline; NDEATH and reconnect, data waits in the journal');
      link.hostOnline = false;
      link.hostLeft = true;
    } else if (!s.online) {
      this.#log.info({ host: this.#o.upstream.primary_host_id }, 'sparkplug: primary host offline; waiting for it before the births');
    }
    this.#s.hostOnline = link.hostOnline;
    link.wake();
  }

  /** A record into messages for the host; a record that means nothing to it is acknowledged at once. */
  #convert(rec: JournalRecord, link: Link): void {
    // Not acknowledged: read again after the retry's rewind, behind the device's new DBIRTH.
    if (link.unborn.has(rec.device) && rec.channel === 'telemetry') return;
    const msgs = recordMessages(this.#catalogue, rec, rec.id <= link.backlogTo, this.#o.clock.now(), link.devices, (key, m) => this.#sayOnce(key, m));
    if (msgs.length === 0) return this.#o.journal.ack(this.id, [rec.id]);
    // The record is acknowledged with its last message (DDATA, DDEATH, NDATA).
    msgs.forEach((m, i) => link.outbox.push(this.#out(m, i === msgs.length - 1 ? [rec.id] : [], rec.count)));
  }

  #out(m: Message, ids: number[], points: number): Out {
    const topic = m.device === undefined ? this.#topics.node(m.verb as NodeVerb) : this.#topics.device(m.verb as DeviceVerb, m.device);
    return { verb: m.verb, device: m.device, topic, payload: m.payload, ids, points: ids.length > 0 ? points : 0 };
  }

  #send(link: Link, out: Out): void {
    // [tck-id-topics-nbirth-seq-num] NBIRTH is 0; then one more per message, 255 wrapping to 0
    // [tck-id-payloads-sequence-num-incrementing] [tck-id-payloads-dbirth-seq-inc] [tck-id-payloads-ddata-seq-inc] [tck-id-payloads-ddeath-seq-inc]
    const seq = out.verb === 'NBIRTH' ? 0 : (this.#seq + 1) & 0xff;
    let bytes: Buffer;
    try {
      // [tck-id-payloads-nbirth-timestamp] [tck-id-payloads-dbirth-timestamp] [tck-id-payloads-ddata-timestamp] publication time
      bytes = toBuffer(encodePayload({ ...out.payload, timestamp: this.#o.clock.now(), seq }, ENCODE));
    } catch (e) {
      // The catalogue fits every value to its datatype; if one still does not encode, retrying cannot help.
      this.#log.error({ code: 'CE_ERR_UPSTREAM_PUBLISH', topic: out.topic, ids: out.ids }, `sparkplug: cannot encode, dropped: ${(e as Error).message}`);
      if (out.ids.length > 0) this.#o.journal.ack(this.id, out.ids);
      settled(link, out);
      return;
    }
    if (link.maxPacket !== undefined && publishSize(out.topic, bytes.length, this.#protocol) > link.maxPacket) return this.#oversize(link, out, bytes.length);
    this.#seq = seq;
    link.inflight++;
    this.#s.published++;
    // [tck-id-payloads-nbirth-retain] [tck-id-payloads-dbirth-retain] [tck-id-payloads-ddata-retain]; QoS: see docs/sparkplug.md.
    link.client.publish(out.topic, bytes, { qos: link.qos, retain: false }, (err) => {
      link.inflight--;
      settled(link, out);
      if (err) {
        // Lost with the connection: offered again on the next one. Refused by the broker: below.
        if (link.open) this.#refused(link, out, err);
      } else if (out.ids.length > 0) {
        this.#o.journal.ack(this.id, out.ids);
        this.#s.acked += out.ids.length;
        this.#drain.add(out.points);
      }
      link.wake();
    });
  }

  /**
   * The broker refused a message (an MQTT 5 PUBACK reason ≥ 0x80, e.g. 0x87 not authorized). Its
   * records stay in the journal, and are offered again after REFUSED_RETRY_MS within this
   * connection, not at the next one (which may never come). A refused birth or death leaves the
   * host with a wrong view of the node: data stops until births go again.
   */
  #refused(link: Link, out: Out, err: Error): void {
    this.#s.refused++;
    const lifecycle = out.verb === 'NBIRTH' || out.verb === 'DBIRTH' || out.verb === 'DDEATH';
    if (lifecycle) link.refusal.rebirth = true;
    // Without its NBIRTH nothing makes sense to the host; without its DBIRTH, that device's data.
    if (out.verb === 'NBIRTH') link.born = false;
    if (out.verb === 'DBIRTH') { link.unborn.add(out.device!); link.devices.delete(out.device!); }
    if (link.refusal.waiting) return;
    link.refusal.waiting = true;
    // One log line and one timer per round: a broker refusing a whole topic tree would otherwise log every message.
    this.#log.error({ code: 'CE_ERR_UPSTREAM_PUBLISH', topic: out.topic, verb: out.verb }, `sparkplug: ${err.message}; kept in the journal, offered again in ${REFUSED_RETRY_MS / 1000} s${lifecycle ? ' after new births' : ''}`);
    this.#o.clock.sleep(REFUSED_RETRY_MS, link.done.signal).then(() => {
      link.refusal.waiting = false;
      link.refusal.retry = true;
      link.wake();
    }, () => {});
  }

  /**
   * A message larger than the broker takes (CONNACK Maximum Packet Size) would be answered with
   * DISCONNECT 0x95, and sent again after every reconnect. Data is split in halves by metric, each
   * half its own DDATA/NDATA (the record is acknowledged with the last); what cannot be split (a
   * birth, one metric) is dropped with an error that names the limit.
   */
  #oversize(link: Link, out: Out, bytes: number): void {
    const metrics = out.payload.metrics;
    if ((out.verb === 'DDATA' || out.verb === 'NDATA') && metrics.length > 1) {
      const mid = metrics.length >>> 1;
      link.outbox.unshift(
        { ...out, payload: { ...out.payload, metrics: metrics.slice(0, mid) }, ids: [], points: 0 },
        { ...out, payload: { ...out.payload, metrics: metrics.slice(mid) } },
      );
      return;
    }
    this.#s.oversize++;
    const err = new CodedError('CE_ERR_UPSTREAM_PUBLISH', `sparkplug: ${out.verb} on ${out.topic} is ${bytes} bytes, more than the broker's maximum packet size (${link.maxPacket}); dropped. Raise the broker's limit (mosquitto: max_packet_size)${out.verb.endsWith('BIRTH') ? ', or give the device fewer tags' : ''}`);
    this.#s.lastError = err.message;
    this.#log.error({ code: err.code, topic: out.topic, bytes, maxPacket: link.maxPacket }, err.message);
    if (out.ids.length > 0) this.#o.journal.ack(this.id, out.ids);
    settled(link, out);
  }

  #sayOnce(what: string, message: string): void {
    if (this.#said.has(what)) return;
    this.#said.add(what);
    this.#log.warn({ url: this.#o.upstream.url }, message);
  }

  /**
   * A clean stop (or the primary host left): NDEATH with the current bdSeq, then DISCONNECT
   * [tck-id-operational-behavior-edge-node-intentional-disconnect-ndeath] [tck-id-operational-behavior-edge-node-intentional-disconnect-packet];
   * over MQTT 5 with "Disconnect with Will Message" [tck-id-payloads-ndeath-will-message-publisher-disconnect-mqtt50],
   * so the broker sends the will too: a host may see the same NDEATH twice.
   */
  async #goodbye(client: MqttClient): Promise<void> {
    await within(client.publishAsync(this.#topics.node('NDEATH'), toBuffer(encodePayload(ndeath(this.#bdSeq.current, this.#o.clock.now()), ENCODE)), { qos: 1, retain: false }), GOODBYE_MS);
    await endClient(client, GOODBYE_MS, this.#protocol === 5 ? { reasonCode: 0x04 } : undefined);
  }
}

/** A birth the data waits for is settled: acknowledged, refused, or dropped without being sent. */
function settled(link: Link, out: Out): void {
  if (out.verb.endsWith('BIRTH') && link.birthsDue > 0) link.birthsDue--;
}

const toBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

