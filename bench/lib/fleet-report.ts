// The report of `npm run bench:fleet`: a table with a column per ingest configuration, one with a row
// per raw-ceiling phase, the ratios (2 instances ÷ 1; the ingest ÷ the bare writer), the end-to-end
// accounting of every sample, the rest of the machine, and what the instances logged. Figures only.
import { describeMachine, type Machine } from './machine.ts';
import type { CeilingResult } from './fleet-ceiling.ts';
import type { FleetPhaseResult } from './fleet-ingest.ts';
import { recordResults, type ResultRow } from './results.ts';
import { fmt } from './stats.ts';

export interface FleetReportInput {
  machine: Machine;
  fleet: { boxes: number; devicesPerBox: number; devices: number; meanTags: number };
  repeatRate: number;
  phases: FleetPhaseResult[];
  ceilings: CeilingResult[];
  runS: number;
}

const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const pct = (x: number) => `${fmt(x, 0)} %`;

/** Machine busy × cores, minus what the run's own processes used: other work on the box, % of one core. */
function foreign(p: FleetPhaseResult, cores: number): number {
  const w = p.window;
  const ours = p.instancesResult.reduce((a, i) => a + i.cost.cpuPct, 0) + w.publisher.cpuPct + w.mosquitto.cpuPct + w.store.cpuPct + w.benchPct;
  return w.machine.busyPct * cores - ours;
}

export function ceilingFor(r: FleetReportInput, client: 'fetch' | 'http', concurrency: number): CeilingResult | undefined {
  return r.ceilings.find((c) => c.client === client && c.concurrency === concurrency);
}

