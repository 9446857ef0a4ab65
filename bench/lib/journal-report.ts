// What `npm run bench:journal` prints at the end: the table against the targets, then every run.
import { describeMachine, type Machine } from './machine.ts';
import {
  APPEND_TARGET, DRAIN_RAW_SHARE, DRAIN_TARGET, PER_RECORD, RSS_TARGET_MB, num, verdict,
  type AppendResult, type DrainResult, type FillResult, type Metered, type RawResult, type ReopenResult, type RssFillResult,
} from './journal-common.ts';
import { gatewayDetails, gatewayRows } from './journal-gateway-report.ts';
import type { GatewayResult } from './journal-gateway.ts';
import { recordResults, type ResultRow } from './results.ts';
import { fmt, summarize } from './stats.ts';

/** One reopen of the big journal: after a clean close or a crash, with the file in the page cache or not. */
export interface Reopen { after: 'a clean close' | 'a crash'; cache: 'cold' | 'warm' | 'cache unknown'; r: ReopenResult }

export interface ReportInput {
  box: Machine;
  windows: number[];
  appends: { fsync: string; m: Metered<AppendResult> }[];
  fill: FillResult;
  runs: Map<string, Metered<DrainResult | RawResult>[]>;
  rssFill: RssFillResult | undefined;
  reopens: Reopen[];
  /** The real gateway through a broker outage (undefined with --no-gateway): the figure for the RSS target. */
  gateway: GatewayResult | undefined;
}

