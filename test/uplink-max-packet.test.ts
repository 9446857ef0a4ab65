// The broker's Maximum Packet Size (MQTT 5 CONNACK; Mosquitto's max_packet_size). Mosquitto answers a
// larger PUBLISH with DISCONNECT 0x95; the record, still in the journal, would go first again after
// every reconnect and nothing else would be delivered. The box does not send it: a journal record
// is dropped (a batch keeps one seq, so it cannot be split), counted and logged, and the rest flows
// on the same connection. Alarm events and command replies too large are logged each.
import t from 'tap';
import mqtt from 'mqtt';
import { startMosquitto } from './helpers/mosquitto.ts';
import { waitFor } from './helpers/wait.ts';
import { silentBroker, startUplink, type Line } from './helpers/uplink.ts';
import type { TelemetryPayload } from '../cloud-sync/json-format.ts';
import type { CommandHandler, Sample } from '../gateway/model/index.ts';

const MAX = 2048;


/** One tag of plc1: about 120 bytes on the wire. */
const small = (v: number): Sample[] => [{ tag: 'plc1.level', value: v, quality: 'good', ts: Date.now() }];
/** The first scan of a device with many tags carries all of them: about 11 kB of JSON. */
const wide = (): Sample[] => Array.from({ length: 200 }, (_, i) => ({ tag: `plc1.t${String(i).padStart(3, '0')}`, value: 1000 + i + 0.5, quality: 'good' as const, ts: Date.now() }));
const publishErrors = (lines: Line[]) => lines.filter((l) => l.level === 'error' && l.obj.code === 'CE_ERR_UPSTREAM_PUBLISH');

