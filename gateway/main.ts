// The composition root: the one file that knows the concrete drivers, the journal implementation
// and the uplinks. Everything else sees interfaces.
import { setMaxListeners } from 'node:events';
import type { Journal } from './journal/journal.ts';
import { MemoryJournal } from './journal/memory.ts';
import { SqliteJournal } from './journal/sqlite.ts';
import { watchJournalQuota } from './journal-alarm.ts';
import { AlarmEngine, type AlarmEvent } from './alarms/engine.ts';
import { JournalAlarmStore, MemoryAlarmStore } from './alarms/state-store.ts';
import { FileOverrideStore, MemoryOverrideStore } from './alarms/overrides.ts';
import { createCommandHandler, type AuditEntry, type CommandStats } from './commands/dispatch.ts';
import type { Writer } from './commands/verbs.ts';
import { FileRecordLog, MemoryRecordLog, type RecordLog } from './store/files.ts';
import { join } from 'node:path';
import { Scheduler, type DeviceScanStats } from './scheduler.ts';
import { DEFAULT_MAX_INTERVAL_MS, ReportByException, type RbeSetting } from './rbe.ts';
import {
  CodedError, byteSize, durationMs, silentLogger, systemClock, tagPath,
  type Clock, type CommandHandler, type Config, type DeviceConfig, type DeviceDriver, type Logger, type LorawanDeviceConfig, type MessageSource, type MqttDeviceConfig, type SnapshotHook,
} from './model/index.ts';
import { ModbusDriver } from '../drivers/modbus/driver.ts';
import { OpcuaDriver } from '../drivers/opcua/driver.ts';
import { LorawanDriver } from '../drivers/lorawan/driver.ts';
import { MqttJsonDriver, type JsonIngestStats } from '../drivers/mqtt/driver.ts';
import type { IngestStats } from '../drivers/lorawan/router.ts';
import { sensorFields } from '../config/tag-names.ts';
import { startBroker, type BrokerStats } from './broker/embedded.ts';
import { remoteSource } from './broker/remote-source.ts';
/** For `cityedge browse`: the CLI reaches drivers only through this file. */
export { browseOpcua } from '../drivers/opcua/browse.ts';
import { MqttJsonUplink, type UplinkStats } from '../cloud-sync/mqtt-uplink.ts';
import { InfluxUplink, type InfluxUplinkStats } from '../cloud-sync/influx-uplink.ts';
import { SparkplugEdgeNode, type SparkplugStats } from '../cloud-sync/sparkplug/edge-node.ts';
import type { DeviceSpec } from '../cloud-sync/sparkplug/metrics.ts';
import { tagNamesOf } from '../config/tag-names.ts';
import { VERSION } from './version.ts';
import { LiveValues } from './store/live.ts';
import { TrendStore } from './store/trends.ts';
import { CameraStream } from '../drivers/camera/stream.ts';
import { snapshotTaker } from '../drivers/camera/snapshot-taker.ts';

export interface GatewayDeps {
  logger?: Logger; clock?: Clock; journal?: Journal;
  /** Trust OPC UA server certificates seen for the first time (`cityedge run --trust`). */
  trustServers?: boolean;
}

export interface GatewayStatus {
  site: string;
  version: string;
  devices: Record<string, Readonly<DeviceScanStats> & { requestsPerScan: number }>;
  upstreams: Record<string, UplinkStats | SparkplugStats | InfluxUplinkStats>;
  journal: ReturnType<Journal['stats']>;
  alarms: ReturnType<AlarmEngine['states']>;
  commands: CommandStats;
  /** The box's broker. */
  broker?: BrokerStats;
  /** Per sensor device: its own messages (received, accepted, rejected by reason). */
  ingest: Record<string, IngestStats | JsonIngestStats>;
  /** Per network-server topic, shared by the LoRaWAN devices on it: also what named no device, or was not an uplink. */
  ingest_topics: Record<string, IngestStats>;
  /** Per camera: console viewers, whether its stream runs, restarts. */
  cameras: Record<string, ReturnType<CameraStream['stats']>>;
}

