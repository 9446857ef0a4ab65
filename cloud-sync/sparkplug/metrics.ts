// The metric catalogue of one edge node: every metric it will ever publish, with its name, alias,
// datatype and last known value, built once from the configuration. Births are read from it; data
// records update it; recordMessages() says what a journal record becomes for the host. Also the
// bdSeq counter, kept on disk so it keeps counting across restarts. No MQTT here: pure and testable.
//
// Aliases come from the configuration order, so they are the same at every start of the same
// configuration: node metrics from 0, then each device's tags in order from DEVICE_ALIAS_BASE, one
// after the other across devices [tck-id-payloads-alias-uniqueness]. A host still learns them
// from every birth; nothing relies on a host remembering them.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalRecord } from '../../gateway/journal/journal.ts';
import type { TagType } from '../../gateway/model/index.ts';
import { DataType, datatypeFor, type SpMetric, type SpPayload, type SpValue } from './payload.ts';

/** A tag as the edge node needs it; `scaled`: it has a scale or offset, so its values are fractional. */
export interface TagSpec { name: string; type?: string; unit?: string; writable?: boolean; scaled?: boolean }
export interface DeviceSpec { id: string; tags: readonly TagSpec[] }
/** A point as the journal stores it in a telemetry record's body (`{"tag","v","q","t"}`). */
export interface StoredPoint { tag: string; v: number | boolean | string | null; q: string; t: number }

export const NODE_METRICS = {
  bdSeq: 'bdSeq',
  rebirth: 'Node Control/Rebirth',
  version: 'Properties/Version',
  site: 'Properties/Site',
  alarm: 'Alarms/Event',
} as const;
/** Device tags' aliases start here: node metrics added later do not move them. */
export const DEVICE_ALIAS_BASE = 100;

export interface Metric {
  readonly name: string;
  /** undefined only for Node Control/Rebirth (see nodeBirth). */
  readonly alias: number | undefined;
  /** The device; undefined for node metrics. */
  readonly device: string | undefined;
  /** The datatype comes from the tag's configured type; else from the first value seen (sensor fields). */
  readonly typed: boolean;
  readonly unit: string | undefined;
  datatype: number;
  /** A typeless metric has seen a value, so its datatype is no longer the default. */
  learned: boolean;
  value: SpValue;
  /** Epoch ms of `value`; 0 while none is known. */
  ts: number;
}

interface Device { readonly id: string; readonly metrics: Map<string, Metric>; dead: boolean }

export class MetricCatalogue {
  readonly #node = new Map<string, Metric>();
  readonly #devices = new Map<string, Device>();
  readonly #byAlias = new Map<number, Metric>();

  constructor(devices: readonly DeviceSpec[], node: { version: string; site: string }) {
    let alias = 0;
    const nodeMetric = (name: string, datatype: number, value: SpValue, aliased = true) => {
      const m: Metric = { name, alias: aliased ? alias++ : undefined, device: undefined, typed: true, unit: undefined, datatype, learned: true, value, ts: 0 };
      this.#node.set(name, m);
      if (m.alias !== undefined) this.#byAlias.set(m.alias, m);
    };
    nodeMetric(NODE_METRICS.bdSeq, DataType.Int64, 0);
    // [tck-id-operational-behavior-data-commands-rebirth-name-aliases] no alias for the rebirth metric.
    nodeMetric(NODE_METRICS.rebirth, DataType.Boolean, false, false);
    nodeMetric(NODE_METRICS.version, DataType.String, node.version);
    nodeMetric(NODE_METRICS.site, DataType.String, node.site);
    nodeMetric(NODE_METRICS.alarm, DataType.String, null);

    alias = DEVICE_ALIAS_BASE;
    for (const d of devices) {
      const metrics = new Map<string, Metric>();
      for (const tag of d.tags) {
        const datatype = typedDatatype(tag);
        const m: Metric = {
          name: tag.name, alias: alias++, device: d.id, typed: datatype !== undefined, unit: tag.unit,
          datatype: datatype ?? DataType.Double, learned: datatype !== undefined, value: null, ts: 0,
        };
        metrics.set(tag.name, m);
        this.#byAlias.set(m.alias!, m);
      }
      this.#devices.set(d.id, { id: d.id, metrics, dead: false });
    }
  }

