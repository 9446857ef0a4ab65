// What the parts of `npm run bench:journal` share: the shape of the load, the targets, and what each
// measured child (bench/lib/journal-roles.ts) reports on its RESULT line.
import { closeSync, existsSync, fsyncSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const SITE = 'bench';
export const UPSTREAM = 'bench';
export const DEVICES = 20;
export const PER_RECORD = 100;

export const APPEND_TARGET = 500_000;
export const DRAIN_TARGET = 500_000;
export const DRAIN_RAW_SHARE = 0.3;
export const RSS_TARGET_MB = 150;

/** VmRSS and VmHWM from /proc/self/status; V8's heap, used and reserved (SQLite's own memory is in RSS only). */
export interface Mem { rssMb: number; hwmMb: number; heapUsedMb: number; heapTotalMb: number }
export interface Files { db: number; wal: number }

export interface AppendResult {
  samples: number; ms: number; perS: number; cpuPct: number;
  commits: number; commitMs: number; commitMaxMs: number; files: Files; held: number; rssMb: number; hwmMb: number;
}
export interface FillResult { samples: number; records: number; bodyBytes: number; ms: number; files: Files }
export interface DrainResult {
  records: number; samples: number; ms: number; perS: number; msgPerS: number; openMs: number; cpuPct: number; elu: number;
  commits: number; commitMs: number; commitMaxMs: number; window: number | undefined;
  published: number; acked: number; connects: number; problems: string[];
}
export interface RawResult { messages: number; samples: number; ms: number; perS: number; msgPerS: number; cpuPct: number; window: number; meanPayload: number }
export interface RssFillResult {
  samples: number; ms: number; perS: number; before: Mem; afterFlush: Mem; afterIdle: Mem; afterGc: Mem | undefined; filesOpen: Files;
  held: number; records: number; bodyChars: number;
}
export interface ReopenResult {
  /** The constructor: header check, WAL recovery if any, quick_check if the last stop was not clean, the sums. */
  openMs: number;
  /** Whether the constructor ran PRAGMA quick_check (that is, whether the journal saw the last stop as a crash), and for how long. */
  quickCheck: boolean; quickCheckMs: number;
  /** openCursor + rewind + read(…, 32). */
  readMs: number; read: number;
  before: Mem; after: Mem; held: number; backlog: number;
  /** Undefined when the process was killed instead of closing the journal. */
  closeMs?: number; filesClosed?: Files;
}

/** A child's result, and what the broker and the machine did between its START and RESULT lines. */
export interface Metered<T> { r: T; brokerPct: number; machineBusyPct: number }

export const num = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
export const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');

/** Bytes of the journal's files: the database and its write-ahead log (no -shm: exclusive locking). */
export function journalBytes(dir: string): Files {
  const size = (f: string) => (existsSync(f) ? statSync(f).size : 0);
  return { db: size(join(dir, 'journal.db')), wal: size(join(dir, 'journal.db-wal')) };
}

export function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
