// The influx upstream against a real VictoriaMetrics (Debian's package), which takes InfluxDB line
// protocol on /api/v2/write and gives every point back through /api/v1/export: values and
// timestamps compared exactly, an outage with zero loss, refusals that do not block the journal.
// VictoriaMetrics never refuses a line, so the rule for refused records (drop what the server
// refuses, unless it takes nothing at all) is tested against a small write API with no store behind it.
import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InfluxUplink, type InfluxUplinkOptions } from '../cloud-sync/influx-uplink.ts';
import { MemoryJournal } from '../gateway/journal/memory.ts';
import { systemClock, type Logger, type Sample } from '../gateway/model/index.ts';
import { LOOPBACK } from './helpers/ports.ts';
import { startVictoria, type Series, type Victoria } from './helpers/victoria.ts';
import { waitFor } from './helpers/wait.ts';

const SITE = 'ps-gongshu-012';
const UPSTREAM = 'tsdb';

interface Line { level: string; obj: Record<string, unknown>; msg: string }
function keepingLogger(lines: Line[]): Logger {
  const rec = (level: string) => (a: object | string, b?: string) => lines.push(typeof a === 'string' ? { level, obj: {}, msg: a } : { level, obj: a as Record<string, unknown>, msg: b ?? '' });
  const l: Logger = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'), child: () => l };
  return l;
}

/** The in-memory journal, telling the test what is acknowledged and when. */
class WatchedJournal extends MemoryJournal {
  onAck: ((ids: number[]) => void) | undefined;
  override ack(upstream: string, ids: Iterable<number>): void {
    const list = [...ids];
    this.onAck?.(list);
    super.ack(upstream, list);
  }
}

/** A tap subtest (the last overload of t.test takes just the callback). */
type TT = Parameters<Parameters<typeof t.test>[0]>[0];

interface Setup { journal: WatchedJournal; uplink: InfluxUplink; logs: Line[] }
function startUplink(tt: TT, url: string, o: Partial<InfluxUplinkOptions> = {}): Setup {
  const journal = new WatchedJournal();
  const logs: Line[] = [];
  const uplink = new InfluxUplink({
    id: UPSTREAM, url, org: 'city', bucket: 'telemetry', token: 'secret-token', site: { id: SITE },
    journal, clock: systemClock, logger: keepingLogger(logs), ...o,
  });
  const ac = new AbortController();
  const running = uplink.run(ac.signal);
  tt.teardown(async () => { ac.abort(); await running; await journal.close(); });
  return { journal, uplink, logs };
}

/** What a sample becomes in VictoriaMetrics: booleans are 1 and 0. */
const stored = (v: Sample['value']): number => (typeof v === 'boolean' ? (v ? 1 : 0) : (v as number));

/** Every stored point by `metric|device|t`; a point delivered twice (at least once) must agree with itself. */
function pointsOf(series: Series[], tt: { fail(msg: string): void }): Map<string, { v: number; labels: Record<string, string> }> {
  const out = new Map<string, { v: number; labels: Record<string, string> }>();
  for (const s of series) {
    s.timestamps.forEach((ts, i) => {
      const k = `${s.metric.__name__}|${s.metric.device}|${ts}`;
      const v = s.values[i]!;
      const had = out.get(k);
      if (had && had.v !== v) tt.fail(`${k} stored twice with different values: ${had.v} and ${v}`);
      out.set(k, { v, labels: s.metric });
    });
  }
  return out;
}

