// Limits tuned at run time (by the HTTP API or the platform's `…/cmd/set-alarm`) outlive a restart:
// they are kept in `alarm-overrides.json` in the data folder, with a version number that every
// change raises, on top of the configuration file, which the box never rewrites. The data folder
// is the writable one on a box whose configuration is provisioned read-only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../store/files.ts';
import type { Tunables } from './tuning.ts';

export interface Overrides {
  /** Raised by every applied change; 0 is the configuration as written. */
  version: number;
  rules: Record<string, Tunables>;
  /** Who made the last change, when. */
  updated?: { t: number; user: string; source: string };
}

export interface OverrideStore {
  load(): Overrides;
  save(o: Overrides): void;
}

export class MemoryOverrideStore implements OverrideStore {
  #o: Overrides = { version: 0, rules: {} };
  load(): Overrides { return structuredClone(this.#o); }
  save(o: Overrides): void { this.#o = structuredClone(o); }
}

export class FileOverrideStore implements OverrideStore {
  readonly file: string;
  readonly #onError: (e: Error) => void;

  constructor(dir: string, onError: (e: Error) => void) {
    this.file = join(dir, 'alarm-overrides.json');
    this.#onError = onError;
  }

  load(): Overrides {
    try {
      const o = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<Overrides>;
      if (typeof o.version !== 'number' || typeof o.rules !== 'object' || o.rules === null) throw new Error(`${this.file}: no version or rules`);
      return { version: o.version, rules: o.rules, ...(o.updated ? { updated: o.updated } : {}) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.#onError(e as Error);
      return { version: 0, rules: {} };
    }
  }

  /** Throws: a change that cannot be kept is refused, not applied for this run only. */
  save(o: Overrides): void {
    writeFileAtomic(this.file, `${JSON.stringify(o, null, 2)}\n`);
  }
}
