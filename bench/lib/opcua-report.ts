// The report of `npm run bench:opcua`: one table with a column per phase (gateway and raw client,
// subscribe and poll), the ratios to the raw client, the start-up step by step, the rest of the
// machine, and what the gateway logged. No targets: the issue asked for figures, not a pass mark.
import { describeMachine, type Machine } from './machine.ts';
import type { Mark, PhaseResult } from './opcua-phase.ts';
import { recordResults, type ResultRow } from './results.ts';
import { fmt, summarize } from './stats.ts';

export interface GatewayLog {
  warn: number; error: number; other: number;
  byMessage: Map<string, { n: number; firstS: number }>;
  first: string[];
  overruns: { atS: number; scanMs: number; overruns: number }[];
}
export interface RawInfo { loadedRssMb: number; importMs: number; steps: Record<string, number | number[]> }

export interface ReportInput {
  opts: { tags: number; warmupS: number; durationS: number; pollDurationS: number; pollMs: number; raw: boolean; poll: boolean };
  machine: Machine;
  endpoint: string;
  gwSub: { result: PhaseResult; log: GatewayLog; plan: string[]; rebuilt: boolean };
  rawSub: { result: PhaseResult; info: RawInfo } | undefined;
  gwPoll: { result: PhaseResult; log: GatewayLog; plan: string[]; rebuilt: boolean } | undefined;
  rawPoll: { result: PhaseResult; info: RawInfo } | undefined;
  idleMb: number;
  simRssMb: number;
  runS: number;
}

const num = (x: number | undefined, d = 1) => (x === undefined ? 'n/a' : fmt(x, d));
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const pms = (xs: number[]) => { const s = summarize(xs); return `${fmt(s.p50, 0)} / ${fmt(s.p95, 0)} / ${fmt(s.max, 0)}`; };