/** Waits until every expected point is in the store, then compares each value and its labels exactly. */
async function expectStored(tt: TT, vm: Victoria, expected: Map<string, number>, labels: (device: string) => Record<string, string>, what: string): Promise<void> {
  let got = new Map<string, { v: number; labels: Record<string, string> }>();
  const missing = () => [...expected.keys()].filter((k) => !got.has(k));
  await waitFor(async () => {
    got = pointsOf(await vm.exportSeries('{__name__=~"cityedge_.*"}'), tt);
    return missing().length === 0;
  }, { timeoutMs: 90_000, intervalMs: 500, what: `${what}: all ${expected.size} points in VictoriaMetrics (missing e.g. ${missing().slice(0, 3).join(', ')})` });
  let wrongValue = 0;
  let wrongLabels = 0;
  for (const [k, v] of expected) {
    const g = got.get(k)!;
    if (g.v !== v) { if (wrongValue++ < 5) tt.fail(`${k}: stored ${g.v}, expected ${v}`); }
    const device = k.split('|')[1]!;
    const { __name__: _, ...rest } = g.labels;
    if (JSON.stringify(sorted(rest)) !== JSON.stringify(sorted(labels(device)))) { if (wrongLabels++ < 5) tt.fail(`${k}: labels ${JSON.stringify(rest)}`); }
  }
  tt.equal(wrongValue, 0, `${what}: every value of ${expected.size} points stored exactly, at its timestamp`);
  tt.equal(wrongLabels, 0, `${what}: every point labelled site, device and (where there is one) component`);
}
const sorted = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

/** Appends a batch and records what the store must hold for it. */
function appendTo(journal: MemoryJournal, expected: Map<string, number>, device: string, samples: Sample[]): void {
  journal.append(device, samples);
  for (const s of samples) {
    if (s.value === null) continue;
    expected.set(`cityedge_${s.tag.slice(s.tag.indexOf('.') + 1)}|${device}|${s.ts}`, stored(s.value));
  }
}

t.test('thousands of points over several devices reach the store, every value and timestamp exact', async (t) => {
  const vm = await startVictoria({ t });
  const components = new Map([['plc0', '3301050101000000'], ['plc1', '3301050101000001'], ['plc2', '3301050101000002'], ['plc3', '3301050101000003']]);
  const { journal, uplink } = startUplink(t, vm.url, { batchPoints: 500, componentOf: (d) => components.get(d) });
  const labels = (device: string) => ({ site: SITE, device, ...(components.has(device) ? { component: components.get(device)! } : {}) });

  const base = Date.now() - 3_600_000;
  const expected = new Map<string, number>();
  const scan = (i: number) => {
    for (let d = 0; d < 5; d++) {
      const device = `plc${d}`;
      const ts = base + i * 1000 + d;
      const samples: Sample[] = [];
      // Values as sensors give them (scaled registers): VictoriaMetrics keeps 12 significant
      // digits, InfluxDB all 17; both keep these exactly.
      for (let k = 0; k < 10; k++) samples.push({ tag: `${device}.ai_${k}`, value: Math.round((k * 17.3 + i * 0.37 + d - 50) * 100) / 100, quality: 'good', ts });
      // Whole numbers are written as floats: the field type never flips between batches.
      samples.push({ tag: `${device}.count`, value: i * 1000 + d, quality: 'good', ts });
      // Points of one record at two timestamps: two lines.
      samples.push({ tag: `${device}.pump_run`, value: i % 3 === 0, quality: 'good', ts: i % 2 ? ts + 500 : ts });
      appendTo(journal, expected, device, samples);
    }
  };
  // An alarm in the journal is not a time series: acknowledged without writing.
  journal.appendEvent('alarms', 'plc0', JSON.stringify({ rule: 'wet_well_hh', state: 'active' }));
  for (let i = 0; i < 30; i++) scan(i);
  // The rest while the uplink runs: it wakes on appends.
  await waitFor(() => uplink.stats().writtenPoints > 0, { what: 'the first write', timeoutMs: 60_000 });
  for (let i = 30; i < 60; i++) scan(i);
  t.equal(expected.size, 60 * 5 * 12, '3,600 points appended');

  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'the journal drained', timeoutMs: 90_000 });
  await expectStored(t, vm, expected, labels, 'a few thousand points');
  const s = uplink.stats();
  t.equal(s.writtenPoints, 3600, 'stats: every point written once');
  t.ok(s.writtenBatches >= 3600 / 500, `stats: ${s.writtenBatches} requests of at most 500 points`);
  t.equal(s.skippedEvents, 1, 'stats: the alarm was acknowledged without writing');
  t.equal(s.failedWrites + s.rejectedRecords, 0, 'no failure, no refusal');
  t.ok(s.connected, 'connected');
  const names = new Set((await vm.exportSeries('{__name__=~".+"}')).map((x) => x.metric.__name__));
  t.same([...names].filter((n) => !n!.startsWith('cityedge_')), [], 'nothing but the telemetry was written (no alarm)');
});

