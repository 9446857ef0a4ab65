// GET /metrics: the gateway's status() in Prometheus text format (docs/metrics.md).
//
// Nothing here counts anything itself. The scheduler, uplinks, journal and alarm engine keep their
// own figures (status()); every family below reads them when Prometheus scrapes, in prom-client's
// collect() callbacks, so there is no timer, no second bookkeeping that could drift from the
// console's numbers, and nothing to do between scrapes.
//
// Counters read from elsewhere: prom-client documents collect() as the place to read a value
// observed elsewhere, and its own process_cpu_seconds_total is a Counter filled in collect(). We
// keep the Counter type (so the exposition says TYPE counter and rate() is the right question) and
// set it with reset() + inc(n): reset() also drops the series of a device or upstream that is gone.
// The figures only grow while a gateway runs; if one restarts inside the process they start at 0
// again, which Prometheus treats as any counter reset.
//
// A private Registry, not prom-client's global one: two gateways in one process (tests) would
// otherwise register the same names twice.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { GatewayStatus } from '../main.ts';
import type { AlarmState } from '../alarms/lifecycle.ts';
import { Severities } from '../model/index.ts';

export interface Metrics { contentType: string; render(): Promise<string> }

export interface MetricsDeps {
  status: () => GatewayStatus;
  site: string;
  /** Epoch ms, for ages (the journal's oldest record); the system clock by default. */
  now?: () => number;
}

type Labels = Record<string, string>;
type Row = readonly [Labels, number];
type Rows = (s: GatewayStatus, nowMs: number) => Iterable<Row>;
interface Family { name: string; help: string; labels?: readonly string[]; rows: Rows }

/** Every state, so a dashboard shows 0 rather than no line (lifecycle.ts; the check below keeps them in step). */
const ALARM_STATES = ['normal', 'active', 'acknowledged', 'rtn_unack', 'shelved', 'suppressed', 'out_of_service'] as const;
type MissingState = Exclude<AlarmState, (typeof ALARM_STATES)[number]>;
const allStatesListed: [MissingState] extends [never] ? true : never = true;
void allStatesListed;

/** States in which an operator sees the alarm: shelved, suppressed and out-of-service ones are hidden on purpose. */
const SHOWN: ReadonlySet<string> = new Set<AlarmState>(['active', 'acknowledged', 'rtn_unack']);

/**
 * Label values come from configuration ids (`[a-z0-9_-]+`), topic names and fixed reasons, and
 * prom-client escapes quotes and backslashes. Guard anyway: a control character or a huge value
 * would make a line Prometheus or a person cannot read.
 */
