// A sewage plant's OPC UA server to the city platform, end to end: its values reach Mosquitto as
// telemetry with their OPC UA source times; the plant's server goes away and the box raises its
// communication-loss alarm; it comes back on the same port and the data and the alarm's return
// follow, with no restart of the gateway.
import t from 'tap';
import mqtt from 'mqtt';
import { parseConfig } from '../config/loader.ts';
import { startGateway } from '../gateway/main.ts';
import { startOpcuaPlant } from '../simulators/opcua/index.ts';
import { startMosquitto } from './helpers/mosquitto.ts';
import { tempDir } from './helpers/temp.ts';
import { waitFor } from './helpers/wait.ts';

interface Telemetry { device: string; historical: boolean; points: { tag: string; v: unknown; q: string; t: number }[] }
interface Alarm { rule: string; state: string }

t.test('plant values at the platform; the server lost and found again', async (t) => {
  const broker = await startMosquitto({ t });
  const pki = tempDir(t, 'cityedge-e2e-opcua-pki-');
  let plant = await startOpcuaPlant({ port: 0, pkiDir: pki });
  const port = plant.port;
  t.teardown(() => plant.close());
  const config = parseConfig(`
site: { id: wwtp-xihu-01, grid: "330106001001001" }
buffer: { path: ${JSON.stringify(tempDir(t, 'cityedge-e2e-opcua-'))} }
upstreams:
  - { id: city, url: "${broker.url}" }
devices:
  - id: plant
    driver: opcua
    endpoint: ${plant.endpointUrl}
    poll_ms: 500
    tags:
      - { name: wet_well_level, node: "ns=1;s=Plant.InletPS.WetWell.Level", deadband: 0.001 }
      - { name: do1, path: "/Objects/1:Plant/1:Aeration/1:DO" }
      - { name: energy, node: "ns=1;s=Plant.Energy.Total" }
alarms:
  - { id: plant_comm_loss, device: plant, comm_loss_s: 3, severity: critical, message: 污水厂 OPC UA 通信中断 }
`, 'wwtp.yaml');

  const telemetry: Telemetry[] = [];
  const alarms: Alarm[] = [];
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'platform' });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, p) => {
    if (topic.endsWith('/telemetry/plant')) telemetry.push(JSON.parse(p.toString()) as Telemetry);
    else if (topic.endsWith('/alarms')) alarms.push(JSON.parse(p.toString()) as Alarm);
  });
  await sub.subscribeAsync('cityedge/v1/wwtp-xihu-01/#', { qos: 1 });

  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  const points = () => telemetry.flatMap((m) => m.points);
  await waitFor(() => ['wet_well_level', 'do1', 'energy'].every((tag) => points().some((p) => p.tag === tag && p.q === 'good')), { what: 'good plant values at the platform', timeoutMs: 60_000 });
  const energy = points().filter((p) => p.tag === 'energy');
  t.ok(energy.every((p) => typeof p.v === 'number'), 'numbers');
  t.ok(Math.abs(energy.at(-1)!.t - Date.now()) < 10_000, 'with the plant\'s own timestamps');

  await plant.close();
  const lostAt = telemetry.length;
  await waitFor(() => alarms.some((a) => a.rule === 'plant_comm_loss' && a.state === 'active'), { what: 'the communication-loss alarm', timeoutMs: 60_000 });
  t.ok(telemetry.slice(lostAt).some((m) => m.points.some((p) => p.q === 'bad')), 'the platform saw the values turn bad');

  plant = await startOpcuaPlant({ port, pkiDir: pki });
  const backAt = telemetry.length;
  await waitFor(() => alarms.some((a) => a.rule === 'plant_comm_loss' && a.state === 'rtn_unack'), { what: 'the alarm returning', timeoutMs: 90_000 });
  await waitFor(() => telemetry.slice(backAt).some((m) => m.points.some((p) => p.tag === 'energy' && p.q === 'good')), { what: 'good values again', timeoutMs: 60_000 });
  t.equal(gw.status().devices.plant?.online, true, 'the device is online again');
});
