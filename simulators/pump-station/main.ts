// Runs the pump-station simulator alone:
//   node bin/run-ts.mjs simulators/pump-station/main.ts --port 5020 [--host H] [--unit N] [--time-scale X]
import { parseArgs } from 'node:util';
import { startPumpStation } from './index.ts';

const usage = 'usage: main.ts [--port 5020] [--host 127.0.0.1] [--unit 1] [--time-scale 1]';

function intOption(text: string | undefined, name: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    console.error(`--${name} ${text}: expected an integer 0–${max}\n${usage}`);
    process.exit(2);
  }
  return n;
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      unit: { type: 'string' },
      'time-scale': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
if (values.help) { console.log(usage); process.exit(0); }

const timeScale = Number(values['time-scale'] ?? 1);
if (!(timeScale > 0)) { console.error(`--time-scale must be a positive number\n${usage}`); process.exit(2); }

const host = values.host ?? '127.0.0.1';
const unit = intOption(values.unit, 'unit', 1, 255);
const station = await startPumpStation({ host, port: intOption(values.port, 'port', 5020, 65535), unit, timeScale });
console.log(`pump-station simulator listening on modbus-tcp://${host}:${station.port} unit ${unit}`);

const stop = (): void => {
  station.close().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