export function labelValue(v: unknown): string {
  const s = String(v).replace(/[\u0000-\u001f\u007f]/g, '_');
  return s.length > 128 ? `${s.slice(0, 127)}…` : s;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** One row per device: a field of its scan stats. */
const perDevice = (read: (d: GatewayStatus['devices'][string]) => number | undefined): Rows => function* (s) {
  for (const [id, d] of Object.entries(s.devices)) {
    const v = read(d);
    if (v !== undefined) yield [{ device: labelValue(id) }, v];
  }
};

/** The upstream's kind, from its stats: status() names only the id, and each uplink has its own fields. */
function formatOf(u: object): string {
  if ('bdSeq' in u) return 'sparkplug';
  if ('writtenPoints' in u) return 'influx';
  return 'json';
}

/** One row per upstream that has this numeric field (each kind has its own). */
const perUpstream = (field: string, scale = 1): Rows => function* (s) {
  for (const [id, u] of Object.entries(s.upstreams)) {
    const raw = (u as unknown as Record<string, unknown>)[field];
    const v = typeof raw === 'boolean' ? Number(raw) : num(raw);
    if (v !== undefined) yield [{ upstream: labelValue(id), format: formatOf(u) }, v * scale];
  }
};

/** Per sensor device or topic: received, accepted, or rejected by reason. */
type IngestCounts = GatewayStatus['ingest'][string];
const ingestRows = (pick: (s: GatewayStatus) => Record<string, IngestCounts>, key: 'device' | 'topic', what: 'received' | 'accepted'): Rows => function* (s) {
  for (const [id, c] of Object.entries(pick(s))) yield [{ [key]: labelValue(id) }, c[what]];
};
const rejectedRows = (pick: (s: GatewayStatus) => Record<string, IngestCounts>, key: 'device' | 'topic'): Rows => function* (s) {
  for (const [id, c] of Object.entries(pick(s))) {
    for (const [reason, n] of Object.entries(c.rejected)) if (n !== undefined) yield [{ [key]: labelValue(id), reason: labelValue(reason) }, n];
  }
};

const DEVICE_LABELS = ['device'];
const UPSTREAM_LABELS = ['upstream', 'format'];

const COUNTERS: Family[] = [
  { name: 'cityedge_device_scans_total', help: 'Scans of the device completed, failed ones included.', labels: DEVICE_LABELS, rows: perDevice((d) => d.scans) },
  { name: 'cityedge_device_scan_errors_total', help: 'Scans that ended in an error (no answer, refused connection, exception reply).', labels: DEVICE_LABELS, rows: perDevice((d) => d.failedScans) },
  { name: 'cityedge_device_requests_total', help: 'Protocol requests sent to the device (Modbus reads, OPC UA reads).', labels: DEVICE_LABELS, rows: perDevice((d) => d.requests) },
  { name: 'cityedge_device_overruns_total', help: 'Scans that took longer than the poll interval, so the next scan was late.', labels: DEVICE_LABELS, rows: perDevice((d) => d.overruns) },

  { name: 'cityedge_upstream_connects_total', help: 'Connections to the upstream broker established.', labels: UPSTREAM_LABELS, rows: perUpstream('connects') },
  { name: 'cityedge_upstream_published_messages_total', help: 'MQTT messages published to the upstream (telemetry, alarms, replies, births).', labels: UPSTREAM_LABELS, rows: perUpstream('published') },
  { name: 'cityedge_upstream_acked_records_total', help: 'Journal records the upstream acknowledged (PUBACK), and so may be deleted.', labels: UPSTREAM_LABELS, rows: perUpstream('acked') },
  { name: 'cityedge_upstream_refused_messages_total', help: 'Messages the broker refused (MQTT 5 reason code); they stay in the journal and are offered again.', labels: UPSTREAM_LABELS, rows: perUpstream('refused') },
  { name: 'cityedge_upstream_oversize_messages_total', help: 'Messages larger than the broker\'s Maximum Packet Size, not sent.', labels: UPSTREAM_LABELS, rows: perUpstream('oversize') },
  { name: 'cityedge_upstream_births_total', help: 'Sparkplug birth sequences (NBIRTH and its DBIRTHs) sent.', labels: UPSTREAM_LABELS, rows: perUpstream('births') },
  { name: 'cityedge_upstream_written_points_total', help: 'Fields written to the time-series server in accepted requests.', labels: UPSTREAM_LABELS, rows: perUpstream('writtenPoints') },
  { name: 'cityedge_upstream_write_requests_total', help: 'Write requests the time-series server accepted.', labels: UPSTREAM_LABELS, rows: perUpstream('writtenBatches') },
  { name: 'cityedge_upstream_failed_writes_total', help: 'Write requests that failed and will be sent again (no connection, timeout, 5xx, 429, 401/403/404).', labels: UPSTREAM_LABELS, rows: perUpstream('failedWrites') },
  { name: 'cityedge_upstream_rejected_records_total', help: 'Records the time-series server refused as bad (4xx), dropped so later ones flow.', labels: UPSTREAM_LABELS, rows: perUpstream('rejectedRecords') },

  { name: 'cityedge_journal_appended_records_total', help: 'Records committed to the journal since the gateway started.', rows: (s) => [[{}, s.journal.appended]] },
  { name: 'cityedge_journal_dropped_records_total', help: 'Telemetry records dropped by the disk quota or maximum age (alarm events are never dropped).', rows: (s) => [[{}, s.journal.dropped]] },
  { name: 'cityedge_journal_dropped_points_total', help: 'Telemetry points in the dropped records.', rows: (s) => [[{}, s.journal.droppedPoints]] },

  {
    name: 'cityedge_commands_total', help: 'Commands received from the platform or the console, by result (accepted, refused, duplicate: answered again, not run again).', labels: ['result'],
    rows: (s) => [[{ result: 'accepted' }, s.commands.accepted], [{ result: 'refused' }, s.commands.refused], [{ result: 'duplicate' }, s.commands.duplicates]],
  },

  { name: 'cityedge_ingest_received_messages_total', help: 'Messages received for a sensor device (LoRaWAN uplinks, MQTT JSON).', labels: ['device'], rows: ingestRows((s) => s.ingest, 'device', 'received') },
  { name: 'cityedge_ingest_accepted_messages_total', help: 'Sensor messages decoded into samples.', labels: ['device'], rows: ingestRows((s) => s.ingest, 'device', 'accepted') },
  { name: 'cityedge_ingest_rejected_messages_total', help: 'Sensor messages rejected, by reason; the gateway keeps running.', labels: ['device', 'reason'], rows: rejectedRows((s) => s.ingest, 'device') },
  { name: 'cityedge_ingest_topic_received_messages_total', help: 'Messages received on a network server topic, shared by the LoRaWAN devices on it.', labels: ['topic'], rows: ingestRows((s) => s.ingest_topics, 'topic', 'received') },
  { name: 'cityedge_ingest_topic_rejected_messages_total', help: 'Messages on a network server topic rejected, by reason (including those that named no configured device).', labels: ['topic', 'reason'], rows: rejectedRows((s) => s.ingest_topics, 'topic') },
];

const GAUGES: Family[] = [
  { name: 'cityedge_device_up', help: '1 when the device answered its last scan; 0 when it failed or before its first scan.', labels: DEVICE_LABELS, rows: perDevice((d) => (d.online === true ? 1 : 0)) },
  { name: 'cityedge_device_scan_seconds', help: 'Duration of the device\'s last scan.', labels: DEVICE_LABELS, rows: perDevice((d) => (d.scans > 0 ? d.lastScanMs / 1000 : undefined)) },
  { name: 'cityedge_device_last_scan_timestamp_seconds', help: 'When the device\'s last scan ended, successful or not (Unix time).', labels: DEVICE_LABELS, rows: perDevice((d) => (d.lastScanAt > 0 ? d.lastScanAt / 1000 : undefined)) },
  { name: 'cityedge_device_requests_per_scan', help: 'Requests in one scan of the device, from its read plan.', labels: DEVICE_LABELS, rows: perDevice((d) => num(d.requestsPerScan)) },

  { name: 'cityedge_upstream_connected', help: '1 while the upstream is connected (the time-series server: its last write got an answer).', labels: UPSTREAM_LABELS, rows: perUpstream('connected') },
  { name: 'cityedge_upstream_backlog_records', help: 'Journal records this upstream has not acknowledged yet.', labels: UPSTREAM_LABELS, rows: perUpstream('backlog') },
  { name: 'cityedge_upstream_inflight_messages', help: 'Messages published and not yet acknowledged.', labels: UPSTREAM_LABELS, rows: perUpstream('inflight') },
  { name: 'cityedge_upstream_drain_points_per_second', help: 'Points acknowledged by the upstream per second, over the last 10 s.', labels: UPSTREAM_LABELS, rows: perUpstream('drainRate') },
  { name: 'cityedge_upstream_primary_host_online', help: 'Sparkplug: 1 while the primary host application says it is online.', labels: UPSTREAM_LABELS, rows: perUpstream('hostOnline') },

  { name: 'cityedge_journal_records', help: 'Records held in the journal: not yet acknowledged by every upstream.', rows: (s) => [[{}, s.journal.records]] },
  { name: 'cityedge_journal_points', help: 'Telemetry points in the records held.', rows: (s) => [[{}, s.journal.points]] },
  { name: 'cityedge_journal_bytes', help: 'Bytes of record bodies held in the journal.', rows: (s) => [[{}, s.journal.bytes]] },
  {
    name: 'cityedge_journal_oldest_record_age_seconds', help: 'Age of the oldest record held; 0 when the journal is empty.',
    rows: (s, now) => [[{}, s.journal.oldestTs === undefined ? 0 : Math.max(0, (now - s.journal.oldestTs) / 1000)]],
  },
  { name: 'cityedge_journal_full', help: '1 while the disk quota forces the oldest telemetry to be dropped.', rows: (s) => [[{}, s.journal.full ? 1 : 0]] },
  { name: 'cityedge_journal_commit_points_per_second', help: 'Telemetry points committed per second, over the last 10 s.', rows: (s) => [[{}, s.journal.commitRate]] },

  {
    name: 'cityedge_alarms', help: 'Alarm rules by state (ISA-18.2: normal, active, acknowledged, rtn_unack, shelved, suppressed, out_of_service).', labels: ['state'],
    rows: (s) => {
      const n = new Map<string, number>(ALARM_STATES.map((st) => [st, 0]));
      for (const a of s.alarms) n.set(labelValue(a.state), (n.get(labelValue(a.state)) ?? 0) + 1);
      return [...n].map(([state, v]): Row => [{ state }, v]);
    },
  },
  {
    name: 'cityedge_alarms_active', help: 'Alarms whose condition is true and that an operator sees (not shelved, suppressed or out of service), by severity.', labels: ['severity'],
    rows: (s) => {
      const n = new Map<string, number>(Severities.map((sev) => [sev, 0]));
      for (const a of s.alarms) if (a.active && SHOWN.has(a.state)) n.set(labelValue(a.severity), (n.get(labelValue(a.severity)) ?? 0) + 1);
      return [...n].map(([severity, v]): Row => [{ severity }, v]);
    },
  },
];

/** The box's own broker: only on a box that has one, so "0 clients" never means "no broker". */
const BROKER_COUNTERS: Family[] = [
  { name: 'cityedge_broker_connects_total', help: 'Client connections the box\'s broker accepted.', rows: (s) => (s.broker ? [[{}, s.broker.connects]] : []) },
  {
    name: 'cityedge_broker_refused_total', help: 'What the box\'s broker refused: logins, publishes and subscribes outside a user\'s topics.', labels: ['what'],
    rows: (s) => (s.broker ? [[{ what: 'login' }, s.broker.refusedLogins], [{ what: 'publish' }, s.broker.refusedPublishes], [{ what: 'subscribe' }, s.broker.refusedSubscribes]] : []),
  },
  { name: 'cityedge_broker_published_messages_total', help: 'Messages sensors published to the box\'s broker.', rows: (s) => (s.broker ? [[{}, s.broker.published]] : []) },
];
const BROKER_GAUGES: Family[] = [
  { name: 'cityedge_broker_clients', help: 'Clients connected to the box\'s broker.', rows: (s) => (s.broker ? [[{}, s.broker.clients]] : []) },
];

export function createMetrics(deps: MetricsDeps): Metrics {
  const registry = new Registry();
  const now = deps.now ?? Date.now;
  // The prefix keeps the process figures apart from another Node program's on a shared Prometheus.
  collectDefaultMetrics({ register: registry, prefix: 'cityedge_' });

  // One status() per scrape, shared by every family: registry.metrics() runs all collect()
  // callbacks synchronously before its first await, so they see one consistent snapshot.
  let snapshot: GatewayStatus | undefined;
  const current = (): GatewayStatus => (snapshot ??= deps.status());

  // The site is an info metric's label, not a label on every series: Prometheus's target labels
  // (or a join on this) say which box a series comes from.
  const site = labelValue(deps.site);
  const info: Family = { name: 'cityedge_info', help: 'Always 1: the site id and software version of this gateway.', labels: ['site', 'version'], rows: (s) => [[{ site, version: labelValue(s.version) }, 1]] };
  const withBroker = deps.status().broker !== undefined;
  for (const f of [...COUNTERS, ...(withBroker ? BROKER_COUNTERS : [])]) {
    new Counter({
      name: f.name, help: f.help, labelNames: f.labels ?? [], registers: [registry],
      collect() {
        this.reset();
        for (const [labels, v] of f.rows(current(), now())) if (num(v) !== undefined && v >= 0) this.inc(labels, v);
      },
    });
  }
  for (const f of [info, ...GAUGES, ...(withBroker ? BROKER_GAUGES : [])]) {
    new Gauge({
      name: f.name, help: f.help, labelNames: f.labels ?? [], registers: [registry],
      collect() {
        this.reset();
        for (const [labels, v] of f.rows(current(), now())) if (num(v) !== undefined) this.set(labels, v);
      },
    });
  }

  return {
    contentType: registry.contentType,
    async render() {
      snapshot = deps.status();
      const text = registry.metrics();
      snapshot = undefined;
      return text;
    },
  };
}