export interface Gateway {
  status(): GatewayStatus;
  /** Resolves once the HTTP API listens (its URL), or at once without one. */
  ready(): Promise<{ apiUrl?: string; brokerPort?: number }>;
  stop(): Promise<void>;
}

export interface DriverDeps {
  clock: Clock; logger: Logger; dataDir: string; trustServers?: boolean;
  /** Where pushed messages come from: the box's broker, or a network server's (LoRaWAN devices). */
  messages?: (source: LorawanDeviceConfig['source'] | MqttDeviceConfig['source']) => { source: MessageSource; key: string };
}

const NO_MESSAGES = () => ({ key: 'none', source: { subscribe: () => () => {} } });
let instances = 0;

export function createDriver(device: DeviceConfig, deps: DriverDeps): DeviceDriver {
  switch (device.driver) {
    case 'modbus-tcp':
    case 'modbus-rtu': return new ModbusDriver(device, deps);
    case 'opcua': return new OpcuaDriver(device, deps);
    case 'lorawan': {
      const m = (deps.messages ?? NO_MESSAGES)(device.source);
      return new LorawanDriver(device, { ...deps, source: m.source, sourceKey: m.key, fields: sensorFields(device) });
    }
    case 'mqtt': return new MqttJsonDriver(device, { ...deps, source: (deps.messages ?? NO_MESSAGES)(device.source).source });
    default: throw new CodedError('CE_ERR_DRIVER_UNKNOWN', String((device as { driver: unknown }).driver));
  }
}

interface Uplink { readonly id: string; run(signal: AbortSignal): Promise<void>; stats(): UplinkStats | SparkplugStats | InfluxUplinkStats }

function createUplink(u: Config['upstreams'][number], config: Config, deps: { journal: Journal; clock: Clock; logger: Logger; onCommand: CommandHandler }): Uplink {
  const { journal, clock, logger, onCommand } = deps;
  const site = config.site;
  switch (u.format) {
    case 'json': return new MqttJsonUplink({ upstream: u, site, journal, clock, logger, version: VERSION, onCommand });
    case 'sparkplug': return new SparkplugEdgeNode({
      upstream: u, site, devices: sparkplugDevices(config), journal, clock, logger, version: VERSION, onCommand, dataDir: config.buffer.path,
    });
    case 'influx': {
      const components = new Map(config.devices.flatMap((d) => (d.component !== undefined ? [[d.id, d.component] as const] : [])));
      return new InfluxUplink({
        id: u.id, url: u.url, bucket: u.bucket!, site, journal, clock, logger, componentOf: (device) => components.get(device),
        ...(u.org !== undefined ? { org: u.org } : {}), ...(u.token !== undefined ? { token: u.token } : {}),
        ...(u.measurement !== undefined ? { measurement: u.measurement } : {}), ...(u.batch_points !== undefined ? { batchPoints: u.batch_points } : {}),
      });
    }
  }
}

/** Every device and its tags in configuration order: the Sparkplug aliases follow it. */
function sparkplugDevices(config: Config): DeviceSpec[] {
  return config.devices.filter((d) => d.enabled).map((d): DeviceSpec => {
    switch (d.driver) {
      case 'modbus-tcp': case 'modbus-rtu':
        // A scaled register gives fractions: born as Double, whatever its register type.
        return { id: d.id, tags: d.tags.map((t) => ({ name: t.name, type: t.type, unit: t.unit, writable: t.writable, scaled: t.scale !== undefined || t.offset !== undefined })) };
      case 'opcua': return { id: d.id, tags: d.tags.map((t) => ({ name: t.name, unit: t.unit, writable: t.writable })) };
      case 'mqtt': return { id: d.id, tags: d.tags.map((t) => ({ name: t.name, unit: t.unit })) };
      default: return { id: d.id, tags: tagNamesOf(d).map((name) => ({ name })) };
    }
  });
}