export function printReport(r: FleetReportInput): void {
  const cores = r.machine.cores;
  const ps = r.phases;
  const head = ['', ...ps.map((p) => p.label)];
  const row = (label: string, f: (p: FleetPhaseResult) => string): string[] => [label, ...ps.map(f)];
  const each = (p: FleetPhaseResult, f: (i: FleetPhaseResult['instancesResult'][number]) => string) => p.instancesResult.map(f).join(' | ');
  const rows: string[][] = [
    head,
    row('window, s (after warm-up, s)', (p) => `${fmt(p.window.seconds, 1)} (after ${p.warmupS})`),
    row('POINTS/S WRITTEN (instances\' stats lines, summed)', (p) => int(p.window.pointsPerS)),
    row('  per instance', (p) => each(p, (i) => int(i.pointsPerS))),
    row('messages/s handled; repeats dropped/s', (p) => `${int(p.window.messagesPerS)}; ${fmt(p.window.duplicatesPerS, 1)}`),
    row('store: samples/s taken; write requests/s (its /metrics)', (p) => `${int(p.window.storeRowsPerS)}; ${int(p.window.storeWritesPerS)}`),
    row('publisher: messages/s acknowledged by Mosquitto', (p) => int(p.window.publishedPerS)),
    row('  held back (ingest had enough unread), % of window', (p) => pct(p.window.heldPct)),
    row('  broker backlog, messages, window start → end', (p) => `${int(p.window.backlog[0])} → ${int(p.window.backlog[1])}`),
    row('points per message; payload bytes', (p) => `${fmt(p.window.pointsPerS / p.window.messagesPerS, 1)}; ${int(p.window.payloadBytes)}`),
    row('INGEST CPU, % of one core, per instance (mean / busiest s)', (p) => each(p, (i) => `${fmt(i.cost.cpuPct, 0)} / ${fmt(i.cost.cpuPctMaxSecond, 0)}`)),
    row('ingest CPU µs per message; per point (instances summed)', (p) => `${fmt(p.window.usPerMessage, 0)}; ${fmt(p.window.usPerPoint, 2)}`),
    row('INGEST RSS MB per instance: mean / max 1-s / peak (VmHWM)', (p) => each(p, (i) => `${fmt(i.cost.rssMeanMb, 0)} / ${fmt(i.cost.rssMaxMb, 0)} / ${fmt(i.cost.hwmMb, 0)}`)),
    row('  RSS trend over the window, MB/min', (p) => each(p, (i) => fmt(i.cost.rssSlopeMbPerMin, 1))),
    row('Mosquitto: CPU % of one core; RSS MB mean / max', (p) => `${fmt(p.window.mosquitto.cpuPct, 0)}; ${fmt(p.window.mosquitto.rssMeanMb, 0)} / ${fmt(p.window.mosquitto.rssMaxMb, 0)}`),
    row('VictoriaMetrics: CPU % of one core; RSS MB mean / max', (p) => `${fmt(p.window.store.cpuPct, 0)}; ${fmt(p.window.store.rssMeanMb, 0)} / ${fmt(p.window.store.rssMaxMb, 0)}`),
    row('publisher: CPU % of one core; RSS MB', (p) => `${fmt(p.window.publisher.cpuPct, 0)}; ${fmt(p.window.publisher.rssMeanMb, 0)}`),
    row('bench (this process): CPU % of one core', (p) => fmt(p.window.benchPct, 1)),
    row(`machine busy, % of ${cores} cores; stolen %`, (p) => `${fmt(p.window.machine.busyPct, 1)}; ${fmt(p.window.machine.stealPct, 1)}`),
    row('  everything else on the machine, % of one core', (p) => fmt(foreign(p, cores), 0)),
    row('instances subscribed, s after start', (p) => fmt(p.startupS, 1)),
    row('publisher stopped → all handled, s', (p) => fmt(p.run.drainS, 1)),
  ];
  const w = [60, 34, 34, 34];
  console.log('');
  console.log(`results: ${int(r.fleet.boxes)} boxes × ${r.fleet.devicesPerBox} devices (${int(r.fleet.devices)} devices, ${fmt(r.fleet.meanTags, 1)} tags each on average), ` +
    `QoS 1, ${fmt(100 * r.repeatRate, 1)} % of batches sent twice`);
  for (const cells of rows) console.log(cells.map((x, i) => x.padEnd(w[i] ?? 34)).join(' ').trimEnd());

  if (r.ceilings.length) {
    console.log('');
    console.log('raw ceiling: a bare loop POSTing the same line protocol to VictoriaMetrics /api/v2/write (no MQTT, no JSON), flat out');
    const cw = [34, 12, 12, 14, 22, 14, 22, 16];
    const crow = (cells: string[]) => console.log(cells.map((x, i) => x.padEnd(cw[i] ?? 12)).join(' ').trimEnd());
    crow(['', 'writes/s', 'points/s', 'store rows/s', 'writer CPU % (max s)', 'µs CPU/write', 'VM CPU %; RSS MB', 'machine busy %']);
    for (const c of r.ceilings) {
      crow([c.label, int(c.writesPerS), int(c.pointsPerS), int(c.storeRowsPerS), `${fmt(c.writer.cpuPct, 0)} (${fmt(c.writer.cpuPctMaxSecond, 0)})`, fmt(c.usPerWrite, 0),
        `${fmt(c.store.cpuPct, 0)}; ${fmt(c.store.rssMeanMb, 0)}`, fmt(c.machine.busyPct, 0)]);
      if (c.failures) console.log(`    ${c.failures} failed writes; last: ${c.lastError ?? ''}`);
    }
  }

  console.log('');
  console.log('ratios');
  const one = ps.find((p) => p.instances === 1);
  const two = ps.find((p) => p.instances === 2);
  if (one && two) {
    console.log(`  scaling, 2 instances ÷ 1: ${fmt(two.window.pointsPerS / one.window.pointsPerS, 2)}× the points/s (${int(two.window.pointsPerS)} vs ${int(one.window.pointsPerS)}); ` +
      `CPU per message ${fmt(two.window.usPerMessage, 0)} vs ${fmt(one.window.usPerMessage, 0)} µs`);
  }
  for (const p of ps) {
    const inFlight = p.instances * p.connections;
    for (const client of ['fetch', 'http'] as const) {
      const c = ceilingFor(r, client, inFlight);
      if (!c) continue;
      console.log(`  ${p.label} ÷ raw ${client} with ${inFlight} in flight: ${fmt(p.window.pointsPerS / c.pointsPerS, 2)} of its points/s; ` +
        `ingest CPU per message ${fmt(p.window.usPerMessage / c.usPerWrite, 1)}× the writer's per write (${fmt(p.window.usPerMessage, 0)} vs ${fmt(c.usPerWrite, 0)} µs)`);
    }
  }

  console.log('');
  console.log('end to end: every sample the publisher\'s batches carry, looked for in VictoriaMetrics (/api/v1/export, dedup 1 ms)');
  for (const p of ps) {
    const c = p.check; const pub = p.run.published;
    const ok = c.missing === 0 && c.extra === 0 && c.wrongValue === 0 && c.unexpected === 0 && c.stored === c.expected;
    console.log(`  ${p.label}: ${int(pub.acked)} messages acknowledged by Mosquitto (${int(pub.firsts)} batches + ${int(pub.repeats)} repeats), ${pub.errors} failed publishes`);
    console.log(`    instances: handled ${int(p.run.messages)}, dropped ${int(p.run.duplicates)} repeats, rejected ${int(p.run.rejected)}, refused by the store ${int(p.run.refusedByStore)}, ` +
      `write failures ${int(p.run.writeFailures)}; points written ${int(p.run.points)} (${int(p.run.points - c.expected)} more than distinct: repeats another instance wrote again)`);
    console.log(`    store (measurement ${p.measurement}): ${int(c.expected)} distinct samples expected, ${int(c.stored)} exported in ${int(c.series)} series lines: ` +
      `${int(c.once)} once, ${int(c.missing)} missing, ${int(c.extra)} extra, ${int(c.wrongValue)} wrong values, ${int(c.unexpected)} unexpected; ` +
      `${ok ? 'EVERY SAMPLE EXACTLY ONCE' : 'NOT every sample exactly once'} (check ${fmt(c.seconds, 1)} s)`);
    for (const m of c.missingExamples) console.log(`    missing: ${m}`);
  }

  console.log('');
  for (const p of ps) {
    for (const i of p.instancesResult) {
      console.log(`${i.name} (${p.label}): pid ${i.pid}, ${i.cost.threads} threads, children ${i.tree.length ? i.tree.map((t) => `${t.pid} (${t.comm})`).join(', ') : 'none'}; stopped with ${i.stop}`);
      console.log(`  RSS every 5 s, MB: ${i.rssSeriesMb.map((x) => x.toFixed(0)).join(' ')}`);
      console.log(`  log: ${i.log.warn} warning(s), ${i.log.error} error(s)`);
      for (const [msg, n] of i.log.byMessage) console.log(`    ${String(n).padStart(5)} × ${msg}`);
    }
  }
  for (const p of ps) {
    const f = foreign(p, cores);
    if (f > 20) console.log(`WARNING (${p.label}): other work kept about ${fmt(f / 100, 1)} cores busy during the window: re-run on a quiet machine`);
  }

  console.log('');
  console.log('notes: points/s and messages/s from the instances\' own stats lines (--stats-every-s 1; the lines nearest the window\'s ends);');
  console.log('  the store\'s from its /metrics (vm_rows_inserted_total{type="influx"}). CPU and RSS from /proc/PID/stat and /status every');
  console.log('  second. Flat out, the publisher keeps the broker\'s backlog at a few seconds of the ingest\'s rate, so the instances never');
  console.log('  wait for input. The publisher, Mosquitto, VictoriaMetrics, the instances and this process share the cores: with');
  console.log(`  ${cores} cores, the 2-instance figure is bounded by the machine, not by the design ("machine busy" above).`);
  console.log(`  whole run ${fmt(r.runS, 0)} s.`);
  console.log('machine (as at the start):');
  for (const l of describeMachine(r.machine)) console.log(`  ${l}`);

  // The headline rows for `npm run bench` (docs/performance.md, Fleet ingest): no targets; the ratios and the end-to-end check.
  const results: ResultRow[] = [];
  const per = (p: FleetPhaseResult, f: (i: FleetPhaseResult['instancesResult'][number]) => string) => p.instancesResult.map(f).join(', ');
  for (const p of ps) {
    const inFlight = p.instances * p.connections;
    const ratios = (['fetch', 'http'] as const).flatMap((client) => {
      const c = ceilingFor(r, client, inFlight);
      return c ? [`${fmt(p.window.pointsPerS / c.pointsPerS, 2)} of raw ${client} ×${inFlight} (${int(c.pointsPerS)}/s)`] : [];
    });
    const c = p.check;
    const ok = c.missing === 0 && c.extra === 0 && c.wrongValue === 0 && c.unexpected === 0 && c.stored === c.expected;
    results.push(
      { metric: `${p.label}: points written to VictoriaMetrics`, value: `${int(p.window.pointsPerS)}/s (${int(p.window.messagesPerS)} messages/s)`,
        note: [...ratios, ...(p === two && one ? [`${fmt(two.window.pointsPerS / one.window.pointsPerS, 2)}× 1 instance`] : [])].join('; ') },
      { metric: `${p.label}: ingest CPU per instance (mean); per message`, value: `${per(p, (i) => `${fmt(i.cost.cpuPct, 0)} %`)}; ${fmt(p.window.usPerMessage, 0)} µs`,
        note: `machine ${fmt(p.window.machine.busyPct, 0)} % busy of ${cores} cores` },
      { metric: `${p.label}: ingest RSS per instance, mean / peak (VmHWM)`, value: `${per(p, (i) => `${fmt(i.cost.rssMeanMb, 0)} / ${fmt(i.cost.hwmMb, 0)} MB`)}` },
      { metric: `${p.label}: samples in the store, once / missing / extra / wrong`, value: `${int(c.once)} / ${int(c.missing)} / ${int(c.extra)} / ${int(c.wrongValue)}`,
        note: ok ? `every one of ${int(c.expected)} samples exactly once` : `NOT every one of ${int(c.expected)} samples exactly once` },
    );
  }
  recordResults('fleet', r.machine,
    `\`cityedge ingest\` (${ps.map((p) => p.label).join(', then ')}) from Mosquitto into VictoriaMetrics, fed by ${int(r.fleet.boxes)} boxes × ${r.fleet.devicesPerBox} devices ` +
    `of ~${fmt(r.fleet.meanTags, 0)} tags ${ps[0] && ps[0].rate > 0 ? `at ${ps[0].rate} messages/s` : 'flat out'}, QoS 1, ${fmt(100 * r.repeatRate, 1)} % of batches sent twice; ${ps[0] ? `${fmt(ps[0].window.seconds, 0)} s windows after ${ps[0].warmupS} s of warm-up` : 'no window'}` +
    `${r.ceilings.length ? `; the raw ceiling: a bare loop writing the same line protocol (${r.ceilings.map((c) => c.label).join('; ')})` : ''}.`, results);
}
