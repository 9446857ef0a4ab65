// A broker outage while the gateway keeps polling: what was measured meanwhile waits in the
// journal and arrives after the broker returns, marked historical, with no seq missing.
import t from 'tap';
import mqtt from 'mqtt';
import { waitFor } from './helpers/wait.ts';
import { startExampleStation } from './helpers/example-config.ts';
import { startGateway } from '../gateway/main.ts';

interface Telemetry { device: string; seq: number; historical: boolean; points: { t: number }[] }

t.test('broker down for a while: backlog replayed as historical, nothing missing', async (t) => {
  // Persistence lets the platform subscriber's session survive the broker restart, so anything
  // missing afterwards is the gateway's fault, not the subscriber's.
  const { broker, plc, config } = await startExampleStation(t, { pollMs: 200, persistence: true });

  const got = new Map<number, Telemetry>();
  const sub = await mqtt.connectAsync(broker.url, {
    clientId: 'platform-outage', protocolVersion: 5, clean: false,
    properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 200,
  });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, payload) => {
    if (!topic.includes('/telemetry/')) return;
    const m = JSON.parse(payload.toString()) as Telemetry;
    got.set(m.seq, m);
  });
  await sub.subscribeAsync(`cityedge/v1/${config.site.id}/telemetry/#`, { qos: 1 });

  const gw = startGateway(config, { });
  t.teardown(() => gw.stop());
  await waitFor(() => got.size >= 3, { what: 'live telemetry', timeoutMs: 60_000 });

  await broker.stop();
  // Long enough that the oldest waiting batches are past the 5 s live grace: they are the backlog.
  await waitFor(() => {
    const st = gw.status();
    return (st.upstreams.city?.backlog ?? 0) >= 10 && Date.now() - (st.journal.oldestTs ?? Date.now()) > 8000;
  }, { what: 'a backlog older than 8 s', timeoutMs: 60_000 });
  await broker.restart();
  await waitFor(() => gw.status().upstreams.city?.connected === true && gw.status().upstreams.city?.backlog === 0,
    { what: 'backlog drained', timeoutMs: 90_000 });
  const reconnectedBy = Date.now();
  const liveCount = got.size;
  await waitFor(() => got.size > liveCount, { what: 'live telemetry after the outage', timeoutMs: 30_000 });
  await waitFor(() => [...got.values()].some((m) => m.historical), { what: 'historical batches', timeoutMs: 30_000 });

  const seqs = [...got.keys()].sort((a, b) => a - b);
  const missing = seqs.slice(1).filter((s, i) => s !== seqs[i]! + 1);
  t.same(missing, [], `no seq missing between ${seqs[0]} and ${seqs.at(-1)} (${seqs.length} batches)`);
  const historical = [...got.values()].filter((m) => m.historical);
  t.ok(historical.length >= 10, `${historical.length} batches replayed as historical`);
  t.ok(historical.every((m) => m.points.every((p) => p.t <= reconnectedBy)), 'historical batches hold readings from before the reconnect');
  const last = got.get(seqs.at(-1)!)!;
  t.equal(last.historical, false, 'live batches after the replay are not historical');
  t.equal(got.get(seqs[0]!)?.historical, false, 'batches sent while connected were live');
  // With the PLC quiet (one last batch says its tags went bad), nothing new comes in: everything the
  // broker acknowledged must leave the journal (at its next timed commit).
  await plc.close();
  await waitFor(() => gw.status().journal.records === 0 && gw.status().upstreams.city?.backlog === 0,
    { what: 'the journal emptied once the broker acknowledged everything', timeoutMs: 30_000 });
});
