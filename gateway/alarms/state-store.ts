// Where alarm states live across restarts: an alarm active and unacknowledged when the box went
// down is still active and unacknowledged when it comes back, and is not announced twice. A JSON
// file beside the journal, replaced atomically (written aside, flushed, renamed), and an in-memory
// store for tests.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { AlarmState } from './lifecycle.ts';

export interface SavedAlarm { state: AlarmState; active: boolean; since: number }

export interface AlarmStateStore {
  load(): Record<string, SavedAlarm>;
  save(states: Record<string, SavedAlarm>): void;
}

export class MemoryAlarmStore implements AlarmStateStore {
  #data: Record<string, SavedAlarm> = {};
  load(): Record<string, SavedAlarm> { return structuredClone(this.#data); }
  save(states: Record<string, SavedAlarm>): void { this.#data = structuredClone(states); }
}

export class FileAlarmStore implements AlarmStateStore {
  readonly file: string;
  readonly #onError: (e: Error) => void;

  constructor(dir: string, onError: (e: Error) => void) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'alarm-state.json');
    this.#onError = onError;
  }

  load(): Record<string, SavedAlarm> {
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as { version?: number; alarms?: Record<string, SavedAlarm> };
      return data.alarms ?? {};
    } catch (e) {
      // No file yet is the normal first start; a damaged one must not stop the box either.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.#onError(e as Error);
      return {};
    }
  }

  save(states: Record<string, SavedAlarm>): void {
    const tmp = `${this.file}.tmp`;
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, JSON.stringify({ version: 1, alarms: states }));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.file);
    } catch (e) {
      this.#onError(e as Error);
    }
  }
}
