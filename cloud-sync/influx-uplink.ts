// The InfluxDB upstream: drains the journal's telemetry into an InfluxDB v2 write API
// (InfluxDB 2.x, VictoriaMetrics) and tells the journal what the server has, so nothing leaves the
// journal unconfirmed (docs/upstream-influx.md).
//
// One HTTP request per batch of journal records; the records are acknowledged only once the
// server answered 2xx. A failure (refused connection, timeout, 5xx, 429) acknowledges nothing: the
// cursor is rewound and the same records go again after an exponential backoff with jitter. A
// request the server refuses as bad (4xx) is split in halves to the end, so every record it takes is
// written and the ones it refuses are found; those are dropped, counted and logged, so one bad
// device cannot hold the journal for ever. Only when the server takes nothing and has refused more
// than REFUSALS_IN_A_ROW records since it last took a write is the refusal blamed on its
// configuration, and the data kept.
//
// Its own POST (cloud-sync/http-post.ts) rather than @influxdata/influxdb-client: the client's
// WriteApi buffers lines and retries on its own timer, so what a flush confirms is not one batch of
// records; its transport reads Retry-After as milliseconds (RFC 9110 §10.2.3 says seconds) and adds
// an abort listener to the caller's signal for every request without removing it. A write is one
// POST with a text body, and its answer maps to an acknowledgement one to one.
import type { Journal, JournalRecord } from '../gateway/journal/journal.ts';
import { Backoff, CodedError, RateMeter, type Clock, type Logger } from '../gateway/model/index.ts';
import { LineEncoder, type RecordLines } from './line-protocol.ts';
import { postText } from './http-post.ts';

export interface InfluxUplinkOptions {
  id: string;
  /** Base URL of the server, e.g. `http://127.0.0.1:8086` (a path prefix of a reverse proxy is kept). */
  url: string;
  /** InfluxDB 2.x needs it (name or id); VictoriaMetrics ignores it. */
  org?: string;
  bucket: string;
  /** Sent as `Authorization: Token …`; never logged. */
  token?: string;
  /** Default `cityedge`. */
  measurement?: string;
  /** Points per write request, at most (a record is never split); default 5,000. */
  batchPoints?: number;
  site: { id: string };
  /** The device's component code (部件标识码), written as tag `component`. */
  componentOf?: (device: string) => string | undefined;
  journal: Journal;
  clock: Clock;
  logger: Logger;
}

export interface InfluxUplinkStats {
  /** The server answers and takes data: the last write was accepted (or refused for its content). */
  connected: boolean;
  /** Fields written (points with a value) in accepted requests. */
  writtenPoints: number;
  /** Requests the server accepted (2xx). */
  writtenBatches: number;
  /** Requests that failed and will be sent again (no connection, timeout, 5xx, 429, 401/403/404). */
  failedWrites: number;
  /** Records the server refused as bad (4xx), dropped so later ones can flow; and their points. */
  rejectedRecords: number;
  rejectedPoints: number;
  /** Points with no value (quality bad): acknowledged with their record, no field written. */
  nullPoints: number;
  /** Event records (alarms, command replies) acknowledged without writing. */
  skippedEvents: number;
  /** Records this upstream has not acknowledged yet. */
  backlog: number;
  /** Journal points acknowledged per second, over the last 10 s. */
  drainRate: number;
  lastError: string | undefined;
}

const DEFAULT_BATCH_POINTS = 5000;
/** Wall time, not the injected clock: a network timeout is a property of the network. */
const WRITE_TIMEOUT_MS = 30_000;
/**
 * After an idle wake, wait this long for more appends, so that a box with many devices sends one
 * request per commit of the journal (the SQLite journal commits every 250 ms) rather than one per
 * device scan.
 */
const LINGER_MS = 250;
/** A server asking for more than this in Retry-After is asked again sooner. */
const MAX_RETRY_AFTER_MS = 15 * 60_000;
/**
 * Refused records that may be dropped in a row with no write accepted in between; a batch of which
 * the server takes nothing and that would go past it is taken for a configuration error (the org,
 * the bucket, the token's rights, a proxy answering 400) and its data is kept.
 */
