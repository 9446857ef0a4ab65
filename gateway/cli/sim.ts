// `cityedge sim KIND --port N`: runs one device simulator in the foreground.
import { parse, UsageError } from './args.ts';

const USAGE = `usage: cityedge sim pump-station [--port N] [--host H] [--unit N]
       cityedge sim opcua [--port N] [--host H] [--bulk N] [--user NAME:PASSWORD]… [--pki DIR] [--time-scale X]
       cityedge sim streetlights (--tcp-port N [--host H] | --serial PATH [--baud 9600]) [--units 1,2,3] [--loops 4] [--silent 3] [--time-scale X]
`;

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
  }, true);
  const kind = positionals[0];
  if (kind !== 'pump-station' && kind !== 'opcua' && kind !== 'streetlights') {
    process.stderr.write(`${USAGE}${kind ? `unknown simulator "${kind}"\n` : ''}`);
    return 2;
  }
  const host = values.host ?? '127.0.0.1';
  const timeScale = Number(values['time-scale'] ?? 1);
  if (!(timeScale > 0)) throw new UsageError(`--time-scale ${values['time-scale']}: expected a positive number`);
  let sim: { close(): Promise<void> };
  if (kind === 'pump-station') {
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
  await sim.close();
  return 0;
}
