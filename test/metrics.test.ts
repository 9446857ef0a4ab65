// GET /metrics as Prometheus sees it, over a real gateway: the example pump station read from the
// simulator, published to Mosquitto, journal in memory. Scraped twice the device's scan counter
// has grown and it is up; with the PLC gone it is down and its scan errors count. The text is
// valid exposition format (every sample line parses, every family has HELP and TYPE, none twice),
// and two gateways in one process each have their own figures.
import t, { type Test } from 'tap';
import { startExampleStation } from './helpers/example-config.ts';
import { waitFor, waitForValue } from './helpers/wait.ts';
import { startGateway, type Gateway } from '../gateway/main.ts';
import { createMetrics, type Metrics } from '../gateway/console/metrics.ts';
import type { Config } from '../config/schema.ts';
import { VERSION } from '../gateway/version.ts';

interface Family { help?: string; type?: string; samples: Map<string, number> }

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
// Values as Prometheus reads them (Go's ParseFloat): prom-client writes an empty event-loop
// histogram's mean as "Nan", which Prometheus takes as NaN.
const SAMPLE = new RegExp(`^(${NAME})(\\{(?:${LABEL})(?:,${LABEL})*\\})? (-?(?:\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?|[Nn]a[Nn]|\\+Inf|-Inf))$`);
/** Histogram and summary series belong to the family without these suffixes. */
const SUFFIXES = ['_bucket', '_sum', '_count'];

