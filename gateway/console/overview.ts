// The overview a technician reads in ten seconds (GET /api/overview, `cityedge status`): each
// device's state in one word, the backlog and whether it is draining, each upstream's link. Built
// from the gateway's status at request time; nothing here is kept but the backlog's peak, which
// the progress bar of a catch-up is measured against.
import type { Config } from '../model/index.ts';
import type { GatewayStatus } from '../main.ts';
import type { DeviceHealth } from '../store/live.ts';

export type DeviceState = 'ok' | 'degraded' | 'down' | 'unknown';

export interface Overview {
  site: Config['site'];
  version: string;
  started_at: number;
  now: number;
  devices: {
    id: string; driver: string; description?: string; state: DeviceState; last_good_at: number | null;
    last_scan_ms: number; scans: number; failed_scans: number; overruns: number; requests_per_scan: number; poll_ms: number | null;
  }[];
  journal: { backlog: number; oldest_age_s: number | null; bytes: number; drain_rate: number; dropped: number; peak_backlog: number };
  upstreams: { id: string; format: string; connected: boolean; backlog: number; published: number; acked: number; last_error: string | null }[];
  alarms: { active: number; unacknowledged: number; shelved: number; rules: number };
  cameras: { id: string; name?: string; viewers: number; running: boolean }[];
}

export interface OverviewInput {
  config: Config;
  status: GatewayStatus;
  health: (device: string) => DeviceHealth;
  cameras: () => { id: string; name?: string; viewers: number; running: boolean }[];
  startedAt: number;
  now: number;
}

/** Polled drivers have a poll interval worth showing; sensors speak when they have something to say. */
const POLLED = new Set(['modbus-tcp', 'modbus-rtu', 'opcua']);

export function deviceState(st: { scans: number; online: boolean | undefined; lastScanMs: number }, pollMs: number | null, h: DeviceHealth): DeviceState {
  if (st.scans === 0 || st.online === undefined) return 'unknown';
  if (!st.online) return 'down';
  // Answering, but not wholly: a tag isolated after an illegal-address exception, or scans that
  // no longer fit their interval.
  if (h.badTags > 0 || (pollMs !== null && st.lastScanMs > pollMs)) return 'degraded';
  return 'ok';
}

export class OverviewBuilder {
  #peak = 0;

  build(i: OverviewInput): Overview {
    const { config, status, now } = i;
    const backlog = status.journal.records;
    // The peak is of this catch-up: once drained, the next outage measures from zero again.
    this.#peak = backlog === 0 ? 0 : Math.max(this.#peak, backlog);
    const ups = Object.entries(status.upstreams);
    const formats = new Map(config.upstreams.map((u) => [u.id, u.format]));
    const alarms = status.alarms;
    return {
      site: config.site,
      version: status.version,
      started_at: i.startedAt,
      now,
      devices: config.devices.filter((d) => d.enabled).map((d) => {
        const st = status.devices[d.id]!;
        const h = i.health(d.id);
        const pollMs = POLLED.has(d.driver) ? d.poll_ms : null;
        return {
          id: d.id, driver: d.driver, ...(d.description !== undefined ? { description: d.description } : {}),
          state: deviceState(st, pollMs, h), last_good_at: h.lastGoodAt, last_scan_ms: st.lastScanMs, scans: st.scans,
          failed_scans: st.failedScans, overruns: st.overruns, requests_per_scan: st.requestsPerScan, poll_ms: pollMs,
        };
      }),
      journal: {
        backlog,
        oldest_age_s: status.journal.oldestTs === undefined ? null : Math.max(0, Math.round((now - status.journal.oldestTs) / 1000)),
        bytes: status.journal.bytes,
        drain_rate: Math.round(Math.max(0, ...ups.map(([, u]) => u.drainRate))),
        dropped: status.journal.dropped,
        peak_backlog: this.#peak,
      },
      upstreams: ups.map(([id, u]) => ({
        id, format: formats.get(id) ?? 'json', connected: u.connected, backlog: u.backlog,
        published: 'published' in u ? u.published : u.writtenBatches,
        acked: 'acked' in u ? u.acked : u.writtenBatches,
        last_error: u.lastError ?? null,
      })),
      alarms: {
        active: alarms.filter((a) => a.active).length,
        unacknowledged: alarms.filter((a) => a.state === 'active' || a.state === 'rtn_unack').length,
        shelved: alarms.filter((a) => a.state === 'shelved').length,
        rules: alarms.length,
      },
      cameras: i.cameras(),
    };
  }
}