export function report(r: ReportInput): void {
  const rows: [string, string, string, string][] = [['', 'measured', 'target', '']];
  const targets: string[] = [];
  /** The headline rows for `npm run bench` (docs/performance.md, Journal): the targets above. */
  const results: ResultRow[] = [];
  const median = (xs: number[]) => summarize(xs).p50;
  const spread = (xs: number[]) => (xs.length > 1 ? ` (${num(Math.min(...xs))}–${num(Math.max(...xs))})` : '');

  if (r.gateway) {
    const g = gatewayRows(r.gateway);
    rows.push(...g.rows);
    targets.push(...g.targets);
    results.push(...g.results);
  }

  for (const { fsync, m } of r.appends) {
    const a = m.r;
    const ok = a.perS >= APPEND_TARGET;
    rows.push([`append, samples/s (fsync ${fsync}, commits included)`, num(a.perS), `≥ ${num(APPEND_TARGET)}`, verdict(ok)]);
    results.push({ metric: `journal append, fsync ${fsync} (commits included)`, value: `${num(a.perS)} samples/s`, note: `target ≥ ${num(APPEND_TARGET)}/s: ${verdict(ok)}` });
    targets.push(`  [${verdict(ok)}] append rate, fsync ${fsync}: ${num(a.perS)} samples/s (${num(a.samples)} samples in ${fmt(a.ms / 1000, 2)} s, ${a.commits} commits taking ${fmt(a.commitMs, 0)} ms, max ${fmt(a.commitMaxMs, 0)} ms)`);
  }

  const perWindow = r.windows.map((w) => {
    const drains = (r.runs.get(`drain ${w}`) ?? []) as Metered<DrainResult>[];
    const raws = (r.runs.get(`raw ${w}`) ?? []) as Metered<RawResult>[];
    return { w, drains, raws, drain: median(drains.map((x) => x.r.perS)), raw: median(raws.map((x) => x.r.perS)) };
  });
  for (const p of perWindow) {
    const eff = p.drains[0]?.r.window ?? p.w;
    const label = eff === p.w ? `window ${p.w}` : `window ${p.w} (broker: ${eff})`;
    const share = p.drain / p.raw;
    const okRate = p.drain >= DRAIN_TARGET;
    const okShare = share >= DRAIN_RAW_SHARE;
    rows.push([`drain to Mosquitto via the uplink, samples/s, ${label}`, `${num(p.drain)}${spread(p.drains.map((x) => x.r.perS))}`, `≥ ${num(DRAIN_TARGET)}`, verdict(okRate)]);
    rows.push([`raw mqtt.js, same payloads, samples/s, ${label}`, `${num(p.raw)}${spread(p.raws.map((x) => x.r.perS))}`, '', '']);
    rows.push([`  drain ÷ raw, ${label}`, `${fmt(100 * share, 1)} %`, `≥ ${fmt(100 * DRAIN_RAW_SHARE, 0)} %`, verdict(okShare)]);
    results.push({
      metric: `journal drain to Mosquitto via the uplink, ${label} (median of ${p.drains.length})`, value: `${num(p.drain)} samples/s`,
      note: `target ≥ ${num(DRAIN_TARGET)}/s: ${verdict(okRate)}; ${fmt(100 * share, 1)} % of raw mqtt.js (${num(p.raw)}/s), target ≥ ${fmt(100 * DRAIN_RAW_SHARE, 0)} %: ${verdict(okShare)}`,
    });
    targets.push(`  [${verdict(okRate)}] drain, ${label}: ${num(p.drain)} samples/s (median of ${p.drains.length}), ${num(p.drain / PER_RECORD)} messages/s`);
    targets.push(`  [${verdict(okShare)}] drain ÷ raw mqtt.js, ${label}: ${fmt(100 * share, 1)} % (raw ${num(p.raw)} samples/s)`);
  }

  const f = r.rssFill;
  if (f) {
    const okFlush = f.afterFlush.rssMb < RSS_TARGET_MB;
    rows.push([`synthetic child: RSS MB, ${num(f.held)} samples held, just appended in a tight loop`, fmt(f.afterFlush.rssMb), `< ${RSS_TARGET_MB}`, verdict(okFlush)]);
    rows.push(['  same process: peak while appending (VmHWM) / 3 s later', `${fmt(f.afterFlush.hwmMb)} / ${fmt(f.afterIdle.rssMb)}`, '', '']);
    rows.push(['  same process: V8 heap used / reserved, after flush; 3 s later',
      `${fmt(f.afterFlush.heapUsedMb)} / ${fmt(f.afterFlush.heapTotalMb)}; ${fmt(f.afterIdle.heapUsedMb)} / ${fmt(f.afterIdle.heapTotalMb)}`, '', '']);
    if (f.afterGc) {
      rows.push(['  same process after a full GC: RSS; V8 heap used / reserved', `${fmt(f.afterGc.rssMb)}; ${fmt(f.afterGc.heapUsedMb)} / ${fmt(f.afterGc.heapTotalMb)}`, '', '']);
    }
    results.push({ metric: `synthetic child: RSS with ${num(f.held)} samples just appended in a tight loop, after flush`, value: `${fmt(f.afterFlush.rssMb)} MB`,
      note: `target < ${RSS_TARGET_MB} MB: ${verdict(okFlush)}` });
    targets.push(`  [${verdict(okFlush)}] (synthetic) RSS of the child (tsx loader) that appended ${num(f.held)} samples, after flush: ${fmt(f.afterFlush.rssMb)} MB (peak ${fmt(f.afterFlush.hwmMb)} MB; ${fmt(f.afterIdle.rssMb)} MB 3 s later)`);
  }
  for (const { after, cache, r: o } of r.reopens) {
    const name = `after ${after}, ${cache} cache`;
    const ok = o.after.hwmMb < RSS_TARGET_MB;
    rows.push([`synthetic child: RSS MB, reopened ${name} (VmRSS / VmHWM)`, `${fmt(o.after.rssMb)} / ${fmt(o.after.hwmMb)}`, `< ${RSS_TARGET_MB}`, verdict(ok)]);
    rows.push(['  open, ms: constructor (quick_check within it); first read',
      `${num(o.openMs)} (${o.quickCheck ? num(o.quickCheckMs) : 'skipped'}); ${fmt(o.readMs, 1)}`, '', '']);
    results.push({ metric: `synthetic child: peak RSS reopening the ${num(o.held)}-sample journal ${name}; open`, value: `${fmt(o.after.hwmMb)} MB; ${num(o.openMs)} ms`,
      note: `target < ${RSS_TARGET_MB} MB: ${verdict(ok)}` });
    targets.push(`  [${verdict(ok)}] (synthetic) RSS after reopening the ${num(o.held)}-sample journal, ${name}: peak ${fmt(o.after.hwmMb)} MB (before opening: ${fmt(o.before.rssMb)} MB); open took ${num(o.openMs)} ms`);
  }
  const closed = r.reopens.find((o) => o.r.filesClosed)?.r;
  if (f) {
    const open = f.filesOpen.db + f.filesOpen.wal;
    const shut = closed?.filesClosed ? fmt((closed.filesClosed.db + closed.filesClosed.wal) / f.held, 1) : 'n/a';
    rows.push(['journal bytes per sample held (db + wal, open / closed)', `${fmt(open / f.held, 1)} / ${shut}`, '', '']);
    rows.push(['  of which the stored JSON text of a point', fmt(f.bodyChars / f.held, 1), '', '']);
    results.push({ metric: 'journal bytes per sample held (db + wal, open / closed)', value: `${fmt(open / f.held, 1)} / ${shut} bytes` });
  }

  console.log('');
  console.log('results');
  const w = [84, 26, 12, 6];
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(w[i]!)).join(' ').trimEnd());
  console.log('');
  console.log('targets');
  for (const t of targets) console.log(t);

  console.log('');
  if (r.gateway) {
    for (const l of gatewayDetails(r.gateway, r.box.cores)) console.log(l);
    console.log('');
  }
  console.log('every drain and raw run (samples/s; the process\'s CPU and event-loop use; Mosquitto\'s CPU; the whole machine):');
  for (const p of perWindow) {
    for (const [name, list] of [['raw mqtt.js', p.raws], ['uplink', p.drains]] as const) {
      for (const m of list as Metered<DrainResult | RawResult>[]) {
        const x = m.r;
        const d = 'elu' in x ? x : undefined;
        console.log(`  w${String(p.w).padEnd(4)} ${name.padEnd(12)} ${num(x.perS).padStart(10)} samples/s, ${num(x.msgPerS).padStart(6)} msg/s, ${fmt(x.ms / 1000, 2)} s; ` +
          `CPU ${fmt(x.cpuPct, 0)} %${d ? `, event loop busy ${fmt(100 * d.elu, 0)} %, ${d.commits} commits ${fmt((100 * d.commitMs) / d.ms, 0)} % of the time (max ${fmt(d.commitMaxMs, 1)} ms), open ${fmt(d.openMs, 0)} ms` : ''}; ` +
          `Mosquitto ${fmt(m.brokerPct, 0)} %; machine ${fmt(m.machineBusyPct, 0)} % of ${r.box.cores} cores` +
          `${d && d.problems.length ? `; uplink said: ${d.problems.join(' | ')}` : ''}`);
      }
    }
  }
  const firstRaw = perWindow[0]?.raws[0]?.r;
  console.log(`  payloads: ${firstRaw ? `${num(firstRaw.meanPayload)} bytes` : 'n/a'} each (${PER_RECORD} samples, JSON flavour, historical); backlog ${num(r.fill.records)} records, ` +
    `journal file ${fmt(r.fill.files.db / 2 ** 20, 0)} MB (filled in ${fmt(r.fill.ms / 1000, 1)} s, fsync off, not measured)`);
  for (const { fsync, m } of r.appends) {
    console.log(`  append, fsync ${fsync}: CPU ${fmt(m.r.cpuPct, 0)} % of one core, file ${fmt((m.r.files.db + m.r.files.wal) / m.r.held, 1)} bytes/sample (db ${fmt(m.r.files.db / 2 ** 20, 0)} MB + wal ${fmt(m.r.files.wal / 2 ** 20, 0)} MB), process RSS ${fmt(m.r.rssMb)} MB, peak ${fmt(m.r.hwmMb)} MB`);
  }
  if (f) {
    console.log(`  ${num(f.held)} samples appended at ${num(f.perS)} samples/s (fsync full), then the process killed (SIGKILL): ` +
      `files then: db ${fmt(f.filesOpen.db / 2 ** 20, 0)} MB + wal ${fmt(f.filesOpen.wal / 2 ** 20, 0)} MB` +
      `${closed?.filesClosed ? `; after the first clean close: ${fmt(closed.filesClosed.db / 2 ** 20, 0)} MB (close, checkpoint included, ${num(closed.closeMs ?? NaN)} ms)` : ''}`);
    console.log(`  RSS before opening the journal (node, the tsx loader these children run under, better-sqlite3): ${fmt(f.before.rssMb)} MB, V8 heap ${fmt(f.before.heapUsedMb)} MB used`);
  }
  console.log('');
  console.log('notes: the drain runs the uplink of cloud-sync/mqtt-uplink.ts unchanged on the journal, QoS 1, one publish per record, an ack');
  console.log('  per PUBACK; measured from run() to a backlog of zero plus the commit of the last acks. No subscriber is connected: Mosquitto');
  console.log('  acknowledges and drops. Raw is mqtt.js as it comes (Nagle on; it streams, so that costs it little).');
  console.log('  An event loop far from 100 % busy during a drain means the uplink was waiting for PUBACKs, not working.');
  console.log('  "After a crash": the process holding the journal was killed with SIGKILL after its last commit, so the next open runs quick_check.');
  console.log('  Children run through the tsx loader (bin/run-ts.mjs); the gateway itself runs a bundle, ~30 MB lighter.');
  console.log('  The gateway run measures the product as deployed: `node bin/cityedge.mjs run`, metered from /proc; the journal');
  console.log('  children isolate the journal. For the RSS target the gateway figure is the one that counts.');
  console.log('machine (as at the start):');
  for (const l of describeMachine(r.box)) console.log(`  ${l}`);

  const first = r.appends[0]?.m.r;
  const g = r.gateway;
  const setup = [
    g ? `the gateway polling ${g.plcs} PLCs × ${g.tags} registers every ${g.pollMs} ms through a broker outage until ${num(g.target)} samples are held, then the drain` : '',
    `the journal alone: append ${first ? num(first.samples) : 'n/a'} samples, drain a backlog of ${num(r.fill.samples)} to Mosquitto at window ${r.windows.join(' and ')} ` +
      `(${perWindow[0]?.drains.length ?? 0} run(s) each) against raw mqtt.js`,
    f ? `RSS with ${num(f.held)} samples held and reopening them` : '',
  ].filter(Boolean).join('; ');
  recordResults('journal', r.box, `${setup[0]!.toUpperCase()}${setup.slice(1)}.`, results);
}
