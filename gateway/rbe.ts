// Report by exception: a tag is published when its quality changes, when its value moves by more
// than its deadband from the last value published, and at least every max_interval (integrity),
// so the platform can tell "unchanged" from "dead".
import type { Sample } from './model/sample.ts';

export interface RbeSetting {
  /** 0 publishes every change. Compared with the last value published, so slow drift is caught. */
  deadband: number;
  maxIntervalMs: number;
}

/** What was last published for a tag, with the tag's setting: one map lookup per point, not two. */
interface Last { value: Sample['value']; quality: Sample['quality']; at: number; deadband: number; maxIntervalMs: number }

/** Integrity interval of a tag whose device and tag set none (docs/config.md: `max_interval`). */
export const DEFAULT_MAX_INTERVAL_MS = 60_000;
const DEFAULT_SETTING: RbeSetting = { deadband: 0, maxIntervalMs: DEFAULT_MAX_INTERVAL_MS };

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
        const setting = this.#settings.get(s.tag) ?? DEFAULT_SETTING;
        this.#last.set(s.tag, { value: s.value, quality: s.quality, at: now, deadband: setting.deadband, maxIntervalMs: setting.maxIntervalMs });
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
    if (now - last.at >= last.maxIntervalMs) return true;
    if (typeof s.value === 'number' && typeof last.value === 'number') {
      return last.deadband === 0 ? s.value !== last.value : Math.abs(s.value - last.value) > last.deadband;
    }
    return s.value !== last.value;
  }
}