t.test('the server down under continuous appends: nothing acknowledged while down, nothing lost after', async (t) => {
  const vm = await startVictoria({ t });
  const { journal, uplink, logs } = startUplink(t, vm.url, { componentOf: () => '3301050101000009' });
  const expected = new Map<string, number>();
  const base = Date.now() - 3_600_000;
  let i = 0;
  const tick = () => {
    const ts = base + i * 10;
    appendTo(journal, expected, 'pump', [
      { tag: 'pump.level', value: Math.round(i * 0.37 * 100) / 100, quality: 'good', ts },
      { tag: 'pump.flow', value: i % 97, quality: 'good', ts },
      { tag: 'pump.run', value: i % 2 === 0, quality: 'good', ts },
    ]);
    i++;
  };
  const ticker = setInterval(tick, 20);
  t.teardown(() => clearInterval(ticker));

  await waitFor(() => uplink.stats().writtenPoints > 100, { what: 'writes flowing', timeoutMs: 60_000 });
  await vm.stop();
  // Records appended from here on cannot have reached the server: none may be acknowledged until it is back.
  const downAfter = journal.lastId();
  let down = true;
  const ackedWhileDown: number[] = [];
  journal.onAck = (ids) => { if (down) ackedWhileDown.push(...ids.filter((id) => id > downAfter)); };
  const backlogAtStop = journal.backlog(UPSTREAM);
  await waitFor(() => uplink.stats().failedWrites >= 3 && journal.backlog(UPSTREAM) >= backlogAtStop + 100, { what: 'three failed writes and a growing backlog', timeoutMs: 90_000 });
  const during = uplink.stats();
  t.notOk(during.connected, 'not connected while the server is down');
  t.match(during.lastError, /ECONNREFUSED|fetch failed|other side closed/, `lastError says why: ${during.lastError}`);
  t.ok(journal.backlog(UPSTREAM) > backlogAtStop, `the backlog grew while down: ${backlogAtStop} → ${journal.backlog(UPSTREAM)} records`);
  const warned = logs.filter((l) => l.obj.code === 'CE_ERR_UPSTREAM_WRITE').length;
  t.ok(warned >= 1 && warned <= 1 + Math.floor(during.failedWrites / 10), `the first failure logged, then one in ten: ${warned} lines for ${during.failedWrites} failures`);
  t.notOk(logs.some((l) => JSON.stringify(l).includes('secret-token')), 'the token is never logged');

  down = false;
  await vm.start();
  await waitFor(() => uplink.stats().connected, { what: 'writes resumed', timeoutMs: 120_000 });
  t.same(ackedWhileDown, [], 'nothing appended during the outage was acknowledged while the server was down');
  const resumedAt = i;
  await waitFor(() => i >= resumedAt + 50, { what: 'more appends after the restart' });
  clearInterval(ticker);
  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'the backlog delivered', timeoutMs: 120_000 });
  t.ok(logs.some((l) => l.msg === 'writes to the time-series server resumed'), 'the recovery is logged');
  t.comment(`${i} batches appended, ${uplink.stats().failedWrites} failed writes during the outage`);
  await expectStored(t, vm, expected, (device) => ({ site: SITE, device, component: '3301050101000009' }), 'before, during and after the outage');
});

/**
 * VictoriaMetrics skips a line it cannot parse and answers 204; it never refuses a batch. InfluxDB
 * 2.x does (400 for a line it cannot parse, 422 for a field type conflict), and answers 429 or 503
 * when overloaded. This front answers as InfluxDB would where the test says so, and passes every
 * other request to the real VictoriaMetrics behind it.
 */
