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
  /** Events of the priority lane: `alarms`, `cmd-result`. */
  channel: (name: string) => `${prefix}/${name}`,
});

export interface TelemetryPayload {
  site: string;
  device: string;
  seq: number;
  historical: boolean;
  points: { tag: string; v: number | boolean | string | null; q: string; t: number }[];
}

/**
 * The telemetry payload (TelemetryPayload) as JSON text. The journal stores the points array in
 * this very form (gateway/journal/points.ts): it is spliced in, never decoded and encoded again.
 */
export function telemetryJson(site: string, rec: JournalRecord, historical: boolean): string {
  // Joined into one flat string: concatenated, it is a rope that mqtt.js flattens into a copy when
  // it measures the payload (Buffer.byteLength), and that copy was most of what reached V8's old
  // generation at 10,000 points/s (an allocation profile of bench:modbus).
  return ['{"site":', JSON.stringify(site), ',"device":', JSON.stringify(rec.device), ',"seq":', String(rec.seq),
    ',"historical":', String(historical), ',"points":', rec.body, '}'].join('');
}

/** What the retained status says of the journal, for this upstream. */
export interface StatusJournal { backlog: number; oldestAgeS: number; dropped: number; droppedPoints: number; full: boolean }

export const onlinePayload = (version: string, ts: number, journal?: StatusJournal) =>
  JSON.stringify(journal ? { online: true, version, ts, journal } : { online: true, version, ts });
export const offlinePayload = (ts?: number) => JSON.stringify(ts === undefined ? { online: false } : { online: false, ts });
