// `cityedge sim KIND --port N`: runs one device simulator in the foreground.
import { parse } from './args.ts';

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    unit: { type: 'string' },
  }, true);
  const kind = positionals[0];
  if (kind !== 'pump-station') {
    process.stderr.write(`usage: cityedge sim pump-station [--port N] [--host H] [--unit N]\n${kind ? `unknown simulator "${kind}"\n` : ''}`);
    return 2;
  }
  const { startPumpStation } = await import('../../simulators/pump-station/index.ts');
  const host = values.host ?? '127.0.0.1';
  const sim = await startPumpStation({ host, port: Number(values.port ?? 5020), unit: Number(values.unit ?? 1) });
  console.log(`pump-station simulator listening on modbus-tcp://${host}:${sim.port} unit ${values.unit ?? 1}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.close();
  return 0;
}
