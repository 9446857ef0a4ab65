// The report of `npm run bench:sensors`: one table with a column per measurement (the gateway flat
// out, the gateway at a fixed rate, aedes alone), the ratio to aedes, the end-to-end accounting of
// every uplink, the rest of the machine, and what the gateway logged. No targets: figures only.
import { describeMachine, type Machine } from './machine.ts';
import type { CeilingResult } from './sensors-ceiling.ts';
import { recordResults, type ResultRow } from './results.ts';
import type { GatewayPhaseResult } from './sensors-gateway.ts';
import { fmt } from './stats.ts';

export interface ReportInput {
  machine: Machine;
  sensors: { parking: number; lots: number; manholes: number; waterlogging: number };
  flood: GatewayPhaseResult | undefined;
  rate: GatewayPhaseResult | undefined;
  ceiling: CeilingResult | undefined;
  runS: number;
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');

export function printReport(r: ReportInput): void {
  const g: (GatewayPhaseResult | undefined)[] = [r.flood, r.rate];
  const c = r.ceiling;
  const head = ['', 'gateway, flat out', r.rate ? `gateway, each sensor every ${r.rate.periodS} s` : 'gateway, fixed rate', 'aedes alone, flat out'];
  const row = (label: string, f: (p: GatewayPhaseResult) => string, raw: (x: CeilingResult) => string = () => ''): string[] =>
    [label, ...g.map((p) => (p ? f(p) : '')), c ? raw(c) : ''];
  const rows: string[][] = [
    head,
    row('window, s (after warm-up)', (p) => `${fmt(p.window.seconds, 1)} (after ${p.warmupS})`, (x) => fmt(x.seconds, 1)),
    row('uplinks/s accepted by the gateway (aedes: handed to its subscriber)', (p) => int(p.window.acceptedPerS), (x) => int(x.receivedPerS)),
    row('  messages/s the simulator published', (p) => int(p.window.nsPublishedPerS), (x) => int(x.nsPublishedPerS)),
    row('  uplinks/s received by the gateway (duplicates included); simulator behind schedule at the end', (p) => `${int(p.window.receivedPerS)}; ${int(p.window.nsBehind)}`),
    row('points/s delivered at Mosquitto (QoS 1 subscriber)', (p) => int(p.window.pointsPerS)),
    row('  telemetry messages/s; points per message', (p) => `${fmt(p.window.delivered.messages / p.window.seconds, 1)}; ${fmt(p.window.delivered.points / p.window.delivered.messages, 0)}`),
    row('  upstream backlog, records, window start → end', (p) => `${int(p.window.backlog[0])} → ${int(p.window.backlog[1])}`),
    row('CPU, % of one core (window mean / busiest second)', (p) => `${fmt(p.window.cost.cpuPct, 1)} / ${fmt(p.window.cost.cpuPctMaxSecond, 0)}`, (x) => `${fmt(x.aedes.cpuPct, 1)} / ${fmt(x.aedes.cpuPctMaxSecond, 0)}`),
    row('CPU µs per uplink', (p) => fmt(p.window.usPerUplink, 1), (x) => fmt(x.usPerUplink, 1)),
    row('CPU µs per delivered point', (p) => fmt(p.window.usPerPoint, 2)),
    row('RSS MB, steady (window mean) / max of 1-s samples', (p) => `${fmt(p.window.cost.rssMeanMb)} / ${fmt(p.window.cost.rssMaxMb)}`, (x) => `${fmt(x.aedes.rssMeanMb)} / ${fmt(x.aedes.rssMaxMb)}`),
    row('RSS MB, peak (VmHWM): at ready / window end / run end', (p) => `${fmt(p.startup.hwmMb)} / ${fmt(p.window.cost.hwmMb)} / ${fmt(p.run.hwmMb)}`, (x) => `— / ${fmt(x.aedes.hwmMb)} / —`),
    row('RSS trend over the window, MB/min', (p) => fmt(p.window.cost.rssSlopeMbPerMin, 2)),
    row('start → broker and API listening, s; RSS then, MB', (p) => `${fmt(p.startup.readyS, 1)}; ${fmt(p.startup.rssMb)}`),
    row('GET /api/status answered in, ms (p50 / max)', (p) => `${fmt(p.window.statusLatency.p50, 0)} / ${fmt(p.window.statusLatency.max, 0)}`),
    row('simulator stopped → all taken in and delivered, s', (p) => fmt(p.run.drainS, 1)),
  ];
  const w = [70, 22, 30, 22];
  console.log('');
  const poll = [...new Set(g.flatMap((p) => (p ? [p.pollMs] : [])))].join(', ');
  console.log(`results: ${int(r.sensors.parking)} parking bays in ${r.sensors.lots} lots, ${int(r.sensors.manholes)} manhole covers, ${int(r.sensors.waterlogging)} water-logging points (ChirpStack v4 events, QoS 0)` +
    `${poll ? `; devices' poll_ms ${poll}${poll === '1000' ? ' (the default)' : ''}` : ''}`);
  for (const cells of rows) console.log(cells.map((x, i) => x.padEnd(w[i]!)).join(' ').trimEnd());

  if (c) {
    console.log('');
    console.log('ratio to aedes alone (no login check, no JSON, no decoding, no journal, no uplink: a ceiling, not a competitor)');
    const saturated = c.aedes.cpuPct > 90;
    for (const p of g) {
      if (!p) continue;
      // At a fixed rate the uplinks/s are the schedule's: only the CPU per uplink compares.
      console.log(`  ${p.label}: ${p.periodS === 0 ? `${fmt(p.window.acceptedPerS / c.receivedPerS, 3)} of its uplinks/s (${int(p.window.acceptedPerS)} vs ${int(c.receivedPerS)}); ` : ''}` +
        `${fmt(p.window.usPerUplink / c.usPerUplink, 1)}× its CPU per uplink (${fmt(p.window.usPerUplink, 1)} vs ${fmt(c.usPerUplink, 1)} µs)`);
    }
    if (!saturated) {
      console.log(`  aedes alone was not the bottleneck: it used ${fmt(c.aedes.cpuPct, 0)} % of a core and took all the simulator sent (the simulator: ${fmt(c.nsPct, 0)} % of a core);`);
      console.log(`  its own ceiling is nearer ${int(1e6 / c.usPerUplink)}/s (1 / its CPU per uplink), so compare CPU per uplink rather than uplinks/s.`);
    }
    console.log(`  mean payload ${int(c.payloadBytes)} bytes`);
  }

  console.log('');
  console.log('end to end: every uplink the simulator sent, over the whole run (start to drained), from its own record');
  for (const p of g) {
    if (!p) continue;
    const e = p.e2e;
    const ok = e.lost === 0 && p.run.accepted === e.uplinks && e.seqGaps === 0;
    console.log(`  ${p.label}: ${int(e.published)} messages published, ${int(e.duplicates)} of them repeats of a frame counter (failed deduplication), ${int(e.uplinks)} uplinks`);
    console.log(`    gateway: received ${int(p.run.received)}, accepted ${int(p.run.accepted)}, rejected ${JSON.stringify(p.run.rejected)}`);
    console.log(`    at the platform: ${int(e.reached)} uplinks with their points, ${int(e.unchanged)} with nothing new to report (every value as last published, report by exception), ` +
      `${int(e.lost)} lost: ${ok ? 'every accepted uplink reached the platform' : 'NOT every accepted uplink reached the platform'}`);
    console.log(`    ${int(e.batches)} batches, ${int(e.points)} points (${int(e.sensorPoints)} of sensors, ${int(e.lotPoints)} lot counts, ${int(e.otherPoints)} sensor points with no uplink's time); ` +
      `seq gaps ${e.seqGaps}, redelivered batches ${e.redelivered}, unreadable ${e.malformed}`);
    for (const l of e.lostExamples) console.log(`    lost: ${l}`);
    console.log(`    GET /api/status: the ${p.devices} devices' own accepted counts ${p.ingestAddsUp ? 'added up to' : 'did NOT add up to'} the topic's at every read`);
  }

  console.log('');
  console.log('the rest of the machine during each window (not in the figures above), % of one core');
  for (const p of g) {
    if (!p) continue;
    const o = p.window.othersPct;
    const ours = p.window.cost.cpuPct + o.ns + o.mosquitto + o.bench;
    const foreign = (p.window.machine.busyPct * r.machine.cores) - ours;
    console.log(`  ${p.label}: network-server simulator ${fmt(o.ns, 1)}; Mosquitto ${fmt(o.mosquitto, 1)}; bench (subscriber, meters) ${fmt(o.bench, 1)}; ` +
      `machine busy ${fmt(p.window.machine.busyPct, 1)} % of ${r.machine.cores} cores, stolen ${fmt(p.window.machine.stealPct, 1)} %; everything else ${fmt(foreign, 1)}`);
    if (foreign > 20) console.log(`    WARNING: other work kept about ${fmt(foreign / 100, 1)} cores busy: re-run on a quiet machine`);
  }
  if (c) console.log(`  aedes alone: simulator ${fmt(c.nsPct, 1)}; machine busy ${fmt(c.machine.busyPct, 1)} %, stolen ${fmt(c.machine.stealPct, 1)} %`);

  console.log('');
  for (const p of g) {
    if (!p) continue;
    console.log(`gateway (${p.label}): ${p.devices} devices, config ${fmt(p.configKb, 0)} kB; child processes: ${p.tree.length ? p.tree.map((t) => `${t.pid} (${t.comm})`).join(', ') : 'none'}; stopped with ${p.stop.status} in ${fmt(p.stop.ms / 1000, 1)} s`);
    console.log(`  RSS every 5 s from its start, MB: ${p.rssSeriesMb.map((x) => x.toFixed(0)).join(' ')}`);
    console.log(`  log: ${p.log.warn} warning(s), ${p.log.error} error(s)`);
    for (const [msg, n] of p.log.byMessage) console.log(`    ${String(n).padStart(5)} × ${msg}`);
  }

  console.log('');
  console.log('notes: uplinks/s from the gateway\'s own counters (GET /api/status: ingest_topics: received / accepted) at the window\'s two ends;');
  console.log('  points/s: points in telemetry messages that reached a QoS 1 subscriber on Mosquitto during the window. CPU and RSS from');
  console.log('  /proc/PID/stat and /proc/PID/status, sampled every second. The simulator, Mosquitto, aedes and this process share the cores:');
  console.log('  flat out, the uplinks/s are what the gateway took while the simulator offered more, if it did ("published/s" above).');
  console.log(`  whole run ${fmt(r.runS, 0)} s.`);
  console.log('machine (as at the start):');
  for (const l of describeMachine(r.machine)) console.log(`  ${l}`);

  // The headline rows for `npm run bench` (docs/performance.md, Sensors): no targets, the ratio to aedes alone.
  const results: ResultRow[] = [];
  for (const p of g) {
    if (!p) continue;
    const w = p.window;
    const e = p.e2e;
    if (p.periodS === 0) {
      results.push({ metric: 'flat out: uplinks accepted by the gateway', value: `${int(w.acceptedPerS)}/s`,
        note: c ? `${fmt(w.acceptedPerS / c.receivedPerS, 2)} of aedes alone (${int(c.receivedPerS)}/s); the simulator published ${int(w.nsPublishedPerS)}/s` : `the simulator published ${int(w.nsPublishedPerS)}/s` });
      results.push({ metric: 'flat out: points delivered at Mosquitto', value: `${int(w.pointsPerS)}/s` });
    }
    results.push(
      { metric: `${p.label}: gateway CPU, % of one core (mean / busiest second)`, value: `${fmt(w.cost.cpuPct, 1)} / ${fmt(w.cost.cpuPctMaxSecond, 0)} %` },
      { metric: `${p.label}: CPU per uplink`, value: `${fmt(w.usPerUplink, 1)} µs`, note: c ? `${fmt(w.usPerUplink / c.usPerUplink, 1)}× aedes alone (${fmt(c.usPerUplink, 1)} µs)` : '' },
      { metric: `${p.label}: gateway RSS, steady (mean) / peak (VmHWM)`, value: `${fmt(w.cost.rssMeanMb)} / ${fmt(w.cost.hwmMb)} MB` },
      { metric: `${p.label}: accepted uplinks lost on the way to the platform`, value: `${int(e.lost)} of ${int(p.run.accepted)}`,
        note: e.lost === 0 && p.run.accepted === e.uplinks && e.seqGaps === 0 ? 'every accepted uplink reached the platform' : 'NOT every accepted uplink reached the platform' },
    );
  }
  recordResults('sensors', r.machine,
    `${int(r.sensors.parking + r.sensors.manholes + r.sensors.waterlogging)} LoRaWAN sensors (ChirpStack v4 events) through the gateway's embedded broker, journal on disk, upstream to Mosquitto: ` +
    [c ? `aedes alone flat out (${fmt(c.seconds, 0)} s)` : '', r.flood ? `the gateway flat out (${fmt(r.flood.window.seconds, 0)} s window)` : '',
      r.rate ? `the gateway with each sensor every ${r.rate.periodS} s (${fmt(r.rate.window.seconds, 0)} s window)` : ''].filter(Boolean).join(', ') + '.',
    results);
}