/** One entry per topic, however many devices share it (summed when two sources use one topic name). */
function topicStats(drivers: readonly DeviceDriver[]): Record<string, IngestStats> {
  const out: Record<string, IngestStats> = {};
  const counted = new Set<string>();
  for (const d of drivers) {
    if (!(d instanceof LorawanDriver)) continue;
    const { router, topic, stats } = d.topicStats();
    if (counted.has(router)) continue;
    counted.add(router);
    const o = (out[topic] ??= { received: 0, accepted: 0, rejected: {} });
    o.received += stats.received;
    o.accepted += stats.accepted;
    for (const [r, n] of Object.entries(stats.rejected) as [keyof IngestStats['rejected'], number][]) o.rejected[r] = (o.rejected[r] ?? 0) + n;
  }
  return out;
}

function rbeSettings(config: Config): Map<string, RbeSetting> {
  const out = new Map<string, RbeSetting>();
  for (const d of config.devices) {
    const deviceMax = d.max_interval !== undefined ? durationMs(d.max_interval) : DEFAULT_MAX_INTERVAL_MS;
    // Sensors' tags (LoRaWAN) take the device's setting: report on every change.
    if (d.driver === 'lorawan') continue;
    for (const t of d.tags) {
      out.set(tagPath(d.id, t.name), {
        deadband: t.deadband ?? 0,
        maxIntervalMs: t.max_interval !== undefined ? durationMs(t.max_interval) : deviceMax,
      });
    }
  }
  return out;
}

export function createJournal(config: Config, deps: { clock: Clock; logger: Logger }): Journal {
  const b = config.buffer;
  if (b.journal === 'memory') return new MemoryJournal({ clock: deps.clock });
  return new SqliteJournal({
    dir: b.path, clock: deps.clock, logger: deps.logger.child({ part: 'journal' }), commitMs: b.commit_ms, fsync: b.fsync,
    ...(b.max_bytes !== undefined ? { maxBytes: byteSize(b.max_bytes) } : {}),
    ...(b.max_age !== undefined ? { maxAgeMs: durationMs(b.max_age) } : {}),
  });
}

