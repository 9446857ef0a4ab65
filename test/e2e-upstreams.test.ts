// One box, three platforms at once, each in its own format: JSON to the city's Mosquitto, Sparkplug B
// to the district's (decoded with Eclipse Tahu's decoder), and InfluxDB line protocol into a
// VictoriaMetrics. A sensor reading reaches all three; the district's broker stopping holds back
// neither of the others, and it gets what it missed when it is back.
import t from 'tap';
import mqtt from 'mqtt';
import sparkplug from 'sparkplug-payload';
import { createHash } from 'node:crypto';
import { parseConfig } from '../config/loader.ts';
import { startGateway } from '../gateway/main.ts';
import { startMosquitto } from './helpers/mosquitto.ts';
import { startVictoria } from './helpers/victoria.ts';
import { tempDir } from './helpers/temp.ts';
import { waitFor } from './helpers/wait.ts';

const sp = sparkplug.get('spBv1.0')!;

t.test('json, sparkplug and influx upstreams at once; one down holds back none', async (t) => {
  const city = await startMosquitto({ t });
  const district = await startMosquitto({ t });
  const store = await startVictoria({ t });
  const config = parseConfig(`
site: { id: wl-xihu-3, district: "330106" }
buffer: { path: ${JSON.stringify(tempDir(t, 'cityedge-e2e-upstreams-'))} }
upstreams:
  - { id: city, url: "${city.url}" }
  - { id: district, url: "${district.url}", format: sparkplug, group_id: xihu-drainage }
  - { id: tsdb, url: "${store.url}", format: influx, bucket: telemetry }
broker:
  port: 0
  users: [ { username: radar, password_sha256: ${createHash('sha256').update('pw').digest('hex')}, publish: ["sensors/#"] } ]
devices:
  - id: radar1
    driver: mqtt
    topic: sensors/radar1
    poll_ms: 200
    tags: [ { name: depth_cm, path: /d, unit: cm } ]
`, 'upstreams.yaml');

  const json: number[] = [];
  const jsonSub = await mqtt.connectAsync(city.url, { clientId: 'city-platform' });
  t.teardown(() => jsonSub.endAsync(true));
  jsonSub.on('message', (_t, p) => json.push(...(JSON.parse(p.toString()) as { points: { v: number }[] }).points.map((x) => x.v)));
  await jsonSub.subscribeAsync('cityedge/v1/wl-xihu-3/telemetry/radar1', { qos: 1 });

  const births: string[] = [];
  const ddata: { value: number; historical: boolean }[] = [];
  const spSub = await mqtt.connectAsync(district.url, { clientId: 'scada', reconnectPeriod: 500 });
  t.teardown(() => spSub.endAsync(true));
  spSub.on('message', (topic, p) => {
    const kind = topic.split('/')[2]!;
    const m = sp.decodePayload(p);
    if (kind.endsWith('BIRTH')) births.push(topic);
    if (kind === 'DDATA') for (const x of m.metrics ?? []) ddata.push({ value: Number(x.value), historical: x.isHistorical === true });
  });
  await spSub.subscribeAsync('spBv1.0/xihu-drainage/#', { qos: 1 });

  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  const { brokerPort } = await gw.ready();
  const radar = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'radar1', username: 'radar', password: 'pw' });
  t.teardown(() => radar.endAsync(true));
  const inStore = async () => (await store.exportSeries('{__name__="cityedge_depth_cm"}')).flatMap((s) => s.values);

  await radar.publishAsync('sensors/radar1', JSON.stringify({ d: 12 }), { qos: 1 });
  await waitFor(() => json.includes(12), { what: '12 cm at the city (JSON)', timeoutMs: 60_000 });
  await waitFor(() => ddata.some((d) => d.value === 12), { what: '12 cm at the district (Sparkplug DDATA)', timeoutMs: 60_000 });
  await waitFor(async () => (await inStore()).includes(12), { what: '12 cm in the store', timeoutMs: 60_000, intervalMs: 500 });
  t.same(births.map((b) => b.split('/')[2]), ['NBIRTH', 'DBIRTH'], 'the district saw the node born, then the device');
  t.ok(births[1]!.endsWith('/wl-xihu-3/radar1'), 'edge node id is the site, device id the device');

  // The district's broker goes away; the city and the store keep getting data.
  await district.stop();
  await radar.publishAsync('sensors/radar1', JSON.stringify({ d: 27 }), { qos: 1 });
  await waitFor(() => json.includes(27), { what: '27 cm at the city while the district is down', timeoutMs: 60_000 });
  await waitFor(async () => (await inStore()).includes(27), { what: '27 cm in the store while the district is down', timeoutMs: 60_000, intervalMs: 500 });
  t.ok((gw.status().upstreams.district as { backlog: number }).backlog > 0, 'the district\'s share waits in the journal');

  // Data that waited more than 5 s for a link is an outage's backlog (docs/mqtt.md): let the outage be one.
  const sentAt = Date.now();
  await waitFor(() => Date.now() - sentAt > 6000, { what: 'an outage longer than the 5 s grace', timeoutMs: 30_000 });
  await district.restart();
  await waitFor(() => ddata.some((d) => d.value === 27), { what: '27 cm at the district after its broker came back', timeoutMs: 90_000 });
  t.equal(ddata.find((d) => d.value === 27)!.historical, true, 'flagged historical: it waited for the link');
  await waitFor(() => (gw.status().upstreams.district as { backlog: number }).backlog === 0, { what: 'the district caught up', timeoutMs: 60_000 });
});
