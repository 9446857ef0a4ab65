// The store of `npm run bench:fleet`: Debian's VictoriaMetrics on a free loopback port, its data in
// the run's temp dir, started as the tests start it (launchOnFreePort, test/helpers/victoria.ts) but
// as a child of the run (bench/lib/children.ts), so that the run's clean-up stops it (the tests'
// process control re-raises Ctrl-C once it has killed its own, which would cut that clean-up short). It takes
// InfluxDB line protocol on `/api/v2/write` and stores field F of measurement M as metric `M_F`,
// labels `site` and `device`. `-dedup.minScrapeInterval=1ms` keeps one sample per series and
// millisecond, as InfluxDB keeps one point per series and time: a repeat written by a second ingest
// instance is stored once (docs/platform.md). Its own counters (`/metrics`) say what it took;
// `/api/v1/export` what it holds.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchOnFreePort, requireVictoria, VICTORIA_BIN } from '../../test/helpers/victoria.ts';
import { startChild, type Child } from './children.ts';
import { distinctSamples, STEP_MS, tagsOf, valueOf, type FleetSpec } from './fleet-common.ts';

export interface Store { url: string; child: Child }

export async function startVictoria(dir: string): Promise<Store> {
  requireVictoria();
  const dataDir = join(dir, 'victoria-data');
  mkdirSync(dataDir, { recursive: true });
  const { proc, url } = await launchOnFreePort({
    dataDir, args: ['-dedup.minScrapeInterval=1ms', '-loggerLevel=WARN'],
    spawn: (args) => {
      const child = startChild('victoria-metrics', VICTORIA_BIN, args);
      return { child, running: () => child.running(), output: () => child.lines.join('\n'), kill: () => child.stop(0) };
    },
  });
  return { url, child: proc.child };
}

/** What the store says it took, from its own `/metrics`. */
export interface StoreCounters {
  at: number;
  /** Samples taken on the InfluxDB endpoints (`vm_rows_inserted_total{type="influx"}`): a repeat written twice counts twice. */
  rows: number;
  /** Write requests on the InfluxDB endpoints, `/api/v2/write` included (`vm_http_requests_total{path="/influx/write"}`). */
  writes: number;
}

export async function storeCounters(url: string): Promise<StoreCounters> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const at = performance.now();
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return {
    at,
    rows: num(/^vm_rows_inserted_total\{type="influx"\} (\S+)$/m),
    writes: num(/^vm_http_requests_total\{path="\/influx\/write"[^}]*\} (\S+)$/m),
  };
}

export interface StoreCheck {
  /** Samples the publisher's batches carry (every device's seqs 1…maxSeq, each tag once). */
  expected: number;
  /** Samples exported. */
  stored: number;
  /** Expected samples found once; not found; found more than once (after dedup: none expected). */
  once: number; missing: number; extra: number;
  /** Samples with a value other than the batch's, or a series or time that no batch carried. */
  wrongValue: number; unexpected: number;
  series: number;
  /** force_flush + export + parse, s. */
  seconds: number;
  /** A few of the missing samples, for the report. */
  missingExamples: string[];
}

/**
 * Every sample of measurement `m` in the store against what the devices sent: each expected
 * (device, tag, seq) counted in a byte per sample, so a sample stored twice and one lost cannot
 * cancel out in a total.
 */
export async function checkStore(url: string, m: string, fleet: FleetSpec, t0: number, maxSeq: readonly number[]): Promise<StoreCheck> {
  const started = performance.now();
  const devices = maxSeq.length;
  // Offsets: device i's samples start at base[i], seq-major (seq s, tag k at base + (s-1) × tags + k).
  const base = new Float64Array(devices + 1);
  const tags = tagsOf;
  for (let i = 0; i < devices; i++) base[i + 1] = base[i]! + maxSeq[i]! * tags(i);
  const expected = distinctSamples(maxSeq);
  const counts = new Uint8Array(expected);
  let stored = 0; let wrongValue = 0; let unexpected = 0; let seriesN = 0;

  const flushed = await fetch(`${url}/internal/force_flush`);
  await flushed.text();
  if (!flushed.ok) throw new Error(`GET /internal/force_flush answered ${flushed.status}`);
  const res = await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': `{__name__=~"${m}_.*"}` })}`);
  if (!res.ok || !res.body) throw new Error(`GET /api/v1/export answered ${res.status}: ${(await res.text()).slice(0, 300)}`);

  const onSeries = (line: string): void => {
    const x = JSON.parse(line) as { metric: Record<string, string>; values: number[]; timestamps: number[] };
    seriesN++;
    stored += x.values.length;
    const box = Number(/^box-(\d+)$/.exec(x.metric.site ?? '')?.[1] ?? NaN);
    const d = Number(/^plc(\d+)$/.exec(x.metric.device ?? '')?.[1] ?? NaN) - 1;
    const k = Number(/_t(\d+)$/.exec(x.metric.__name__ ?? '')?.[1] ?? NaN);
    const i = box * fleet.devicesPerBox + d;
    if (!(i >= 0 && i < devices && d < fleet.devicesPerBox && k >= 0 && k < tags(i))) { unexpected += x.values.length; return; }
    for (let j = 0; j < x.timestamps.length; j++) {
      const seq = (x.timestamps[j]! - t0) / STEP_MS;
      if (!(Number.isInteger(seq) && seq >= 1 && seq <= maxSeq[i]!)) { unexpected++; continue; }
      if (x.values[j] !== valueOf(k, seq)) wrongValue++;
      const at = base[i]! + (seq - 1) * tags(i) + k;
      if (counts[at]! < 255) counts[at]!++;
    }
  };
  // Streamed: a line per series (or per block of one), tens of MB in all.
  const decoder = new TextDecoder();
  let partial = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const parts = (partial + decoder.decode(chunk, { stream: true })).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) if (l.trim()) onSeries(l);
  }
  if (partial.trim()) onSeries(partial);

  let once = 0; let missing = 0; let extra = 0;
  const missingExamples: string[] = [];
  for (let at = 0; at < counts.length; at++) {
    const c = counts[at]!;
    if (c === 1) once++;
    else if (c === 0) {
      missing++;
      if (missingExamples.length < 5) {
        let i = 0;
        while (base[i + 1]! <= at) i++;
        const off = at - base[i]!;
        missingExamples.push(`device #${i} seq ${Math.floor(off / tags(i)) + 1} tag ${off % tags(i)}`);
      }
    } else extra += c - 1;
  }
  return { expected, stored, once, missing, extra, wrongValue, unexpected, series: seriesN, seconds: (performance.now() - started) / 1000, missingExamples };
}