interface OwnAnswer { status: number; headers?: Record<string, string>; body?: string }
async function startFront(tt: TT, vm: Victoria, decide: (body: string) => OwnAnswer | undefined) {
  const answers: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const own = decide(body);
      if (own) {
        answers.push(own.status);
        res.writeHead(own.status, own.headers ?? {});
        res.end(own.body ?? '');
        return;
      }
      fetch(`${vm.url}${req.url}`, { method: 'POST', body, headers: { 'content-type': String(req.headers['content-type'] ?? 'text/plain') } })
        .then(async (r) => { const text = await r.text(); answers.push(r.status); res.writeHead(r.status); res.end(text); })
        .catch((e: Error) => { answers.push(502); res.writeHead(502); res.end(e.message); });
    });
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  tt.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`, answers };
}

t.test('a batch the server refuses is counted and dropped, and does not block later batches', async (t) => {
  const vm = await startVictoria({ t });
  const conflict = 'partial write: field type conflict: input field "level" on measurement "cityedge" is type string, already exists as type float dropped=1';
  let mode: 'normal' | 'busy' | 'token' = 'normal';
  let left = 0;
  const front = await startFront(t, vm, (body): OwnAnswer | undefined => {
    if (mode !== 'normal' && left > 0) {
      left--;
      return mode === 'busy'
        ? { status: 429, headers: { 'retry-after': '1', 'content-type': 'application/json' }, body: '{"code":"too many requests","message":"org over quota"}' }
        : { status: 401, headers: { 'content-type': 'application/json' }, body: '{"code":"unauthorized","message":"unauthorized access"}' };
    }
    if (body.includes('device=poison')) return { status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'invalid', message: conflict }) };
    return undefined;
  });
  const { journal, uplink, logs } = startUplink(t, front.url);
  const expected = new Map<string, number>();
  const base = Date.now() - 3_600_000;
  const good = (n: number, from: number) => {
    for (let k = from; k < from + n; k++) appendTo(journal, expected, 'a', [{ tag: 'a.level', value: k / 4, quality: 'good', ts: base + k }, { tag: 'a.flow', value: k, quality: 'good', ts: base + k }]);
  };
  // Good records on both sides of the bad one, appended at once: they go in one request.
  good(20, 0);
  journal.append('poison', [{ tag: 'poison.level', value: 'not a number', quality: 'good', ts: base }, { tag: 'poison.flow', value: 1, quality: 'good', ts: base }]);
  good(20, 20);
  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'the journal past the refused record', timeoutMs: 90_000 });
  let s = uplink.stats();
  t.equal(s.rejectedRecords, 1, 'one record refused and counted');
  t.equal(s.rejectedPoints, 2, 'its points counted');
  t.equal(s.failedWrites, 0, 'a refusal is not a failure: no backoff, no retry of the same request');
  t.ok(front.answers.includes(400), `the server answered 400 (answers: ${front.answers.join(' ')})`);
  const logged = logs.find((l) => l.level === 'error' && l.obj.code === 'CE_ERR_UPSTREAM_REJECTED');
  t.ok(logged, 'the refusal is logged as an error');
  t.match(logged?.msg, /field type conflict/, 'with the server\'s message');
  t.match(logged?.obj, { device: 'poison', status: 400 }, 'naming the device and the status');
  await expectStored(t, vm, expected, (device) => ({ site: SITE, device }), 'the good records around the refused one');
  t.same((await vm.exportSeries('{device="poison"}')).length, 0, 'nothing of the refused record was stored');

  // Later batches flow.
  good(20, 40);
  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'later records delivered', timeoutMs: 60_000 });
  await expectStored(t, vm, expected, (device) => ({ site: SITE, device }), 'records after the refusal');

  // 429 with Retry-After: a failure, not a refusal. Nothing acknowledged until the server takes it.
  const answersBefore = front.answers.length;
  let ackedBeforeAccepted = 0;
  journal.onAck = (ids) => { if (!front.answers.slice(answersBefore).includes(204)) ackedBeforeAccepted += ids.length; };
  const failedBefore = uplink.stats().failedWrites;
  mode = 'busy';
  left = 3;
  good(10, 60);
  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'records delivered after the 429s', timeoutMs: 90_000 });
  journal.onAck = undefined;
  t.same(front.answers.slice(answersBefore), [429, 429, 429, 204], 'three answers of 429, then the same records taken');
  t.equal(ackedBeforeAccepted, 0, 'nothing acknowledged while the server answered 429');
  t.equal(uplink.stats().failedWrites - failedBefore, 3, 'each 429 counted as a failed write');
  t.equal(uplink.stats().rejectedRecords, 1, 'and not as a refusal: nothing dropped');

  // 401 (a wrong token) is the configuration, not the data: kept and retried, never dropped.
  const before401 = uplink.stats().failedWrites;
  mode = 'token';
  left = 2;
  good(10, 70);
  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'records delivered after the 401s', timeoutMs: 90_000 });
  s = uplink.stats();
  t.equal(s.failedWrites - before401, 2, '401 counted as failed writes');
  t.equal(s.rejectedRecords, 1, 'and nothing dropped for it');
  t.ok(logs.some((l) => l.level === 'error' && /HTTP 401: unauthorized access/.test(l.msg)), 'a 401 is logged as an error with the server\'s message');
  await expectStored(t, vm, expected, (device) => ({ site: SITE, device }), 'records sent through 429 and 401');
});

/**
 * A write API on loopback with no store behind it, answering as InfluxDB 2.x does: `decide` gives
 * each request's status; the points of the requests answered 204 are kept as `device|field|t`.
 */
async function startWriteApi(tt: TT, decide: (body: string) => number) {
  const answers: { status: number; lines: string[] }[] = [];
  const points = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const lines = body.split('\n').filter((l) => l !== '');
      const status = decide(body);
      answers.push({ status, lines });
      if (status === 204) for (const l of lines) for (const k of pointsOfLine(l)) points.add(k);
      const message = status === 400 ? 'partial write: field type conflict: input field "level" on measurement "cityedge" is type string, already exists as type float dropped=1' : `HTTP ${status}`;
      res.writeHead(status, status === 204 ? {} : { 'content-type': 'application/json' });
      res.end(status === 204 ? '' : JSON.stringify({ code: 'invalid', message }));
    });
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  tt.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`, answers, points };
}

