// The last value of every tag, and who wants to hear when one changes: what the console's live
// table starts from (GET /api/values) and then follows (SSE). It sees every scan, before report by
// exception, so a technician sees the device as it is now, not as the uplink last reported it.
import type { Quality, Sample, ScanResult, Value } from '../model/index.ts';

export interface LivePoint { tag: string; v: Value | null; q: Quality; t: number }
export interface LiveChange { device: string; points: LivePoint[] }
export interface DeviceHealth {
  /** When the device last answered a scan. */
  lastGoodAt: number | null;
  /** Tags whose last sample was not good while the device answered (an isolated bad address). */
  badTags: number;
}

type Listener = (change: LiveChange) => void;

export class LiveValues {
  readonly #values = new Map<string, Map<string, LivePoint>>();
  readonly #health = new Map<string, DeviceHealth>();
  readonly #listeners = new Set<Listener>();

  /** One scan's samples (`device.tag` names); listeners hear only what changed, value or quality. */
  update(device: string, result: Pick<ScanResult, 'samples' | 'error'>, at: number): void {
    let tags = this.#values.get(device);
    if (!tags) this.#values.set(device, (tags = new Map()));
    const changed: LivePoint[] = [];
    let bad = 0;
    for (const s of result.samples) {
      const p = toPoint(device, s);
      if (p.q !== 'good') bad++;
      const old = tags.get(p.tag);
      tags.set(p.tag, p);
      if (!old || old.v !== p.v || old.q !== p.q) changed.push(p);
    }
    const h = this.#health.get(device) ?? { lastGoodAt: null, badTags: 0 };
    if (!result.error) { h.lastGoodAt = at; h.badTags = bad; }
    this.#health.set(device, h);
    if (changed.length === 0 || this.#listeners.size === 0) return;
    const change = { device, points: changed };
    for (const l of this.#listeners) l(change);
  }

  /** Every tag's last point, by device then tag name. */
  snapshot(): Record<string, Record<string, Omit<LivePoint, 'tag'>>> {
    const out: Record<string, Record<string, Omit<LivePoint, 'tag'>>> = {};
    for (const [device, tags] of this.#values) {
      const d: Record<string, Omit<LivePoint, 'tag'>> = (out[device] = {});
      for (const [name, p] of tags) d[name] = { v: p.v, q: p.q, t: p.t };
    }
    return out;
  }

  health(device: string): DeviceHealth {
    return this.#health.get(device) ?? { lastGoodAt: null, badTags: 0 };
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  get listeners(): number { return this.#listeners.size; }
}

/** Samples carry `device.tag`; the console speaks of a device's tags by their own names. */
function toPoint(device: string, s: Sample): LivePoint {
  const tag = s.tag.startsWith(`${device}.`) ? s.tag.slice(device.length + 1) : s.tag;
  return { tag, v: s.value, q: s.quality, t: s.ts };
}
