// The journal interface: what the scheduler appends and what each uplink drains. The in-memory
// journal implements it here; the durable on-disk journal is a second implementation of the same
// interface (one conformance suite runs against both).
import type { Sample } from '../model/sample.ts';

export interface JournalRecord {
  /** Position in the journal; increases with every append. */
  readonly id: number;
  readonly device: string;
  /** Per-device sequence number; consumers drop duplicates by (site, device, seq). */
  readonly seq: number;
  /** When the record was appended (epoch ms). */
  readonly ts: number;
  readonly points: readonly Sample[];
}

export interface JournalStats {
  records: number;
  points: number;
  oldestTs: number | undefined;
  appended: number;
  dropped: number;
}

export interface Journal {
  /** Appends one batch of a device's samples and gives it the device's next seq. The journal keeps `points` as given: the caller must not change the array afterwards. */
  append(device: string, points: readonly Sample[]): JournalRecord;
  /** Registers an upstream; records are kept until every registered upstream has acknowledged them. */
  openCursor(upstream: string): void;
  /**
   * Up to `limit` records the upstream has not acknowledged, oldest first, leaving out `skip`
   * (the records it has in flight).
   */
  read(upstream: string, limit: number, skip?: ReadonlySet<number>): JournalRecord[];
  /** The upstream has them (QoS 1 PUBACK): they are never read again for it. */
  ack(upstream: string, ids: Iterable<number>): void;
  /** Records this upstream has not acknowledged yet. */
  backlog(upstream: string): number;
  stats(): JournalStats;
  /** Called after every append, so an idle uplink wakes up. Returns an unsubscribe function. */
  onAppend(listener: () => void): () => void;
  close(): Promise<void>;
}