const REFUSALS_IN_A_ROW = 10;
/** Records read from the journal at a time, at most. */
const READ_CHUNK = 1024;

/** A journal record on its way: its lines are computed once, even when it is sent in halves. */
interface Item { rec: JournalRecord; lines: RecordLines }

/** What the server's answer means for the records of a request. */
type Answer =
  | { kind: 'accepted' }
  /** 4xx other than those below: the content is bad; `tooLarge` for 413. */
  | { kind: 'refused'; status: number; message: string; tooLarge: boolean }
  /** Send again later: nothing is acknowledged. `config`: the server's configuration, not the network. */
  | { kind: 'retry'; message: string; retryAfterMs: number; config: boolean };

/** Why a batch was not delivered; undefined when it was (accepted, or refused and dropped). */
interface Failure { message: string; retryAfterMs: number; config: boolean }

/** A record the server refused on its own, with the answer that says why. */
interface Refusal { it: Item; answer: Extract<Answer, { kind: 'refused' }> }

/** What splitting one batch found: whether the server took any part of it, and what it refused. */
interface Split { accepted: boolean; refused: Refusal[] }

export class InfluxUplink {
  readonly id: string;
  readonly #o: InfluxUplinkOptions;
  readonly #log: Logger;
  readonly #encoder: LineEncoder;
  readonly #writeUrl: URL;
  readonly #headers: Record<string, string>;
  readonly #backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  readonly #drain: RateMeter;
  /** Points per request; halved when the server answers 413. */
  #limit: number;
  /** Read from the journal, not sent yet (read is not repeatable until a rewind). */
  #pending: JournalRecord[] = [];
  #pendingPoints = 0;
  /** Average points per telemetry record, to size reads. */
  #avgCount = 20;
  /** Records refused since the server last accepted a write. */
  #refusedInRow = 0;
  #failures = 0;
  readonly #s = {
    connected: false, writtenPoints: 0, writtenBatches: 0, failedWrites: 0, rejectedRecords: 0, rejectedPoints: 0,
    nullPoints: 0, skippedEvents: 0, lastError: undefined as string | undefined,
  };

  constructor(o: InfluxUplinkOptions) {
    this.#o = o;
    this.id = o.id;
    this.#log = o.logger.child({ upstream: o.id });
    this.#encoder = new LineEncoder({ measurement: o.measurement, site: o.site.id, componentOf: o.componentOf });
    this.#limit = Math.max(1, Math.floor(o.batchPoints ?? DEFAULT_BATCH_POINTS));
    const base = new URL(o.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new RangeError(`influx upstream ${o.id}: url must be http:// or https://, got ${o.url}`);
    const q = new URLSearchParams();
    if (o.org !== undefined && o.org !== '') q.set('org', o.org);
    q.set('bucket', o.bucket);
    q.set('precision', 'ms');
    this.#writeUrl = new URL(`${o.url.replace(/[?#].*$/, '').replace(/\/+$/, '')}/api/v2/write?${q}`);
    this.#headers = { 'content-type': 'text/plain; charset=utf-8', ...(o.token ? { authorization: `Token ${o.token}` } : {}) };
    this.#drain = new RateMeter(o.clock);
    o.journal.openCursor(this.id);
  }

  stats(): InfluxUplinkStats {
    return { ...this.#s, backlog: this.#o.journal.backlog(this.id), drainRate: this.#drain.perSecond() };
  }

  /** Drains the journal until the signal aborts; what is in flight then stays in the journal. */
  async run(signal: AbortSignal): Promise<void> {
    const { journal, clock } = this.#o;
    let wake: (() => void) | undefined;
    const poke = () => { const w = wake; wake = undefined; w?.(); };
    const unsubscribe = journal.onAppend(poke);
    signal.addEventListener('abort', poke, { once: true });
    this.#log.info({ url: safeUrl(this.#o.url), org: this.#o.org, bucket: this.#o.bucket, batchPoints: this.#limit, backlog: journal.backlog(this.id) }, 'influx upstream started');
    // Whatever an earlier run read and did not get acknowledged is read again.
    this.#rewind();
    try {
      while (!signal.aborted) {
        const batch = this.#take();
        if (batch.length === 0) {
          await new Promise<void>((r) => { wake = r; });
          if (!signal.aborted) await clock.sleep(LINGER_MS, signal).catch(() => {});
          continue;
        }
        const failure = await this.#deliver(batch, signal);
        if (signal.aborted) break;
        if (!failure) continue;
        this.#failed(failure);
        this.#rewind();
        const delay = Math.max(this.#backoff.next(), failure.retryAfterMs);
        await clock.sleep(delay, signal).catch(() => {});
      }
    } finally {
      unsubscribe();
      signal.removeEventListener('abort', poke);
      wake = undefined;
    }
  }

  /** Every unacknowledged record will be read again; what was read and not sent is forgotten. */
  #rewind(): void {
    this.#o.journal.rewind(this.id);
    this.#pending = [];
    this.#pendingPoints = 0;
  }

  /**
   * The next batch: telemetry records up to the points limit (at least one record: a record is
   * never split). Event records are acknowledged as they are read, without writing: alarms and
   * command replies are not time series, and reach the platform over MQTT, whose own cursor
   * keeps them until it has them.
   */
  #take(): Item[] {
    const { journal } = this.#o;
    const events: number[] = [];
    while (this.#pendingPoints < this.#limit) {
      const want = Math.min(READ_CHUNK, Math.max(1, Math.ceil((this.#limit - this.#pendingPoints) / this.#avgCount)));
      const recs = journal.read(this.id, want);
      for (const r of recs) {
        if (r.channel !== 'telemetry') { events.push(r.id); continue; }
        this.#pending.push(r);
        this.#pendingPoints += r.count;
        this.#avgCount = Math.max(1, this.#avgCount * 0.9 + r.count * 0.1);
      }
      if (recs.length < want) break;
    }
    if (events.length > 0) { journal.ack(this.id, events); this.#s.skippedEvents += events.length; }

    const items: Item[] = [];
    let points = 0;
    let n = 0;
    for (; n < this.#pending.length; n++) {
      const rec = this.#pending[n]!;
      if (n > 0 && points + rec.count > this.#limit) break;
      points += rec.count;
      items.push({ rec, lines: this.#lines(rec) });
    }
    this.#pending = n === this.#pending.length ? [] : this.#pending.slice(n);
    this.#pendingPoints -= points;
    return items;
  }

  #lines(rec: JournalRecord): RecordLines {
    try {
      return this.#encoder.record(rec.device, rec.body);
    } catch (e) {
      // A record that cannot be decoded can never be written: it goes the way of a refused one.
      this.#log.error({ code: 'CE_ERR_UPSTREAM_REJECTED', device: rec.device, seq: rec.seq }, `journal record cannot be decoded, dropped: ${(e as Error).message}`);
      this.#s.rejectedRecords++;
      this.#s.rejectedPoints += rec.count;
      return { text: '', lines: 0, fields: 0, nulls: 0 };
    }
  }

  /**
   * Writes a batch and acknowledges what the server takes; see #write for the split. The records
   * it refused are dropped once the split is over, not during it: whether a refusal is the data or
   * the server's configuration depends on whether the server took anything at all.
   *
   * Some part accepted: the server works, the refusals are about those records (a field that
   * changed type on one device), so they are dropped, and the run of refusals starts again at 0.
   * Nothing accepted: the same refusals are what a missing org or a proxy answering 400 would give.
   * They are dropped as long as the records refused since the last accepted write stay within
   * REFUSALS_IN_A_ROW; past that nothing is dropped and the batch fails (kept, backoff, retried).
   */
  async #deliver(items: Item[], signal: AbortSignal): Promise<Failure | undefined> {
    const split: Split = { accepted: false, refused: [] };
    const failure = await this.#write(items, split, signal);
    // Stopped half way: the refused records found so far are not acknowledged, so the rewind sends
    // them again with the rest and the next split judges them with everything it finds.
    if (signal.aborted) return undefined;
    if (failure) return failure;
    if (split.refused.length === 0) return undefined;
    const run = split.accepted ? 0 : this.#refusedInRow + split.refused.length;
    if (run > REFUSALS_IN_A_ROW) {
      const { answer } = split.refused[0]!;
      return { message: `every write is refused (${run} records in a row), kept in the journal (HTTP ${answer.status}: ${answer.message})`, retryAfterMs: 0, config: true };
    }
    this.#refusedInRow = run;
    for (const r of split.refused) this.#drop(r);
    return undefined;
  }

  /**
   * Writes the items in one request and acknowledges them on 2xx. A refused request of several
   * records is written again in halves, both halves always, so every record the server takes is
   * written (a type conflict is one tag of one device; the rest of the batch is fine) and each one
   * it refuses ends in `split.refused`, unacknowledged. Resending a half that holds records already
   * written is harmless: InfluxDB and VictoriaMetrics keep one point per series and time. A
   * failure (network, 5xx, 429, 401/403/404) stops the split at once; what was accepted by then
   * stays acknowledged, the rest is read again after the rewind.
   */
  async #write(items: Item[], split: Split, signal: AbortSignal): Promise<Failure | undefined> {
    let body = '';
    for (const it of items) if (it.lines.text) body += body ? `\n${it.lines.text}` : it.lines.text;
    // Every point of these records was bad: nothing to write, nothing to wait for. Not an
    // acceptance: the server said nothing about them.
    if (!body) { this.#ack(items); return undefined; }

    const answer = await this.#post(body, signal);
    if (signal.aborted) return undefined;
    switch (answer.kind) {
      case 'accepted': {
        split.accepted = true;
        this.#refusedInRow = 0;
        this.#s.writtenBatches++;
        for (const it of items) this.#s.writtenPoints += it.lines.fields;
        this.#ack(items);
        if (!this.#s.connected) {
          this.#log.info({ url: safeUrl(this.#o.url), failures: this.#failures, backlog: this.#o.journal.backlog(this.id) }, this.#failures > 0 ? 'writes to the time-series server resumed' : 'time-series server accepts writes');
        }
        this.#s.connected = true;
        this.#failures = 0;
        this.#backoff.reset();
        return undefined;
      }
      case 'retry':
        return { message: answer.message, retryAfterMs: answer.retryAfterMs, config: answer.config };
      case 'refused': {
        if (answer.tooLarge) this.#shrink(items, body.length);
        if (items.length > 1) {
          const mid = items.length >>> 1;
          const first = await this.#write(items.slice(0, mid), split, signal);
          if (first || signal.aborted) return first;
          return this.#write(items.slice(mid), split, signal);
        }
        split.refused.push({ it: items[0]!, answer });
        return undefined;
      }
    }
  }

  /**
   * Drops one record the server refused. Dropping it lets the journal move on: a record refused now
   * is refused on every retry (its field changed type; a value the server cannot take), and holding
   * it would hold everything behind it until the journal's quota drops the oldest telemetry anyway,
   * good data first. The cost is that record, counted and logged with the server's reason.
   */
  #drop({ it, answer }: Refusal): void {
    const what = `HTTP ${answer.status}: ${answer.message}`;
    this.#s.connected = true;
    this.#s.rejectedRecords++;
    this.#s.rejectedPoints += it.rec.count;
    const err = new CodedError('CE_ERR_UPSTREAM_REJECTED', `the time-series server refused ${it.lines.fields} points of device ${it.rec.device}; dropped (${what})`);
    this.#s.lastError = err.message;
    // The first refusal and then one in ten: a server refusing a tag in every batch must not fill the log.
    if (this.#s.rejectedRecords === 1 || this.#s.rejectedRecords % 10 === 0) {
      this.#log.error({ code: err.code, device: it.rec.device, seq: it.rec.seq, status: answer.status, rejectedRecords: this.#s.rejectedRecords }, err.message);
    }
    this.#o.journal.ack(this.id, [it.rec.id]);
  }

  /** 413: the server takes smaller requests. Batches shrink from now on, down to one record. */
  #shrink(items: Item[], bytes: number): void {
    const points = items.reduce((n, it) => n + it.rec.count, 0);
    const limit = Math.max(1, Math.floor(points / 2));
    if (limit >= this.#limit) return;
    this.#limit = limit;
    this.#log.warn({ bytes, points }, `the time-series server refused a request of ${bytes} bytes as too large; batches are at most ${limit} points from now on`);
  }

  #ack(items: Item[]): void {
    let points = 0;
    for (const it of items) { points += it.rec.count; this.#s.nullPoints += it.lines.nulls; }
    this.#o.journal.ack(this.id, items.map((it) => it.rec.id));
    this.#drain.add(points);
  }

  #failed(f: Failure): void {
    this.#failures++;
    this.#s.failedWrites++;
    this.#s.connected = false;
    const err = new CodedError('CE_ERR_UPSTREAM_WRITE', `${safeUrl(this.#o.url)}: ${f.message}`);
    this.#s.lastError = err.message;
    // The first failure and then one in ten: a server down for a day must not fill the disk with logs.
    if (this.#failures === 1 || this.#failures % 10 === 0) {
      const obj = { code: err.code, failures: this.#failures, backlog: this.#o.journal.backlog(this.id) };
      if (f.config) this.#log.error(obj, err.message); else this.#log.warn(obj, err.message);
    }
  }

  /** One POST to the write API, and what its answer means. */
  async #post(body: string, signal: AbortSignal): Promise<Answer> {
    try {
      const res = await postText(this.#writeUrl, this.#headers, body, { timeoutMs: WRITE_TIMEOUT_MS, signal });
      const status = res.status;
      if (status >= 200 && status < 300) return { kind: 'accepted' };
      const ct = res.headers['content-type'];
      const message = serverMessage(res.text, Array.isArray(ct) ? ct[0] ?? null : ct ?? null, `HTTP ${status}`);
      const ra = res.headers['retry-after'];
      // 429 too many requests, 503 unavailable: the server says when (RFC 9110 §10.2.3, §15.6.4).
      if (status === 429 || status >= 500) {
        return { kind: 'retry', config: false, message: `HTTP ${status}: ${message}`, retryAfterMs: retryAfterMs(typeof ra === 'string' ? ra : null, Date.now()) };
      }
      // 401/403: the token; 404: no such org or bucket. Configuration, not data: dropping would
      // drop everything until someone fixes it. Keep the data and try again.
      if (status === 401 || status === 403 || status === 404) {
        return { kind: 'retry', config: true, message: `HTTP ${status}: ${message}`, retryAfterMs: 0 };
      }
      // 408: the request timed out on its way; the network, not the data.
      if (status === 408) return { kind: 'retry', config: false, message: `HTTP ${status}: ${message}`, retryAfterMs: 0 };
      return { kind: 'refused', status, message, tooLarge: status === 413 };
    } catch (e) {
      return { kind: 'retry', config: false, message: describe(e), retryAfterMs: 0 };
    }
  }
}

/** InfluxDB answers errors as `{"code":"invalid","message":"…"}`; others as text. Bounded for the log. */
function serverMessage(text: string, contentType: string | null, statusText: string): string {
  let m = text.trim();
  if (contentType?.includes('json')) {
    try {
      const j = JSON.parse(m) as { message?: unknown; error?: unknown };
      if (typeof j.message === 'string') m = j.message;
      else if (typeof j.error === 'string') m = j.error;
    } catch { /* the text as it is */ }
  }
  if (!m) m = statusText;
  return m.length > 500 ? `${m.slice(0, 500)}…` : m;
}

/** Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3); 0 when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number {
  if (!header) return 0;
  const h = header.trim();
  const ms = /^\d+$/.test(h) ? Number(h) * 1000 : Date.parse(h) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS) : 0;
}

/** A connection failure's code with its message (ECONNREFUSED, a reset, our timeout). */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as NodeJS.ErrnoException).code;
  return code && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
}

/** The URL without credentials, for the log. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(invalid url)';
  }
}
