// The report of `npm run bench:alarms`: the rule-evaluation figures (bench/lib/alarms-eval.ts) and the
// PLC-to-subscriber latency (bench/lib/alarms-latency.ts), with the machine they ran on.
import type { EvalResult, EvalRun, EvalVariant } from './alarms-eval.ts';
import type { Edge, LatencyResult } from './alarms-latency.ts';
import { describeMachine, type Machine } from './machine.ts';
import type { ResultRow } from './results.ts';
import { fmt } from './stats.ts';

/** Margin over the poll interval that the latency target allows. */
export const TARGET_MARGIN_MS = 50;

const num = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');

/** Nearest-rank percentile: a value that really occurred (as bench/lib/stats.ts). With 100 values, p99 is the 99th smallest. */
export function pct(xs: readonly number[], p: number): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const mean = (xs: readonly number[]): number => {
  const f = xs.filter(Number.isFinite);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
};
const median = (xs: readonly number[]): number => pct(xs, 50);

function table(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(`  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()}`);
}

// --- 1. rule evaluation -----------------------------------------------------------------------

const rate = (r: EvalRun) => (r.evals / r.wallMs) * 1000;
const cpuUs = (r: EvalRun) => (r.cpuMs * 1000) / r.evals;

interface VariantFigures {
  perS: number; lo: number; hi: number; cpuUs: number; rounds: number; transitions: number; journaled: number; floodRounds: number;
  saves: number; saveMs: number; wallMs: number; evals: number;
}

function figures(v: EvalVariant): VariantFigures {
  const rates = v.runs.map(rate);
  // The run whose rate is the median gives the other columns, so a row is one real run.
  const mid = v.runs[rates.indexOf(median(rates))]!;
  return {
    perS: rate(mid), lo: Math.min(...rates), hi: Math.max(...rates), cpuUs: cpuUs(mid), rounds: mid.rounds,
    transitions: mid.transitions, journaled: mid.journaled, floodRounds: mid.floodRounds, saves: mid.saves, saveMs: mid.saveMs, wallMs: mid.wallMs, evals: mid.evals,
  };
}

export function printEval(e: EvalResult): void {
  const byName = new Map(e.variants.map((v) => [v.name, figures(v)]));
  const runs = e.variants[0]?.runs.length ?? 0;
  console.log(`1. Rule evaluation: AlarmEngine.onSamples() + tick(), ${num(e.rules)} rules on ${e.devices} devices × 500 tags ` +
    `(config ${fmt(e.configYamlKb, 0)} kB of YAML, parseConfig ${fmt(e.configParseMs, 0)} ms)`);
  console.log(`   one round = 20 device scans (500 samples, ${num(e.evalsPerRound / e.devices)} rule evaluations each) + one tick() = 1 simulated second;`);
  console.log(`   ${e.cycleRounds}-round cycles of pre-built scans, ${e.excursionsPerCycle.mixed} excursions per cycle (quiet: none); median of ${runs} runs`);
  const rows: string[][] = [['', 'evaluations/s (range)', 'CPU µs/eval', 'rounds', 'transitions', 'to journal', 'flood rounds', 'state saves', 'ms per save']];
  for (const v of e.variants) {
    const f = byName.get(v.name)!;
    rows.push([
      v.label,
      `${num(f.perS)} (${num(f.lo)}–${num(f.hi)})`,
      fmt(f.cpuUs, 3), num(f.rounds),
      v.name === 'raw ceiling' ? `${num(f.transitions)} raw` : num(f.transitions),
      v.name === 'raw ceiling' ? '—' : num(f.journaled),
      v.name === 'raw ceiling' ? '—' : num(f.floodRounds),
      v.name === 'raw ceiling' ? '—' : num(f.saves),
      f.saves ? fmt(f.saveMs / f.saves, 2) : '—',
    ]);
  }
  table(rows);
  const eng = byName.get('engine');
  const quiet = byName.get('engine, quiet scans');
  const raw = byName.get('raw ceiling');
  const file = byName.get('engine, JournalAlarmStore');
  console.log('   transitions: every one goes to the alarm history; "to journal": those appended for …/alarms. In a flood (more than 10 new');
  console.log('   alarms in 10 simulated minutes, as here) only critical ones are, one by one; the rest wait for the flood\'s summary.');
  console.log('');
  if (eng && quiet && raw) {
    const perRound = e.evalsPerRound;
    console.log(`   real time: a ${num(e.rules)}-rule box polled every second needs ${num(perRound)} evaluations/s; the engine does ` +
      `${fmt(eng.perS / perRound, 0)}× that with these transitions, ${fmt(quiet.perS / perRound, 0)}× with none`);
    console.log(`   raw ceiling ÷ engine: ${fmt(raw.perS / quiet.perS, 1)}× with quiet scans (the per-rule bookkeeping: Map lookup, tracker, lifecycle), ` +
      `${fmt(raw.perS / eng.perS, 0)}× with transitions`);
    // The engine hands over the rules that changed, once per scan with a transition (engine.ts #save).
    console.log(`   state saves: ${num(eng.saves)} in ${fmt(eng.wallMs / 1000, 1)} s of real time for ${num(eng.transitions)} transitions, ` +
      `${fmt(eng.saves ? eng.saveMs / eng.saves : NaN, 3)} ms each in MemoryAlarmStore.save = ${fmt((100 * eng.saveMs) / eng.wallMs, 1)} % of the wall time`);
  }
  if (file) {
    console.log(`   disk box: the changed rules' states go into the SQLite journal's next transaction, with the events that announce them ` +
      `(${fmt(file.saves ? file.saveMs / file.saves : NaN, 3)} ms per save to queue them; the commits, fsync full, are in the rate above); ` +
      `journal file after the run ${fmt(e.stateFileBytes / 2 ** 20, 1)} MB`);
  }
}

