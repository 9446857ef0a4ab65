// The journal interface: what the scheduler and the alarm engine append and what each uplink
// drains. Two implementations, one conformance suite (test/journal-conformance.ts): the in-memory
// journal (tests, boxes without a disk) and the durable SQLite journal (gateway/journal/sqlite.ts).
//
// A record becomes readable when it is committed; the per-device `seq` is given at commit, so the
// committed records of a device carry consecutive seqs and a consumer that sees a gap knows that
// something committed was lost (what was lost before its commit never had a seq).
import type { Sample } from '../model/sample.ts';
/** A telemetry record's body, read back: for uplinks that re-encode it (line protocol, Sparkplug). */
export { decodePoints, type StoredPoint } from './points.ts';

/** Alarm events and command replies go before any telemetry backlog (DESIGN.md, Promises). */
export type Lane = 'priority' | 'telemetry';

export interface JournalRecord {
  /** Position in the journal; increases with every commit, across lanes and restarts. */
  readonly id: number;
  readonly lane: Lane;
  /** What the record is, and where an uplink sends it: `telemetry`, `alarms`, `cmd-result`. */
  readonly channel: string;
  readonly device: string;
  /** Per-(channel, device) sequence number; consumers drop duplicates by (site, device, seq). */
  readonly seq: number;
  /** When the record was appended (epoch ms). */
  readonly ts: number;
  /** Points in a telemetry record; 1 for an event. */
  readonly count: number;
  /**
   * Telemetry: the points as a JSON array of `{"tag","v","q","t"}` (gateway/journal/points.ts),
   * written once at append and spliced into payloads as is. Events: the event's JSON payload.
   */
  readonly body: string;
}

export interface JournalStats {
  records: number;
  points: number;
  /** Bytes of record bodies held. */
  bytes: number;
  oldestTs: number | undefined;
  /** Records committed since start. */
  appended: number;
  /** Telemetry dropped since start (quota or age), in records and points. Events are never dropped. */
  dropped: number;
  droppedPoints: number;
  /** True while the quota is forcing drops (the SQLite journal clears it once back under 80 % of its quota). */
  full: boolean;
  /** Telemetry points committed per second, over the last 10 s. */
  commitRate: number;
}

export interface Journal {
  /** Appends one batch of a device's samples (telemetry lane). The samples are encoded at once. */
  append(device: string, points: readonly Sample[]): void;
  /** Appends an event (an alarm transition, a command reply) to the priority lane. */
  appendEvent(channel: string, device: string, body: string): void;
  /** Registers an upstream; records are kept until every registered upstream has acknowledged them. */
  openCursor(upstream: string): void;
  /**
   * Up to `limit` committed records the upstream has not been given since its last rewind: priority
   * lane first, then telemetry committed since the rewind (live), then older telemetry (backlog),
   * each oldest first. What is read is not read again until rewind, acknowledged or not.
   */
  read(upstream: string, limit: number): JournalRecord[];
  /**
   * A new connection: every unacknowledged record will be read again. Telemetry appended at or
   * after `liveSince` (epoch ms; default: from now on) is live and goes ahead of the older backlog.
   * Returns the boundary: telemetry with an id up to it is backlog (`historical` in payloads).
   */
  rewind(upstream: string, liveSince?: number): number;
  /**
   * The records of these ids still held, oldest first; an id every upstream has acknowledged, or
   * the quota dropped, is skipped. For an uplink that keeps ids, not bodies, while they are in
   * flight, and needs a record again when the broker refuses it.
   */
  get(ids: readonly number[]): JournalRecord[];
  /** The upstream has them (QoS 1 PUBACK): they are never read again for it. */
  ack(upstream: string, ids: Iterable<number>): void;
  /**
   * Keeps a small state under `key` (undefined removes it), written in the same transaction as
   * the records appended on the same turn of the event loop: an alarm's state and the event that
   * announces it reach the disk together or not at all (gateway/alarms/state-store.ts).
   */
  putState(key: string, value: string | undefined): void;
  /** The states kept under keys that start with `prefix`, as last put. */
  states(prefix: string): Map<string, string>;
  /** Records this upstream has not acknowledged yet. */
  backlog(upstream: string): number;
  stats(): JournalStats;
  /** Called when records become readable, so an idle uplink wakes up. Returns an unsubscribe function. */
  onAppend(listener: () => void): () => void;
  /** Commits what is pending now (a clean stop, tests). */
  flush(): void;
  close(): Promise<void>;
}
