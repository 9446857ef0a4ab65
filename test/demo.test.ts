// `npm run demo`, the README's first command: simulator, broker and gateway come up on loopback
// and telemetry reaches the broker.
import t from 'tap';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { spawnProcess } from './helpers/proc.ts';
import { freePort } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

t.test('cityedge demo runs everything and shows data arriving', async (t) => {
  const brokerPort = await freePort();
  const plcPort = await freePort();
  const demo = await spawnProcess(process.execPath,
    [join(import.meta.dirname, '..', 'bin', 'cityedge.mjs'), 'demo', '--broker-port', String(brokerPort), '--plc-port', String(plcPort), '--opcua-port', String(await freePort()), '--console-port', String(await freePort())],
    { t, readyLine: /Ctrl-C stops everything/, readyTimeoutMs: 90_000, name: 'demo' });
  t.match(demo.output(), `modbus-tcp://127.0.0.1:${plcPort}`);
  t.match(demo.output(), `npx mqtt sub -h 127.0.0.1 -p ${brokerPort} -t 'cityedge/v1/ps-gongshu-012/#' -v`, 'prints how to watch');

  // What the printed line would show: telemetry on the demo's broker.
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'demo-watcher-test' });
  t.teardown(() => sub.endAsync(true));
  let level: unknown;
  sub.on('message', (_topic, p) => {
    const m = JSON.parse(p.toString()) as { points?: { tag: string; v: unknown }[] };
    if (_topic.endsWith('/plc1')) level = m.points?.find((x) => x.tag === 'wet_well_level')?.v ?? level;
  });
  let dissolvedOxygen: unknown;
  let freeBays: unknown;
  let loopCurrent: unknown;
  sub.on('message', (topic, p) => {
    if (topic.endsWith('/telemetry/lot-a')) freeBays = (JSON.parse(p.toString()) as { points: { tag: string; v: unknown }[] }).points.find((x) => x.tag === 'bays_free')?.v ?? freeBays;
    if (topic.endsWith('/telemetry/cab1')) loopCurrent = (JSON.parse(p.toString()) as { points: { tag: string; v: unknown }[] }).points.find((x) => x.tag === 'loop1_current')?.v ?? loopCurrent;
    if (!topic.endsWith('/telemetry/wwtp')) return;
    const m = JSON.parse(p.toString()) as { points: { tag: string; v: unknown; q: string }[] };
    dissolvedOxygen = m.points.find((x) => x.tag === 'do1' && x.q === 'good')?.v ?? dissolvedOxygen;
  });
  await sub.subscribeAsync(['cityedge/v1/ps-gongshu-012/telemetry/plc1', 'cityedge/v1/ps-gongshu-012/telemetry/wwtp',
    'cityedge/v1/ps-gongshu-012/telemetry/lot-a', 'cityedge/v1/ps-gongshu-012/telemetry/cab1']);
  await waitFor(() => typeof level === 'number', { what: 'the wet-well level on the demo broker', timeoutMs: 90_000 });
  await waitFor(() => typeof dissolvedOxygen === 'number', { what: 'the sewage plant\'s dissolved oxygen, over OPC UA', timeoutMs: 90_000 });
  await waitFor(() => typeof loopCurrent === 'number', { what: 'the streetlight cabinet\'s loop current, over Modbus RTU', timeoutMs: 90_000 });
  await waitFor(() => typeof freeBays === 'number', { what: 'the parking lot\'s free bays, from LoRaWAN uplinks', timeoutMs: 90_000 });
  // The printed HTTP API line works as printed: the token lets an engineer read the alarms.
  const curl = /curl -s -H 'authorization: Bearer (\S+)' (http:\/\/127\.0\.0\.1:\d+)\/api\/alarms/.exec(demo.output());
  t.ok(curl, 'prints how to reach the HTTP API');
  const res = await fetch(`${curl![2]}/api/alarms`, { headers: { authorization: `Bearer ${curl![1]}` } });
  t.equal(res.status, 200);
  t.ok(((await res.json()) as { alarms: unknown[] }).alarms.length >= 15, 'the example\'s alarm rules');
  t.equal((await fetch(`${curl![2]}/api/alarms`)).status, 401, 'and nothing without the token');
  // The printed console line works as printed: its password opens a session that sees the devices.
  const consoleLine = /^console: (http:\/\/127\.0\.0\.1:\d+)\/ +user admin, password (\S+)/m.exec(demo.output());
  t.ok(consoleLine, 'prints the console URL and its password');
  const login = await fetch(`${consoleLine![1]}/api/login`, { method: 'POST', body: JSON.stringify({ user: 'admin', password: consoleLine![2] }) });
  t.equal(login.status, 200, 'the printed password logs in');
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const overview = await (await fetch(`${consoleLine![1]}/api/overview`, { headers: { cookie } })).json() as { devices: { id: string }[] };
  t.ok(['plc1', 'wwtp', 'cab1', 'lot-a'].every((id) => overview.devices.some((d) => d.id === id)), 'the overview lists the demo\'s devices');
  t.match((await fetch(`${consoleLine![1]}/`)).headers.get('content-type'), /text\/html/, 'and the console page is served');
  // The printed command line, sent as printed: the gateway answers on …/cmd-result.
  const pub = /-t '(\S+\/cmd\/set-alarm)' -m '(.+)'$/m.exec(demo.output());
  t.ok(pub, 'prints how to tune an alarm over MQTT');
  const replies: { ok: boolean }[] = [];
  sub.on('message', (topic, p) => { if (topic.endsWith('/cmd-result')) replies.push(JSON.parse(p.toString()) as { ok: boolean }); });
  await sub.subscribeAsync('cityedge/v1/ps-gongshu-012/cmd-result');
  await sub.publishAsync(pub![1]!, pub![2]!, { qos: 1 });
  await waitFor(() => replies.length > 0, { what: 'the reply to the printed set-alarm', timeoutMs: 60_000 });
  t.match(replies[0], { id: 'demo-1', ok: true, result: { version: 1 } });
  await waitFor(() => /\[demo\] online=true messages=[1-9]\d* wet_well_level=\d/.test(demo.output()), { what: 'the demo summary line', timeoutMs: 60_000 });
  t.equal(await demo.kill('SIGINT'), 0, 'Ctrl-C stops it cleanly');
});
