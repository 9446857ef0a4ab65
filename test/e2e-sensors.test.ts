// Parking bays through the box's own broker, end to end: the site's network server logs in to the
// embedded broker with its password and publishes ChirpStack v4 uplinks; bays and the lot's summary
// reach the platform's Mosquitto; a repeated frame counter, malformed payloads and an unknown device
// are rejected and counted while the ingest carries on; anonymous and out-of-ACL clients are refused.
import t from 'tap';
import { createHash } from 'node:crypto';
import mqtt from 'mqtt';
import { parseConfig } from '../config/loader.ts';
import { startGateway } from '../gateway/main.ts';
import { startMosquitto } from './helpers/mosquitto.ts';
import { tempDir } from './helpers/temp.ts';
import { waitFor } from './helpers/wait.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const EUI = ['a840410000000001', 'a840410000000002', 'a840410000000003'];
/** A second lot on the same network-server topic: its counts must stay its own. */
const EUI_B = 'a8404100000000b1';

/** A ChirpStack v4 uplink as the network server publishes it. */
function uplink(devEui: string, fCnt: number, fPort: number, frame: number[]) {
  return JSON.stringify({
    deduplicationId: `d-${devEui}-${fCnt}`, time: new Date().toISOString(),
    deviceInfo: { tenantId: 't', applicationId: 'parking', deviceName: devEui, devEui, tags: {} },
    devAddr: '01020304', fCnt, fPort, data: Buffer.from(frame).toString('base64'),
    rxInfo: [{ gatewayId: 'gw1', rssi: -97, snr: 7.5 }, { gatewayId: 'gw2', rssi: -110, snr: -2 }],
  });
}
const topic = (eui: string) => `application/parking/device/${eui}/event/up`;

