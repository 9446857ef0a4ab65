// A streetlight cabinet obeys the city's lighting platform, end to end: the example configuration,
// the cabinet simulator behind an RTU-over-TCP converter, Debian's Mosquitto. The platform switches a
// loop off and dims another over MQTT 5; each write is read back and answered with the value the
// controller holds; the loop's current follows in the telemetry. Writes outside the allow-list are
// refused with a reason; a contactor that does not pull in raises its alarm.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseDocument } from 'yaml';
import { parseConfig } from '../config/loader.ts';
import { startGateway } from '../gateway/main.ts';
import { startStreetlightCabinet } from '../simulators/streetlight/index.ts';
import { startMosquitto } from './helpers/mosquitto.ts';
import { tempDir } from './helpers/temp.ts';
import { waitFor } from './helpers/wait.ts';

const EXAMPLE = join(import.meta.dirname, '..', 'config', 'examples', 'streetlight-cabinet.yaml');
interface Reply { id: string; ok: boolean; result?: { value: unknown }; error?: { code: string; message: string } }

t.test('loops switched and dimmed from the platform, confirmed by read-back', async (t) => {
  const broker = await startMosquitto({ t });
  const cab = await startStreetlightCabinet({ tcp: { host: '127.0.0.1', port: 0 }, units: [1], tickMs: 100 });
  t.teardown(() => cab.close());
  const doc = parseDocument(readFileSync(EXAMPLE, 'utf8'));
  doc.setIn(['devices', 0, 'tcp', 'port'], (cab.endpoint as { port: number }).port);
  doc.setIn(['devices', 0, 'poll_ms'], 300);
  doc.setIn(['upstreams', 0, 'url'], broker.url);
  doc.setIn(['buffer', 'path'], tempDir(t, 'cityedge-e2e-street-'));
  const config = parseConfig(doc.toString(), 'streetlight.yaml');
  const site = config.site.id;

  const points: { tag: string; v: unknown }[] = [];
  const alarms: { rule: string; state: string }[] = [];
  const replies = new Map<string, Reply>();
  const platform = await mqtt.connectAsync(broker.url, { clientId: 'lighting-platform', protocolVersion: 5 });
  t.teardown(() => platform.endAsync(true));
  platform.on('message', (topic, p) => {
    const body = JSON.parse(p.toString());
    if (topic.endsWith('/telemetry/cab1')) points.push(...(body as { points: typeof points }).points);
    else if (topic.endsWith('/alarms')) alarms.push(body);
    else if (topic === 'lighting/replies') replies.set(body.id, body as Reply);
  });
  await platform.subscribeAsync([`cityedge/v1/${site}/telemetry/cab1`, `cityedge/v1/${site}/alarms`, 'lighting/replies'], { qos: 1 });
  const write = async (id: string, tag: string, value: unknown) => {
    await platform.publishAsync(`cityedge/v1/${site}/cmd/write`, JSON.stringify({ id, user: 'night-shift-chen', device: 'cab1', tag, value }), { qos: 1, properties: { responseTopic: 'lighting/replies' } });
    await waitFor(() => replies.has(id), { what: `the reply to ${id}`, timeoutMs: 60_000 });
    return replies.get(id)!;
  };
  const last = (tag: string) => points.filter((p) => p.tag === tag).at(-1)?.v;

  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  await waitFor(() => typeof last('loop1_current') === 'number' && (last('loop1_current') as number) > 5, { what: 'loop 1 lit at the platform', timeoutMs: 60_000 });
  // The gateway subscribes to commands right after connecting: resend the first until it answers.
  await waitFor(async () => {
    await platform.publishAsync(`cityedge/v1/${site}/cmd/write`, JSON.stringify({ id: 'probe', user: 'x', device: 'cab1', tag: 'loop4_on', value: true }), { qos: 1, properties: { responseTopic: 'lighting/replies' } });
    return replies.has('probe');
  }, { what: 'commands answered', timeoutMs: 60_000, intervalMs: 1000 });

  t.match(await write('off-1', 'loop1_on', false), { ok: true, result: { value: false } }, 'loop 1 off, confirmed');
  await waitFor(() => last('loop1_current') === 0, { what: 'loop 1 dark in the telemetry', timeoutMs: 60_000 });
  t.match(await write('dim-2', 'loop2_dim', 50), { ok: true, result: { value: 50 } });
  await waitFor(() => (last('loop2_power') as number) < 2000, { what: 'loop 2 at half power', timeoutMs: 60_000 });
  t.match(await write('dim-3', 'loop3_dim', 45), { ok: false, error: { code: 'CE_ERR_WRITE_RANGE', message: /not one of 0, 30, 50, 70, 100/ } }, 'only the dim steps the cabinet is set up for');
  t.match(await write('v-1', 'voltage_a', 220), { ok: false, error: { code: 'CE_ERR_WRITE_FORBIDDEN' } }, 'a measurement is not writable');
  t.match(await write('x-1', 'loop9_on', true), { ok: false, error: { code: 'CE_ERR_WRITE_FORBIDDEN' } }, 'nor a tag the cabinet does not have');

  // Loop 1 commanded on again, but its contactor has failed: the condition rule sees it.
  cab.physics.get(1)!.setRelayFailure(1, true);
  t.match(await write('on-1', 'loop1_on', true), { ok: true, result: { value: true } }, 'the command reads back as written');
  await waitFor(() => alarms.some((a) => a.rule === 'loop1_relay_failure' && a.state === 'active'), { what: 'the contactor failure alarm', timeoutMs: 90_000 });
  t.equal(last('loop1_current'), 0, 'and the loop stays dark');
  t.match(gw.status().commands, { accepted: 4 });
});