  deviceIds(): string[] { return [...this.#devices.keys()]; }
  has(device: string): boolean { return this.#devices.has(device); }
  metric(device: string, tag: string): Metric | undefined { return this.#devices.get(device)?.metrics.get(tag); }
  byAlias(alias: number): Metric | undefined { return this.#byAlias.get(alias); }
  isDead(device: string): boolean { return this.#devices.get(device)?.dead ?? false; }

  /**
   * NBIRTH metrics: bdSeq (Int64) [tck-id-topics-nbirth-bdseq-included] [tck-id-payloads-nbirth-bdseq],
   * `Node Control/Rebirth` Boolean false [tck-id-topics-nbirth-rebirth-metric], the version, the site
   * and the last alarm event, each with name, datatype, current value and timestamp
   * [tck-id-topics-nbirth-metrics] [tck-id-payloads-name-birth-data-requirement].
   */
  nodeBirth(bdSeq: number, now: number): SpMetric[] {
    this.#node.get(NODE_METRICS.bdSeq)!.value = bdSeq;
    return [...this.#node.values()].map((m) => birthMetric(m, now));
  }

  /**
   * DBIRTH metrics: every tag of the device, whether or not it has a value yet
   * [tck-id-topics-dbirth-metric-reqs], with its last known value or is_null
   * [tck-id-operational-behavior-data-publish-dbirth-values], and `engUnit` when it has a unit.
   */
  deviceBirth(device: string, now: number): SpMetric[] {
    return [...this.#devices.get(device)!.metrics.values()].map((m) => birthMetric(m, now));
  }

  /**
   * Datatypes these points call for. A typeless metric takes its datatype from its first value
   * (a Boolean or String sensor field was born as the default Double); a value that does not fit the
   * declared type (a fraction on an integer tag: a scale nobody said) widens it to Double or
   * String. True when a datatype changed: the device must be born again before these data.
   */
  learn(device: string, points: readonly StoredPoint[]): boolean {
    const d = this.#devices.get(device);
    let changed = false;
    for (const p of points) {
      const m = d?.metrics.get(p.tag);
      if (!m || p.v === null || p.q === 'bad') continue;
      const want = !m.learned ? datatypeFor(undefined, p.v) ?? m.datatype
        : coerce(m.datatype, p.v) !== undefined ? m.datatype
          : typeof p.v === 'number' ? DataType.Double : typeof p.v === 'string' ? DataType.String : m.datatype;
      m.learned = true;
      if (want !== m.datatype) { m.datatype = want; changed = true; }
    }
    return changed;
  }

  /**
   * DDATA metrics for a record's points, by alias only [tck-id-payloads-alias-data-cmd-requirement],
   * each with its own timestamp, in time order [tck-id-operational-behavior-data-publish-dbirth-order].
   * A bad point is is_null. The last known values move forward, never back: a backlog replayed after
   * live data does not overwrite newer values. Tags the device does not have are returned apart.
   */
  data(device: string, points: readonly StoredPoint[], historical: boolean): { metrics: SpMetric[]; unknown: string[] } {
    const d = this.#devices.get(device)!;
    const metrics: SpMetric[] = [];
    const unknown: string[] = [];
    const sorted = points.every((p, i) => i === 0 || points[i - 1]!.t <= p.t) ? points : [...points].sort((a, b) => a.t - b.t);
    for (const p of sorted) {
      const m = d.metrics.get(p.tag);
      if (!m) { unknown.push(p.tag); continue; }
      const value = p.q === 'bad' ? null : coerce(m.datatype, p.v) ?? null;
      if (p.t >= m.ts) { m.value = value; m.ts = p.t; }
      // The datatype is sent although the spec says SHOULD NOT [tck-id-payloads-metric-datatype-not-req]:
      // Tahu's JavaScript decoder (Node-RED's Sparkplug nodes) reads a value only by its datatype.
      metrics.push({ alias: m.alias!, timestamp: p.t, datatype: m.datatype, value, ...(historical ? { isHistorical: true } : {}) });
    }
    return { metrics, unknown };
  }

  /** The device stopped answering (DDEATH): its values are unknown from `t` on. */
  die(device: string, t: number): void {
    const d = this.#devices.get(device)!;
    d.dead = true;
    for (const m of d.metrics.values()) if (t >= m.ts) { m.value = null; m.ts = t; }
  }

  revive(device: string): void { this.#devices.get(device)!.dead = false; }

  /** An alarm event as an NDATA metric: the event's JSON as the `Alarms/Event` String. */
  alarm(body: string, ts: number): SpMetric {
    const m = this.#node.get(NODE_METRICS.alarm)!;
    if (ts >= m.ts) { m.value = body; m.ts = ts; }
    return { alias: m.alias!, timestamp: ts, datatype: m.datatype, value: body };
  }
}

/** A message for the host, before its seq and publication timestamp are set. */
export interface Message { verb: 'NBIRTH' | 'DBIRTH' | 'DDATA' | 'DDEATH' | 'NDATA'; device?: string; payload: SpPayload }

/**
 * NBIRTH, then a DBIRTH for every device not dead [tck-id-payloads-dbirth-order]. `born` becomes
 * the devices the host holds alive on this connection: an NBIRTH forgets every earlier DBIRTH.
 */
export function births(cat: MetricCatalogue, bdSeq: number, now: number, born: Set<string>): Message[] {
  born.clear();
  const out: Message[] = [{ verb: 'NBIRTH', payload: { metrics: cat.nodeBirth(bdSeq, now) } }];
  for (const d of cat.deviceIds()) if (!cat.isDead(d)) { born.add(d); out.push(dbirth(cat, d, now)); }
  return out;
}

/** NDEATH: the bdSeq metric only, no seq [tck-id-topics-ndeath-payload] [tck-id-topics-ndeath-seq] [tck-id-payloads-ndeath-bdseq]. */
export const ndeath = (bdSeq: number, now: number): SpPayload =>
  ({ timestamp: now, metrics: [{ name: NODE_METRICS.bdSeq, timestamp: now, datatype: DataType.Int64, value: bdSeq }] });

export const dbirth = (cat: MetricCatalogue, device: string, now: number): Message =>
  ({ verb: 'DBIRTH', device, payload: { metrics: cat.deviceBirth(device, now) } });

/**
 * What a journal record means for the host, in order: DDATA (a DBIRTH first when the host does not
 * hold the device alive, or a datatype changed), a DDEATH, an NDATA for an alarm, or nothing
 * (acknowledged at once). `born`: the devices the host holds alive on this connection (births()),
 * updated here as the messages are made, so no DDATA goes out for a device the host has not seen
 * born [tck-id-payloads-dbirth-order]. Whether those messages arrive does not
 * matter to it: a connection lost takes the host's view with it, and the next NBIRTH starts from
 * the catalogue. `skip(key, message)` reports what is not sent, once per key.
 */
export function recordMessages(cat: MetricCatalogue, rec: JournalRecord, historical: boolean, now: number, born: Set<string>, skip: (key: string, message: string) => void): Message[] {
  if (rec.channel === 'alarms') return [{ verb: 'NDATA', payload: { metrics: [cat.alarm(rec.body, rec.ts)] } }];
  // Command replies have no place in Sparkplug: a write's result reaches the host as DDATA.
  if (rec.channel !== 'telemetry') return [];
  const dev = rec.device;
  let points: StoredPoint[];
  try {
    if (!cat.has(dev)) throw new Error(`no device "${dev}" in this edge node's configuration`);
    points = JSON.parse(rec.body) as StoredPoint[];
  } catch (e) {
    skip(`skip:${dev}`, `sparkplug: telemetry of ${dev} not sent: ${(e as Error).message}`);
    return [];
  }
  // Device state follows live data only: a backlog replayed now says nothing of the device now.
  if (!historical && points.length > 0 && points.every((p) => p.q === 'bad')) {
    if (!cat.isDead(dev)) cat.die(dev, Math.max(...points.map((p) => p.t)));
    // [tck-id-operational-behavior-device-ddeath] the device stopped answering; said once.
    return born.delete(dev) ? [{ verb: 'DDEATH', device: dev, payload: { metrics: [] } }] : [];
  }
  const out: Message[] = [];
  const retyped = cat.learn(dev, points);
  // The backlog of a device that is dead now: born for its history, then dead again.
  const visit = historical && !born.has(dev) && cat.isDead(dev);
  if (!born.has(dev)) {
    if (!historical) cat.revive(dev);
    born.add(dev);
    out.push(dbirth(cat, dev, now));
  } else if (retyped) out.push(dbirth(cat, dev, now));
  const { metrics, unknown } = cat.data(dev, points, historical);
  if (unknown.length > 0) skip(`unknown:${dev}`, `sparkplug: ${dev} reports tags its birth does not have (${unknown.join(', ')}); not sent`);
  if (metrics.length > 0) out.push({ verb: 'DDATA', device: dev, payload: { metrics } });
  if (visit) { born.delete(dev); out.push({ verb: 'DDEATH', device: dev, payload: { metrics: [] } }); }
  return out;
}

function birthMetric(m: Metric, now: number): SpMetric {
  return {
    name: m.name,
    // [tck-id-payloads-alias-birth-requirement]
    ...(m.alias !== undefined ? { alias: m.alias } : {}),
    timestamp: m.ts > 0 ? m.ts : now,
    // [tck-id-payloads-metric-datatype-req]
    datatype: m.datatype,
    value: coerce(m.datatype, m.value) ?? null,
    ...(m.unit !== undefined ? { properties: { engUnit: m.unit } } : {}),
  };
}

function typedDatatype(tag: TagSpec): number | undefined {
  if (tag.type === undefined) return undefined;
  try {
    return datatypeFor(tag.type as TagType, null, { scaled: tag.scaled === true });
  } catch {
    return undefined; // a type this codec does not know: learn it from the values
  }
}

// [min, max exclusive] of the integer datatypes.
const RANGES = new Map<number, [number, number]>([
  [DataType.Int8, [-(2 ** 7), 2 ** 7]], [DataType.Int16, [-(2 ** 15), 2 ** 15]], [DataType.Int32, [-(2 ** 31), 2 ** 31]],
  [DataType.Int64, [-(2 ** 63), 2 ** 63]], [DataType.UInt8, [0, 2 ** 8]], [DataType.UInt16, [0, 2 ** 16]],
  [DataType.UInt32, [0, 2 ** 32]], [DataType.UInt64, [0, 2 ** 64]],
]);

/** The value in the form its datatype carries, or undefined when it cannot be carried by it. */
export function coerce(datatype: number, v: SpValue): SpValue | undefined {
  if (v === null) return null;
  if (typeof v === 'bigint') v = Number.isSafeInteger(Number(v)) ? Number(v) : v;
  switch (datatype) {
    case DataType.Boolean: return typeof v === 'boolean' ? v : undefined;
    case DataType.String: case DataType.Text: return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    case DataType.Float: case DataType.Double: return typeof v === 'number' ? v : typeof v === 'boolean' ? Number(v) : undefined;
  }
  const range = RANGES.get(datatype);
  const n = typeof v === 'boolean' ? Number(v) : v;
  return range && typeof n === 'number' && Number.isInteger(n) && n >= range[0] && n < range[1] ? n : undefined;
}

/**
 * bdSeq: 0 at the very first CONNECT, then one more at every CONNECT, 255 wrapping to 0
 * [tck-id-topics-nbirth-bdseq-increment]. Kept in `dataDir/sparkplug-{id}.json` (written aside and
 * renamed) before the CONNECT goes out, so a restart never repeats the bdSeq of a will the broker
 * may still hold. Without a dataDir it counts in memory only.
 */
export class BdSeqStore {
  readonly #file: string | undefined;
  readonly #onError: (e: Error) => void;
  #current: number | undefined;

  constructor(dataDir: string | undefined, id: string, onError: (e: Error) => void) {
    this.#file = dataDir === undefined ? undefined : join(dataDir, `sparkplug-${id}.json`);
    this.#onError = onError;
    if (this.#file === undefined) return;
    try {
      const v = (JSON.parse(readFileSync(this.#file, 'utf8')) as { bdSeq?: unknown }).bdSeq;
      if (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 255) this.#current = v as number;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onError(e as Error);
    }
  }

  /** The bdSeq of the current (last) CONNECT. */
  get current(): number { return this.#current ?? 0; }

  /** The bdSeq for the next CONNECT, saved before it is used. */
  next(): number {
    this.#current = this.#current === undefined ? 0 : (this.#current + 1) & 0xff;
    if (this.#file !== undefined) {
      try {
        mkdirSync(join(this.#file, '..'), { recursive: true });
        writeFileSync(`${this.#file}.tmp`, JSON.stringify({ bdSeq: this.#current }));
        renameSync(`${this.#file}.tmp`, this.#file);
      } catch (e) {
        this.#onError(e as Error);
      }
    }
    return this.#current;
  }
}
