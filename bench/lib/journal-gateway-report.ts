// The gateway run's part of the `npm run bench:journal` report (bench/lib/journal-gateway.ts): rows
// for the results table, lines for the targets, and the details printed after them.
import { RSS_TARGET_MB, num, verdict, type Files } from './journal-common.ts';
import type { GatewayResult, Latencies } from './journal-gateway.ts';
import type { ResultRow } from './results.ts';
import { fmt, type Summary } from './stats.ts';

type Row = [string, string, string, string];

const mb = (f: Files) => `${fmt((f.db + f.wal) / 2 ** 20, 0)} MB (db ${fmt(f.db / 2 ** 20, 0)} + wal ${fmt(f.wal / 2 ** 20, 0)})`;
const ms3 = (s: Summary) => `${num(s.p50)} / ${num(s.p95)} / ${num(s.max)}`;
const lat = (l: Latencies) => `${ms3(l.live)} ms over ${num(l.live.n)} batches`;

/** The backlog at broker start; the RSS figure counts only if it held the target. */
function held(g: GatewayResult): boolean { return g.outage.pointsRead >= g.target; }

export function gatewayRows(g: GatewayResult): { rows: Row[]; targets: string[]; results: ResultRow[] } {
  const o = g.outage;
  const d = g.drain;
  const okRss = held(g) && o.rssLast10Mb < RSS_TARGET_MB;
  const okPeak = held(g) && o.cost.hwmMb < RSS_TARGET_MB;
  const okDrain = d.cost.hwmMb < RSS_TARGET_MB;
  const backlog = d.historicalPoints + d.gracePoints;
  const rows: Row[] = [
    [`GATEWAY RSS MB, ${num(o.pointsRead)} samples in backlog (mean, last 10 s of the outage)`, fmt(o.rssLast10Mb), `< ${RSS_TARGET_MB}`, verdict(okRss)],
    ['  gateway peak since start (VmHWM) then / highest RSS until it reconnected', `${fmt(o.cost.hwmMb)} / ${fmt(g.reconnect.rssMaxMb)}`, `< ${RSS_TARGET_MB}`, verdict(okPeak)],
    [`  gateway CPU, % of one core, reading ${num(o.readPerS)} points/s into the journal`, fmt(o.cost.cpuPct, 1), '', ''],
    ['  journal bytes per sample in backlog (db + wal, gateway running)', fmt((o.files.db + o.files.wal) / o.pointsRead, 1), '', ''],
    [`gateway drain after the outage: backlog samples/s (${num(backlog)} in ${fmt(d.seconds, 1)} s)`, num(backlog / d.seconds), '', ''],
    ['  all samples delivered per second during the drain (backlog + live)', num((backlog + d.livePoints) / d.seconds), '', ''],
    ['  live latency during the drain, read → subscriber, ms (p50 / p95 / max)', ms3(d.latency.live), '', ''],
    ['  gateway RSS MB during the drain (mean / max); CPU % of one core', `${fmt(d.cost.rssMeanMb)} / ${fmt(d.cost.rssMaxMb)}; ${fmt(d.cost.cpuPct, 0)}`, '', ''],
    ['  gateway peak since start (VmHWM) at the end of the drain', fmt(d.cost.hwmMb), `< ${RSS_TARGET_MB}`, verdict(okDrain)],
  ];
  const targets = [
    `  [${verdict(okRss)}] RSS of the gateway process (node bin/cityedge.mjs run) with ${num(o.pointsRead)} samples in backlog` +
      ` (target ${num(g.target)}${held(g) ? '' : ': NOT REACHED'}), broker away: ${fmt(o.rssLast10Mb)} MB (mean of the last 10 s)`,
    `  [${verdict(okPeak)}] the same process's peak since start (VmHWM) by then: ${fmt(o.cost.hwmMb)} MB, reached ${fmt(o.hwmAtS, 0)} s after its start`,
    `  [${verdict(okDrain)}] its peak by the end of draining that backlog (${num(d.historicalPoints + d.gracePoints)} samples, ${fmt(d.seconds, 1)} s): ${fmt(d.cost.hwmMb)} MB`,
  ];
  // The headline rows for `npm run bench` (docs/performance.md, the 150 MB target).
  const target = (ok: boolean) => `target < ${RSS_TARGET_MB} MB: ${verdict(ok)}`;
  const results: ResultRow[] = [
    { metric: `gateway RSS with ${num(o.pointsRead)} samples in backlog, broker away (mean of the last 10 s)`, value: `${fmt(o.rssLast10Mb)} MB`,
      note: `${target(okRss)}${held(g) ? '' : ` (backlog target ${num(g.target)} NOT REACHED)`}` },
    { metric: 'gateway peak RSS (VmHWM) by the end of the outage', value: `${fmt(o.cost.hwmMb)} MB`, note: target(okPeak) },
    { metric: 'gateway peak RSS (VmHWM) by the end of the drain', value: `${fmt(d.cost.hwmMb)} MB`, note: target(okDrain) },
    { metric: 'gateway drain after the outage, backlog samples', value: `${num(backlog / d.seconds)}/s`, note: `${num(backlog)} samples in ${fmt(d.seconds, 1)} s, PLCs still polled` },
    { metric: 'live latency during the drain, read → subscriber (p50 / p95 / max)', value: `${ms3(d.latency.live)} ms` },
  ];
  return { rows, targets, results };
}

