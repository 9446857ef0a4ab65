// Topics and payloads of the JSON flavour (docs/mqtt.md). Public contract: change only with a
// version bump of the topic prefix.
import type { JournalRecord } from '../gateway/journal/journal.ts';
import type { SiteConfig, UpstreamConfig } from '../gateway/model/index.ts';

export function topicPrefix(upstream: UpstreamConfig, site: SiteConfig): string {
  return (upstream.topic_prefix ?? 'cityedge/v1/{site}').replaceAll('{site}', site.id).replace(/\/+$/, '');
}

export const topics = (prefix: string) => ({
  status: `${prefix}/status`,
  telemetry: (device: string) => `${prefix}/telemetry/${device}`,
});

export interface TelemetryPayload {
  site: string;
  device: string;
  seq: number;
  historical: boolean;
  points: { tag: string; v: number | boolean | string | null; q: string; t: number }[];
}

// `device.tag` → the tag's name as a JSON string, computed once per tag rather than per point.
const quotedNames = new Map<string, string>();
function quotedName(path: string): string {
  let q = quotedNames.get(path);
  if (q === undefined) {
    // The topic names the device; the point carries the tag's own name.
    q = JSON.stringify(path.slice(path.indexOf('.') + 1));
    quotedNames.set(path, q);
  }
  return q;
}

function jsonValue(v: JournalRecord['points'][number]['value']): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  return v === null ? 'null' : String(v);
}

/**
 * The telemetry payload (TelemetryPayload) as JSON text. Written out directly rather than through
 * an object per point and JSON.stringify: this runs for every point the box publishes.
 */
export function telemetryJson(site: string, rec: JournalRecord, historical: boolean): string {
  let out = `{"site":${JSON.stringify(site)},"device":${JSON.stringify(rec.device)},"seq":${rec.seq},"historical":${historical},"points":[`;
  const pts = rec.points;
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i]!;
    out += `${i === 0 ? '' : ','}{"tag":${quotedName(p.tag)},"v":${jsonValue(p.value)},"q":"${p.quality}","t":${p.ts}}`;
  }
  return `${out}]}`;
}

export const onlinePayload = (version: string, ts: number) => JSON.stringify({ online: true, version, ts });
export const offlinePayload = (ts?: number) => JSON.stringify(ts === undefined ? { online: false } : { online: false, ts });