/** The headline rows of part 1 for `npm run bench` (docs/performance.md, Alarms): what printEval prints. */
export function evalRows(e: EvalResult): ResultRow[] {
  const byName = new Map(e.variants.map((v) => [v.name, figures(v)]));
  const eng = byName.get('engine');
  const quiet = byName.get('engine, quiet scans');
  const raw = byName.get('raw ceiling');
  const file = byName.get('engine, JournalAlarmStore');
  const perRound = e.evalsPerRound;
  const rows: ResultRow[] = [];
  if (eng) {
    rows.push({ metric: `rule evaluations, ${num(e.rules)} rules, scans with excursions (median run)`, value: `${num(eng.perS)}/s (${fmt(eng.cpuUs, 3)} µs CPU each)`,
      note: `${fmt(eng.perS / perRound, 0)}× what a box polled every second needs${raw ? `; raw ceiling ${fmt(raw.perS / eng.perS, 0)}× faster` : ''}` });
  }
  if (quiet) {
    rows.push({ metric: 'rule evaluations, quiet scans (nothing crosses)', value: `${num(quiet.perS)}/s (${fmt(quiet.cpuUs, 3)} µs CPU each)`,
      note: raw ? `raw ceiling ÷ engine: ${fmt(raw.perS / quiet.perS, 1)}×` : '' });
  }
  if (raw) rows.push({ metric: 'raw ceiling: the same comparisons in a bare loop', value: `${num(raw.perS)}/s` });
  if (file) {
    rows.push({ metric: 'rule evaluations with the SQLite journal keeping events and states (a disk box), excursions as above', value: `${num(file.perS)}/s`,
      note: eng ? `${fmt(eng.perS / file.perS, 1)}× slower than in memory` : '' });
  }
  return rows;
}

// --- 2. latency -------------------------------------------------------------------------------

const SEGMENTS: [keyof Edge, string][] = [
  ['pollWaitMs', 'input change → PLC read of di:6 (wait for the poll)'],
  ['scanToEngineMs', 'PLC read → event to the journal (rest of scan, rules, history)'],
  ['engineToEndOfScanMs', 'event → end of scan callback (states queued for the commit)'],
  ['endOfScanToCommitMs', 'end of scan → journal commit of events and states (setImmediate, SQLite + fsync)'],
  ['commitToSubscriberMs', 'commit → subscriber (uplink, Mosquitto, mqtt.js)'],
];

function row(name: string, xs: readonly number[]): string[] {
  return [name, String(xs.filter(Number.isFinite).length), fmt(pct(xs, 50), 1), fmt(pct(xs, 99), 1), fmt(Math.max(...xs.filter(Number.isFinite)), 1), fmt(mean(xs), 1)];
}

export interface LatencyCheck { ok: boolean; p99: number; limit: number }