t.test('bays and the lot summary at the platform; bad uplinks and bad clients refused', async (t) => {
  const broker = await startMosquitto({ t });
  const config = parseConfig(`
site: { id: lot-xihu-7 }
buffer: { path: ${JSON.stringify(tempDir(t, 'cityedge-e2e-sensors-'))} }
upstreams:
  - { id: city, url: "${broker.url}" }
broker:
  port: 0
  users:
    - { username: chirpstack, password_sha256: ${sha('ns-secret')}, publish: ["application/#"] }
devices:
  - id: lot-a
    driver: lorawan
    codec: cityedge-parking-v1
    lot: A区
    poll_ms: 200
    debounce_s: 0
    heartbeat_s: 600
    sensors:
${EUI.map((e, i) => `      - { name: bay00${i + 1}, dev_eui: "${e}" }`).join('\n')}
  - id: lot-b
    driver: lorawan
    codec: cityedge-parking-v1
    lot: B区
    poll_ms: 200
    debounce_s: 0
    sensors: [ { name: bay101, dev_eui: "${EUI_B}" } ]
`, 'lot.yaml');

  const points: { tag: string; v: unknown; q: string }[] = [];
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'platform' });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (_t, p) => points.push(...(JSON.parse(p.toString()) as { points: typeof points }).points));
  await sub.subscribeAsync('cityedge/v1/lot-xihu-7/telemetry/lot-a', { qos: 1 });

  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  const { brokerPort } = await gw.ready();
  const local = `mqtt://127.0.0.1:${brokerPort}`;

  const refused = await mqtt.connectAsync(local, { clientId: 'anon', reconnectPeriod: 0 }).then(() => 'connected', (e: Error) => e.message);
  t.match(refused, /Not authorized|not authorized|Connection refused/i, 'an anonymous client is refused');
  const wrong = await mqtt.connectAsync(local, { clientId: 'ns2', username: 'chirpstack', password: 'guess', reconnectPeriod: 0 }).then(() => 'connected', (e: Error) => e.message);
  t.match(wrong, /Bad username or password|refused/i, 'a wrong password is refused');

  const ns = await mqtt.connectAsync(local, { clientId: 'chirpstack', username: 'chirpstack', password: 'ns-secret' });
  t.teardown(() => ns.endAsync(true));
  // Bay 1 taken, bay 2 free, bay 3 free; then the garbage a real network sees.
  await ns.publishAsync(topic(EUI[0]!), uplink(EUI[0]!, 10, 1, [0x01, 87, 0xff, 0x9c, 0x00, 0x32, 0x01, 0x90]), { qos: 1 });
  await ns.publishAsync(topic(EUI[1]!), uplink(EUI[1]!, 5, 1, [0x00, 90, 0, 1, 0, 2, 0, 3]), { qos: 1 });
  await ns.publishAsync(topic(EUI[2]!), uplink(EUI[2]!, 7, 2, [0x00, 100, 0, 10, 0, 11, 0, 12, 25, 0, 60]), { qos: 1 });
  await ns.publishAsync(topic(EUI[0]!), uplink(EUI[0]!, 10, 1, [0x00, 87, 0, 0, 0, 0, 0, 0]), { qos: 1 }); // same fCnt: a duplicate
  await ns.publishAsync(topic(EUI[1]!), '{"deviceInfo": ', { qos: 1 });
  await ns.publishAsync(topic(EUI[1]!), uplink(EUI[1]!, 6, 1, [0x01, 90]), { qos: 1 }); // short frame
  await ns.publishAsync(topic('ffffffffffffffff'), uplink('ffffffffffffffff', 1, 1, [0x01, 0, 0, 0, 0, 0, 0, 0]), { qos: 1 });
  await ns.publishAsync(topic(EUI[2]!), JSON.stringify({ deviceInfo: { devEui: EUI[2] }, fCnt: 8, fPort: 1, data: '@@not base64@@' }), { qos: 1 });
  await ns.publishAsync(topic(EUI_B), uplink(EUI_B, 1, 1, [0x01, 80, 0, 0, 0, 0, 0, 0]), { qos: 1 });

  const last = (tag: string) => points.filter((p) => p.tag === tag).at(-1)?.v;
  await waitFor(() => last('bays_occupied') === 1 && last('bays_free') === 2, { what: 'the lot summary at the platform', timeoutMs: 60_000 });
  t.equal(last('bay001_occupied'), true);
  t.equal(last('bay002_occupied'), false);
  t.equal(last('bay001_battery'), 87);
  t.equal(last('bay001_mag_x'), -100);
  t.equal(last('bay003_heartbeat_min'), 60);
  t.equal(last('bay001_rssi'), -97, 'the best gateway\'s radio');
  t.equal(last('bays_unknown'), 0);
  const onTopic = () => gw.status().ingest_topics['application/+/device/+/event/up'];
  await waitFor(() => (onTopic()?.received ?? 0) >= 9, { what: 'all nine messages counted on the topic', timeoutMs: 30_000 });
  t.same(onTopic(), { received: 9, accepted: 4, rejected: { duplicate: 1, 'bad json': 1, 'short frame': 1, 'unknown device': 1, 'bad base64': 1 } },
    'the topic counts everything, including what named no device');
  t.same(gw.status().ingest['lot-a'], { received: 5, accepted: 3, rejected: { duplicate: 1, 'short frame': 1 } }, 'lot A counts its own bays\' uplinks only');
  t.same(gw.status().ingest['lot-b'], { received: 1, accepted: 1, rejected: {} }, 'and lot B its own');
  t.equal(last('bay001_occupied'), true, 'the duplicate changed nothing');

  // The network server's account may publish uplinks, not telemetry of its own invention.
  await ns.publishAsync('cityedge/v1/lot-xihu-7/cmd/write', '{}', { qos: 0 });
  await waitFor(() => (gw.status().broker?.refusedPublishes ?? 0) >= 1, { what: 'the out-of-ACL publish refused', timeoutMs: 30_000 });

  // Bay 1 leaves; the next uplink is counted again.
  await ns.publishAsync(topic(EUI[0]!), uplink(EUI[0]!, 11, 1, [0x00, 87, 0, 0, 0, 0, 0, 0]), { qos: 1 });
  await waitFor(() => last('bays_free') === 3, { what: 'bay 1 free again', timeoutMs: 60_000 });
});
