// City and district platforms, each its own broker and cursor: the district broker goes down for a
// while; the city keeps receiving, undisturbed, and the district gets everything when it returns.
import t from 'tap';
import mqtt, { type MqttClient } from 'mqtt';
import { startMosquitto } from './helpers/mosquitto.ts';
import { waitFor } from './helpers/wait.ts';
import { startExampleStation } from './helpers/example-config.ts';
import { startGateway } from '../gateway/main.ts';

t.test('one upstream down does not hold back the other, and catches up with no loss', async (t) => {
  const district = await startMosquitto({ t, persistence: true });
  const { broker: city, config } = await startExampleStation(t, {
    pollMs: 200, edit: (doc) => doc.addIn(['upstreams'], { id: 'district', url: district.url, format: 'json' }),
  });

  const subscribe = async (url: string, id: string): Promise<{ seqs: Set<number>; client: MqttClient }> => {
    const seqs = new Set<number>();
    const client = await mqtt.connectAsync(url, { clientId: id, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 200 });
    t.teardown(() => client.endAsync(true));
    client.on('message', (topic, p) => { if (topic.includes('/telemetry/')) seqs.add((JSON.parse(p.toString()) as { seq: number }).seq); });
    await client.subscribeAsync(`cityedge/v1/${config.site.id}/telemetry/#`, { qos: 1 });
    return { seqs, client };
  };
  const atCity = await subscribe(city.url, 'city-platform');
  const atDistrict = await subscribe(district.url, 'district-platform');

  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  await waitFor(() => atCity.seqs.size >= 3 && atDistrict.seqs.size >= 3, { what: 'telemetry at both platforms', timeoutMs: 60_000 });

  await district.stop();
  const cityBefore = atCity.seqs.size;
  await waitFor(() => (gw.status().upstreams.district?.backlog ?? 0) >= 20, { what: 'a district backlog', timeoutMs: 60_000 });
  t.ok(atCity.seqs.size >= cityBefore + 15, `the city kept receiving while the district was down (${atCity.seqs.size - cityBefore} batches)`);
  // A batch may be in flight at any moment; held back, the city's backlog would only grow.
  await waitFor(() => gw.status().upstreams.city?.backlog === 0, { what: 'the city keeping up (no backlog)', timeoutMs: 10_000 });

  await district.restart();
  await waitFor(() => gw.status().upstreams.district?.backlog === 0 && gw.status().upstreams.district?.connected === true,
    { what: 'the district caught up', timeoutMs: 90_000 });
  const last = Math.max(...atCity.seqs);
  await waitFor(() => atDistrict.seqs.has(last), { what: 'the district has what the city has', timeoutMs: 30_000 });
  const first = Math.min(...atCity.seqs);
  const missing: number[] = [];
  for (let s = first; s <= last; s++) if (!atCity.seqs.has(s) || !atDistrict.seqs.has(s)) missing.push(s);
  t.same(missing, [], `both platforms have every batch from ${first} to ${last}`);
});
