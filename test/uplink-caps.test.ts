// What a broker can and cannot do, read from its CONNACK and respected: Mosquitto without retained
// messages (the status and will go out unretained, said once, telemetry flows), a broker limited
// to QoS 0 (nothing can be acknowledged, so nothing leaves the journal), and an MQTT 5 session the
// broker keeps: a command sent while the box was away arrives when it is back, and the reply
// carries the command's message expiry.
import t from 'tap';
import mqtt from 'mqtt';
import { startMosquitto } from './helpers/mosquitto.ts';
import { waitFor } from './helpers/wait.ts';
import { startUplink, type Line } from './helpers/uplink.ts';
import type { CommandHandler } from '../gateway/model/index.ts';


t.test('a broker without retained messages: status unretained, said once, telemetry delivered', async (t) => {
  const broker = await startMosquitto({ t, extraConf: ['retain_available false'] });
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'platform', protocolVersion: 5 });
  t.teardown(() => sub.endAsync(true));
  const seen: { topic: string; retain: boolean }[] = [];
  sub.on('message', (topic, _p, packet) => seen.push({ topic, retain: packet.retain }));
  await sub.subscribeAsync('cityedge/v1/ps1/#', { qos: 1, rap: true });

  const lines: Line[] = [];
  const { journal, uplink } = startUplink(t, { url: broker.url }, lines);
  for (let i = 0; i < 5; i++) journal.append('plc1', [{ tag: 'plc1.level', value: i, quality: 'good', ts: Date.now() }]);
  await waitFor(() => uplink.stats().acked === 5 && journal.backlog('city') === 0, { what: 'status and telemetry acknowledged', timeoutMs: 60_000 });
  await waitFor(() => seen.some((s) => s.topic.endsWith('/status')), { what: 'the status at the platform', timeoutMs: 30_000 });
  t.equal(seen.filter((s) => s.topic.endsWith('/telemetry/plc1')).length, 5, 'all telemetry delivered');
  t.notOk(seen.some((s) => s.retain), 'nothing sent retained');
  const said = lines.filter((l) => /keeps no retained messages/.test(l.msg));
  t.equal(said.length, 1, `said once: ${said[0]?.msg}`);
});

t.test('a broker limited to QoS 0: nothing leaves the journal, and the box says why', async (t) => {
  const broker = await startMosquitto({ t, extraConf: ['max_qos 0'] });
  const lines: Line[] = [];
  const { journal, uplink } = startUplink(t, { url: broker.url }, lines);
  for (let i = 0; i < 3; i++) journal.append('plc1', [{ tag: 'plc1.level', value: i, quality: 'good', ts: Date.now() }]);
  await waitFor(() => lines.some((l) => /QoS 0 only/.test(l.msg)), { what: 'the QoS 0 broker reported', timeoutMs: 60_000 });
  t.equal(journal.backlog('city'), 3, 'all three batches kept');
  t.equal(uplink.stats().acked, 0, 'none counted as delivered');
  t.match(uplink.stats().lastError, /QoS 0 only/, 'the status says why');
});

t.test('a kept session: a command sent while the box was away is obeyed when it is back; the reply expires with it', async (t) => {
  const broker = await startMosquitto({ t });
  const verbs: string[] = [];
  const handler: CommandHandler = async (verb, payload) => {
    verbs.push(verb);
    const id = (JSON.parse(payload.toString()) as { id: string }).id;
    return { id, verb, ok: true, t: Date.now() };
  };
  const upstream = { url: broker.url, client_id: 'box-ps1', session_expiry_s: 600, commands: ['ack-alarm' as const] };
  const first = startUplink(t, upstream, [], handler);
  await waitFor(() => first.uplink.stats().connected, { what: 'first connection', timeoutMs: 30_000 });
  await waitFor(() => broker.output().includes('box-ps1'), { what: 'the broker saw the box', timeoutMs: 30_000 });
  await first.stop();

  const platform = await mqtt.connectAsync(broker.url, { clientId: 'platform', protocolVersion: 5 });
  t.teardown(() => platform.endAsync(true));
  const replies: { payload: unknown; expiry: number | undefined }[] = [];
  platform.on('message', (_t, p, packet) => replies.push({ payload: JSON.parse(p.toString()), expiry: packet.properties?.messageExpiryInterval }));
  await platform.subscribeAsync('platform/replies', { qos: 1 });
  await platform.publishAsync('cityedge/v1/ps1/cmd/ack-alarm', JSON.stringify({ id: 'c-1', rule: 'wet_well_hh', user: 'op' }), {
    qos: 1, properties: { responseTopic: 'platform/replies', messageExpiryInterval: 300 },
  });

  startUplink(t, upstream, [], handler);
  await waitFor(() => replies.length === 1, { what: 'the reply to the command queued while away', timeoutMs: 60_000 });
  t.same(verbs, ['ack-alarm'], 'the command was obeyed once');
  t.match(replies[0]!.payload, { id: 'c-1', ok: true });
  t.ok(replies[0]!.expiry !== undefined && replies[0]!.expiry <= 300 && replies[0]!.expiry > 0, `the reply expires with the command (${replies[0]!.expiry} s)`);
});
