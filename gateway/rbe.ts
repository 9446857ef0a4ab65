// Report by exception: a tag is published when its quality changes, when its value moves by more
// than its deadband from the last value published, and at least every max_interval (integrity),
// so the platform can tell "unchanged" from "dead".
import type { Sample } from './model/sample.ts';

export interface RbeSetting {
  /** 0 publishes every change. Compared with the last value published, so slow drift is caught. */
  deadband: number;
  maxIntervalMs: number;
}

interface Last { value: Sample['value']; quality: Sample['quality']; at: number }

export class ReportByException {
  readonly #settings: ReadonlyMap<string, RbeSetting>;
  readonly #last = new Map<string, Last>();

  constructor(settings: ReadonlyMap<string, RbeSetting>) { this.#settings = settings; }

  /** The samples of one scan that must be published, in the order given. */
  filter(samples: readonly Sample[], now: number): Sample[] {
    const out: Sample[] = [];
    for (const s of samples) {
      const last = this.#last.get(s.tag);
      if (!last) {
        this.#last.set(s.tag, { value: s.value, quality: s.quality, at: now });
      } else if (this.#due(s, last, now)) {
        // Updated in place: this runs for every published point, and a new object each time is
        // garbage at the rate of the whole box's telemetry.
        last.value = s.value;
        last.quality = s.quality;
        last.at = now;
      } else {
        continue;
      }
      out.push(s);
    }
    return out;
  }

  #due(s: Sample, last: Last, now: number): boolean {
    if (s.quality !== last.quality) return true;
    const setting = this.#settings.get(s.tag);
    if (now - last.at >= (setting?.maxIntervalMs ?? 60_000)) return true;
    if (typeof s.value === 'number' && typeof last.value === 'number') {
      const db = setting?.deadband ?? 0;
      return db === 0 ? s.value !== last.value : Math.abs(s.value - last.value) > db;
    }
    return s.value !== last.value;
  }
}
