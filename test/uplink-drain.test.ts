// A big backlog drains to Debian's Mosquitto while the box keeps measuring: live batches must not
// wait for the backlog (they go ahead of it), the backlog arrives whole and marked historical, and
// an alarm appended mid-drain overtakes both.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { MqttJsonUplink } from '../cloud-sync/mqtt-uplink.ts';
import { SqliteJournal } from '../gateway/journal/sqlite.ts';
import { silentLogger, systemClock, type Clock } from '../gateway/model/index.ts';
import { startMosquitto } from './helpers/mosquitto.ts';
import { waitFor } from './helpers/wait.ts';

const BACKLOG = 30_000;
const SITE = 'drain';

t.test('live telemetry and alarms overtake a draining backlog', async (t) => {
  // The test's subscriber is slower than the gateway: let Mosquitto queue for it rather than drop
  // (its default keeps 1,000 messages per client), or losses would be the subscriber's.
  const broker = await startMosquitto({ t, extraConf: ['max_queued_messages 0'] });
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-drain-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The backlog was measured a minute ago: an outage's worth of data.
  let offset = -60_000;
  const clock: Clock = { now: () => Date.now() + offset, sleep: systemClock.sleep };
  const journal = new SqliteJournal({ dir, clock, fsync: 'normal', commitMs: 50 });
  t.teardown(() => journal.close());
  const pts = (i: number) => Array.from({ length: 20 }, (_, k) => ({ tag: `old.r${k}`, value: i, quality: 'good' as const, ts: clock.now() }));
  for (let i = 0; i < BACKLOG; i++) journal.append('old', pts(i));
  journal.flush();
  offset = 0;

  interface Seen { device: string; seq: number; historical: boolean; at: number; sentAt: number }
  const seen: Seen[] = [];
  const alarms: { at: number }[] = [];
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'platform-drain' });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString());
    if (topic.endsWith('/alarms')) alarms.push({ at: seen.length });
    else if (topic.includes('/telemetry/')) {
      seen.push({ device: body.device, seq: body.seq, historical: body.historical, at: Date.now(), sentAt: body.points[0]?.t ?? 0 });
    }
  });
  await sub.subscribeAsync(`cityedge/v1/${SITE}/#`, { qos: 1 });

  const uplink = new MqttJsonUplink({
    upstream: { id: 'city', url: broker.url, format: 'json', protocol_version: 5, keepalive_s: 30, inflight: 32, commands: [], session_expiry_s: 0 },
    site: { id: SITE }, journal, clock: systemClock, logger: silentLogger, version: '0.0.0',
  });
  const ac = new AbortController();
  const running = uplink.run(ac.signal);
  t.teardown(async () => { ac.abort(); await running; });

  // The box keeps measuring while the backlog drains: one live batch every 50 ms.
  let live = 0;
  const ticker = setInterval(() => {
    journal.append('live', [{ tag: 'live.level', value: live++, quality: 'good', ts: Date.now() }]);
    if (live === 5) journal.appendEvent('alarms', 'live', JSON.stringify({ rule: 'hh', state: 'active' }));
  }, 50);
  t.teardown(() => clearInterval(ticker));
  await waitFor(() => seen.filter((s) => s.device === 'old').length >= BACKLOG, { what: 'the whole backlog', timeoutMs: 180_000 });
  clearInterval(ticker);
  await waitFor(() => journal.backlog('city') === 0, { what: 'journal drained', timeoutMs: 60_000 });

  const old = seen.filter((s) => s.device === 'old');
  t.equal(new Set(old.map((s) => s.seq)).size, BACKLOG, 'every backlog batch arrived');
  t.ok(old.every((s) => s.historical), 'backlog batches are historical');
  const lastOldAt = seen.map((s) => s.device).lastIndexOf('old');
  const liveDuringDrain = seen.slice(0, lastOldAt).filter((s) => s.device === 'live');
  const drainMs = old.at(-1)!.at - old[0]!.at;
  t.comment(`backlog of ${BACKLOG} batches drained in ${drainMs} ms; ${liveDuringDrain.length} live batches arrived meanwhile`);
  t.ok(liveDuringDrain.length >= 3, 'live batches arrived while the backlog was still draining');
  t.ok(liveDuringDrain.every((s) => !s.historical), 'live batches are not historical');
  const worst = Math.max(...liveDuringDrain.map((s) => s.at - s.sentAt));
  t.ok(worst < 5000, `live batches were at most ${worst} ms late during the drain`);
  t.ok(alarms.length === 1 && alarms[0]!.at < lastOldAt, 'the alarm arrived before the backlog was through');
});
