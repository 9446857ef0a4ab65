// `cityedge demo`: everything on loopback with nothing to install beyond `npm install`: the
// pump-station PLC simulator, an embedded MQTT broker (aedes) standing in for the city platform,
// and the gateway polling the one and publishing to the other.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { parseDocument } from 'yaml';
import { loadConfig } from '../../config/loader.ts';
import { startPumpStation } from '../../simulators/pump-station/index.ts';
import { startOpcuaPlant } from '../../simulators/opcua/index.ts';
import { startStreetlightCabinet } from '../../simulators/streetlight/index.ts';
import { deviceBlocks, sensorList, startLorawanNs } from '../../simulators/lorawan/index.ts';
import { startCameraSim } from '../../simulators/camera/index.ts';
import { hashPassword } from '../console/password.ts';
import { startGateway } from '../main.ts';
import { createLogger } from '../log.ts';
import { parse } from './args.ts';

const EXAMPLE = fileURLToPath(new URL('../../config/examples/pump-station.yaml', import.meta.url));
const PLANT_EXAMPLE = fileURLToPath(new URL('../../config/examples/sewage-plant.yaml', import.meta.url));
const STREET_EXAMPLE = fileURLToPath(new URL('../../config/examples/streetlight-cabinet.yaml', import.meta.url));
/** The street's battery sensors: one parking lot, a few manholes and water-logging points. */
const SENSORS = { parking: { lots: [{ id: 'lot-a', bays: 20, codec: 'cityedge-parking-v1' as const }] }, manholes: 5, waterlogging: 3 };
const SENSOR_SEED = 7;

