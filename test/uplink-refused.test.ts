// A broker that refuses our telemetry (ACL) must not make the box drop it: the refusal is counted
// and logged, the batch stays in the journal, the link stays up.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from './helpers/mosquitto.ts';
import { silentBroker, startUplink } from './helpers/uplink.ts';
import { waitFor } from './helpers/wait.ts';
import { MqttJsonUplink } from '../cloud-sync/mqtt-uplink.ts';
import { MemoryJournal } from '../gateway/journal/memory.ts';
import { FakeClock, systemClock } from '../gateway/model/clock.ts';
import mqtt from 'mqtt';
import { silentLogger } from '../gateway/model/logger.ts';

t.test('MQTT 5 PUBACK "not authorized": counted, kept, and one refused device does not stall another', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-acl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The ACL lets the box write its status but not its telemetry.
  writeFileSync(join(dir, 'acl'), 'topic write cityedge/v1/ps1/status\ntopic write cityedge/v1/ps1/telemetry/plc2\n');
  const broker = await startMosquitto({ t, extraConf: [`acl_file ${join(dir, 'acl')}`] });

  const journal = new MemoryJournal();
  const uplink = new MqttJsonUplink({
    upstream: { id: 'city', url: broker.url, format: 'json', protocol_version: 5, keepalive_s: 30, inflight: 4, commands: [], session_expiry_s: 0 },
    site: { id: 'ps1' }, journal, clock: systemClock, logger: silentLogger, version: '0.0.0',
  });
  const ac = new AbortController();
  const running = uplink.run(ac.signal);
  t.teardown(async () => { ac.abort(); await running; });
  // plc1's topic is refused; more plc1 batches than the in-flight window come first.
  for (let i = 0; i < 6; i++) journal.append('plc1', [{ tag: 'plc1.level', value: i, quality: 'good', ts: Date.now() }]);
  for (let i = 0; i < 6; i++) journal.append('plc2', [{ tag: 'plc2.level', value: i, quality: 'good', ts: Date.now() }]);
  await waitFor(() => uplink.stats().acked === 6, { what: 'plc2 delivered despite plc1 refused', timeoutMs: 30_000 });
  await waitFor(() => uplink.stats().refused === 6, { what: 'each refused plc1 batch counted', timeoutMs: 30_000 });
  t.equal(journal.backlog('city'), 6, 'the refused batches are still in the journal');
  journal.rewind('city'); // as a reconnect would: what is still there to send
  t.same(journal.read('city', 10).map((r) => r.device), Array(6).fill('plc1'), 'and they are the refused ones');
  t.equal(uplink.stats().connected, true, 'the link stays up');
});

t.test('a refused batch is offered again 30 s later, read back from the journal, and arrives once the broker takes it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-acl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const acl = join(dir, 'acl');
  writeFileSync(acl, 'topic write cityedge/v1/ps1/status\ntopic read cityedge/v1/ps1/telemetry/#\n');
  const broker = await startMosquitto({ t, extraConf: [`acl_file ${acl}`, 'allow_anonymous true'] });
  const seen: { device: string; seq: number; v: unknown }[] = [];
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  t.teardown(() => sub.endAsync());
  sub.on('message', (topic, payload) => {
    const m = JSON.parse(payload.toString()) as { seq: number; points: { v: unknown }[] };
    seen.push({ device: topic.split('/').at(-1)!, seq: m.seq, v: m.points[0]!.v });
  });
  await sub.subscribeAsync('cityedge/v1/ps1/telemetry/#', { qos: 1 });

  const clock = new FakeClock(Date.now());
  const journal = new MemoryJournal({ clock });
  const uplink = new MqttJsonUplink({
    upstream: { id: 'city', url: broker.url, format: 'json', protocol_version: 5, keepalive_s: 30, inflight: 4, commands: [], session_expiry_s: 0 },
    site: { id: 'ps1' }, journal, clock, logger: silentLogger, version: '0.0.0',
  });
  const ac = new AbortController();
  const running = uplink.run(ac.signal);
  t.teardown(async () => { ac.abort(); await running; });
  for (let i = 0; i < 3; i++) journal.append('plc1', [{ tag: 'plc1.level', value: 10 + i, quality: 'good', ts: clock.now() }]);
  await waitFor(() => uplink.stats().refused === 3, { what: 'the three batches refused', timeoutMs: 30_000 });
  t.same(seen, [], 'nothing got through the ACL');

  // The operator mends the ACL; Mosquitto rereads it on SIGHUP.
  writeFileSync(acl, 'topic readwrite cityedge/v1/ps1/#\n');
  process.kill(broker.process()!.pid, 'SIGHUP');
  await waitFor(() => /[Rr]eloading config/.test(broker.output()), { what: 'the broker reloaded its ACL', timeoutMs: 30_000 });
  await clock.advance(30_000);
  await waitFor(() => seen.length === 3, { what: 'the refused batches delivered', timeoutMs: 30_000 });
  t.same(seen.map((s) => s.v), [10, 11, 12], 'each with its own points, as appended');
  t.same(seen.map((s) => s.seq), [seen[0]!.seq, seen[0]!.seq + 1, seen[0]!.seq + 2], 'and its own seq');
  await waitFor(() => journal.backlog('city') === 0, { what: 'acknowledged in the journal' });
  t.equal(uplink.stats().refused, 3, 'refused once each');
});

t.test('stop returns even when the broker stops acknowledging', async (t) => {
  const broker = await silentBroker(t);
  const { journal, uplink, stop } = startUplink(t, { url: broker.url, protocol_version: 4, inflight: 4 }, []);
  await waitFor(() => uplink.stats().connected, { what: 'connected' });
  journal.append('plc1', [{ tag: 'plc1.level', value: 1, quality: 'good', ts: Date.now() }]);
  await waitFor(() => uplink.stats().published === 1, { what: 'published' });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([stop().then(() => 'stopped'), new Promise((r) => { timer = setTimeout(r, 30_000, 'hung'); })]);
  clearTimeout(timer);
  t.equal(outcome, 'stopped', 'run() resolves within seconds of the abort');
  t.equal(journal.backlog('city'), 1, 'the unacknowledged batch stays in the journal');
});
