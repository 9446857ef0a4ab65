// Journal telemetry records as InfluxDB line protocol (the v2 write API's body), for the influx
// upstream (cloud-sync/influx-uplink.ts, docs/upstream-influx.md). Pure: no I/O, no clock.
//
//   cityedge,component=3301050101000001,device=plc1,site=ps-gongshu-012 flow=12.5,pump1_run=true 1700000000123
//
// One line per (record, timestamp): the points of a scan share their `t` and become the fields of
// one line. Rules: https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/
// (section "Special characters"). This runs on every batch, so names are escaped once per device
// and per tag name and kept, and values are formatted without intermediate objects.
import { decodePoints, type StoredPoint } from '../gateway/journal/journal.ts';

export const DEFAULT_MEASUREMENT = 'cityedge';

/** Measurement names: comma and space are special (and the backslash that escapes them). */
const MEASUREMENT_SPECIAL = /[\\, \n\r]/;
/** Tag keys, tag values and field keys: comma, equals sign and space (and the backslash). */
const KEY_SPECIAL = /[\\,= \n\r]/;

/**
 * Line protocol has no way to carry a newline in a name (it ends the line): a newline is written as
 * the two characters `\n`, a carriage return as `\r`. Names here come from the configuration
 * (`[a-z0-9_-]`), so this only guards against a line being cut in two.
 */
function newlines(s: string): string {
  return s.replace(/\n/g, '\\\\n').replace(/\r/g, '\\\\r');
}

export function escapeMeasurement(s: string): string {
  return MEASUREMENT_SPECIAL.test(s) ? newlines(s.replace(/[\\, ]/g, '\\$&')) : s;
}

/** For tag keys, tag values and field keys. */
export function escapeKey(s: string): string {
  return KEY_SPECIAL.test(s) ? newlines(s.replace(/[\\,= ]/g, '\\$&')) : s;
}

/** A string field value, quoted: `"` and `\` escaped; a newline becomes the two characters `\n`. */
export function quoteString(s: string): string {
  return `"${/[\\"\n\r]/.test(s) ? s.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\\\n').replace(/\r/g, '\\\\r') : s}"`;
}

/**
 * A field value. Every number is written as a float (no `i` suffix): a field's type is fixed at its
 * first write, and a tag whose value happens to be whole in one batch and fractional in the next
 * must not flip from integer to float (InfluxDB refuses the second batch: "field type conflict").
 */
export function fieldValue(v: number | boolean | string): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return quoteString(v);
}

/**
 * The series key of a device's lines: measurement and tags, escaped, tags in key order (InfluxDB
 * sorts them itself otherwise). A tag with no value (no component code) is left out: line protocol
 * has no empty tag values.
 */
export function seriesKey(measurement: string, site: string, device: string, component?: string): string {
  let key = escapeMeasurement(measurement);
  if (component) key += `,component=${escapeKey(component)}`;
  if (device) key += `,device=${escapeKey(device)}`;
  if (site) key += `,site=${escapeKey(site)}`;
  return key;
}

export interface RecordLines {
  /** The lines, joined by `\n` (no trailing newline); '' when no point had a value. */
  text: string;
  lines: number;
  /** Points written as fields. */
  fields: number;
  /** Points without a value (quality bad): no field written for them. */
  nulls: number;
}

/**
 * The lines of one series: one per distinct timestamp, in order of first appearance, each with one
 * field per point that has a value. `fieldKey(tag)` gives the escaped key followed by `=`.
 * Quality is not written: `uncertain` values are written like good ones, `bad` ones have no value.
 */
export function pointLines(series: string, points: readonly StoredPoint[], fieldKey: (tag: string) => string): RecordLines {
  // Usually every point of a record has the same `t` (one scan): one group, no map.
  let firstT = NaN;
  let first: string[] = [];
  let others: Map<number, string[]> | undefined;
  let fields = 0;
  let nulls = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    if (p.v === null || p.v === undefined) { nulls++; continue; }
    const field = fieldKey(p.tag) + fieldValue(p.v);
    fields++;
    if (p.t === firstT) first.push(field);
    else if (first.length === 0) { firstT = p.t; first = [field]; }
    else {
      others ??= new Map();
      const g = others.get(p.t);
      if (g) g.push(field); else others.set(p.t, [field]);
    }
  }
  if (fields === 0) return { text: '', lines: 0, fields, nulls };
  let text = `${series} ${first.join(',')} ${msTime(firstT)}`;
  let lines = 1;
  if (others) {
    for (const [t, g] of others) { text += `\n${series} ${g.join(',')} ${msTime(t)}`; lines++; }
  }
  return { text, lines, fields, nulls };
}

/** Epoch milliseconds as the write API expects with `precision=ms`: an integer. */
const msTime = (t: number): string => String(Number.isInteger(t) ? t : Math.round(t));

export interface LineEncoderOptions {
  /** Default `cityedge`. */
  measurement?: string;
  site: string;
  /** The device's component code (部件标识码), written as tag `component` when there is one. */
  componentOf?: (device: string) => string | undefined;
}

/** Bounds the name caches; devices and tags come from the configuration, so this is never reached in practice. */
const MAX_CACHED = 100_000;

/**
 * Turns telemetry records into lines. Holds the escaped series key per device and the escaped
 * field key per tag name, computed once: the same few hundred names recur in every batch.
 */
export class LineEncoder {
  readonly #measurement: string;
  readonly #site: string;
  readonly #componentOf: (device: string) => string | undefined;
  readonly #series = new Map<string, string>();
  readonly #fieldKeys = new Map<string, string>();
  readonly #fieldKey = (tag: string): string => {
    let k = this.#fieldKeys.get(tag);
    if (k === undefined) {
      if (this.#fieldKeys.size >= MAX_CACHED) this.#fieldKeys.clear();
      k = `${escapeKey(tag)}=`;
      this.#fieldKeys.set(tag, k);
    }
    return k;
  };

  constructor(o: LineEncoderOptions) {
    this.#measurement = o.measurement ?? DEFAULT_MEASUREMENT;
    if (this.#measurement === '') throw new RangeError('line protocol: the measurement name must not be empty');
    this.#site = o.site;
    this.#componentOf = o.componentOf ?? (() => undefined);
  }

  /** The lines of one telemetry record: `body` is the journal's JSON array of `{"tag","v","q","t"}`. */
  record(device: string, body: string): RecordLines {
    return pointLines(this.series(device), decodePoints(body), this.#fieldKey);
  }

  series(device: string): string {
    let s = this.#series.get(device);
    if (s === undefined) {
      if (this.#series.size >= MAX_CACHED) this.#series.clear();
      s = seriesKey(this.#measurement, this.#site, device, this.#componentOf(device));
      this.#series.set(device, s);
    }
    return s;
  }
}