/** `cityedge,device=a,site=… level=0.25,flow=1 1700000000123` → `a|level|1700000000123`, `a|flow|…` (names here need no escaping). */
function pointsOfLine(line: string): string[] {
  const [series, fields, ts] = line.split(' ');
  const device = /(?:^|,)device=([^,]+)/.exec(series!)?.[1];
  return fields!.split(',').map((f) => `${device}|${f.slice(0, f.indexOf('='))}|${ts}`);
}

/** Journal records of two points (one line) each; returns their ids and the points they hold. */
function appendRecords(journal: MemoryJournal, device: string, n: number, base: number): { ids: number[]; points: string[] } {
  const ids: number[] = [];
  const points: string[] = [];
  for (let k = 0; k < n; k++) {
    const ts = base + k;
    journal.append(device, [{ tag: `${device}.level`, value: k / 4, quality: 'good', ts }, { tag: `${device}.flow`, value: k, quality: 'good', ts }]);
    ids.push(journal.lastId());
    points.push(`${device}|level|${ts}`, `${device}|flow|${ts}`);
  }
  return { ids, points };
}

const refusesBad = (body: string): number => (body.includes('device=bad,') ? 400 : 204);

t.test('a device refused record after record at the head of a batch: the split goes on and every other record is written', async (t) => {
  const api = await startWriteApi(t, refusesBad);
  const { journal, uplink, logs } = startUplink(t, api.url);
  const base = Date.now() - 3_600_000;
  // Appended at once: one request. Fifteen refused records first, more than REFUSALS_IN_A_ROW.
  const bad = appendRecords(journal, 'bad', 15, base);
  const good = [appendRecords(journal, 'a', 13, base + 100), appendRecords(journal, 'b', 12, base + 200)].flatMap((r) => r.points);

  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'the journal past the refused device', timeoutMs: 60_000 });
  t.equal(api.answers[0]?.lines.length, 40, 'the 40 records went in one request first');
  const missing = good.filter((k) => !api.points.has(k));
  t.same(missing.slice(0, 5), [], `every one of the ${good.length} good points reached the server`);
  t.notOk(bad.points.some((k) => api.points.has(k)), 'nothing of the refused device was taken');
  const s = uplink.stats();
  t.equal(s.rejectedRecords, 15, 'the 15 refused records counted');
  t.equal(s.rejectedPoints, 30, 'and their points');
  t.equal(s.failedWrites, 0, 'the server took part of the batch: no configuration failure, no backoff');
  t.match(logs.find((l) => l.obj.code === 'CE_ERR_UPSTREAM_REJECTED')?.obj, { device: 'bad', status: 400 }, 'the refusal logged, naming the device');
});