export function gatewayDetails(g: GatewayResult, cores: number): string[] {
  const o = g.outage; const r = g.reconnect; const d = g.drain; const a = g.after;
  const backlog = d.historicalPoints + d.gracePoints;
  const out = [
    `gateway run: ${g.plcs} simulated PLCs × ${g.tags} uint16 registers, poll ${g.pollMs} ms, every register changing every scan; journal defaults (fsync full, commit_ms 250, no max_bytes)`,
    `  outage: ${fmt(o.seconds, 1)} s from the gateway's start (first scan after ${fmt(g.firstScanS, 1)} s) to the broker's start; ${num(o.pointsRead)} points read by then, ${num(o.readPerS)}/s`,
    `    gateway over the last ${fmt(o.cost.seconds, 0)} s of it: CPU ${fmt(o.cost.cpuPct, 1)} % of one core (busiest second ${fmt(o.cost.cpuPctMaxSecond, 0)} %), ` +
      `RSS mean ${fmt(o.cost.rssMeanMb)} MB, max ${fmt(o.cost.rssMaxMb)} MB, trend ${fmt(o.cost.rssSlopeMbPerMin, 2)} MB/min, ${o.cost.threads} threads; ` +
      `VmHWM ${fmt(o.cost.hwmMb)} MB, reached ${fmt(o.hwmAtS, 0)} s after the start (1-s samples)`,
    `    RSS every 10 s from the start, MB: ${o.rssSeriesMb.map((x) => x.toFixed(0)).join(' ')}`,
    `    journal then: ${mb(o.files)}, ${fmt((o.files.db + o.files.wal) / o.pointsRead, 1)} bytes per point read (points read but not yet committed: at most one commit_ms, ~0.3 %)`,
    `    simulators ${fmt(o.simsPct, 1)} % of one core; machine ${fmt(o.machineBusyPct, 0)} % busy of ${cores} cores`,
    `  reconnect: ${fmt(r.waitS, 1)} s after the broker started (the uplink's backoff: 1 s doubling to 60 s, jitter up to half), ` +
      `with ~${num(r.pointsRead)} points read; gateway RSS until then at most ${fmt(r.rssMaxMb)} MB, VmHWM ${fmt(r.hwmMb)} MB; journal ${mb(r.files)}`,
    `  drain: ${fmt(d.seconds, 1)} s from the reconnect (status online at the subscriber) until every device had a live batch and no seq missing below it`,
    `    backlog ${num(backlog)} points: ${num(d.historicalPoints)} marked historical, ${num(d.gracePoints)} marked live but read before the reconnect; ` +
      `${num(d.livePoints)} live points meanwhile; ${num(d.messages)} messages, ${d.duplicates} duplicates, ${num(d.badPoints)} bad-quality points, ${d.malformed} unreadable`,
    `    ${num(backlog / d.seconds)} backlog points/s, ${num((backlog + d.livePoints) / d.seconds)} points/s in all`,
    `    live latency (points read after the reconnect), p50 / p95 / max: ${lat(d.latency)}`,
    `    marked live but read before the reconnect: ${d.latency.grace.n ? `${ms3(d.latency.grace)} ms over ${num(d.latency.grace.n)} batches` : 'none'}`,
    `    gateway CPU ${fmt(d.cost.cpuPct, 0)} % of one core (busiest second ${fmt(d.cost.cpuPctMaxSecond, 0)} %), RSS mean ${fmt(d.cost.rssMeanMb)} / max ${fmt(d.cost.rssMaxMb)} MB, VmHWM ${fmt(d.cost.hwmMb)} MB`,
    `    Mosquitto ${fmt(d.brokerPct, 0)} %, subscriber (this process) ${fmt(d.benchPct, 0)} %, simulators ${fmt(d.simsPct, 0)} % of one core; machine ${fmt(d.machineBusyPct, 0)} % busy of ${cores} cores`,
    `    journal when drained: ${mb(d.files)}`,
    `  after the drain (${fmt(a.seconds, 1)} s, live only): ${num(a.pointsPerS)} points/s delivered, latency ${lat(a.latency)}, gateway CPU ${fmt(a.cpuPct, 0)} %, RSS ${fmt(a.rssMb)} MB at the end`,
    `  stop: ${g.stop.status} after ${num(g.stop.ms)} ms (SIGTERM); journal after the clean stop: ${mb(g.stop.files)}`,
    `  gateway child processes: ${g.tree.length ? g.tree.map((c) => `${c.pid} (${c.comm})`).join(', ') : 'none'}; its log at level warn: ${g.log.total} line(s) ` +
      `(seconds after its start: broker started ${fmt(g.marks.brokerS, 1)}, reconnect ${fmt(g.marks.reconnectS, 1)}, drained ${fmt(g.marks.drainedS, 1)})`,
    ...g.log.byMessage.map(([m, x]) => `    ${String(x.n).padStart(5)} × ${m} (first at ${fmt(x.firstS, 1)} s)`),
    ...(g.brokerNotes.length ? ['  Mosquitto said:', ...g.brokerNotes.map((l) => `    ${l}`)] : []),
  ];
  return out;
}
