// Where alarm states live across restarts: an alarm active and unacknowledged when the box went
// down is still active and unacknowledged when it comes back, and is not announced twice. A JSON
// file beside the journal, replaced atomically, and an in-memory store for tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/files.ts';
import type { AlarmState } from './lifecycle.ts';

export interface SavedAlarm { state: AlarmState; active: boolean; since: number; shelvedUntil?: number }
export interface SavedAlarms { alarms: Record<string, SavedAlarm>; flood?: boolean }

export interface AlarmStateStore {
  load(): SavedAlarms;
  save(states: SavedAlarms): void;
}

export class MemoryAlarmStore implements AlarmStateStore {
  #data: SavedAlarms = { alarms: {} };
  load(): SavedAlarms { return structuredClone(this.#data); }
  save(states: SavedAlarms): void { this.#data = structuredClone(states); }
}

export class FileAlarmStore implements AlarmStateStore {
  readonly file: string;
  readonly #onError: (e: Error) => void;

  constructor(dir: string, onError: (e: Error) => void) {
    this.file = join(dir, 'alarm-state.json');
    this.#onError = onError;
  }

  load(): SavedAlarms {
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as { version?: number; alarms?: Record<string, SavedAlarm>; flood?: boolean };
      return { alarms: data.alarms ?? {}, flood: data.flood === true };
    } catch (e) {
      // No file yet is the normal first start; a damaged one must not stop the box either.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.#onError(e as Error);
      return { alarms: {} };
    }
  }

  save(states: SavedAlarms): void {
    try {
      writeFileAtomic(this.file, JSON.stringify({ version: 1, ...states }));
    } catch (e) {
      this.#onError(e as Error);
    }
  }
}