t.test('a telemetry batch above the maximum: dropped, counted, said once; every other batch flows on one connection', async (t) => {
  const broker = await startMosquitto({ t, extraConf: [`max_packet_size ${MAX}`] });
  const platform = await mqtt.connectAsync(broker.url, { clientId: 'platform', protocolVersion: 5 });
  t.teardown(() => platform.endAsync(true));
  const batches: TelemetryPayload[] = [];
  platform.on('message', (topic, p) => { if (topic.includes('/telemetry/')) batches.push(JSON.parse(p.toString()) as TelemetryPayload); });
  await platform.subscribeAsync('cityedge/v1/ps1/#', { qos: 1 });

  const lines: Line[] = [];
  const { journal, uplink } = startUplink(t, { url: broker.url }, lines);
  await waitFor(() => uplink.stats().connected, { what: 'the uplink connected', timeoutMs: 30_000 });
  for (let i = 0; i < 5; i++) journal.append('plc1', small(i));
  journal.append('plc1', wide());
  for (let i = 5; i < 10; i++) journal.append('plc1', small(i));
  // Done when all is delivered, or as soon as a reconnect loop shows (then the checks below say so).
  await waitFor(() => (batches.length === 10 && journal.backlog('city') === 0) || uplink.stats().connects >= 3, {
    what: 'the 10 small batches at the platform and an empty backlog', timeoutMs: 60_000,
  });

  const s = uplink.stats();
  t.equal(s.connects, 1, 'one connection: no reconnect loop');
  t.same(batches.map((b) => b.points[0]!.v).sort((a, b) => Number(a) - Number(b)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'every small batch delivered, once');
  t.notOk(batches.some((b) => b.points.length > 1), 'the big batch did not arrive');
  t.equal(s.oversize, 1, 'counted');
  t.equal(journal.backlog('city'), 0, 'the backlog drained');
  t.equal(s.acked, 10, 'the ten small batches acknowledged by the broker');
  t.notMatch(broker.output(), /oversize packet/, 'the broker never received it');

  // The dropped batch is the gap in the device's seqs.
  const seqs = batches.map((b) => b.seq).sort((a, b) => a - b);
  const bigSeq = seqs[4]! + 1;
  t.equal(seqs[5], bigSeq + 1, `seqs ${seqs[0]}..${seqs[9]} skip one: ${bigSeq}`);
  const said = publishErrors(lines);
  t.equal(said.length, 1, 'one log line');
  t.match(said[0]?.obj, { device: 'plc1', seq: bigSeq, maxPacket: MAX }, 'naming device, seq and the broker\'s limit');
  t.ok(Number(said[0]?.obj.bytes) > MAX, `and the batch's size (${said[0]?.obj.bytes} bytes)`);
  t.match(said[0]?.msg, /max_packet_size.*devices entries/, `with what to do: ${said[0]?.msg}`);
});

t.test('alarm events and command replies above the maximum: each logged; telemetry once per connection', async (t) => {
  // log_type subscribe: the test knows when the box listens for commands.
  const broker = await startMosquitto({ t, extraConf: [`max_packet_size ${MAX}`, 'log_type subscribe'] });
  const platform = await mqtt.connectAsync(broker.url, { clientId: 'platform', protocolVersion: 5 });
  t.teardown(() => platform.endAsync(true));
  const alarms: { id: string }[] = [];
  const telemetry: TelemetryPayload[] = [];
  const replies: { id: string; correlation: string | undefined }[] = [];
  platform.on('message', (topic, p, packet) => {
    if (topic.endsWith('/alarms')) alarms.push(JSON.parse(p.toString()) as { id: string });
    else if (topic.includes('/telemetry/')) telemetry.push(JSON.parse(p.toString()) as TelemetryPayload);
    else if (topic === 'platform/replies') replies.push({ id: (JSON.parse(p.toString()) as { id: string }).id, correlation: packet.properties?.correlationData?.toString() });
  });
  await platform.subscribeAsync(['cityedge/v1/ps1/#', 'platform/replies'], { qos: 1 });

  // Replies of exactly MAX and MAX + 1 bytes on the wire. With a response topic of 16 bytes and
  // properties of 24 (correlation data 1 + 2 + 16, message expiry 1 + 4): fixed header 1 + 2,
  // topic 2 + 16, packet id 2, properties 1 + 24, so the JSON is MAX - 48 or MAX - 47 bytes.
  const handler: CommandHandler = async (verb, payload) => {
    const id = (JSON.parse(payload.toString()) as { id: string }).id;
    const reply = { id, verb, ok: true, t: 1_795_327_761_447, result: { pad: '' } };
    const size = id === 'c-fits' ? MAX - 48 : MAX - 47;
    reply.result.pad = 'x'.repeat(size - JSON.stringify(reply).length);
    return reply;
  };
  const lines: Line[] = [];
  const { journal, uplink } = startUplink(t, { url: broker.url, commands: ['ack-alarm'] }, lines, handler);
  await waitFor(() => uplink.stats().connected && broker.output().includes('cityedge/v1/ps1/cmd/+'), { what: 'the box subscribed to commands', timeoutMs: 30_000 });

  const bigAlarm = (n: number) => JSON.stringify({ id: `a-big-${n}`, rule: 'wet_well_hh', state: 'active', message: '集水井超高液位'.repeat(150) });
  journal.appendEvent('alarms', 'plc1', bigAlarm(1));
  journal.appendEvent('alarms', 'plc1', bigAlarm(2));
  journal.appendEvent('alarms', 'plc1', JSON.stringify({ id: 'a-small', rule: 'wet_well_hh', state: 'active' }));
  journal.append('plc1', wide());
  journal.append('plc1', wide());
  journal.append('plc1', small(1));
  for (const id of ['c-over', 'c-fits']) {
    await platform.publishAsync('cityedge/v1/ps1/cmd/ack-alarm', JSON.stringify({ id, rule: 'wet_well_hh', user: 'op' }), {
      qos: 1, properties: { responseTopic: 'platform/replies', correlationData: Buffer.from(`corr-${id}`.padEnd(16, '-')), messageExpiryInterval: 300 },
    });
  }
  // Replies go out in the order of the commands: once c-fits is in, c-over was sent or it was not.
  await waitFor(() => (replies.some((r) => r.id === 'c-fits') && alarms.length >= 1 && telemetry.length >= 1 && journal.backlog('city') === 0) || uplink.stats().connects >= 3, {
    what: 'the reply to c-fits, the small alarm and batch at the platform, and an empty backlog', timeoutMs: 60_000,
  });

  t.equal(uplink.stats().connects, 1, 'one connection: no reconnect loop');
  t.same(alarms.map((a) => a.id), ['a-small'], 'the small alarm delivered, the big ones not');
  t.same(telemetry.map((b) => b.points.length), [1], 'the small batch delivered, the big ones not');
  t.same(replies, [{ id: 'c-fits', correlation: 'corr-c-fits'.padEnd(16, '-') }], `a reply of exactly ${MAX} bytes is sent; one byte more is not`);
  t.equal(uplink.stats().oversize, 5, 'two alarms, two batches, one reply counted');
  t.equal(journal.backlog('city'), 0, 'the backlog drained');
  t.notMatch(broker.output(), /oversize packet/, 'the broker never received one too large');

  const said = publishErrors(lines);
  const alarmSeqs = said.filter((l) => l.obj.channel === 'alarms').map((l) => Number(l.obj.seq));
  t.equal(alarmSeqs.length, 2, 'each big alarm logged');
  t.equal(alarmSeqs[1], alarmSeqs[0]! + 1, `with its own seq (${alarmSeqs.join(', ')})`);
  t.equal(said.filter((l) => l.obj.channel === 'telemetry').length, 1, 'the big batches logged once on this connection');
  const reply = said.filter((l) => l.obj.topic === 'platform/replies');
  t.equal(reply.length, 1, 'the reply too large logged');
  t.match(reply[0]?.obj, { bytes: MAX + 1, maxPacket: MAX }, 'with its size on the wire and the limit');
});

t.test('a limit below the status: said once, and the link stays up', async (t) => {
  // Mosquitto takes the CONNECT (about 80 bytes with the will) but not the status (about 170).
  const broker = await startMosquitto({ t, extraConf: ['max_packet_size 120'] });
  const lines: Line[] = [];
  const { journal, uplink } = startUplink(t, { url: broker.url }, lines);
  await waitFor(() => lines.some((l) => /the status is \d+ bytes/.test(l.msg)), { what: 'the status too large reported', timeoutMs: 30_000 });
  // The pump carries on: a batch (also too large here) is handled on the same connection.
  journal.append('plc1', small(1));
  await waitFor(() => uplink.stats().oversize === 1 || uplink.stats().connects >= 2, { what: 'the batch handled', timeoutMs: 30_000 });
  t.equal(uplink.stats().connects, 1, 'one connection');
  t.equal(uplink.stats().connected, true, 'still connected');
  t.equal(lines.filter((l) => /the status is \d+ bytes/.test(l.msg)).length, 1, 'said once');
  t.notMatch(broker.output(), /oversize packet/, 'the broker never received one too large');
});

t.test('stop with a broker that stopped acknowledging: the socket is closed, not left open', async (t) => {
  // end() never completes against it, and while it waits mqtt.js makes end(true) a no-op.
  const broker = await silentBroker(t);
  // A keepalive far beyond the test: only the uplink's stop can close the socket.
  const { journal, uplink, stop } = startUplink(t, { url: broker.url, protocol_version: 4, keepalive_s: 3600, inflight: 4 }, []);
  await waitFor(() => uplink.stats().connected, { what: 'connected' });
  journal.append('plc1', small(1));
  await waitFor(() => uplink.stats().published === 1, { what: 'published, never acknowledged' });
  await stop();
  await waitFor(() => broker.openSockets() === 0, { what: 'the box\'s socket closed after stop', timeoutMs: 30_000 });
  t.equal(journal.backlog('city'), 1, 'the unacknowledged batch stays in the journal');
});
