// The floor the gateway is compared with: modbus-serial alone, polling the same PLCs on the same
// schedule with the same requests (ceil(tags / 125) reads of 125 holding registers per PLC per
// scan, the protocol maximum of Application Protocol §6.3), and doing nothing with the answers: no
// decoding, no report by exception, no journal, no MQTT.
//   node bin/run-ts.mjs bench/lib/raw-modbus-loop.ts --ports 5020,5021 --tags 500 --poll-ms 1000
// Prints READY once every connection is open, then polls until SIGTERM or stdin closes.
import { parseArgs } from 'node:util';
import ModbusSerial from 'modbus-serial';

// modbus-serial is CommonJS typed as an ES default export: under NodeNext the class is `.default`.
const ModbusRTU = ModbusSerial.default;

const { values: flags } = parseArgs({
  options: {
    ports: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    tags: { type: 'string', default: '500' },
    'poll-ms': { type: 'string', default: '1000' },
  },
});
const ports = (flags.ports ?? '').split(',').filter(Boolean).map(Number);
const TAGS = Number(flags.tags);
const POLL_MS = Number(flags['poll-ms']);
const MAX_REGISTERS = 125;

const stop = new AbortController();
const sleep = (ms: number) => new Promise<void>((r) => { const t = setTimeout(r, ms); stop.signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true }); });

const clients = await Promise.all(ports.map(async (port) => {
  const c = new ModbusRTU();
  await c.connectTCP(flags.host!, { port });
  c.setID(1);
  c.setTimeout(1000);
  return c;
}));
process.stdout.write(`READY ${clients.length}\n`);

let errors = 0;
// Same pacing as the gateway's scheduler: devices staggered across the period, fixed cadence, a
// late scan skips the slots it missed rather than bunching up.
const t0 = performance.now();
const loops = clients.map(async (c, i) => {
  let next = t0 + Math.floor((i * POLL_MS) / clients.length);
  while (!stop.signal.aborted) {
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    if (stop.signal.aborted) break;
    for (let start = 0; start < TAGS; start += MAX_REGISTERS) {
      try {
        await c.readHoldingRegisters(start, Math.min(MAX_REGISTERS, TAGS - start));
      } catch (e) {
        if (errors++ < 5) process.stderr.write(`raw loop: port ${ports[i]} hr:${start}: ${(e as Error).message}\n`);
      }
    }
    next += POLL_MS;
    const now = performance.now();
    if (now > next) next += Math.ceil((now - next) / POLL_MS) * POLL_MS;
  }
});

const shutdown = async (): Promise<void> => {
  stop.abort();
  await Promise.allSettled(loops);
  for (const c of clients) c.close(() => {});
  process.exit(0);
};
process.once('SIGTERM', () => { void shutdown(); });
process.once('SIGINT', () => { void shutdown(); });
process.stdin.on('end', () => { void shutdown(); }).resume(); // the bench that started us is gone
