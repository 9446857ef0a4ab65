// Where alarm states live across restarts: an alarm active and unacknowledged when the box went
// down is still active and unacknowledged when it comes back, and is not announced twice; one the
// platform was told had cleared, or was acknowledged, is not active or unacknowledged after it.
// On a box with a disk journal the states are kept in the journal itself, in the transaction that
// commits the events announcing them, so a kill or a power cut keeps both or neither.
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Journal } from '../journal/journal.ts';
import type { AlarmState } from './lifecycle.ts';

export interface SavedAlarm { state: AlarmState; active: boolean; since: number; shelvedUntil?: number }
export interface SavedAlarms { alarms: Record<string, SavedAlarm>; flood?: boolean }

export interface AlarmStateStore {
  load(): SavedAlarms;
  /** The rules whose state changed, and whether the site is flooded, as of now. */
  save(changed: Record<string, SavedAlarm>, flood: boolean): void;
}

export class MemoryAlarmStore implements AlarmStateStore {
  #data: SavedAlarms = { alarms: {} };
  load(): SavedAlarms { return structuredClone(this.#data); }
  save(changed: Record<string, SavedAlarm>, flood: boolean): void {
    for (const [rule, s] of Object.entries(changed)) this.#data.alarms[rule] = structuredClone(s);
    this.#data.flood = flood;
  }
}

const RULE = 'alarm/';
const FLOOD = 'alarm-flood';
/** Where 0.2.0 kept the states: a file beside the journal, read once and renamed when found. */
const LEGACY_FILE = 'alarm-state.json';

export class JournalAlarmStore implements AlarmStateStore {
  readonly #journal: Journal;
  readonly #legacy: string | undefined;
  readonly #onError: (e: Error) => void;

  /** `dir`: the data folder, where an `alarm-state.json` of an earlier version is taken over. */
  constructor(journal: Journal, dir: string | undefined, onError: (e: Error) => void) {
    this.#journal = journal;
    this.#legacy = dir === undefined ? undefined : join(dir, LEGACY_FILE);
    this.#onError = onError;
  }

  load(): SavedAlarms {
    const alarms: Record<string, SavedAlarm> = {};
    for (const [key, value] of this.#journal.states(RULE)) {
      try {
        alarms[key.slice(RULE.length)] = JSON.parse(value) as SavedAlarm;
      } catch (e) {
        this.#onError(new Error(`the saved state of alarm ${key.slice(RULE.length)} is unreadable (${(e as Error).message}); it starts from normal`));
      }
    }
    const flood = this.#journal.states(FLOOD).get(FLOOD) === 'true';
    if (Object.keys(alarms).length === 0 && !flood) return this.#takeOver();
    return { alarms, flood };
  }

  save(changed: Record<string, SavedAlarm>, flood: boolean): void {
    for (const [rule, s] of Object.entries(changed)) this.#journal.putState(RULE + rule, JSON.stringify(s));
    this.#journal.putState(FLOOD, String(flood));
  }

  /**
   * The file an earlier version wrote, if there is one: its states go into the journal, committed
   * before the file is renamed aside, so a stop in between reads the file again next time.
   */
  #takeOver(): SavedAlarms {
    if (this.#legacy === undefined) return { alarms: {} };
    let data: { alarms?: Record<string, SavedAlarm>; flood?: boolean };
    try {
      data = JSON.parse(readFileSync(this.#legacy, 'utf8')) as typeof data;
    } catch (e) {
      // No file is the normal first start; a damaged one must not stop the box either.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.#onError(e as Error);
      return { alarms: {} };
    }
    const saved = { alarms: data.alarms ?? {}, flood: data.flood === true };
    this.save(saved.alarms, saved.flood);
    this.#journal.flush();
    try {
      renameSync(this.#legacy, `${this.#legacy}.imported`);
    } catch (e) {
      this.#onError(e as Error);
    }
    return saved;
  }
}
