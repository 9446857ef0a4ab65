// The uplink against the embedded aedes broker, which speaks MQTT 3.1.1 only: the uplink falls
// back from MQTT 5 by itself, delivers in order with QoS 1, and the journal empties on PUBACK.
import t from 'tap';
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { MqttJsonUplink } from '../cloud-sync/mqtt-uplink.ts';
import { MemoryJournal } from '../gateway/journal/memory.ts';
import { systemClock } from '../gateway/model/clock.ts';
import { silentLogger } from '../gateway/model/logger.ts';
import { waitFor } from './helpers/wait.ts';
import type { UpstreamConfig } from '../gateway/model/index.ts';

t.test('MQTT 3.1.1 broker: fallback, status, telemetry in order, journal emptied', async (t) => {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(async () => { await new Promise<void>((r) => broker.close(() => r())); server.close(); });
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;

  const received: { topic: string; body: { seq?: number; online?: boolean; version?: string; ts?: number } }[] = [];
  const sub = await mqtt.connectAsync(url, { clientId: 'sub' });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, p) => received.push({ topic, body: JSON.parse(p.toString()) }));
  await sub.subscribeAsync('plat/ps1/#', { qos: 1 });

  const journal = new MemoryJournal();
  const upstream: UpstreamConfig = { id: 'city', url, format: 'json', protocol_version: 5, keepalive_s: 30, inflight: 4, commands: [], session_expiry_s: 0, topic_prefix: 'plat/{site}' };
  const uplink = new MqttJsonUplink({ upstream, site: { id: 'ps1' }, journal, clock: systemClock, logger: silentLogger, version: '9.9.9' });
  const ac = new AbortController();
  const running = uplink.run(ac.signal);

  const seqs: number[] = [];
  journal.openCursor('probe');
  for (let i = 0; i < 50; i++) {
    journal.append('plc1', [{ tag: 'plc1.level', value: i, quality: 'good', ts: Date.now() }]);
    const [rec] = journal.read('probe', 1); // a second cursor, to see the seq each batch was given
    seqs.push(rec!.seq);
    journal.ack('probe', [rec!.id]);
  }
  await waitFor(() => received.filter((m) => m.topic === 'plat/ps1/telemetry/plc1').length === 50, { what: '50 batches', timeoutMs: 30_000 });
  t.equal(uplink.stats().protocol, 4, 'fell back to MQTT 3.1.1');
  t.same(received.filter((m) => m.topic.endsWith('/telemetry/plc1')).map((m) => m.body.seq), seqs, 'every batch, in order');
  const status = received.find((m) => m.topic === 'plat/ps1/status')?.body;
  t.match(status, { online: true, version: '9.9.9' }, 'status online with the version');
  t.type(status?.ts, 'number');
  await waitFor(() => journal.stats().records === 0, { what: 'journal emptied by PUBACKs' });
  t.equal(uplink.stats().acked, 50);

  ac.abort();
  await running;
  await waitFor(() => received.some((m) => m.topic === 'plat/ps1/status' && m.body.online === false), { what: 'goodbye status' });
});
