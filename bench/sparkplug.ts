// `npm run bench:sparkplug`: the Sparkplug B payload codec (cloud-sync/sparkplug/payload.ts), encode
// and decode, against Eclipse Tahu's JavaScript codec (sparkplug-payload) in the same process and run
// (docs/performance.md, Sparkplug B payloads):
//
// - NDATA: 50 metrics by alias (40 Double, 10 Boolean), each with its timestamp; seq and timestamp.
// - DBIRTH: 500 named metrics with aliases (Double, Float, Int16, UInt16, Int32, Boolean, String),
//   each with engUnit, the numeric ones with engLow and engHigh as well.
//
//   npm run bench:sparkplug -- [--seconds 1] [--rounds 5] [--warmup 1]
//
// Each codec gets the same input, built once: ours an SpPayload, Tahu's the same payload in its own
// form (types by name, properties as {type, value}); both decoders read the same bytes, ours. Per
// measurement: a warm-up, then `rounds` timed rounds of at least `seconds` each, ours and Tahu's
// alternating so drift on a shared machine hits both; the median round is reported. Results go to a
// sink printed at the end, so no work can be optimised away. Speed is measured, not asserted.
import { parseArgs } from 'node:util';
import sparkplug from 'sparkplug-payload';
import { DataType as D, dataTypeName, decodePayload, encodePayload, type SpMetric, type SpPayload } from '../cloud-sync/sparkplug/payload.ts';
import { describeMachine, machine } from './lib/machine.ts';
import { sampleMachine } from './lib/procfs.ts';
import { recordResults } from './lib/results.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
  },
});
const opts = { seconds: Number(flags.seconds), rounds: Number(flags.rounds), warmup: Number(flags.warmup) };
if (!(opts.seconds > 0) || !(opts.warmup >= 0) || !(Number.isInteger(opts.rounds) && opts.rounds >= 1)) {
  console.error('bench:sparkplug: --seconds must be > 0, --warmup ≥ 0, --rounds an integer ≥ 1');
  process.exit(2);
}

// Read the load first: the run itself would raise it.
const box = machine();
for (const line of describeMachine(box)) console.log(line);
console.log(`codec    cloud-sync/sparkplug/payload.ts (protobufjs ${await pkgVersion('protobufjs')}) vs sparkplug-payload ${await pkgVersion('sparkplug-payload')} (Tahu)`);
console.log(`method   ${opts.rounds} rounds of ≥ ${opts.seconds} s per measurement after ${opts.warmup} s of warm-up, ours and Tahu's alternating; median round\n`);

async function pkgVersion(name: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(await readFile(url, 'utf8')) as { version: string }).version;
}

// ── the payloads ────────────────────────────────────────────────────────────────────────────────

const T0 = Date.UTC(2025, 0, 1);

function ndata(): SpPayload {
  const metrics: SpMetric[] = [];
  for (let i = 0; i < 50; i++) {
    metrics.push(i % 5 === 4
      ? { alias: i, timestamp: T0 + 1000 + i, datatype: D.Boolean, value: i % 2 === 0 }
      : { alias: i, timestamp: T0 + 1000 + i, datatype: D.Double, value: 20 + i * 0.37 });
  }
  return { timestamp: T0 + 1100, seq: 17, metrics };
}

function dbirth(): SpPayload {
  const kinds = [D.Double, D.Double, D.Double, D.Float, D.Int16, D.UInt16, D.Int32, D.Boolean, D.Boolean, D.String];
  const metrics: SpMetric[] = [];
  for (let i = 0; i < 500; i++) {
    const datatype = kinds[i % kinds.length]!;
    const value = datatype === D.Boolean ? i % 3 === 0 : datatype === D.String ? `state-${i}` : datatype === D.Float ? Math.fround(i / 8)
      : datatype === D.Double ? i * 1.25 : datatype === D.Int16 || datatype === D.Int32 ? -i : i;
    const numeric = typeof value === 'number';
    metrics.push({
      name: `plc-${Math.floor(i / 100) + 1}/tag_${String(i).padStart(3, '0')}`, alias: 1000 + i, timestamp: T0, datatype, value,
      properties: numeric ? { engUnit: 'm³/h', engLow: 0, engHigh: 500 } : { engUnit: '' },
    });
  }
  return { timestamp: T0, seq: 1, metrics };
}

type TahuApi = NonNullable<ReturnType<typeof sparkplug.get>>;
type TahuPayload = Parameters<TahuApi['encodePayload']>[0];
type TahuMetric = NonNullable<TahuPayload['metrics']>[number];
const tahuType = (dt: number) => dataTypeName(dt) as TahuMetric['type'];

/** The same payload as Tahu's encoder takes it (no 64-bit values here, so no Long needed). */
function toTahu(p: SpPayload): TahuPayload {
  return {
    timestamp: p.timestamp, seq: p.seq,
    metrics: p.metrics.map((m): TahuMetric => {
      const tm: TahuMetric = { type: tahuType(m.datatype), value: m.value as TahuMetric['value'], timestamp: m.timestamp };
      if (m.name !== undefined) tm.name = m.name;
      if (m.alias !== undefined) tm.alias = m.alias;
      if (m.properties) {
        tm.properties = {};
        for (const [k, v] of Object.entries(m.properties)) tm.properties[k] = { type: tahuType(typeof v === 'string' ? D.String : D.Double), value: v as string | number };
      }
      return tm;
    }),
  };
}