export function startGateway(config: Config, deps: GatewayDeps = {}): Gateway {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const journal = deps.journal ?? createJournal(config, { clock, logger });
  const abort = new AbortController();
  // Every device loop and uplink waits on this one signal: dozens of listeners is the design, not
  // a leak, and Node's warning at 11 would only alarm whoever reads the box's log.
  setMaxListeners(0, abort.signal);
  const rbe = new ReportByException(rbeSettings(config));

  // The box's own broker, for the site's network server and MQTT sensors.
  const broker = config.broker ? startBroker(config.broker, { clock, logger, signal: abort.signal }) : undefined;
  const remotes = new Map<string, ReturnType<typeof remoteSource>>();
  const instance = ++instances;
  const messages: DriverDeps['messages'] = (source) => {
    // Keys are this gateway's own: two gateways in one process (tests) must not share a router.
    if (source === 'local') return { key: `${instance}:local`, source: broker?.source ?? NO_MESSAGES().source };
    const key = `${instance}:${source.url}|${source.username ?? ''}`;
    let r = remotes.get(key);
    if (!r) { r = remoteSource(source, { clock, logger, signal: abort.signal, clientId: `cityedge-${config.site.id}-ns${remotes.size}` }); remotes.set(key, r); }
    return { key, source: r };
  };

  const devices = config.devices.filter((d) => d.enabled);
  const drivers = devices.map((d) => createDriver(d, { clock, logger, dataDir: config.buffer.path, trustServers: deps.trustServers ?? false, messages }));
  for (const d of drivers) logger.info({ device: d.deviceId, plan: d.readPlan() }, 'read plan');

  // Devices that take writes, for the `write` command: their drivers' write, by device id.
  const writers = new Map(drivers.flatMap((d) => (d.write ? [[d.deviceId, d.write.bind(d)] as const] : [])));
  const cameras = new Map(config.cameras.filter((c) => c.enabled).map((c) => [c.id, new CameraStream(c, { clock, logger: logger.child({ camera: c.id }) })]));
  const snapshotsDir = join(config.buffer.path, 'snapshots');
  const snapshot = snapshotTaker(config.cameras, { dir: snapshotsDir, logger, signal: abort.signal });
  const { alarms, commands, history, audit } = createAlarms(config, { journal, clock, logger, writers, snapshot });
  // What the console shows: every scan's values as they are, and their recent history.
  const apiConfig = config.api;
  const live = apiConfig ? new LiveValues() : undefined;
  const trends = apiConfig?.console ? createTrends(config, apiConfig, { clock, logger }) : undefined;
  const trendsRun = trends?.run(abort.signal);

  const uplinks = config.upstreams.map((u) => createUplink(u, config, { journal, clock, logger, onCommand: commands.handle }));

  const scheduler = new Scheduler(
    drivers.map((driver, i) => ({ driver, pollMs: devices[i]!.poll_ms })),
    {
      clock, logger,
      onScan: (device, result, at) => {
        // Alarms see every scan, before report by exception: their delays run at the poll rate.
        alarms.onSamples(result.samples, at);
        live?.update(device, result, at);
        trends?.add(result.samples);
        const changed = rbe.filter(result.samples, at);
        if (changed.length > 0) journal.append(device, changed);
      },
    },
  );
  scheduler.start(abort.signal);
  const quotaWatch = watchJournalQuota(journal, config, { clock, logger, signal: abort.signal });
  // Delays that end between two scans of a slowly polled device.
  const alarmTicks = (async () => {
    while (!abort.signal.aborted) {
      await clock.sleep(1000, abort.signal).catch(() => {});
      if (!abort.signal.aborted) alarms.tick();
    }
  })();
  const running = uplinks.map((u) => u.run(abort.signal));
  const status = (): GatewayStatus => ({
    site: config.site.id,
    version: VERSION,
    devices: Object.fromEntries(drivers.map((d) => [d.deviceId, {
      ...scheduler.stats().get(d.deviceId)!,
      requestsPerScan: d.requestsPerScan,
    }])),
    upstreams: Object.fromEntries(uplinks.map((u) => [u.id, u.stats()])),
    journal: journal.stats(),
    alarms: alarms.states(),
    commands: commands.stats(),
    ...(broker ? { broker: broker.stats() } : {}),
    ingest: Object.fromEntries(drivers.flatMap((d) => (d instanceof LorawanDriver || d instanceof MqttJsonDriver ? [[d.deviceId, d.stats()]] : []))),
    ingest_topics: topicStats(drivers),
    cameras: Object.fromEntries([...cameras].map(([id, c]) => [id, c.stats()])),
  });
  // The HTTP framework is loaded only for a box that serves the API: memory is the scarce thing here.
  const api = apiConfig
    ? import('./console/serve.ts').then(({ serve }) => serve({
      config, api: apiConfig, engine: alarms, history, audit, commands: commands.handle, status, live: live!, trends,
      readNow: (id) => scheduler.readNow(id), cameras, snapshotsDir, healthy: () => !abort.signal.aborted,
      clock, logger: logger.child({ part: 'api' }), signal: abort.signal,
    }))
    : Promise.resolve(undefined);
  logger.info({ site: config.site.id, devices: drivers.length, upstreams: uplinks.length, version: VERSION }, 'gateway started');

  return {
    status,
    ready: async () => {
      const [apiUrl, brokerPort] = await Promise.all([api, broker?.ready]);
      return { ...(apiUrl ? { apiUrl } : {}), ...(brokerPort !== undefined ? { brokerPort } : {}) };
    },
    async stop() {
      abort.abort(new Error('gateway stopping'));
      await scheduler.stopped();
      await Promise.allSettled(running);
      await Promise.allSettled(drivers.map((d) => d.close()));
      await Promise.allSettled([...cameras.values()].map((c) => c.close()));
      await trendsRun;
      trends?.close();
      await quotaWatch;
      await alarmTicks;
      await api.catch(() => undefined);
      await broker?.close();
      await Promise.allSettled([...remotes.values()].map((r) => r.done));
      // Into the journal's last commit, with the events that announce them.
      alarms.flush();
      await journal.close();
      logger.info('gateway stopped');
    },
  };
}