export function printLatency(label: string, r: LatencyResult): LatencyCheck {
  const raises = r.edges.filter((e) => e.kind === 'raise');
  const clears = r.edges.filter((e) => e.kind === 'clear');
  const own = (es: readonly Edge[]) => es.map((e) => e.totalMs - e.pollWaitMs);
  console.log(`${label}: poll_ms ${r.pollMs} (the shipped example's), commit_ms ${r.commitMs}${r.commitMsShipped ? ' (as shipped)' : ' (changed for this run)'}, fsync ${r.fsync}; ` +
    `rule ${r.rule} (critical, delay_on_s ${r.ruleEdited ? `${r.ruleDelayOnS} in the example, set to 0 here` : 'none'}); ${raises.length} raises and ${clears.length} clears, ${fmt(r.seconds, 0)} s`);
  const rows: string[][] = [['ms', 'n', 'p50', 'p99', 'max', 'mean']];
  rows.push(row('raise: input change → `active` at the subscriber', raises.map((e) => e.totalMs)));
  rows.push(row('clear: input change → `rtn_unack` at the subscriber', clears.map((e) => e.totalMs)));
  rows.push(row('both', r.edges.map((e) => e.totalMs)));
  rows.push(row('the gateway\'s own part (total − wait for the poll), both', own(r.edges)));
  for (const [k, name] of SEGMENTS) rows.push(row(`  ${name}`, r.edges.map((e) => e[k] as number)));
  table(rows);
  const phases = r.edges.map((e) => e.phaseMs);
  console.log(`   changes fell ${fmt(Math.min(...phases), 0)}–${fmt(Math.max(...phases), 0)} ms after the previous read of di:6 (mean ${fmt(mean(phases), 0)}; uniform over the poll would be ${fmt(r.pollMs / 2, 0)})`);
  console.log('   Mosquitto runs as bench/lib/mosquitto.ts starts it: Debian\'s defaults, so set_tcp_nodelay false (Nagle on its sockets)');
  console.log(`   each segment's percentiles are its own (they do not add up); the gateway scanned ${num(r.gateway.scans)} times, ${r.gateway.requestsPerScan} requests each, ` +
    `${r.gateway.overruns} overruns, ${r.gateway.failedScans} failed scans; log: ${r.log.warn} warnings, ${r.log.error} errors`);
  for (const [msg, n] of Object.entries(r.log.byMessage).sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    console.log(`     ${String(n).padStart(4)} × ${msg.length > 200 ? `${msg.slice(0, 200)}…` : msg}`);
  }
  const others = Object.entries(r.others);
  if (others.length) console.log(`   other alarm messages at the subscriber: ${others.map(([k, n]) => `${k} × ${n}`).join(', ')}`);
  const limit = r.pollMs + TARGET_MARGIN_MS;
  const p99 = pct(raises.map((e) => e.totalMs), 99);
  return { ok: p99 <= limit, p99, limit };
}

/** The headline rows of one latency run for `npm run bench`: what printLatency prints, against its target. */
export function latencyRows(label: string, r: LatencyResult): ResultRow[] {
  const raises = r.edges.filter((e) => e.kind === 'raise').map((e) => e.totalMs);
  const own = r.edges.map((e) => e.totalMs - e.pollWaitMs);
  const three = (xs: readonly number[]) => `${fmt(pct(xs, 50), 1)} / ${fmt(pct(xs, 99), 1)} / ${fmt(Math.max(...xs.filter(Number.isFinite)), 1)} ms`;
  const limit = r.pollMs + TARGET_MARGIN_MS;
  const name = label.replace(/^[0-9]+b?\. /, '');
  return [
    { metric: `${name}: PLC input change → \`active\` at the subscriber, ${raises.length} raises (p50 / p99 / max)`, value: three(raises),
      note: `target p99 ≤ poll_ms ${r.pollMs} + ${TARGET_MARGIN_MS} = ${num(limit)} ms: ${verdict(pct(raises, 99) <= limit)}` },
    { metric: `${name}: the gateway's own part (total − wait for the poll), raises and clears (p50 / p99 / max)`, value: three(own) },
  ];
}

/** What the machine did while a child ran (from /proc, start-up included). */
export interface Load { seconds: number; machineBusyPct: number; childPct: number; cores: number }

export function printLoad(l: Load, child: string): void {
  const others = (l.machineBusyPct * l.cores) - l.childPct;
  console.log(`   the machine was ${fmt(l.machineBusyPct, 0)} % busy (of ${l.cores} cores) over these ${fmt(l.seconds, 0)} s: ${child} ${fmt(l.childPct, 0)} % of one core, ` +
    `everything else (Mosquitto, this process, the rest of the machine) ${fmt(others, 0)} %`);
}

export function printHeader(m: Machine, what: string): void {
  console.log(`cityedge bench:alarms: ${what}`);
  for (const l of describeMachine(m)) console.log(l);
  console.log('');
}
