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

export class LorawanRouter {
  readonly #owners = new Map<string, { owner: UplinkOwner; sensor: number; lastFCnt: number | undefined }>();
  readonly #s: IngestStats = { received: 0, accepted: 0, rejected: {} };
  readonly #unreported: Partial<Record<RejectReason, number>> = {};
  readonly #examples: Partial<Record<RejectReason, string>> = {};
  readonly #clock: Clock;
  readonly #log: Logger;
  #loggedAt = -Infinity;
  #unsubscribe: () => void;
  #users = 0;
  readonly #key: string;

  static acquire(key: string, source: MessageSource, topic: string, deps: { clock: Clock; logger: Logger }): LorawanRouter {
    const k = `${key}|${topic}`;
    let r = routers.get(k);
    if (!r) { r = new LorawanRouter(k, source, topic, deps); routers.set(k, r); }
    r.#users++;
    return r;
  }

  private constructor(key: string, source: MessageSource, topic: string, deps: { clock: Clock; logger: Logger }) {
    this.#key = key;
    this.#clock = deps.clock;
    this.#log = deps.logger.child({ part: 'lorawan', topic });
    this.#unsubscribe = source.subscribe(topic, (_t, payload) => this.#receive(payload));
  }

  register(devEui: string, owner: UplinkOwner, sensor: number): void {
    this.#owners.set(devEui.toLowerCase(), { owner, sensor, lastFCnt: undefined });
  }

  stats(): IngestStats { return { ...this.#s, rejected: { ...this.#s.rejected } }; }

  /** A device's own rejection (its codec refused the frame), counted with the router's. */
  rejectDecoded(reason: RejectReason, detail: string): void {
    this.#s.accepted--;
    this.reject(reason, detail);
  }

  reject(reason: RejectReason, detail: string): void {
    this.#s.rejected[reason] = (this.#s.rejected[reason] ?? 0) + 1;
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
    if (!p.ok) return this.reject(p.reason, p.detail);
    const u = p.uplink;
    const o = this.#owners.get(u.devEui);
    if (!o) return this.reject('unknown device', `DevEUI ${u.devEui} is in no device's sensors`);
    // Two gateways hearing one uplink, or a network server replaying: the same counter again.
    if (o.lastFCnt !== undefined && u.fCnt <= o.lastFCnt && o.lastFCnt - u.fCnt < RESET_GAP) {
      return this.reject('duplicate', `${u.devEui} fCnt ${u.fCnt} after ${o.lastFCnt}`);
    }
    o.lastFCnt = u.fCnt;
    this.#s.accepted++;
    o.owner.onUplink(o.sensor, u);
  }

  release(): void {
    if (--this.#users > 0) return;
    routers.delete(this.#key);
    this.#unsubscribe();
  }
}