t.test('a device refused record after record across several batches: dropped as long as the server takes something', async (t) => {
  const api = await startWriteApi(t, refusesBad);
  // 20 points: batches of 10 records. The first batch is all refused (10, within the rule), the
  // second starts with 5 more refused records, where a run over 10 used to stop the upload for good.
  const { journal, uplink } = startUplink(t, api.url, { batchPoints: 20 });
  const base = Date.now() - 3_600_000;
  const bad = appendRecords(journal, 'bad', 15, base);
  const good = appendRecords(journal, 'a', 25, base + 100).points;
  // Then the bad device among the others, a third of the records.
  for (let k = 0; k < 10; k++) {
    bad.points.push(...appendRecords(journal, 'bad', 1, base + 1000 + k).points);
    good.push(...appendRecords(journal, 'b', 1, base + 2000 + k).points, ...appendRecords(journal, 'c', 1, base + 3000 + k).points);
  }

  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'the journal past the refused device', timeoutMs: 60_000 });
  t.ok(api.answers.every((a) => a.lines.length <= 10), 'no request held more than 10 records: several batches');
  const missing = good.filter((k) => !api.points.has(k));
  t.same(missing.slice(0, 5), [], `every one of the ${good.length} good points reached the server`);
  t.notOk(bad.points.some((k) => api.points.has(k)), 'nothing of the refused device was taken');
  const s = uplink.stats();
  t.equal(s.rejectedRecords, 25, 'the 25 refused records counted');
  t.equal(s.failedWrites, 0, 'no batch failed');
});

for (const { batchPoints, what } of [{ batchPoints: undefined, what: 'in one batch' }, { batchPoints: 8, what: 'in batches of 4 records' }]) {
  t.test(`a server that refuses everything (${what}): taken for its configuration, the data kept`, async (t) => {
    let refuse = true;
    const api = await startWriteApi(t, () => (refuse ? 400 : 204));
    const { journal, uplink, logs } = startUplink(t, api.url, { batchPoints });
    const { points } = appendRecords(journal, 'a', 15, Date.now() - 3_600_000);

    await waitFor(() => uplink.stats().failedWrites >= 2, { what: 'two failed writes', timeoutMs: 60_000 });
    const s = uplink.stats();
    t.ok(s.rejectedRecords <= 10, `at most 10 records dropped (${s.rejectedRecords})`);
    if (batchPoints === undefined) t.equal(s.rejectedRecords, 0, 'one batch refused whole, more than 10 records: nothing dropped');
    t.equal(journal.backlog(UPSTREAM), 15 - s.rejectedRecords, 'the rest kept in the journal');
    t.notOk(s.connected, 'not connected');
    t.match(s.lastError, /every write is refused.*HTTP 400/, `lastError says why: ${s.lastError}`);
    t.ok(logs.some((l) => l.level === 'error' && l.obj.code === 'CE_ERR_UPSTREAM_WRITE'), 'logged as an error');

    // The configuration fixed: what was kept is written.
    refuse = false;
    await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'the kept records written', timeoutMs: 90_000 });
    const written = points.filter((k) => api.points.has(k)).length;
    t.equal(written, (15 - s.rejectedRecords) * 2, 'every point of the kept records reached the server');
    t.equal(uplink.stats().rejectedRecords, s.rejectedRecords, 'nothing more dropped');
  });
}

