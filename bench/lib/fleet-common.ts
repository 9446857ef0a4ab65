// What the parts of `npm run bench:fleet` share: the fleet (boxes, their devices, each device's
// tags), the batches a device sends (docs/mqtt.md, `…/telemetry/{device}`), the values in them, and
// the lines the children print. Everything is a pure function of (box, device, tag, seq), so the
// end-to-end check can tell what the store should hold from the publisher's final seqs alone.

export interface FleetSpec {
  boxes: number;
  devicesPerBox: number;
}

/** Each device has 40 to 60 tags (a mean of 50): the ~50 points of a pump station's scan. */
export const MIN_TAGS = 40;
export const MAX_TAGS = 60;
/** A batch's points share one read time; a device's seq s was read at t0 + s × STEP_MS. */
export const STEP_MS = 1000;

export const deviceCount = (f: FleetSpec): number => f.boxes * f.devicesPerBox;
/** Devices are numbered box-major: device i is device i % devicesPerBox of box ⌊i / devicesPerBox⌋. */
export const boxOf = (f: FleetSpec, i: number): number => Math.floor(i / f.devicesPerBox);
export const siteName = (box: number): string => `box-${String(box).padStart(4, '0')}`;
export const deviceName = (d: number): string => `plc${d + 1}`;
export const tagName = (k: number): string => `t${String(k).padStart(2, '0')}`;
/** Spread over 40…60 so batches are not all one size. */
export const tagsOf = (i: number): number => MIN_TAGS + ((i * 13) % (MAX_TAGS - MIN_TAGS + 1));
export const topicOf = (f: FleetSpec, i: number): string => `cityedge/v1/${siteName(boxOf(f, i))}/telemetry/${deviceName(i % f.devicesPerBox)}`;

/** The value of tag k in a device's batch seq: a float with a fraction, so a store that rounded would show. */
export const valueOf = (k: number, seq: number): number => seq / 4 + k + 0.125;

export interface Point { tag: string; v: number; q: 'good'; t: number }

export function batchPoints(i: number, seq: number, t0: number): Point[] {
  const t = t0 + seq * STEP_MS;
  const n = tagsOf(i);
  const points: Point[] = new Array(n);
  for (let k = 0; k < n; k++) points[k] = { tag: tagName(k), v: valueOf(k, seq), q: 'good', t };
  return points;
}

/** The JSON payload of device i's batch seq, as a box's json upstream writes it. */
export function batchPayload(f: FleetSpec, i: number, seq: number, t0: number): string {
  return JSON.stringify({ site: siteName(boxOf(f, i)), device: deviceName(i % f.devicesPerBox), seq, historical: false, points: batchPoints(i, seq, t0) });
}

/** Distinct samples the devices' seqs 1…maxSeq[i] carry. */
export function distinctSamples(maxSeq: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < maxSeq.length; i++) n += maxSeq[i]! * tagsOf(i);
  return n;
}

export const wallNow = (): number => performance.timeOrigin + performance.now();

/** `STATS {json}` once a second, and `STOPPED {json}` (with `maxSeq`) at the end, from the publisher child. */
export interface PubLine {
  /** wallNow() of the child. */
  at: number;
  /** MQTT messages acknowledged by the broker (PUBACK), repeats included. */
  acked: number;
  /** Of them, first sendings of a batch; and repeats of a batch already acknowledged (as a reconnecting box sends). */
  firsts: number; repeats: number;
  /** Points in the first sendings (the distinct samples). */
  points: number;
  inflight: number;
  /** Publishes that failed (the connection dropped): the batch is not counted as sent. */
  errors: number;
  /** Time the publisher held back because the ingest had this much unread already, ms (cumulative). */
  heldMs: number;
  /** Fixed rate: messages owed by the schedule and not yet sent. */
  behind: number;
  /** Payload bytes of the acknowledged messages. */
  bytes: number;
  maxSeq?: number[];
}

/** `STATS {json}` once a second from the ceiling's writer child. */
export interface WriterLine { at: number; writes: number; points: number; failures: number; lastError: string | undefined }

/** The counters of one `"msg":"ingest"` line (docs/platform.md), with pino's `time` (epoch ms). */
export interface IngestLine {
  time: number;
  connected: number; messages: number; duplicates: number; rejected: number; refusedByStore: number;
  points: number; writeFailures: number; rate: number; lastError?: string;
}

/** A stats line (`"msg":"ingest"` or `"msg":"ingest stopped"`) of `cityedge ingest`, or undefined. */
export function parseIngestLine(line: string): { stopped: boolean; s: IngestLine } | undefined {
  if (!line.includes('"msg":"ingest')) return undefined;
  let r: IngestLine & { msg?: string };
  try { r = JSON.parse(line) as typeof r; } catch { return undefined; }
  if (r.msg !== 'ingest' && r.msg !== 'ingest stopped') return undefined;
  return { stopped: r.msg === 'ingest stopped', s: r };
}