/** Listens on the preferred port when it is free, else on any free one. */
async function listen(server: Server, preferred: number): Promise<number> {
  for (const port of [preferred, 0]) {
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) return (server.address() as { port: number }).port;
  }
  throw new Error('no free port on 127.0.0.1');
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    'broker-port': { type: 'string' },
    'plc-port': { type: 'string' },
    'opcua-port': { type: 'string' },
    'duration': { type: 'string' },
    'console-port': { type: 'string' },
  });

  const broker = await Aedes.createBroker();
  const brokerServer = createServer(broker.handle);
  const brokerPort = await listen(brokerServer, Number(values['broker-port'] ?? 1883));

  const probe = createServer();
  const wantPlc = await listen(probe, Number(values['plc-port'] ?? 5020));
  await new Promise<void>((r) => probe.close(() => r()));
  // Ten simulated seconds per second, so pumps start and stop while someone watches.
  const plc = await startPumpStation({ host: '127.0.0.1', port: wantPlc, timeScale: 10 });

  const dir = mkdtempSync(join(tmpdir(), 'cityedge-demo-'));
  const probe2 = createServer();
  const wantOpcua = await listen(probe2, Number(values['opcua-port'] ?? 4840));
  await new Promise<void>((r) => probe2.close(() => r()));
  // The OPC UA simulator's library warns on the console (W27, about a cipher neither side uses here);
  // the gateway routes those warnings into its log once it loads the library itself.
  (await import('node-opcua')).setWarningLogger(() => {});
  const plant = await startOpcuaPlant({ port: wantOpcua, timeScale: 10, pkiDir: join(dir, 'opcua-server-pki') });
  const cabinet = await startStreetlightCabinet({ tcp: { host: '127.0.0.1', port: 0 }, units: [1], timeScale: 10 });

  // The demo runs the example configurations themselves, pointed at the ports it got: the pump
  // station's whole file, and the sewage plant's OPC UA device with its alarms added to it.
  const doc = parseDocument(readFileSync(EXAMPLE, 'utf8'));
  doc.setIn(['devices', 0, 'port'], plc.port);
  doc.setIn(['devices', 0, 'host'], '127.0.0.1');
  doc.setIn(['upstreams', 0, 'url'], `mqtt://127.0.0.1:${brokerPort}`);
  doc.setIn(['upstreams', 0, 'protocol_version'], 4); // aedes speaks MQTT 3.1.1 only
  doc.setIn(['buffer', 'path'], join(dir, 'data'));
  const plantDoc = parseDocument(readFileSync(PLANT_EXAMPLE, 'utf8'));
  plantDoc.setIn(['devices', 0, 'endpoint'], plant.endpointUrl);
  doc.addIn(['devices'], plantDoc.getIn(['devices', 0]));
  for (const alarm of (plantDoc.get('alarms') as { items: unknown[] }).items) doc.addIn(['alarms'], alarm);
  const streetDoc = parseDocument(readFileSync(STREET_EXAMPLE, 'utf8'));
  streetDoc.setIn(['devices', 0, 'tcp', 'port'], (cabinet.endpoint as { port: number }).port);
  doc.addIn(['devices'], streetDoc.getIn(['devices', 0]));
  for (const alarm of (streetDoc.get('alarms') as { items: unknown[] }).items) doc.addIn(['alarms'], alarm);
  doc.addIn(['upstreams', 0, 'commands'], 'write');
  // The box's own broker, for the street's LoRaWAN network server (simulated below).
  const nsPassword = randomBytes(12).toString('base64url');
  doc.set('broker', { host: '127.0.0.1', port: 0, users: [{ username: 'chirpstack', password_sha256: createHash('sha256').update(nsPassword).digest('hex'), publish: ['application/#'] }] });
  for (const b of deviceBlocks(sensorList(SENSORS, SENSOR_SEED))) {
    doc.addIn(['devices'], {
      id: b.id, driver: 'lorawan', codec: b.codec, ...(b.id.startsWith('lot-') ? { lot: b.id } : {}), heartbeat_s: 600,
      sensors: b.sensors.map((x) => ({ name: x.name, dev_eui: x.devEui })),
    });
  }
  // A camera at the pump station's gate, when Debian's GStreamer is there to play one (the demo
  // needs nothing beyond npm install; video is the one part that needs more).
  const camera = await startCameraSim({ port: 0, label: 'ps-gongshu-012 gate' }).catch((e: Error) => e);
  if (!(camera instanceof Error)) {
    doc.addIn(['devices'], { id: 'cam1', driver: 'camera', name: '进水闸门', url: camera.url, width: 640, height: 360 });
    doc.setIn(['alarms', 0, 'camera'], 'cam1');
    doc.setIn(['alarms', 1, 'camera'], 'cam1');
  }
  // An engineer's token and the console's admin password for this run only, printed below; the
  // config keeps their hashes.
  const token = randomBytes(24).toString('base64url');
  const adminPassword = randomBytes(9).toString('base64url');
  const probe3 = createServer();
  const consolePort = await listen(probe3, Number(values['console-port'] ?? 8080));
  await new Promise<void>((r) => probe3.close(() => r()));
  doc.set('api', {
    host: '127.0.0.1', port: consolePort, users: [
      { name: 'admin', role: 'admin', password_hash: await hashPassword(adminPassword) },
      { name: 'demo-engineer', role: 'engineer', token_sha256: createHash('sha256').update(token).digest('hex') },
    ],
  });
  const configFile = join(dir, 'pump-station.yaml');
  writeFileSync(configFile, doc.toString());
  const config = loadConfig(configFile);

  const gw = startGateway(config, { logger: createLogger(process.env.CITYEDGE_LOG_LEVEL ?? 'warn') });
  const prefix = `cityedge/v1/${config.site.id}`;
  const { apiUrl, brokerPort: boxBroker } = await gw.ready();
  // A minute of the street's life per second, so cars come and go while someone watches.
  const ns = await startLorawanNs({ url: `mqtt://127.0.0.1:${boxBroker}`, username: 'chirpstack', password: nsPassword, ...SENSORS, seed: SENSOR_SEED, timeScale: 60 });

  // Our own subscriber, so the demo shows that data arrives, not only that it was sent.
  const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'cityedge-demo-watcher' });
  let messages = 0;
  let lastLevel: unknown;
  let lastDo: unknown;
  let freeBays: unknown;
  let online: unknown;
  watcher.on('message', (topic, payload) => {
    messages++;
    try {
      const msg = JSON.parse(payload.toString()) as { online?: boolean; points?: { tag: string; v: unknown }[] };
      if (topic.endsWith('/status')) online = msg.online;
      const level = msg.points?.find((p) => p.tag === 'wet_well_level');
      if (level && topic.endsWith('/plc1')) lastLevel = level.v;
      const dissolved = msg.points?.find((p) => p.tag === 'do1');
      if (dissolved) lastDo = dissolved.v;
      const free = msg.points?.find((p) => p.tag === 'bays_free');
      if (free) freeBays = free.v;
    } catch { /* not ours to judge here */ }
  });
  await watcher.subscribeAsync(`${prefix}/#`);

  process.stdout.write([
    'cityedge demo is running on loopback:',
    `  pump-station PLC simulator   modbus-tcp://127.0.0.1:${plc.port} unit 1`,
    `  sewage plant (OPC UA)        ${plant.endpointUrl}   (cityedge browse ${plant.endpointUrl})`,
    `  streetlight cabinet (RTU)    rtu-over-tcp://127.0.0.1:${(cabinet.endpoint as { port: number }).port} unit 1`,
    `  LoRaWAN network server       ${SENSORS.parking.lots[0]!.bays} parking bays, ${SENSORS.manholes} manholes, ${SENSORS.waterlogging} water-logging points → the box's broker mqtt://127.0.0.1:${boxBroker}`,
    `  platform broker (aedes)      mqtt://127.0.0.1:${brokerPort}`,
    `  gateway config               ${configFile}`,
    `  camera (RTSP)                ${camera instanceof Error ? `not started: ${camera.message.split('\n')[0]}` : camera.url}`,
    '',
    `console: ${apiUrl ?? '(not listening)'}/   user admin, password ${adminPassword}   (this run only)`,
    '',
    'watch the telemetry:',
    `  npx mqtt sub -h 127.0.0.1 -p ${brokerPort} -t '${prefix}/#' -v`,
    'check the configuration and its read plan:',
    `  npx cityedge check --config ${configFile}`,
    'the alarms, through the HTTP API (token for this run only):',
    `  curl -s -H 'authorization: Bearer ${token}' ${apiUrl ?? '(not listening)'}/api/alarms`,
    'switch streetlight loop 1 off as the lighting platform would (confirmed by read-back, on …/cmd-result):',
    `  npx mqtt pub -h 127.0.0.1 -p ${brokerPort} -t '${prefix}/cmd/write' -m '{"id":"demo-2","user":"demo","device":"cab1","tag":"loop1_on","value":false}'`,
    'tune an alarm as the city platform would (the reply arrives on …/cmd-result):',
    `  npx mqtt pub -h 127.0.0.1 -p ${brokerPort} -t '${prefix}/cmd/set-alarm' -m '{"id":"demo-1","user":"demo","rule":"wet_well_h","above":4.2}'`,
    '',
    'Ctrl-C stops everything.',
    '',
  ].join('\n'));

  const summary = setInterval(() => {
    const st = gw.status();
    const dev = st.devices.plc1;
    process.stdout.write(`[demo] online=${String(online)} messages=${messages} wet_well_level=${String(lastLevel)} m plant_do=${String(lastDo)} mg/L lot_a_free=${String(freeBays)} ` +
      `scans=${dev?.scans ?? 0} requests/scan=${dev?.requestsPerScan ?? 0} backlog=${st.upstreams.city?.backlog ?? 0}\n`);
  }, 5000);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    if (values.duration) setTimeout(resolve, Number(values.duration) * 1000);
  });
  clearInterval(summary);
  await ns.close();
  await gw.stop();
  await watcher.endAsync();
  await plc.close();
  await plant.close();
  await cabinet.close();
  if (!(camera instanceof Error)) await camera.close();
  await new Promise<void>((r) => broker.close(() => r()));
  brokerServer.close();
  rmSync(dir, { recursive: true, force: true });
  return 0;
}
