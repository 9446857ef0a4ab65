// The report of `npm run bench:box`: what the box holds and the samples a second it really read or
// received, then the gateway's cost over the window (CPU in 10-s windows, RSS and its trend), what
// reached the platform, the backlog, scan times and overruns, the rest of the machine, and the log.
// No targets: figures only. Returns the headline rows for recordResults().
import type { SimReport } from '../modbus-sims.ts';
import type { Heap, Timed, Overview, OverviewDevice, Status } from './box-api.ts';
import { LOT_SUMMARY_TAGS, SAMPLES_PER_UPLINK, type BoxGroups, type BoxPlan, type CheckedDevice } from './box-config.ts';
import { describeMachine, type Machine } from './machine.ts';
import { windowCost, type ProcSample } from './procfs.ts';
import type { ResultRow } from './results.ts';
import { fmt, summarize } from './stats.ts';
import type { Delivery } from './subscriber.ts';

/** The gateway's log lines: by pino level (0: not JSON), and warnings and worse by message. */
export interface LogTally { byLevel: Record<number, number>; byMessage: Map<string, number>; lines: number; first: string[] }

export interface BoxReportInput {
  machine: Machine;
  loadEnd: [number, number, number];
  plan: BoxPlan;
  check: CheckedDevice[];
  alarmRules: number;
  groups: BoxGroups;
  warmupS: number;
  seconds: number;
  /** The gateway's 1-s /proc samples inside the window; `from`, `to` its two ends. */
  samples: ProcSample[];
  from: ProcSample;
  to: ProcSample;
  ready: { s: number; rssMb: number; hwmMb: number };
  firstDataS: number;
  delivery: Delivery;
  /** What the bulk PLCs saw over the window (bench/modbus-sims.ts). */
  plcs: SimReport;
  /** With --live-viewer: what the console's live stream carried. */
  /** V8's heap from GET /metrics at the window's start, every minute, and its end. */
  heaps: Heap[];
  live: { kbPerS: number; eventsPerS: number; error: string | undefined } | undefined;
  status: [Timed<Status>, Timed<Status>];
  overviews: Timed<Overview>[];
  overviewFailures: number;
  othersPct: Record<string, number>;
  machineBusy: { busyPct: number; stealPct: number; cores: number };
  log: LogTally;
  stop: { status: string; ms: number };
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const MB = 1024;

/** CPU % of one core over consecutive windows of ~10 s of 1-s samples. */
export function tenSecondCpu(samples: readonly ProcSample[]): number[] {
  const out: number[] = [];
  let a = samples[0];
  for (const s of samples) {
    if (a && s.at - a.at >= 9_950) { out.push((100 * (s.cpuS - a.cpuS)) / ((s.at - a.at) / 1000)); a = s; }
  }
  return out;
}

interface Part { label: string; devices: number; tags: number; rate: string; nominal: number; measured: number; note: string }

export function printBoxReport(r: BoxReportInput): { setup: string; rows: ResultRow[] } {
  const { plan, seconds } = r;
  const byId = new Map(r.check.map((d) => [d.id, d]));
  const ov0 = r.overviews[0]; const ov1 = r.overviews[r.overviews.length - 1];
  const ovSpanS = ov0 && ov1 ? (ov1.at - ov0.at) / 1000 : NaN;
  const dev = (o: Timed<Overview> | undefined, id: string): OverviewDevice | undefined => o?.body.devices.find((d) => d.id === id);
  const delta = (id: string, k: 'scans' | 'overruns' | 'failed_scans') => (dev(ov1, id)?.[k] ?? NaN) - (dev(ov0, id)?.[k] ?? NaN);
  const tagsOf = (ids: string[]) => ids.reduce((n, id) => n + (byId.get(id)?.tags ?? 0), 0);
  /** Reads per second of Modbus tags: scans in the window × each device's tags. */
  const reads = (ids: string[]) => ids.reduce((n, id) => n + delta(id, 'scans') * (byId.get(id)?.tags ?? 0), 0) / ovSpanS;
  const ingest = (i: 0 | 1, id: string) => r.status[i].body.ingest?.[id]?.accepted ?? NaN;
  const statusS = (r.status[1].at - r.status[0].at) / 1000;

  const parts: Part[] = [];
  const modbus = (label: string, ids: string[], note: string) => {
    if (ids.length) parts.push({ label, devices: ids.length, tags: tagsOf(ids), rate: 'every 1 s', nominal: tagsOf(ids), measured: reads(ids), note });
  };
  modbus('pump station PLC (Modbus TCP, config/examples/pump-station.yaml)', r.groups.pump, `${byId.get(r.groups.pump[0]!)?.requests ?? '?'} requests/scan`);
  modbus('streetlight cabinets (Modbus RTU over TCP, one line)', r.groups.cabinets, `${byId.get(r.groups.cabinets[0] ?? '')?.requests ?? '?'} requests/scan each`);
  modbus('bulk PLC registers (Modbus TCP, bench/modbus-sims.ts)', r.groups.bulk, `${plan.bulkTags} uint16 each, ${byId.get(r.groups.bulk[0] ?? '')?.requests ?? '?'} requests/scan`);
  let uplinksAccepted = 0;
  for (const codec of Object.keys(SAMPLES_PER_UPLINK)) {
    const ids = r.groups.sensors.filter((id) => byId.get(id)?.codec === codec);
    if (!ids.length) continue;
    const sensors = ids.reduce((n, id) => n + (byId.get(id)?.sensors ?? 0), 0);
    const k = SAMPLES_PER_UPLINK[codec]!;
    const lots = codec === 'cityedge-parking-v1' ? ids.length : 0;
    const accepted = ids.reduce((n, id) => n + ingest(1, id) - ingest(0, id), 0) / statusS;
    uplinksAccepted += accepted;
    const kind = codec === 'cityedge-parking-v1' ? `parking bays in ${ids.length} lot(s)` : codec === 'cityedge-manhole-v1' ? 'manhole covers' : 'water-logging points';
    parts.push({
      label: `${int(sensors)} ${kind} (LoRaWAN, ${codec})`, devices: ids.length, tags: tagsOf(ids), rate: `every ${plan.sensorPeriodS} s`,
      nominal: (sensors * k) / plan.sensorPeriodS + lots * LOT_SUMMARY_TAGS,
      measured: accepted * k + (lots ? lots * LOT_SUMMARY_TAGS * (ids.reduce((n, id) => n + delta(id, 'scans'), 0) / ids.length / ovSpanS) : 0),
      note: `${k} samples/uplink, ${fmt(accepted, 1)} uplinks/s${lots ? `; +${LOT_SUMMARY_TAGS} lot tags/s each` : ''}`,
    });
  }
  const sum = (f: (p: Part) => number) => parts.reduce((n, p) => n + f(p), 0);
  const totalTags = sum((p) => p.tags); const nominal = sum((p) => p.nominal); const measured = sum((p) => p.measured);

  console.log('');
  console.log('the box: tags as `cityedge check` counts them, and the samples a second read or received');
  const bw = [66, 8, 8, 11, 10, 10];
  const brow = (c: string[]) => console.log(c.map((x, i) => (i === 0 || i === 6 ? x.padEnd(bw[i] ?? 0) : x.padStart(bw[i]!))).join('  ').trimEnd());
  brow(['part', 'devices', 'tags', 'rate', 'samples/s', 'measured', '']);
  for (const p of parts) brow([p.label, String(p.devices), int(p.tags), p.rate, int(p.nominal), int(p.measured), p.note]);
  brow(['total', String(sum((p) => p.devices)), int(totalTags), '', int(nominal), int(measured), '']);
  console.log('  samples/s: Modbus tags × 1 s, sensors × samples per uplink ÷ period. measured: scans the gateway counted (GET /api/overview)');
  console.log('  × tags, and uplinks it accepted (GET /api/status) × samples per uplink, over the window.');
  if (r.groups.sensors.length && Math.abs(seconds / plan.sensorPeriodS - Math.round(seconds / plan.sensorPeriodS)) > 0.05) {
    // Rate mode walks the sensor list in order (lots, manholes, water-logging) once a period.
    console.log(`  NOTE: the window (${fmt(seconds, 0)} s) is not a whole number of sensor periods (${plan.sensorPeriodS} s): the split between sensor kinds is skewed, the sum is not.`);
  }
  console.log(`  alarm rules: ${r.alarmRules} in the file (templates expanded: ${ov1?.body.alarms.rules ?? '?'} rules); journal on disk (SQLite, fsync full, commit 250 ms); console and API on`);

  // The gateway's cost.
  const cost = windowCost(r.samples, r.from, r.to);
  const ten = summarize(tenSecondCpu(r.samples));
  const rss = r.samples.map((x) => x.rssKb / MB);
  const slope10 = cost.rssSlopeMbPerMin * 10;
  const perMinute = r.samples.filter((_, i) => i % 60 === 0).map((x) => (x.rssKb / MB).toFixed(0));
  const d = r.delivery;
  const lat = summarize(d.latenciesMs);
  const backlogs = r.overviews.map((o) => o.body.upstreams[0]?.backlog ?? NaN);
  const groupScan = (ids: string[]) => summarize(r.overviews.flatMap((o) => o.body.devices.filter((x) => ids.includes(x.id) && x.scans > 0).map((x) => x.last_scan_ms)));
  const groupDelta = (ids: string[], k: 'overruns' | 'failed_scans') => ids.reduce((n, id) => n + delta(id, k), 0);
  const everOverran = (ov1?.body.devices ?? []).reduce((n, x) => n + x.overruns, 0);
  const modbusIds = [...r.groups.pump, ...r.groups.cabinets, ...r.groups.bulk];
  const topics = (i: 0 | 1) => Object.values(r.status[i].body.ingest_topics ?? {});
  const rejected: Record<string, number> = {};
  for (const t of topics(1)) for (const [why, n] of Object.entries(t.rejected)) rejected[why] = (rejected[why] ?? 0) + n;
  for (const t of topics(0)) for (const [why, n] of Object.entries(t.rejected)) rejected[why] = (rejected[why] ?? 0) - n;
  const received = (topics(1).reduce((n, t) => n + t.received, 0) - topics(0).reduce((n, t) => n + t.received, 0)) / statusS;
  const ovLatency = summarize(r.overviews.map((o) => o.latencyMs));
  const backlogEnd = r.status[1].body.upstreams[Object.keys(r.status[1].body.upstreams)[0]!]?.backlog ?? NaN;
  const backlogStart = r.status[0].body.upstreams[Object.keys(r.status[0].body.upstreams)[0]!]?.backlog ?? NaN;
  const usPerSample = (cost.cpuS * 1e6) / (measured * seconds);

  // The bulk PLCs' own view: requests they answered, and the bursts (scans) they saw.
  const perScan = byId.get(r.groups.bulk[0] ?? '')?.requests ?? NaN;
  const plcScansPerS = summarize(r.plcs.plcs.map((p) => p.requests / perScan / r.plcs.windowS));
  const bursts = r.plcs.plcs.flatMap((p) => p.bursts);
  const doubled = bursts.filter((b) => b.requests > perScan).length;
  const span = summarize(bursts.filter((b) => b.requests === perScan).map((b) => b.spanMs));
  const scanCell = (ids: string[]) => { const x = groupScan(ids); return ids.length ? `${fmt(x.mean, 1)} / ${fmt(x.p95, 1)} / ${fmt(x.max, 1)}` : '—'; };
  const rows: [string, string][] = [
    ['window, s (after warm-up)', `${fmt(seconds, 1)} (after ${r.warmupS})`],
    ['gateway CPU, % of one core: window mean', fmt(cost.cpuPct, 2)],
    ['  over 10-s windows: p95 / max (busiest 1-s sample)', `${fmt(ten.p95, 1)} / ${fmt(ten.max, 1)} (${fmt(cost.cpuPctMaxSecond, 0)})`],
    ['  CPU µs per sample read or received; per point delivered', `${fmt(usPerSample, 2)}; ${fmt((cost.cpuS * 1e6) / d.points, 2)}`],
    ['gateway RSS MB: window start / end / max of 1-s samples', `${fmt(rss[0] ?? NaN)} / ${fmt(rss[rss.length - 1] ?? NaN)} / ${fmt(cost.rssMaxMb)}`],
    ['  RSS trend (least squares over the window), MB per 10 min', fmt(slope10, 1)],
    ['  peak since start (VmHWM); when the API was up', `${fmt(cost.hwmMb)}; ${fmt(r.ready.hwmMb)} (${fmt(r.ready.s, 1)} s after start)`],
    ['samples/s read or received (measured, the table above)', `${int(measured)} (nominal ${int(nominal)})`],
    ['points/s delivered to the platform subscriber (Mosquitto, QoS 1)', `${int(d.pointsPerS)} in ${fmt(d.messages / seconds, 1)} messages/s`],
    ['  bad-quality / historical points; duplicate batches', `${int(d.badPoints)} / ${int(d.historicalPoints)}; ${d.duplicates}`],
    ['  read → subscriber latency, ms (mean / p95 / max)', `${fmt(lat.mean, 0)} / ${fmt(lat.p95, 0)} / ${fmt(lat.max, 0)}`],
    ['upstream backlog, records: window start → end (max seen every 3 s)', `${int(backlogStart)} → ${int(backlogEnd)} (${int(Math.max(...backlogs))})`],
    ['  journal: telemetry points held at the end (delivered ones go at a later commit)', int(r.status[1].body.journal.points)],
    ['scan overruns in the window: pump / cabinets / bulk (since start)', `${groupDelta(r.groups.pump, 'overruns')} / ${groupDelta(r.groups.cabinets, 'overruns')} / ${groupDelta(r.groups.bulk, 'overruns')} (${everOverran})`],
    ['failed scans in the window (Modbus devices)', String(groupDelta(modbusIds, 'failed_scans'))],
    ['scan time, ms (last_scan_ms every 3 s, mean / p95 / max): pump', scanCell(r.groups.pump)],
    ['  streetlight cabinets (all units on one line, serialized)', scanCell(r.groups.cabinets)],
    ['  bulk PLCs', scanCell(r.groups.bulk)],
    ['  bulk PLCs, at the PLC: first → last request of a scan (mean / p95 / max)', `${fmt(span.mean, 1)} / ${fmt(span.p95, 1)} / ${fmt(span.max, 1)}`],
    ['bulk PLCs, at the PLC: scans/s each (requests/s ÷ requests per scan; min–max)', `${fmt(plcScansPerS.mean, 3)} (${fmt(plcScansPerS.min, 3)}–${fmt(plcScansPerS.max, 3)}); exceptions ${r.plcs.plcs.reduce((n, p) => n + p.exceptions, 0)}`],
    ['  bursts with two scans back to back (of bursts seen)', `${doubled} (of ${bursts.length})`],
    ['sensor uplinks/s received / accepted; rejected in the window', `${fmt(received, 1)} / ${fmt(uplinksAccepted, 1)}; ${Object.entries(rejected).filter(([, n]) => n > 0).map(([w, n]) => `${w} ${n}`).join(', ') || 'none'}`],
    ['alarms active at the end (of rules)', `${ov1?.body.alarms.active ?? '?'} (of ${ov1?.body.alarms.rules ?? '?'})`],
    ...(r.live ? [['console live page (GET /api/live): kB/s; events/s', `${fmt(r.live.kbPerS, 1)}; ${fmt(r.live.eventsPerS, 1)}${r.live.error ? `; ${r.live.error}` : ''}`] as [string, string]] : []),
    ['GET /api/overview answered in, ms (p50 / max); failed', `${fmt(ovLatency.p50, 0)} / ${fmt(ovLatency.max, 0)}; ${r.overviewFailures}`],
    ['start → first telemetry at the platform, s; SIGTERM → exit', `${fmt(r.firstDataS, 1)}; ${fmt(r.stop.ms / 1000, 1)} s, ${r.stop.status}`],
  ];
  console.log('');
  console.log('the gateway over the window');
  for (const [k, v] of rows) console.log(`${k.padEnd(80)} ${v}`);
  console.log(`  RSS every minute of the window, MB: ${perMinute.join(' ')}`);
  if (r.heaps.length) {
    const h = r.heaps;
    console.log(`  V8 heap used / total, external, MB (GET /metrics), every minute: ${h.map((x) => `${x.usedMb.toFixed(0)}/${x.totalMb.toFixed(0)}`).join(' ')}; external ${h[0]!.externalMb.toFixed(1)} → ${h[h.length - 1]!.externalMb.toFixed(1)}`);
  }

  console.log('');
  console.log('the rest of the machine during the window (not in the gateway figures)');
  for (const [n, pct] of Object.entries(r.othersPct)) console.log(`  ${n.padEnd(52)} ${fmt(pct, 1)} % of one core`);
  const m = r.machineBusy;
  console.log(`  ${'whole machine busy / stolen by the hypervisor'.padEnd(52)} ${fmt(m.busyPct, 1)} % / ${fmt(m.stealPct, 1)} % of ${m.cores} cores`);
  const ours = cost.cpuPct + Object.values(r.othersPct).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const foreign = m.busyPct * m.cores - ours;
  console.log(`  ${'everything else on the machine'.padEnd(52)} ${fmt(foreign, 1)} % of one core`);
  if (foreign > 20) console.log(`  WARNING: other work kept ~${fmt(foreign / 100, 1)} of ${m.cores} cores busy: the gateway shared the CPU; re-run on a quiet machine for firm figures.`);

  console.log('');
  const lv = r.log.byLevel;
  console.log(`gateway log (default level, info): ${r.log.lines} lines; info ${lv[30] ?? 0}, warn ${lv[40] ?? 0}, error ${(lv[50] ?? 0) + (lv[60] ?? 0)}, not JSON ${lv[0] ?? 0}`);
  for (const [msg, n] of [...r.log.byMessage].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`  ${String(n).padStart(5)} × ${msg.length > 160 ? `${msg.slice(0, 160)}…` : msg}`);
  if (r.log.first.length) { console.log('  the first warnings, s after start:'); for (const l of r.log.first) console.log(`    ${l}`); }
  console.log('');
  console.log('machine (load at the start; at the end of the window: ' + r.loadEnd.map((x) => x.toFixed(2)).join(' ') + ')');
  for (const l of describeMachine(r.machine)) console.log(`  ${l}`);

  const sensorCount = plan.sensors.lots * plan.sensors.bays + plan.sensors.manholes + plan.sensors.waterlogging;
  const setup = `one gateway: pump station (${plan.pumpTags} tags) + ${plan.cabinets} streetlight cabinets on one RTU line (${plan.cabinets * plan.cabinetTags}) + ` +
    `${plan.plcs} PLCs × ${plan.bulkTags} registers, all every 1 s, + ${int(sensorCount)} LoRaWAN sensors each every ${plan.sensorPeriodS} s ` +
    `= ${int(nominal)} samples/s, ${int(totalTags)} tags; journal on disk, console/API on, ${ov1?.body.alarms.rules ?? r.alarmRules} alarm rules; ${fmt(seconds, 0)} s window`;
  const resultRows: ResultRow[] = [
    { metric: 'samples/s read or received', value: int(measured), note: `nominal ${int(nominal)}` },
    { metric: 'gateway CPU, % of one core (mean)', value: fmt(cost.cpuPct, 2), note: `10-s windows p95 ${fmt(ten.p95, 1)}, max ${fmt(ten.max, 1)}` },
    { metric: 'gateway RSS MB, start / end / max', value: `${fmt(rss[0] ?? NaN)} / ${fmt(rss[rss.length - 1] ?? NaN)} / ${fmt(cost.rssMaxMb)}`, note: `trend ${fmt(slope10, 1)} MB per 10 min; VmHWM ${fmt(cost.hwmMb)}` },
    { metric: 'points/s delivered upstream', value: int(d.pointsPerS), note: `backlog at the end ${int(backlogEnd)} records` },
    { metric: 'scan overruns in the window', value: String(groupDelta(modbusIds, 'overruns')), note: `bulk PLC scan p95 ${fmt(groupScan(r.groups.bulk).p95, 1)} ms` },
  ];
  return { setup, rows: resultRows };
}
