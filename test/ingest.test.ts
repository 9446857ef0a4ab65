// The platform side, as a platform would run it: 50 simulated boxes publish JSON telemetry (with
// the repeats a reconnecting box sends) to Mosquitto; two `cityedge ingest` processes share the
// subscription; one is killed with SIGKILL halfway and started again. Every sample lands in
// VictoriaMetrics exactly once, with its value and time.
import t from 'tap';
import mqtt from 'mqtt';
import { join } from 'node:path';
import { startMosquitto } from './helpers/mosquitto.ts';
import { startVictoria } from './helpers/victoria.ts';
import { spawnProcess, type SpawnedProcess } from './helpers/proc.ts';
import { waitFor } from './helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..');
const BOXES = 50;
const BATCHES = 40;
const TAGS = 5;
const T0 = Date.UTC(2026, 10, 23, 8, 0, 0);

t.test('50 boxes, 2 ingest instances (one killed and restarted): every sample exactly once', async (t) => {
  const broker = await startMosquitto({ t, persistence: true });
  // One point per series and time: the store keeps the last of two identical writes, as InfluxDB does.
  const store = await startVictoria({ t, args: ['-dedup.minScrapeInterval=1ms'] });
  const ingest = (n: number) => spawnProcess(process.execPath, [join(ROOT, 'bin', 'cityedge.mjs'), 'ingest',
    '--broker', broker.url, '--influx', store.url, '--bucket', 'city', '--client-id', `ingest-test-${n}`, '--connections', '2'], {
    t, name: `ingest-${n}`, readyLine: /ingest subscribed/, readyTimeoutMs: 60_000, env: { CITYEDGE_LOG_LEVEL: 'info' },
  });
  const instances: SpawnedProcess[] = [await ingest(1), await ingest(2)];

  const boxes = await Promise.all(Array.from({ length: BOXES }, (_, b) => mqtt.connectAsync(broker.url, { clientId: `box-${b}` })));
  t.teardown(() => Promise.all(boxes.map((c) => c.endAsync(true))));
  const value = (b: number, seq: number, tag: number) => b * 1000 + seq * 10 + tag + 0.5;
  const batch = (b: number, seq: number) => JSON.stringify({
    site: `box-${String(b).padStart(2, '0')}`, device: 'plc1', seq, historical: false,
    points: Array.from({ length: TAGS }, (_, k) => ({ tag: `t${k}`, v: value(b, seq, k), q: 'good', t: T0 + seq * 1000 })),
  });
  const publishRound = async (seqs: number[]) => {
    await Promise.all(boxes.map(async (c, b) => {
      for (const seq of seqs) await c.publishAsync(`cityedge/v1/box-${String(b).padStart(2, '0')}/telemetry/plc1`, batch(b, seq), { qos: 1 });
    }));
  };
  const half = Array.from({ length: BATCHES / 2 }, (_, i) => i + 1);
  await publishRound(half);
  // A box that lost its connection before the PUBACK sends the same batch again.
  await publishRound([3, 7, 15]);
  // An instance dies mid-stream; its sessions' unacknowledged messages wait for it at the broker.
  await instances[0]!.kill('SIGKILL');
  await publishRound(Array.from({ length: BATCHES / 2 }, (_, i) => i + 1 + BATCHES / 2));
  instances[0] = await ingest(1);
  await publishRound([BATCHES, 1]);

  const expected = BOXES * BATCHES * TAGS;
  let series: Awaited<ReturnType<typeof store.exportSeries>> = [];
  const count = () => series.reduce((a, s) => a + s.values.length, 0);
  await waitFor(async () => {
    series = await store.exportSeries('{__name__=~"cityedge_t.*"}');
    return count() >= expected;
  }, { what: `${expected} samples in the store`, timeoutMs: 180_000, intervalMs: 1000 });
  t.equal(count(), expected, `${expected} samples, no more: none twice`);
  let wrong = 0;
  for (const s of series) {
    const b = Number(s.metric.site!.slice(4));
    const k = Number(s.metric.__name__!.slice('cityedge_t'.length));
    s.timestamps.forEach((ts, i) => { if (s.values[i] !== value(b, (ts - T0) / 1000, k)) wrong++; });
  }
  t.equal(wrong, 0, 'every value at its time');
  t.equal(series.length, BOXES * TAGS, 'a series per box and tag, tagged site and device');
  t.ok(series.every((s) => s.metric.device === 'plc1'), 'device tag');
  for (const p of instances) t.notMatch(p.output(), /"level":50/, `${p.name}: no error logged`);
});

t.test('one instance drops the repeats itself (a store that keeps duplicates would show them)', async (t) => {
  const broker = await startMosquitto({ t });
  const store = await startVictoria({ t }); // no dedup: a second write of a sample would be a second sample
  const p = await spawnProcess(process.execPath, [join(ROOT, 'bin', 'cityedge.mjs'), 'ingest',
    '--broker', broker.url, '--influx', store.url, '--bucket', 'city', '--client-id', 'ingest-solo', '--connections', '1'], {
    t, name: 'ingest-solo', readyLine: /ingest subscribed/, readyTimeoutMs: 60_000,
  });
  const box = await mqtt.connectAsync(broker.url, { clientId: 'box' });
  t.teardown(() => box.endAsync(true));
  const send = (seq: number) => box.publishAsync('cityedge/v1/ps1/telemetry/plc1', JSON.stringify({
    site: 'ps1', device: 'plc1', seq, historical: false, points: [{ tag: 'level', v: seq, q: 'good', t: T0 + seq }],
  }), { qos: 1 });
  for (const seq of [1, 2, 3, 2, 4, 1, 5, 3]) await send(seq);
  await box.publishAsync('cityedge/v1/ps1/telemetry/plc1', 'not json', { qos: 1 });
  await send(6);
  let got: number[] = [];
  await waitFor(async () => {
    got = (await store.exportSeries('{__name__="cityedge_level"}')).flatMap((s) => s.values);
    return got.length >= 6;
  }, { what: 'six samples in the store', timeoutMs: 120_000, intervalMs: 1000 });
  t.same([...got].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6], 'each once');
  await p.kill('SIGTERM');
  const stopped = /"duplicates":(\d+).*"rejected":(\d+)/.exec(p.output().split('\n').find((l) => l.includes('ingest stopped')) ?? '');
  t.same(stopped?.slice(1).map(Number), [3, 1], 'three repeats and one unreadable message counted');
});
