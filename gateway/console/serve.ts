// Puts the HTTP API, the console and /metrics together from what the gateway holds. main.ts loads
// this file only for a box with an `api:` section: fastify and prom-client cost memory a headless
// box should not pay.
import type { AlarmEngine, AlarmEvent } from '../alarms/engine.ts';
import type { AuditEntry } from '../commands/dispatch.ts';
import type { GatewayStatus } from '../main.ts';
import { tagNamesOf } from '../../config/tag-names.ts';
import type { ApiConfig, Clock, CommandHandler, Config, DeviceConfig, Logger, ScanResult } from '../model/index.ts';
import type { RecordLog } from '../store/files.ts';
import type { LiveValues } from '../store/live.ts';
import type { TrendStore } from '../store/trends.ts';
import { buildApi, serveApi } from './api.ts';
import { createMetrics } from './metrics.ts';
import { OverviewBuilder } from './overview.ts';
import type { DevicesView, ReadNow, TagView } from './routes-console.ts';
import type { CameraFeed } from './video.ts';

export interface CameraHandle extends CameraFeed { stats(): { viewers: number; running: boolean } }

export interface ServeDeps {
  config: Config;
  api: ApiConfig;
  engine: AlarmEngine;
  history: RecordLog<AlarmEvent>;
  audit: RecordLog<AuditEntry>;
  commands: CommandHandler;
  status: () => GatewayStatus;
  live: LiveValues;
  trends: TrendStore | undefined;
  readNow: (device: string) => Promise<ScanResult | undefined>;
  cameras: ReadonlyMap<string, CameraHandle>;
  snapshotsDir: string;
  healthy: () => boolean;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal;
}

const SENSORS = new Set(['lorawan', 'mqtt']);

function tagViews(d: DeviceConfig): TagView[] {
  if (d.driver === 'lorawan') return tagNamesOf(d).map((name) => ({ name, writable: false }));
  return d.tags.map((t) => {
    const v: TagView = { name: t.name, writable: 'writable' in t && t.writable === true };
    if (t.unit !== undefined) v.unit = t.unit;
    if (t.description !== undefined) v.description = t.description;
    if ('type' in t && t.type !== undefined) v.type = t.type;
    if ('allowed' in t && t.allowed !== undefined) v.allowed = [...t.allowed];
    if ('min' in t && t.min !== undefined) v.min = t.min;
    if ('max' in t && t.max !== undefined) v.max = t.max;
    return v;
  });
}

export function devicesView(config: Config): DevicesView {
  return {
    devices: config.devices.filter((d) => d.enabled).map((d) => ({
      id: d.id, driver: d.driver, ...(d.description !== undefined ? { description: d.description } : {}),
      poll_ms: SENSORS.has(d.driver) ? null : d.poll_ms,
      ...(d.driver === 'lorawan' && d.lot !== undefined ? { lot: d.lot } : {}),
      tags: tagViews(d),
    })),
    cameras: config.cameras.filter((c) => c.enabled).map((c) => ({
      id: c.id, width: c.width, height: c.height,
      ...(c.name !== undefined ? { name: c.name } : {}), ...(c.description !== undefined ? { description: c.description } : {}),
    })),
  };
}

export async function serve(d: ServeDeps): Promise<string | undefined> {
  const { config } = d;
  const startedAt = d.clock.now();
  const overview = new OverviewBuilder();
  const byId = new Map(config.devices.map((x) => [x.id, x]));
  const reading = new Map<string, Promise<ScanResult | undefined>>();
  const readNow: ReadNow = async (id) => {
    const dev = byId.get(id);
    if (!dev || !dev.enabled) return 'unknown';
    if (SENSORS.has(dev.driver)) return 'not-polled';
    // Clicks while a read is under way share it: a double click is one scan, not a queue of them.
    let pending = reading.get(id);
    if (!pending) {
      pending = d.readNow(id).finally(() => reading.delete(id));
      reading.set(id, pending);
    }
    const r = await pending;
    if (!r) return { points: [], error: { code: 'CE_ERR_DEVICE_DISCONNECTED', message: 'no scan result: the gateway is stopping, or the driver failed (see the log)' } };
    const prefix = `${id}.`;
    return {
      points: r.samples.map((s) => ({ tag: s.tag.startsWith(prefix) ? s.tag.slice(prefix.length) : s.tag, v: s.value, q: s.quality, t: s.ts })),
      ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}),
    };
  };
  // The overview's own fields only: ffmpeg's pid and error text are for /api/status and the log.
  const cameraStats = () => config.cameras.filter((c) => c.enabled).map((c) => {
    const st = d.cameras.get(c.id)?.stats();
    return { id: c.id, ...(c.name !== undefined ? { name: c.name } : {}), viewers: st?.viewers ?? 0, running: st?.running ?? false };
  });
  const app = buildApi({
    config: d.api, engine: d.engine, history: d.history, audit: d.audit, commands: d.commands, status: d.status,
    clock: d.clock, logger: d.logger, healthy: d.healthy,
    metrics: createMetrics({ status: d.status, site: config.site.id }),
    console: {
      overview: () => overview.build({ config, status: d.status(), health: (id) => d.live.health(id), cameras: cameraStats, startedAt, now: d.clock.now() }),
      devices: devicesView(config),
      live: d.live,
      trends: d.trends,
      readNow,
      snapshotsDir: d.snapshotsDir,
      cameras: d.cameras,
    },
  });
  return serveApi(app, { config: d.api, clock: d.clock, logger: d.logger }, d.signal);
}
