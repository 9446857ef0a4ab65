// One subscription per network-server topic, shared by every LoRaWAN device (lot, street) that
// listens on it: each uplink is parsed once, checked for a repeated frame counter, and handed to
// the device that owns its DevEUI. Rejections (malformed JSON, bad base64, short frames, unknown
// devices, duplicates) are counted by reason and logged as one summary line a minute at most, so
// a flood of garbage can neither stop the ingest nor fill the disk with log lines.
import type { Clock, Logger, MessageSource } from '../../gateway/model/index.ts';
import { parseUplink, type RejectReason, type Uplink } from './uplink.ts';

export interface UplinkOwner { onUplink(sensor: number, uplink: Uplink): void }

export interface IngestStats { received: number; accepted: number; rejected: Partial<Record<RejectReason, number>> }

const LOG_EVERY_MS = 60_000;
/** A counter this far below the last one is a device that rejoined (counters restart), not a replay. */
const RESET_GAP = 1000;

const routers = new Map<string, LorawanRouter>();

const emptyStats = (): IngestStats => ({ received: 0, accepted: 0, rejected: {} });
const copyStats = (s: IngestStats): IngestStats => ({ ...s, rejected: { ...s.rejected } });

interface Sensor { owner: UplinkOwner; sensor: number; counts: IngestStats; lastFCnt: number | undefined }

export class LorawanRouter {
  readonly topic: string;
  readonly #sensors = new Map<string, Sensor>();
  /** Per device: what its own sensors sent. The topic's counts add what no device could be named for. */
  readonly #perOwner = new Map<UplinkOwner, IngestStats>();
  readonly #s: IngestStats = emptyStats();
  readonly #unreported: Partial<Record<RejectReason, number>> = {};
  readonly #examples: Partial<Record<RejectReason, string>> = {};
  readonly #clock: Clock;
  readonly #log: Logger;
  #loggedAt = -Infinity;
  #unsubscribe: () => void;
  #users = 0;
  /** The source and topic: one router per pair. */
  readonly key: string;

  /** The logger is the gateway's, not a device's: a rejection on a shared topic belongs to no one device. */
  static acquire(key: string, source: MessageSource, topic: string, deps: { clock: Clock; logger: Logger }): LorawanRouter {
    const k = `${key}|${topic}`;
    let r = routers.get(k);
    if (!r) { r = new LorawanRouter(k, source, topic, deps); routers.set(k, r); }
    r.#users++;
    return r;
  }

  private constructor(key: string, source: MessageSource, topic: string, deps: { clock: Clock; logger: Logger }) {
    this.key = key;
    this.topic = topic;
    this.#clock = deps.clock;
    this.#log = deps.logger.child({ part: 'lorawan', topic });
    this.#unsubscribe = source.subscribe(topic, (_t, payload) => this.#receive(payload));
  }

  register(devEui: string, owner: UplinkOwner, sensor: number): void {
    let counts = this.#perOwner.get(owner);
    if (!counts) { counts = emptyStats(); this.#perOwner.set(owner, counts); }
    this.#sensors.set(devEui.toLowerCase(), { owner, sensor, counts, lastFCnt: undefined });
  }

  /** The whole topic: every message received, including those that name no known device. */
  stats(): IngestStats { return copyStats(this.#s); }

  /** One device's share: the uplinks of its sensors, accepted or refused (duplicates, codec errors). */
  statsOf(owner: UplinkOwner): IngestStats { return copyStats(this.#perOwner.get(owner) ?? emptyStats()); }

  /** A device's own rejection (its codec refused the frame), counted with the router's. */
  rejectDecoded(owner: UplinkOwner, reason: RejectReason, detail: string): void {
    const c = this.#perOwner.get(owner);
    if (c) { c.accepted--; count(c, reason); }
    this.#s.accepted--;
    this.#reject(reason, detail);
  }

  #reject(reason: RejectReason, detail: string): void {
    count(this.#s, reason);
    this.#unreported[reason] = (this.#unreported[reason] ?? 0) + 1;
    this.#examples[reason] ??= detail;
    const now = this.#clock.now();
    if (now - this.#loggedAt < LOG_EVERY_MS) return;
    this.#loggedAt = now;
    this.#log.warn({ code: 'CE_ERR_SENSOR_PAYLOAD', rejected: { ...this.#unreported }, examples: { ...this.#examples } }, 'sensor uplinks rejected since the last report');
    for (const k of Object.keys(this.#unreported) as RejectReason[]) { delete this.#unreported[k]; delete this.#examples[k]; }
  }

  #receive(payload: Buffer): void {
    this.#s.received++;
    const p = parseUplink(payload);
    if (!p.ok) return this.#reject(p.reason, p.detail);
    const u = p.uplink;
    const o = this.#sensors.get(u.devEui);
    if (!o) return this.#reject('unknown device', `DevEUI ${u.devEui} is in no device's sensors`);
    o.counts.received++;
    // Two gateways hearing one uplink, or a network server replaying: the same counter again.
    if (o.lastFCnt !== undefined && u.fCnt <= o.lastFCnt && o.lastFCnt - u.fCnt < RESET_GAP) {
      count(o.counts, 'duplicate');
      return this.#reject('duplicate', `${u.devEui} fCnt ${u.fCnt} after ${o.lastFCnt}`);
    }
    o.lastFCnt = u.fCnt;
    this.#s.accepted++;
    o.counts.accepted++;
    o.owner.onUplink(o.sensor, u);
  }

  release(): void {
    if (--this.#users > 0) return;
    routers.delete(this.key);
    this.#unsubscribe();
  }
}

function count(s: IngestStats, reason: RejectReason): void {
  s.rejected[reason] = (s.rejected[reason] ?? 0) + 1;
}