// ── measuring ───────────────────────────────────────────────────────────────────────────────────

let sink = 0;
/** Calls per second of fn over at least `seconds`, checking the clock every `batch` calls. */
function rate(fn: () => number, seconds: number): number {
  let batch = 1, calls = 0;
  const start = performance.now(), end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) sink += fn();
    calls += batch;
    now = performance.now();
    if (now - start < 20) batch *= 2; // grow the batch until one takes a few ms
  }
  return calls / ((now - start) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  payload: string; op: string; metrics: number; ours: number; tahu: number; oursRange: [number, number]; tahuRange: [number, number];
  /** Cores kept busy by other processes during the timed rounds (/proc/stat minus this process). */
  otherCores: number;
}

function measure(payload: string, op: string, metrics: number, ours: () => number, tahu: () => number): Row {
  process.stderr.write(`· ${payload} ${op} `);
  rate(ours, opts.warmup / 2);
  rate(tahu, opts.warmup / 2);
  const a: number[] = [], b: number[] = [];
  const m0 = sampleMachine(), c0 = process.cpuUsage();
  for (let r = 0; r < opts.rounds; r++) {
    a.push(rate(ours, opts.seconds));
    b.push(rate(tahu, opts.seconds));
    process.stderr.write('.');
  }
  const m1 = sampleMachine(), c1 = process.cpuUsage(c0);
  process.stderr.write('\n');
  const seconds = (m1.at - m0.at) / 1000;
  const otherCores = ((m1.busy - m0.busy) / (m1.total - m0.total)) * box.cores - (c1.user + c1.system) / 1e6 / seconds;
  return {
    payload, op, metrics, ours: median(a), tahu: median(b), oursRange: [Math.min(...a), Math.max(...a)], tahuRange: [Math.min(...b), Math.max(...b)],
    otherCores: Math.max(0, otherCores),
  };
}

const tahu = sparkplug.get('spBv1.0')!;
const rows: Row[] = [];
for (const [name, p] of [['NDATA', ndata()], ['DBIRTH', dbirth()]] as const) {
  const tp = toTahu(p);
  const bytes = encodePayload(p), tahuBytes = tahu.encodePayload(tp);
  // Not a speed check: both must read the same metrics from the bytes both decoders are timed on.
  if (tahu.decodePayload(bytes).metrics?.length !== p.metrics.length || decodePayload(tahuBytes).metrics.length !== p.metrics.length) {
    throw new Error(`${name}: the two codecs do not read each other's payload`);
  }
  console.log(`${name.padEnd(6)}   ${p.metrics.length} metrics: ${bytes.length} bytes encoded by ours, ${tahuBytes.length} by Tahu`);
  rows.push(measure(name, 'encode', p.metrics.length, () => encodePayload(p).length, () => tahu.encodePayload(tp).length));
  rows.push(measure(name, 'decode', p.metrics.length, () => decodePayload(bytes).metrics.length, () => tahu.decodePayload(bytes).metrics!.length));
}

// ── report ──────────────────────────────────────────────────────────────────────────────────────

const n = (x: number) => Math.round(x).toLocaleString('en-US');
console.log('\n| payload | op | ours: payloads/s (range) | ours: metrics/s | ours: µs/payload | Tahu: payloads/s (range) | Tahu: metrics/s | ours ÷ Tahu | other work, cores |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.payload} | ${r.op} | ${n(r.ours)} (${n(r.oursRange[0])}–${n(r.oursRange[1])}) | ${n(r.ours * r.metrics)} | ${(1e6 / r.ours).toFixed(1)} `
    + `| ${n(r.tahu)} (${n(r.tahuRange[0])}–${n(r.tahuRange[1])}) | ${n(r.tahu * r.metrics)} | **${(r.ours / r.tahu).toFixed(2)}×** | ${r.otherCores.toFixed(2)} |`);
}
console.log(`\nsink ${sink}`);

// The headline rows for `npm run bench` (docs/performance.md, Sparkplug B payloads): the table above, one row per measurement.
recordResults('sparkplug', box,
  `The Sparkplug B codec against Eclipse Tahu's in one process: NDATA of 50 metrics by alias and DBIRTH of 500 named metrics, encode and decode; ` +
  `${opts.rounds} rounds of ≥ ${opts.seconds} s each after ${opts.warmup} s of warm-up, alternating; the median round.`,
  rows.map((r) => ({
    metric: `${r.payload} ${r.op} (${r.metrics} metrics)`,
    value: `${n(r.ours * r.metrics)} metrics/s (${(1e6 / r.ours).toFixed(1)} µs per payload)`,
    note: `${(r.ours / r.tahu).toFixed(2)}× Tahu (${n(r.tahu * r.metrics)} metrics/s); other work ${r.otherCores.toFixed(2)} cores`,
  })));
