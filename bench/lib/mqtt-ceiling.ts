// The MQTT stage's ceiling for `npm run bench:nodered`: mqtt.js alone publishing telemetry batches at
// QoS 1 to the same Mosquitto, with nothing else to do: no reads, no encoding (each device's points
// array is encoded once, at start; only the seq changes), no journal. What the library itself costs
// per point, and how many points per second it gets acknowledged on this machine.
//
//   node bin/run-ts.mjs bench/lib/mqtt-ceiling.ts --url mqtt://127.0.0.1:1883 --devices 20 --points 500 \
//        [--poll-ms 1000 | --flat-out]
//
// Paced (the default): one batch per device per poll period, staggered over the period as the gateway's
// scheduler staggers devices: the same load as the gateways, for CPU per point. --flat-out: as many
// as the broker acknowledges, keeping its Receive Maximum of publishes outstanding (MQTT 5
// §3.3.4: a client must not have more unacknowledged QoS 1 publishes than that).
// Topics are outside `cityedge/v1/+/telemetry/#`, so the platform's subscriber does not count them.
//
// stdout READY {"receiveMaximum":n} once connected; stdin `window` (answer WINDOW) and `report`
// (answer REPORT {"points","messages","errors","seconds"} acknowledged since the window); stdin EOF or
// SIGTERM: stop.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import mqtt, { type IConnackPacket } from 'mqtt';

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' },
    devices: { type: 'string', default: '20' },
    points: { type: 'string', default: '500' },
    'poll-ms': { type: 'string', default: '1000' },
    'flat-out': { type: 'boolean', default: false },
  },
});
const DEVICES = Number(flags.devices);
const POINTS = Number(flags.points);
const POLL_MS = Number(flags['poll-ms']);

const client = mqtt.connect(flags.url!, { clientId: `cityedge-bench-ceiling-${process.pid}`, protocolVersion: 5, clean: true, reconnectPeriod: 0 });
const connack = await new Promise<IConnackPacket>((resolve, reject) => {
  client.once('connect', resolve);
  client.once('error', reject);
});
client.on('error', (e) => { process.stderr.write(`mqtt ceiling: ${e.message}\n`); });
const receiveMaximum = connack.properties?.receiveMaximum ?? 65_535;

// The same JSON as a gateway's batch (docs/mqtt.md), its points array built once per device.
const t0 = Date.now();
const devices = Array.from({ length: DEVICES }, (_, i) => {
  const id = `plc${String(i + 1).padStart(2, '0')}`;
  const points = JSON.stringify(Array.from({ length: POINTS }, (_, r) => ({ tag: `r${r}`, v: (r * 7919) & 0xffff, q: 'good', t: t0 })));
  return { topic: `bench-ceiling/v1/ceiling/telemetry/${id}`, head: `{"site":"ceiling","device":"${id}","seq":`, tail: `,"historical":false,"points":${points}}`, seq: 0 };
});

let points = 0; let messages = 0; let errors = 0;
let base = { points: 0, messages: 0, errors: 0, at: performance.now() };
const stop = new AbortController();
const sleep = (ms: number) => new Promise<void>((r) => { const t = setTimeout(r, ms); stop.signal.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true }); });

async function publish(d: (typeof devices)[number]): Promise<void> {
  d.seq++;
  try {
    await client.publishAsync(d.topic, `${d.head}${d.seq}${d.tail}`, { qos: 1 });
    points += POINTS;
    messages++;
  } catch (e) {
    if (errors++ < 5) process.stderr.write(`mqtt ceiling: ${(e as Error).message}\n`);
  }
}

process.stdout.write(`READY ${JSON.stringify({ receiveMaximum })}\n`);

let loops: Promise<void>[];
if (flags['flat-out']) {
  let next = 0;
  loops = Array.from({ length: Math.min(receiveMaximum, 1000) }, async () => {
    while (!stop.signal.aborted) await publish(devices[next++ % devices.length]!);
  });
} else {
  const start = performance.now();
  loops = devices.map(async (d, i) => {
    let next = start + Math.floor((i * POLL_MS) / devices.length);
    while (!stop.signal.aborted) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      if (stop.signal.aborted) break;
      await publish(d);
      next += POLL_MS;
      const now = performance.now();
      if (now > next) next += Math.ceil((now - next) / POLL_MS) * POLL_MS;
    }
  });
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'window') {
    base = { points, messages, errors, at: performance.now() };
    process.stdout.write('WINDOW\n');
  } else if (cmd === 'report') {
    const r = { points: points - base.points, messages: messages - base.messages, errors: errors - base.errors, seconds: (performance.now() - base.at) / 1000 };
    process.stdout.write(`REPORT ${JSON.stringify(r)}\n`);
  }
});

const shutdown = async (): Promise<void> => {
  stop.abort();
  client.end(true);
  await Promise.race([Promise.allSettled(loops), new Promise((r) => setTimeout(r, 1000))]);
  process.exit(0);
};
rl.on('close', () => { void shutdown(); });
process.once('SIGTERM', () => { void shutdown(); });
process.once('SIGINT', () => { void shutdown(); });
