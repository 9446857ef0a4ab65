// `cityedge sim KIND --port N`: runs one device simulator in the foreground.
import { parse, UsageError } from './args.ts';
import type { ParkingCodec } from '../../simulators/lorawan/index.ts';

const USAGE = `usage: cityedge sim pump-station [--port N] [--host H] [--unit N]
       cityedge sim opcua [--port N] [--host H] [--bulk N] [--user NAME:PASSWORD]… [--pki DIR] [--time-scale X]
       cityedge sim streetlights (--tcp-port N [--host H] | --serial PATH [--baud 9600]) [--units 1,2,3] [--loops 4] [--silent 3] [--time-scale X]
       cityedge sim lorawan --url mqtt://HOST:PORT [--username U --password P] [--lots 2 --bays 50] [--parking-codec C] [--manholes 20]
                            [--waterlogging 10] [--format v4|v3] [--decoded] [--time-scale X] [--malformed-rate R] [--duplicate-rate R]
                            [--seed N] [--application-id ID] [--rate SECONDS] [--summary-s 60] [--print-config]
       cityedge sim camera [--port 8554] [--host H] [--path /cam1] [--width 640 --height 360] [--fps 10] [--label TEXT]
`;

/** A probability (fault rates). */
function rate(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !(n >= 0 && n <= 1)) throw new UsageError(`--${name} ${text}: expected a number 0–1`);
  return n;
}

function count(text: string | undefined, name: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new UsageError(`--${name} ${text}: expected an integer 0–${max}`);
  return n;
}

/** A comma-separated list of Modbus RTU slave addresses (1–247). */
function unitList(text: string | undefined, name: string, fallback: number[]): number[] {
  if (text === undefined) return fallback;
  return text.split(',').map((part) => {
    const n = Number(part.trim());
    if (part.trim() === '' || !Number.isInteger(n) || n < 1 || n > 247) throw new UsageError(`--${name} ${text}: expected unit ids 1–247, comma-separated`);
    return n;
  });
}

/**
 * The RTSP camera runs in Debian's python3 (GStreamer's RTSP server): signals are passed on to it,
 * and the command ends when it does, with its status.
 */
