// The whole box the console shows, on loopback: the pump-station PLC (Modbus TCP), a streetlight
// cabinet (Modbus RTU over TCP), a parking lot's LoRaWAN sensors through the box's own broker, an
// RTSP camera (GStreamer, `cityedge sim camera`), Mosquitto as the city platform, and the gateway
// with its HTTP API and console. The configuration is the examples' devices and alarms, plus one
// rule that names the camera. Everything is stopped in the test's teardown, pass or fail.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../config/loader.ts';
import { hashPassword } from '../../gateway/console/password.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import { startPumpStation } from '../../simulators/pump-station/index.ts';
import { startStreetlightCabinet } from '../../simulators/streetlight/index.ts';
import { sensorList, startLorawanNs, type LorawanNs } from '../../simulators/lorawan/index.ts';
import { startMosquitto } from './mosquitto.ts';
import { spawnProcess } from './proc.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const example = (name: string) => parse(readFileSync(join(ROOT, 'config', 'examples', name), 'utf8'));

export const ADMIN = { user: 'admin', password: 'Pump-station-7' };
export const VIEWER = { user: 'viewer', password: 'Look-but-dont-touch' };
/**
 * The rule that takes a camera snapshot: the inlet sewer above a level it does not reach here, until
 * someone lowers the limit. (Not the wet well: its rules' limits must keep their order.)
 */
export const CAMERA_RULE = 'inlet_high';

export interface ConsoleStack {
  url: string;
  gw: Gateway;
  cabinet: Awaited<ReturnType<typeof startStreetlightCabinet>>;
  lorawan: LorawanNs;
}

export async function startConsoleStack(t: Test): Promise<ConsoleStack> {
  const stops: (() => unknown)[] = [];
  // Last started, first stopped: the gateway before the devices it reads.
  t.teardown(async () => { for (const stop of stops.reverse()) await Promise.resolve().then(stop).catch(() => {}); });
  // Removed last, after the gateway's final save of its alarm states (not tempDir(): its teardown
  // could run before the gateway has stopped writing there).
  const dataDir = mkdtempSync(join(tmpdir(), 'cityedge-console-'));
  stops.push(() => rmSync(dataDir, { recursive: true, force: true }));

  const broker = await startMosquitto({ t });
  const pump = await startPumpStation({ host: '127.0.0.1', port: 0, unit: 1, tickMs: 200, timeScale: 5 });
  stops.push(() => pump.close());
  const cabinet = await startStreetlightCabinet({ tcp: { host: '127.0.0.1', port: 0 }, units: [1], tickMs: 100 });
  stops.push(() => cabinet.close());
  const camera = await spawnProcess(process.execPath, [join(ROOT, 'bin', 'cityedge.mjs'), 'sim', 'camera', '--port', '0', '--width', '320', '--height', '180', '--label', 'cam1'], {
    name: 'camera-sim', readyLine: /camera simulator serving (rtsp:\/\/\S+)/, readyTimeoutMs: 60_000, t,
  });
  const cameraUrl = camera.ready![1]!;

  const lots = [{ id: 'lot-a', bays: 12, codec: 'cityedge-parking-v1' as const }];
  const sensors = sensorList({ parking: { lots } }, 7);
  const ps = example('pump-station.yaml');
  const sl = example('streetlight-cabinet.yaml');
  const plc = { ...ps.devices[0], port: pump.port, poll_ms: 500 };
  const cab = { ...sl.devices[0], tcp: { host: '127.0.0.1', port: (cabinet.endpoint as { port: number }).port }, poll_ms: 500 };
  const doc = {
    site: ps.site,
    buffer: { path: dataDir },
    upstreams: [{ id: 'city', url: broker.url, format: 'json' }],
    broker: { port: 0, users: [{ username: 'chirpstack', password_sha256: createHash('sha256').update('ns-secret').digest('hex'), publish: ['application/#'] }] },
    api: {
      host: '127.0.0.1', port: 0,
      users: [
        { name: ADMIN.user, role: 'admin', password_hash: await hashPassword(ADMIN.password) },
        { name: VIEWER.user, role: 'viewer', password_hash: await hashPassword(VIEWER.password) },
      ],
      trends: { step: '1s', keep: '1h' },
    },
    devices: [
      plc, cab,
      {
        id: 'lot-a', driver: 'lorawan', codec: 'cityedge-parking-v1', lot: '西湖文化广场 A 区', debounce_s: 0, description: '地面停车场 A 区',
        sensors: sensors.map((s) => ({ name: s.name, dev_eui: s.devEui })),
      },
      { id: 'cam1', driver: 'camera', name: '泵站进水口', url: cameraUrl, width: 320, height: 180 },
    ],
    alarms: [
      ...ps.alarms, ...sl.alarms,
      { id: CAMERA_RULE, tag: 'plc1.inlet_level', above: 4.8, deadband: 0.05, severity: 'major', camera: 'cam1', message: '进水管高液位（抓拍进水口）', message_en: 'inlet sewer high (snapshot of the inlet)' },
    ],
  };
  const config = parseConfig(stringify(doc), 'console-test.yaml');
  const gw = startGateway(config);
  stops.push(() => gw.stop());
  const { apiUrl, brokerPort } = await gw.ready();
  if (!apiUrl || brokerPort === undefined) throw new Error(`the gateway did not start its API (${apiUrl}) or broker (${brokerPort})`);

  const lorawan = await startLorawanNs({
    url: `mqtt://127.0.0.1:${brokerPort}`, username: 'chirpstack', password: 'ns-secret', parking: { lots }, seed: 7,
    tickMs: 200, timeScale: 30, duplicateRate: 0, malformedRate: 0,
  });
  stops.push(() => lorawan.close());
  // Every bay reports once now, so the lot's counts are known without waiting for heartbeats.
  for (const s of sensors) await lorawan.publishNow(s.devEui);
  return { url: apiUrl, gw, cabinet, lorawan };
}