/**
 * Prometheus text format 0.0.4, strictly: comments are HELP or TYPE, declared once per family and
 * before its samples; every other line is `name{labels} value`; no series twice.
 */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const fam = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { samples: new Map() }));
    return f;
  };
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const at = `line ${i + 1}: ${line}`;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const f = fam(meta[2]!);
      if (f.samples.size > 0) throw new Error(`${at}: ${meta[1]} after the family's samples`);
      if (meta[1] === 'HELP') {
        if (f.help !== undefined) throw new Error(`${at}: a second HELP`);
        f.help = meta[3]!;
      } else {
        if (f.type !== undefined) throw new Error(`${at}: a second TYPE`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!)) throw new Error(`${at}: unknown type`);
        f.type = meta[3]!;
      }
      continue;
    }
    if (line.startsWith('#')) throw new Error(`${at}: a comment that is neither HELP nor TYPE`);
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${at}: not a sample line`);
    const name = m[1]!;
    const base = families.has(name) ? name : (SUFFIXES.map((s) => (name.endsWith(s) ? name.slice(0, -s.length) : '')).find((b) => families.has(b)) ?? name);
    const f = families.get(base);
    if (!f?.help || !f.type) throw new Error(`${at}: no HELP and TYPE before it`);
    const key = `${name}${m[2] ?? ''}`;
    if (f.samples.has(key)) throw new Error(`${at}: the same series twice`);
    f.samples.set(key, Number(m[3]));
  }
  for (const [name, f] of families) if (f.help === undefined || f.type === undefined) throw new Error(`${name}: HELP or TYPE missing`);
  return families;
}

async function scrape(m: Metrics): Promise<Map<string, Family>> { return parseExposition(await m.render()); }

/** The value of one series, by its name and labels in the order they are printed. */
function value(fams: Map<string, Family>, family: string, labels = ''): number | undefined {
  return fams.get(family)?.samples.get(`${family}${labels ? `{${labels}}` : ''}`);
}

/** The example station with its journal in memory: this test is about the figures, not the disk. */
function station(t: Test, siteId?: string) {
  return startExampleStation(t, {
    pollMs: 200,
    edit: (doc) => {
      doc.setIn(['buffer', 'journal'], 'memory');
      if (siteId) doc.setIn(['site', 'id'], siteId);
    },
  });
}

function start(t: Test, config: Config): { gw: Gateway; metrics: Metrics } {
  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  return { gw, metrics: createMetrics({ status: gw.status, site: config.site.id }) };
}

t.test('a running gateway: scans counted, device up, then down with its errors counted', async (t) => {
  const { plc, config } = await station(t);
  const { gw, metrics } = start(t, config);
  const dev = 'device="plc1"';
  const up = 'upstream="city",format="json"';

  const first = await waitForValue(async () => {
    const f = await scrape(metrics);
    return value(f, 'cityedge_device_up', dev) === 1 && value(f, 'cityedge_upstream_connected', up) === 1 ? f : undefined;
  }, { what: 'the PLC answering and the upstream connected', timeoutMs: 60_000 });
  const scans1 = value(first, 'cityedge_device_scans_total', dev)!;
  t.ok(scans1 >= 1, `scans counted (${scans1})`);
  t.equal(first.get('cityedge_device_scans_total')?.type, 'counter', 'scans are a counter');
  t.equal(first.get('cityedge_device_up')?.type, 'gauge', 'up is a gauge');
  t.equal(value(first, 'cityedge_info', `site="${config.site.id}",version="${VERSION}"`), 1, 'the info metric names the site and version');
  t.equal(value(first, 'cityedge_device_requests_per_scan', dev), 5, 'the read plan: 5 requests per scan, as the example says');
  t.ok(first.has('cityedge_process_cpu_seconds_total') && first.has('cityedge_nodejs_eventloop_lag_seconds') && first.has('cityedge_process_resident_memory_bytes'),
    'process CPU, memory and event-loop lag, with the cityedge_ prefix');
  for (const state of ['normal', 'active', 'acknowledged', 'rtn_unack', 'shelved', 'suppressed', 'out_of_service']) {
    t.ok(value(first, 'cityedge_alarms', `state="${state}"`) !== undefined, `alarms in state ${state} reported, even when none`);
  }
  const rules = [...first.get('cityedge_alarms')!.samples.values()].reduce((a, b) => a + b, 0);
  t.equal(rules, config.alarms.length, 'every alarm rule is in one state');

  // A topic name is free text in the configuration: quotes and a line break must not break the page.
  const odd = createMetrics({ status: () => ({ ...gw.status(), ingest_topics: { 'ns/"up"\n#': { received: 2, accepted: 1, rejected: { 'bad json': 1 } } } }), site: config.site.id });
  t.equal(value(await scrape(odd), 'cityedge_ingest_topic_received_messages_total', 'topic="ns/\\"up\\"_#"'), 2, 'an odd label value is escaped, the page still parses');

  const second = await waitForValue(async () => {
    const f = await scrape(metrics);
    return value(f, 'cityedge_device_scans_total', dev)! > scans1 && value(f, 'cityedge_upstream_acked_records_total', up)! > 0 ? f : undefined;
  }, { what: 'more scans, and telemetry acknowledged by the broker', timeoutMs: 60_000 });
  t.ok(value(second, 'cityedge_device_scans_total', dev)! > scans1, 'the second scrape counts more scans');
  t.ok(value(second, 'cityedge_device_last_scan_timestamp_seconds', dev)! > Date.now() / 1000 - 60, 'the last scan is recent');
  t.ok(value(second, 'cityedge_journal_appended_records_total')! > 0, 'records committed to the journal');

  const errors1 = value(second, 'cityedge_device_scan_errors_total', dev)!;
  await plc.close();
  const down = await waitForValue(async () => {
    const f = await scrape(metrics);
    return value(f, 'cityedge_device_up', dev) === 0 && value(f, 'cityedge_device_scan_errors_total', dev)! > errors1 ? f : undefined;
  }, { what: 'the silent PLC reported down', timeoutMs: 60_000 });
  t.equal(value(down, 'cityedge_device_up', dev), 0, 'the PLC is down');
  t.ok(value(down, 'cityedge_device_scan_errors_total', dev)! > errors1, 'its failed scans are counted');
});

t.test('two gateways in one process: each its own registry and figures', async (t) => {
  const a = await station(t, 'ps-a');
  const b = await station(t, 'ps-b');
  const ga = start(t, a.config);
  const gb = start(t, b.config);
  await waitFor(() => ga.gw.status().devices.plc1?.online === true && gb.gw.status().devices.plc1?.online === true, { what: 'both PLCs answering', timeoutMs: 60_000 });
  const [fa, fb] = [await scrape(ga.metrics), await scrape(gb.metrics)];
  t.equal(value(fa, 'cityedge_info', `site="ps-a",version="${VERSION}"`), 1, 'the first names its site');
  t.ok([...fb.get('cityedge_info')!.samples.keys()].every((k) => k.includes('site="ps-b"')), 'the second names its own, only');
  t.ok(fa.has('cityedge_process_cpu_seconds_total') && fb.has('cityedge_process_cpu_seconds_total'), 'both have the process figures');

  await a.plc.close();
  await waitFor(async () => value(await scrape(ga.metrics), 'cityedge_device_up', 'device="plc1"') === 0, { what: 'the first PLC down', timeoutMs: 60_000 });
  t.equal(value(await scrape(gb.metrics), 'cityedge_device_up', 'device="plc1"'), 1, 'the other gateway\'s PLC is still up');
});

t.test('the format check itself refuses what Prometheus would', async (t) => {
  const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n';
  t.equal(value(parseExposition(ok), 'a_total', 'x="1"'), 3, 'a valid page parses');
  t.throws(() => parseExposition('a_total 3\n'), /no HELP and TYPE/, 'a sample without HELP and TYPE');
  t.throws(() => parseExposition(ok + ok), /HELP after the family's samples/, 'a family twice');
  t.throws(() => parseExposition(ok + 'a_total{x="1"} 4\n'), /same series twice/, 'a series twice');
  t.throws(() => parseExposition(ok + 'a_total{x=1} 4\n'), /not a sample line/, 'an unquoted label value');
  t.throws(() => parseExposition(ok + 'a_total{x="1"}\n'), /not a sample line/, 'a sample without a value');
});