export function printReport(r: ReportInput): void {
  const cols: (PhaseResult | undefined)[] = [r.gwSub.result, r.rawSub?.result, r.gwPoll?.result, r.rawPoll?.result];
  const head = ['', 'gateway, subscribe', 'raw node-opcua, subscribe', 'gateway, poll', 'raw node-opcua, poll'];
  const expected = (r.opts.tags * 1000) / r.opts.pollMs;
  const row = (label: string, f: (p: PhaseResult) => string): string[] => [label, ...cols.map((p) => (p ? f(p) : ''))];
  const rows: string[][] = [
    head,
    row('window, s (after warm-up)', (p) => fmt(p.cost.seconds, 1)),
    row('start → first value, s (gateway: at the subscriber)', (p) => num(p.startup.firstS)),
    row(`start → all ${r.opts.tags} tags seen once, s`, (p) => (p.startup.allS !== undefined ? fmt(p.startup.allS, 1) : `not all: ${p.startup.tagsSeen}`)),
    row('CPU s spent by then (whole process)', (p) => fmt(p.startup.cpuS, 2)),
    row('samples/s (gateway: delivered at the broker), by value time', (p) => `${int(p.samplesPerS)} of ${int(expected)}`),
    row('  samples arrived during the window, /s', (p) => int(p.arrivedPerS)),
    row('CPU, % of one core (window mean)', (p) => fmt(p.cost.cpuPct, 2)),
    row('CPU, % of one core (busiest second)', (p) => fmt(p.cost.cpuPctMaxSecond, 0)),
    row('CPU µs per sample', (p) => fmt(p.usPerSample, 2)),
    row('steady part: from s after start (how found), for s', (p) => `${fmt(p.steady.fromS, 0)} (${p.steady.afterDrop ? 'full GC' : 'last 30 s'}), ${fmt(p.steady.seconds, 0)}`),
    row('  steady part: CPU % of one core; µs per sample', (p) => `${fmt(p.steady.cpuPct, 2)}; ${fmt(p.steady.usPerSample, 2)}`),
    row('  steady part: RSS MB (mean)', (p) => fmt(p.steady.rssMeanMb)),
    row('RSS MB, mean over the window', (p) => fmt(p.cost.rssMeanMb)),
    row('RSS MB, lowest in the window', (p) => fmt(p.rssMinMb)),
    row('RSS MB, peak (VmHWM since start)', (p) => fmt(p.cost.hwmMb)),
    row('RSS MB, peak by the end of start-up', (p) => fmt(p.startup.hwmMb)),
    row('RSS trend over the window, MB/min', (p) => fmt(p.cost.rssSlopeMbPerMin, 2)),
    row('threads', (p) => String(p.cost.threads)),
    row('value t → subscriber ms, oldest point/msg (p50/p95/max)', (p) => (p.delivery ? pms(p.delivery.oldestLatencyMs) : '—')),
    row('  newest point/msg (p50/p95/max)', (p) => (p.delivery ? pms(p.delivery.newestLatencyMs) : '—')),
    row('MQTT messages/s; points per message (p50 / max)', (p) => (p.delivery ? `${fmt(p.delivery.messages / p.cost.seconds, 2)}; ${pms(p.delivery.sizes).split(' / ').filter((_, i) => i !== 1).join(' / ')}` : '—')),
    row('bad / historical points, duplicate msgs, repeated points', (p) => (p.delivery ? `${p.delivery.badPoints} / ${p.delivery.historicalPoints} / ${p.delivery.duplicates} / ${p.delivery.stale}` : '—')),
    row('raw: notifications or values read; changed; errors', (p) => (p.raw ? `${int(p.mode === 'subscribe' ? p.raw.notifications : p.raw.readValues)}; ${p.mode === 'poll' ? int(p.raw.changedValues) : '—'}; ${p.raw.errors}` : '—')),
  ];
  const w = [62, 22, 26, 22, 22];
  console.log('');
  console.log(`results: ${r.opts.tags} variables, each changing once a second; poll_ms ${r.opts.pollMs}`);
  for (const cells of rows) console.log(cells.map((c, i) => c.padEnd(w[i]!)).join(' ').trimEnd());

  const ratio = (g: PhaseResult | undefined, raw: PhaseResult | undefined, mode: string) => {
    if (!g || !raw) return;
    console.log(`  ${mode}: the gateway uses ${fmt(g.usPerSample / raw.usPerSample, 1)}× the CPU per sample of node-opcua alone ` +
      `(${fmt(g.usPerSample, 2)} vs ${fmt(raw.usPerSample, 2)} µs; ${fmt(g.cost.cpuPct, 1)} vs ${fmt(raw.cost.cpuPct, 1)} % of one core), ` +
      `${fmt(g.cost.rssMeanMb / raw.cost.rssMeanMb, 2)}× its RSS (window means: ${fmt(g.cost.rssMeanMb)} vs ${fmt(raw.cost.rssMeanMb)} MB), ` +
      `and ${fmt((g.startup.allS ?? NaN) / (raw.startup.allS ?? NaN), 1)}× its time to every tag once; ` +
      `in the steady parts ${fmt(g.steady.usPerSample / raw.steady.usPerSample, 1)}× the CPU per sample (${fmt(g.steady.usPerSample, 2)} vs ${fmt(raw.steady.usPerSample, 2)} µs) ` +
      `and ${fmt(g.steady.rssMeanMb / raw.steady.rssMeanMb, 2)}× the RSS (${fmt(g.steady.rssMeanMb)} vs ${fmt(raw.steady.rssMeanMb)} MB)`);
  };
  console.log('');
  console.log('ratios to the raw client (it only counts: no samples, no report by exception, no journal, no JSON, no MQTT; a floor, not a competitor)');
  ratio(r.gwSub.result, r.rawSub?.result, 'subscribe');
  ratio(r.gwPoll?.result, r.rawPoll?.result, 'poll');
  console.log(`  RSS floor: node idle ${fmt(r.idleMb)} MB; node with node-opcua imported, before connecting ${fmt(r.rawSub?.info.loadedRssMb ?? r.rawPoll?.info.loadedRssMb ?? NaN)} MB ` +
    `(import ${r.rawSub?.info.importMs ?? r.rawPoll?.info.importMs ?? 'n/a'} ms)`);

  console.log('');
  console.log('start-up, s after the process started');
  const marks = (label: string, ms: Mark[], p: PhaseResult) => {
    const all = [...ms, ...(p.startup.firstS !== undefined ? [{ what: 'first value at the subscriber', atS: p.startup.firstS }] : []),
      ...(p.startup.allS !== undefined ? [{ what: `all ${p.tags} tags at the subscriber`, atS: p.startup.allS }] : [])].sort((a, b) => a.atS - b.atS);
    console.log(`  ${label}: ${all.map((m) => `${m.what} ${fmt(m.atS, 2)}`).join('; ')}`);
  };
  marks('gateway, subscribe', r.gwSub.result.startup.marks, r.gwSub.result);
  if (r.gwPoll) marks('gateway, poll', r.gwPoll.result.startup.marks, r.gwPoll.result);
  for (const [label, raw] of [['raw, subscribe', r.rawSub], ['raw, poll', r.rawPoll]] as const) {
    if (!raw) continue;
    const s = Object.entries(raw.info.steps).map(([k, v]) => `${k} ${Array.isArray(v) ? `[${v.join(', ')}]` : v}`).join(', ');
    console.log(`  ${label}: import node-opcua ${raw.info.importMs} ms, then (ms) ${s}; first value ${num(raw.result.startup.firstS, 2)} s, all ${num(raw.result.startup.allS, 2)} s`);
  }

  console.log('');
  console.log('the measured processes');
  for (const p of cols) {
    if (!p) continue;
    console.log(`  ${p.name}: pid ${p.pid}, child processes: ${p.tree.length ? p.tree.map((c) => `${c.pid} (${c.comm})`).join(', ') : 'none'}; stopped with ${p.exit} in ${fmt(p.stopMs / 1000, 1)} s`);
    console.log(`    RSS every 5 s from its start, MB: ${p.rssSeriesMb.map((x) => x.toFixed(0)).join(' ')}`);
  }

  console.log('');
  console.log('the rest of the machine during each window (not counted in the figures above), % of one core');
  for (const p of cols) {
    if (!p) continue;
    const parts = Object.entries(p.othersPct).map(([n, pct]) => `${n} ${fmt(pct, 1)}`);
    const ours = p.cost.cpuPct + Object.values(p.othersPct).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const foreign = p.machine.busyPct * p.machine.cores - ours;
    console.log(`  ${p.name}: ${parts.join('; ')}; whole machine busy ${fmt(p.machine.busyPct, 1)} % of ${p.machine.cores} cores, stolen ${fmt(p.machine.stealPct, 1)} %; everything else ${fmt(foreign, 1)}`);
    if (foreign > 20) console.log(`    WARNING: other work kept about ${fmt(foreign / 100, 1)} cores busy: re-run on a quiet machine`);
  }
  console.log(`  OPC UA server RSS at the end: ${fmt(r.simRssMb)} MB`);

  for (const [label, g] of [['subscribe', r.gwSub], ['poll', r.gwPoll]] as const) {
    if (!g) continue;
    console.log('');
    console.log(`gateway log (${label}): ${g.log.warn} warning(s), ${g.log.error} error(s)${g.log.other ? `, ${g.log.other} non-JSON line(s)` : ''}`);
    for (const [msg, { n, firstS }] of [...g.log.byMessage].sort((a, b) => b[1].n - a[1].n).slice(0, 12)) console.log(`  ${String(n).padStart(5)} × ${msg} (first at ${fmt(firstS, 1)} s)`);
    if (g.log.overruns.length) console.log(`  scan overruns logged: ${g.log.overruns.map((o) => `at ${fmt(o.atS, 1)} s, scan ${fmt(o.scanMs, 0)} ms (overrun #${o.overruns})`).join('; ')}`);
    if (g.log.first.length) { console.log('  first warnings:'); for (const l of g.log.first) console.log(`    ${l}`); }
    console.log(`  read plan (cityedge check): ${g.plan.map((l) => l.trim()).join(' | ')}`);
    if (g.rebuilt) console.log('  NOTE: the sources changed during this phase and the gateway bundled them at start: its start-up time includes that.');
  }

  console.log('');
  console.log('notes: samples/s for the gateway are points in telemetry messages that reached a QoS 1 subscriber on the broker; for the raw');
  console.log('  client, data-change notifications received (subscribe) or values read that differed from the last read (poll). Counted by');
  console.log('  value time (the source timestamp) over the whole seconds of the window, once late ones had time to arrive: the count by');
  console.log('  arrival moves by a whole burst (5,000 samples, once a second) with the window\'s phase. CPU per sample = CPU per second ÷ samples per second.');
  console.log('  CPU and RSS from /proc/PID/stat and /proc/PID/status, sampled every second; the server, Mosquitto and this process share the cores.');
  console.log(`  server ${r.endpoint}; whole run ${fmt(r.runS, 0)} s.`);
  console.log('machine (as at the start):');
  for (const l of describeMachine(r.machine)) console.log(`  ${l}`);

  // The headline rows for `npm run bench` (docs/performance.md, OPC UA): no targets, the ratios to the raw client.
  const vs = (g: number, raw: number | undefined, unit: string, digits: number, ratioDigits = 1) =>
    (raw === undefined ? '' : `${fmt(g / raw, ratioDigits)}× raw node-opcua (${fmt(raw, digits)} ${unit})`);
  const results: ResultRow[] = [];
  for (const [mode, g, raw] of [['subscribe', r.gwSub.result, r.rawSub?.result], ['poll', r.gwPoll?.result, r.rawPoll?.result]] as const) {
    if (!g) continue;
    results.push(
      { metric: `${mode}: samples delivered at the broker, by value time`, value: `${int(g.samplesPerS)}/s`, note: `of ${int(expected)} changes/s${raw ? `; raw node-opcua ${int(raw.samplesPerS)}/s` : ''}` },
      { metric: `${mode}: CPU per sample, whole window`, value: `${fmt(g.usPerSample, 2)} µs`, note: vs(g.usPerSample, raw?.usPerSample, 'µs', 2) },
    );
    if (mode === 'subscribe') {
      results.push(
        { metric: `${mode}: CPU per sample, steady part (from ${fmt(g.steady.fromS, 0)} s, ${g.steady.afterDrop ? 'after a full GC' : 'last 30 s'})`, value: `${fmt(g.steady.usPerSample, 2)} µs`,
          note: vs(g.steady.usPerSample, raw?.steady.usPerSample, 'µs', 2) },
        { metric: `${mode}: RSS, steady part (mean)`, value: `${fmt(g.steady.rssMeanMb)} MB`, note: vs(g.steady.rssMeanMb, raw?.steady.rssMeanMb, 'MB', 1, 2) },
      );
    }
    results.push(
      { metric: `${mode}: RSS, peak (VmHWM)`, value: `${fmt(g.cost.hwmMb)} MB`, note: vs(g.cost.hwmMb, raw?.cost.hwmMb, 'MB', 1, 2) },
      { metric: `${mode}: start → all ${r.opts.tags} tags at the subscriber`, value: g.startup.allS !== undefined ? `${fmt(g.startup.allS, 1)} s` : `not all: ${g.startup.tagsSeen}`,
        note: raw?.startup.allS !== undefined && g.startup.allS !== undefined ? vs(g.startup.allS, raw.startup.allS, 's', 1) : '' },
    );
  }
  recordResults('opcua', r.machine,
    `${int(r.opts.tags)} OPC UA variables each changing once a second, the gateway subscribed (publishing every ${r.opts.pollMs} ms) with its journal on disk, to Mosquitto; ` +
    `${fmt(r.gwSub.result.cost.seconds, 0)} s window after ${r.opts.warmupS} s of warm-up${r.rawSub ? ', then node-opcua\'s client alone the same' : ''}` +
    `${r.gwPoll ? `; then mode poll (a Read every ${r.opts.pollMs} ms, ${fmt(r.gwPoll.result.cost.seconds, 0)} s window)` : ''}.`, results);
}
