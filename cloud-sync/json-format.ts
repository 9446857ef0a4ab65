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
  alarms: `${prefix}/alarms`,
});

export interface TelemetryPayload {
  site: string;
  device: string;
  seq: number;
  historical: boolean;
  points: { tag: string; v: number | boolean | string | null; q: string; t: number }[];
}

export function telemetryPayload(site: string, rec: JournalRecord, historical: boolean): TelemetryPayload {
  return {
    site,
    device: rec.device,
    seq: rec.seq,
    historical,
    points: rec.points.map((p) => ({
      // The topic names the device; the point carries the tag's own name.
      tag: p.tag.slice(p.tag.indexOf('.') + 1),
      v: p.value,
      q: p.quality,
      t: p.ts,
    })),
  };
}

export const onlinePayload = (version: string, ts: number) => JSON.stringify({ online: true, version, ts });
export const offlinePayload = (ts?: number) => JSON.stringify(ts === undefined ? { online: false } : { online: false, ts });
