// Small files the box keeps beside its journal: state that must survive a power cut (written aside,
// flushed, renamed, so a cut leaves the old or the new file, never half of one) and append-only
// logs that rotate before they fill the disk and keep their tail in memory for the API.
import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** The last `bytes` of a file as lines (the first, likely cut, dropped). */
function tailLines(file: string, bytes: number): string[] {
  let fd: number;
  try { fd = openSync(file, 'r'); } catch { return []; }
  try {
    const size = statSync(file).size;
    const start = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n').filter((l) => l.length > 0);
    return start > 0 ? lines.slice(1) : lines;
  } finally {
    closeSync(fd);
  }
}

export interface RecordLog<T> {
  append(entry: T): void;
  /** Newest first. */
  recent(limit: number, filter?: (e: T) => boolean): T[];
}

/** In memory only: tests, and boxes without storage (`buffer.journal: memory`). */
export class MemoryRecordLog<T> implements RecordLog<T> {
  readonly #ring: T[] = [];
  readonly #keep: number;
  constructor(keep = 1000) { this.#keep = keep; }
  append(entry: T): void {
    this.#ring.push(entry);
    if (this.#ring.length > this.#keep) this.#ring.splice(0, this.#ring.length - this.#keep);
  }
  recent(limit: number, filter?: (e: T) => boolean): T[] {
    const out: T[] = [];
    for (let i = this.#ring.length - 1; i >= 0 && out.length < limit; i--) if (!filter || filter(this.#ring[i]!)) out.push(this.#ring[i]!);
    return out;
  }
}

/**
 * JSON lines in a file, rotated to `file.1` past `maxBytes` (so at most twice that on disk), and
 * the last `keep` entries in memory. Not fsynced per line: the journal carries the durability
 * promise; this is the box's own record for people.
 */
export class FileRecordLog<T> extends MemoryRecordLog<T> {
  readonly file: string;
  readonly #maxBytes: number;
  readonly #onError: (e: Error) => void;
  #size: number;

  constructor(file: string, opts: { maxBytes?: number; keep?: number; onError: (e: Error) => void }) {
    super(opts.keep ?? 1000);
    this.file = file;
    this.#maxBytes = opts.maxBytes ?? 8 * 1024 * 1024;
    this.#onError = opts.onError;
    mkdirSync(dirname(file), { recursive: true });
    let size = 0;
    try { size = statSync(file).size; } catch { /* a first start */ }
    this.#size = size;
    for (const line of tailLines(file, 512 * 1024)) {
      try { super.append(JSON.parse(line) as T); } catch { /* a line cut by a power loss */ }
    }
  }

  override append(entry: T): void {
    super.append(entry);
    const line = `${JSON.stringify(entry)}\n`;
    try {
      if (this.#size + line.length > this.#maxBytes && this.#size > 0) {
        renameSync(this.file, `${this.file}.1`);
        this.#size = 0;
      }
      appendFileSync(this.file, line);
      this.#size += Buffer.byteLength(line);
    } catch (e) {
      this.#onError(e as Error);
    }
  }
}