async function camera(v: { host: string; port?: string; path?: string; width?: string; height?: string; fps?: string; label?: string }): Promise<number> {
  const width = count(v.width, 'width', 640, 4096);
  const height = count(v.height, 'height', 360, 4096);
  const fps = count(v.fps, 'fps', 10, 60);
  const { startCameraSim } = await import('../../simulators/camera/index.ts');
  const cam = await startCameraSim({
    host: v.host, port: count(v.port, 'port', 8554, 65535), path: v.path ?? '/cam1', width, height, fps, label: v.label ?? '',
    onLine: (line, stream) => (stream === 'err' ? console.error : console.log)(`[camera] ${line}`),
  });
  // Tests wait for this line.
  console.log(`camera simulator serving ${cam.url} (H.264 ${width}x${height} at ${fps} fps, one encoder shared by every client)`);
  let stopping = false;
  const forward = (sig: NodeJS.Signals): void => { stopping = true; cam.kill(sig); };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const status = await cam.exited;
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  if (!stopping) console.error(`camera simulator: the RTSP server exited (status ${status})`);
  // Stopped by our signal: a clean stop, however the server ended.
  if (stopping) return status === 0 || status > 128 ? 0 : status;
  return status || 1;
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    unit: { type: 'string' },
    bulk: { type: 'string' },
    user: { type: 'string', multiple: true },
    pki: { type: 'string' },
    'time-scale': { type: 'string' },
    'tcp-port': { type: 'string' },
    serial: { type: 'string' },
    baud: { type: 'string' },
    units: { type: 'string' },
    loops: { type: 'string' },
    silent: { type: 'string' },
    url: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    lots: { type: 'string' },
    bays: { type: 'string' },
    'parking-codec': { type: 'string' },
    manholes: { type: 'string' },
    waterlogging: { type: 'string' },
    format: { type: 'string' },
    decoded: { type: 'boolean' },
    'malformed-rate': { type: 'string' },
    'duplicate-rate': { type: 'string' },
    seed: { type: 'string' },
    'application-id': { type: 'string' },
    rate: { type: 'string' },
    'summary-s': { type: 'string' },
    'print-config': { type: 'boolean' },
    path: { type: 'string' },
    width: { type: 'string' },
    height: { type: 'string' },
    fps: { type: 'string' },
    label: { type: 'string' },
  }, true);
  const kind = positionals[0];
  if (kind !== 'pump-station' && kind !== 'opcua' && kind !== 'streetlights' && kind !== 'lorawan' && kind !== 'camera') {
    process.stderr.write(`${USAGE}${kind ? `unknown simulator "${kind}"\n` : ''}`);
    return 2;
  }
  const host = values.host ?? '127.0.0.1';
  if (kind === 'camera') {
    return camera({ host, port: values.port, path: values.path, width: values.width, height: values.height, fps: values.fps, label: values.label });
  }
  const timeScale = Number(values['time-scale'] ?? 1);
  if (!(timeScale > 0)) throw new UsageError(`--time-scale ${values['time-scale']}: expected a positive number`);
  let sim: { close(): Promise<void> };
  let summary: NodeJS.Timeout | undefined;
  if (kind === 'lorawan') {
    const codec = (values['parking-codec'] ?? 'cityedge-parking-v1') as ParkingCodec;
    if (codec !== 'cityedge-parking-v1' && codec !== 'bosch-pls') throw new UsageError(`--parking-codec ${codec}: expected cityedge-parking-v1 or bosch-pls`);
    const format = values.format ?? 'v4';
    if (format !== 'v4' && format !== 'v3') throw new UsageError(`--format ${format}: expected v4 or v3`);
    const bays = count(values.bays, 'bays', 50, 100_000);
    // Lots lot-a, lot-b…: the device ids the printed config uses.
    const lots = Array.from({ length: count(values.lots, 'lots', 2, 1000) }, (_, i) => ({ id: `lot-${i < 26 ? String.fromCharCode(97 + i) : i + 1}`, bays, codec }));
    const spec = { parking: { lots }, manholes: count(values.manholes, 'manholes', 20, 100_000), waterlogging: count(values.waterlogging, 'waterlogging', 10, 100_000) };
    const seed = count(values.seed, 'seed', 1, 0xffffffff);
    const { startLorawanNs, sensorList, sensorConfigYaml } = await import('../../simulators/lorawan/index.ts');
    if (values['print-config']) {
      process.stdout.write(sensorConfigYaml(sensorList(spec, seed)));
      return 0;
    }
    if (values.url === undefined) throw new UsageError('lorawan: give --url mqtt://HOST:PORT of the broker (or --print-config)');
    const periodS = values.rate === undefined ? undefined : Number(values.rate);
    if (periodS !== undefined && !(periodS >= 0)) throw new UsageError(`--rate ${values.rate}: expected seconds ≥ 0`);
    const ns = await startLorawanNs({
      url: values.url, ...spec, seed, format, decoded: values.decoded ?? false, timeScale,
      ...(values.username === undefined ? {} : { username: values.username }),
      ...(values.password === undefined ? {} : { password: values.password }),
      ...(values['application-id'] === undefined ? {} : { applicationId: values['application-id'] }),
      ...(periodS === undefined ? {} : { rate: { periodS } }),
      malformedRate: rate(values['malformed-rate'], 'malformed-rate', 0.005),
      duplicateRate: rate(values['duplicate-rate'], 'duplicate-rate', 0.01),
    });
    const shown = new URL(values.url);
    shown.password = ''; // the broker's address without any password in it
    // Tests wait for this line.
    console.log(`lorawan network-server simulator publishing to ${shown.href.replace(/\/$/, '')} as ChirpStack ${format} ` +
      `(application ${ns.applicationId}; ${lots.length * bays} parking bays in ${lots.length} lots, ${spec.manholes} manholes, ` +
      `${spec.waterlogging} water-logging points; ${periodS === undefined ? `time scale ${timeScale}` : `rate: each every ${periodS} s`})`);
    let last = ns.stats();
    const everyS = Number(values['summary-s'] ?? 60);
    if (!(everyS > 0)) throw new UsageError(`--summary-s ${values['summary-s']}: expected seconds > 0`);
    summary = setInterval(() => {
      const st = ns.stats();
      const malformed = Object.values(st.malformed).reduce((a, b) => a + b, 0);
      console.log(`[lorawan] uplinks parking=${st.uplinks.parking} manhole=${st.uplinks.manhole} waterlogging=${st.uplinks.waterlogging} ` +
        `duplicates=${st.duplicates} malformed=${malformed} published=${st.published} (${((st.published - last.published) / everyS).toFixed(1)}/s) ` +
        `behind=${st.behind} errors=${st.errors}${st.connected ? '' : ' (disconnected, reconnecting)'}`);
      last = st;
    }, everyS * 1000);
    sim = ns;
  } else if (kind === 'pump-station') {
    const { startPumpStation } = await import('../../simulators/pump-station/index.ts');
    const ps = await startPumpStation({ host, port: Number(values.port ?? 5020), unit: Number(values.unit ?? 1), timeScale });
    console.log(`pump-station simulator listening on modbus-tcp://${host}:${ps.port} unit ${values.unit ?? 1}`);
    sim = ps;
  } else if (kind === 'streetlights') {
    if ((values['tcp-port'] === undefined) === (values.serial === undefined)) throw new UsageError('streetlights: give one of --tcp-port N and --serial PATH');
    const units = unitList(values.units, 'units', [1]);
    const silent = unitList(values.silent, 'silent', []);
    const baud = count(values.baud, 'baud', 9600, 4_000_000);
    const { startStreetlightCabinet } = await import('../../simulators/streetlight/index.ts');
    const cab = await startStreetlightCabinet({
      ...(values.serial === undefined
        ? { tcp: { host, port: count(values['tcp-port'], 'tcp-port', 0, 65535) } }
        : { serial: { path: values.serial, baud } }),
      units, silentUnits: silent, loops: count(values.loops, 'loops', 4, 16), timeScale,
    });
    const where = cab.endpoint.transport === 'tcp'
      ? `rtu-over-tcp://${cab.endpoint.host}:${cab.endpoint.port}`
      : `serial ${cab.endpoint.path} ${cab.endpoint.baudRate} 8N1`;
    // Tests wait for this line.
    console.log(`streetlight cabinet simulator listening on ${where} units ${units.join(',')} ` +
      `(${cab.loops} loops each${silent.length ? `; silent ${silent.join(',')}` : ''})`);
    sim = cab;
  } else {
    const users = (values.user ?? []).map((u) => {
      const colon = u.indexOf(':');
      if (colon <= 0) throw new UsageError(`--user ${u}: expected NAME:PASSWORD`);
      return { username: u.slice(0, colon), password: u.slice(colon + 1) };
    });
    const { startOpcuaPlant } = await import('../../simulators/opcua/index.ts');
    const plant = await startOpcuaPlant({
      host, port: count(values.port, 'port', 4840, 65535), bulk: count(values.bulk, 'bulk', 0, 100_000),
      users, timeScale, ...(values.pki === undefined ? {} : { pkiDir: values.pki }),
    });
    // Tests wait for this line; the names of the users are shown, never their passwords.
    console.log(`opcua sewage-plant simulator listening on ${plant.endpointUrl} ` +
      `(security None, Sign, SignAndEncrypt Basic256Sha256; anonymous${users.length ? `, users ${users.map((u) => u.username).join(' ')}` : ''}; ` +
      `bulk ${plant.bulkNodeIds.length}; pki ${plant.pkiDir})`);
    sim = plant;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(summary);
  await sim.close();
  return 0;
}