/**
 * The console's trend store. A box without storage keeps trends in memory, for an hour at most:
 * 10,000 tags at 10 s steps take 270 MB an hour there. On disk the size is said at start when large.
 */
function createTrends(config: Config, api: NonNullable<Config['api']>, d: { clock: Clock; logger: Logger }): TrendStore {
  const log = d.logger.child({ part: 'trends' });
  const stepMs = durationMs(api.trends.step);
  const inMemory = config.buffer.journal === 'memory';
  const keepMs = inMemory ? Math.min(durationMs(api.trends.keep), 3_600_000) : durationMs(api.trends.keep);
  const tags = config.devices.reduce((n, dev) => n + tagNamesOf(dev).length, 0);
  // 45 bytes a step on disk (bench:console), about 75 in memory.
  const bytes = tags * (keepMs / stepMs) * (inMemory ? 75 : 45);
  if (bytes > 1024 ** 3) {
    log.warn({ tags, step: api.trends.step, keepS: keepMs / 1000, estimatedMb: Math.round(bytes / 2 ** 20) }, 'trends will take much room: set api.trends.step longer or keep shorter');
  }
  return new TrendStore({ dir: inMemory ? undefined : config.buffer.path, stepMs, keepMs, clock: d.clock, logger: log });
}

/** The alarm engine with its stores: files in the data folder, or memory for a box without storage. */
function createAlarms(config: Config, deps: { journal: Journal; clock: Clock; logger: Logger; writers: ReadonlyMap<string, Writer>; snapshot: SnapshotHook }) {
  const { clock, logger } = deps;
  const onDisk = config.buffer.journal !== 'memory';
  const dir = config.buffer.path;
  const fail = (code: 'CE_ERR_ALARM_STATE' | 'CE_ERR_ALARM_OVERRIDES', what: string) => (e: Error) => logger.error({ code, err: e.message }, what);
  const history: RecordLog<AlarmEvent> = onDisk
    ? new FileRecordLog(join(dir, 'alarm-history.jsonl'), { onError: fail('CE_ERR_ALARM_STATE', 'the alarm history cannot be written') })
    : new MemoryRecordLog();
  const audit: RecordLog<AuditEntry> = onDisk
    ? new FileRecordLog(join(dir, 'audit.jsonl'), { onError: fail('CE_ERR_ALARM_STATE', 'the audit log cannot be written') })
    : new MemoryRecordLog();
  const alarms = new AlarmEngine(config, {
    journal: deps.journal, clock, logger, history, snapshot: deps.snapshot,
    // In the journal, committed with the events that announce them (gateway/alarms/state-store.ts).
    store: onDisk ? new JournalAlarmStore(deps.journal, dir, fail('CE_ERR_ALARM_STATE', 'alarm states cannot be read')) : new MemoryAlarmStore(),
    overrides: onDisk ? new FileOverrideStore(dir, fail('CE_ERR_ALARM_OVERRIDES', 'the alarm overrides file cannot be read; the configured limits apply')) : new MemoryOverrideStore(),
  });
  const commands = createCommandHandler({ engine: alarms, audit, clock, logger, writers: deps.writers });
  return { alarms, commands, history, audit };
}