t.test('a failure in the middle of a split drops nothing refused so far; the records go again and are judged then', async (t) => {
  let leafRefusals = 0;
  let failed = false;
  let badAckedBeforeFailure = -1;
  let badIds = new Set<number>();
  let badAcked = 0;
  const api = await startWriteApi(t, (body) => {
    // After two refused records are found: one 503, once.
    if (leafRefusals >= 2 && !failed) { failed = true; badAckedBeforeFailure = badAcked; return 503; }
    const status = refusesBad(body);
    if (status === 400 && !body.includes('\n')) leafRefusals++;
    return status;
  });
  const { journal, uplink } = startUplink(t, api.url);
  journal.onAck = (ids) => { badAcked += ids.filter((id) => badIds.has(id)).length; };
  const base = Date.now() - 3_600_000;
  const bad = appendRecords(journal, 'bad', 3, base);
  badIds = new Set(bad.ids);
  const good = appendRecords(journal, 'a', 13, base + 100).points;

  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'the journal drained after the 503', timeoutMs: 60_000 });
  t.ok(failed, 'the server answered 503 in the middle of the split');
  t.equal(badAckedBeforeFailure, 0, 'no refused record was dropped before the split was over');
  t.ok(leafRefusals > 3, `the refused records were sent again after the failure (${leafRefusals} refusals of single records)`);
  t.equal(badAcked, 3, 'each refused record acknowledged once');
  const s = uplink.stats();
  t.equal(s.failedWrites, 1, 'the 503 counted as a failed write');
  t.equal(s.rejectedRecords, 3, 'each refused record counted once');
  t.same(good.filter((k) => !api.points.has(k)), [], 'every good point reached the server');
});

t.test('bad-quality points write no field; uncertain ones are written', async (t) => {
  const vm = await startVictoria({ t });
  const { journal, uplink } = startUplink(t, vm.url, { measurement: 'cityedge' });
  const base = Date.now() - 3_600_000;
  const expected = new Map<string, number>();
  for (let k = 0; k < 20; k++) {
    const ts = base + k * 1000;
    appendTo(journal, expected, 'well', [
      { tag: 'well.level', value: k / 8, quality: 'good', ts },
      { tag: 'well.flow', value: null, quality: 'bad', ts },
      { tag: 'well.temp', value: 20 + k / 4, quality: 'uncertain', ts },
    ]);
  }
  // A device that stopped answering: every point bad. No line at all, but acknowledged.
  journal.append('well', [{ tag: 'well.level', value: null, quality: 'bad', ts: base + 99_000 }, { tag: 'well.flow', value: null, quality: 'bad', ts: base + 99_000 }]);
  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'the journal drained', timeoutMs: 90_000 });
  await expectStored(t, vm, expected, (device) => ({ site: SITE, device }), 'good and uncertain points');
  t.same(await vm.exportSeries('{__name__="cityedge_flow"}'), [], 'no field for a point without a value');
  const levels = (await vm.exportSeries('{__name__="cityedge_level"}')).flatMap((x) => x.timestamps);
  t.notOk(levels.includes(base + 99_000), 'nothing written at the time of the all-bad record');
  const s = uplink.stats();
  t.equal(s.nullPoints, 22, 'the points without a value counted');
  t.equal(s.writtenPoints, 40, 'the others written');
});

t.test('names with spaces, commas and equals signs reach the store intact', async (t) => {
  const vm = await startVictoria({ t });
  const { journal } = startUplink(t, vm.url, { componentOf: () => 'zone=3, cabinet 7' });
  const ts = Date.now() - 3_600_000;
  journal.append('lamp 1', [
    { tag: 'lamp 1.dim level,pct', value: 42.5, quality: 'good', ts },
    { tag: 'lamp 1.mode', value: 'say "auto"', quality: 'good', ts },
  ]);
  await waitFor(() => journal.backlog(UPSTREAM) === 0, { what: 'the journal drained', timeoutMs: 90_000 });
  let series: Series[] = [];
  await waitFor(async () => (series = await vm.exportSeries('{__name__="cityedge_dim level,pct"}')).length > 0, { what: 'the escaped field in the store', timeoutMs: 60_000 });
  t.same(series[0]!.metric, { __name__: 'cityedge_dim level,pct', site: SITE, device: 'lamp 1', component: 'zone=3, cabinet 7' }, 'metric and label values unescaped as written');
  t.same({ v: series[0]!.values, t: series[0]!.timestamps }, { v: [42.5], t: [ts] }, 'value and timestamp');
  // VictoriaMetrics keeps numbers only: a string field is accepted (the line is valid) and stored as 0
  // (docs/upstream-influx.md says so; InfluxDB keeps the string).
  await waitFor(async () => (series = await vm.exportSeries('{__name__="cityedge_mode"}')).length > 0, { what: 'the string field accepted', timeoutMs: 60_000 });
  t.same(series[0]!.values, [0], 'VictoriaMetrics stores a string field as 0');
});
