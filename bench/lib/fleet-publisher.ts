// The boxes of `npm run bench:fleet`, in a process of their own (so they do not share the event loop
// of what is measured or of the bench): one MQTT 5 connection per box to the broker, each box sending
// its devices' batches in turn (QoS 1, docs/mqtt.md), seqs consecutive per device, and about 1 % of
// batches sent a second time after their PUBACK, as a box does that lost its connection before it saw
// the acknowledgement.
//
//   node bin/run-ts.mjs bench/lib/fleet-publisher.ts --url mqtt://127.0.0.1:PORT --boxes 200 --devices 3
//        --t0 MS [--rate 0] [--repeat 0.01] [--inflight 8] [--lead-s 3] [--min-ahead 2000] [--id NAME]
//
// `--rate 0` (flat out): each box keeps `--inflight` messages awaiting the broker's PUBACK. The broker
// acknowledges a message once it is queued for the subscription, not once it is consumed, so
// flat out would pile up the broker's queue without end (and the drain and the end-to-end check
// with it). So the publisher also keeps the messages handed on but not yet taken by the ingest
// instances under `--lead-s` seconds of their rate (at least `--min-ahead`): the bench writes
// `consumed N` on stdin (the instances' `messages` counters summed) as their stats lines arrive.
// The ingest never waits for input, and the backlog stays a few seconds. `--rate N`: N messages a
// second in all, spread over the boxes in turn (the same limit applies on top).
//
// Prints `STARTED` when every box is connected, `STATS {json}` (PubLine) every second; on `stop`
// (stdin) it stops handing on batches, waits for the PUBACKs of those in flight and prints
// `STOPPED {json}` with `maxSeq`, the last seq of each device (every seq from 1 to it was sent and
// acknowledged at least once).
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { batchPayload, deviceCount, tagsOf, topicOf, wallNow, type FleetSpec, type PubLine } from './fleet-common.ts';

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' },
    boxes: { type: 'string', default: '200' },
    devices: { type: 'string', default: '3' },
    t0: { type: 'string' },
    rate: { type: 'string', default: '0' },
    repeat: { type: 'string', default: '0.01' },
    inflight: { type: 'string', default: '8' },
    'lead-s': { type: 'string', default: '3' },
    'min-ahead': { type: 'string', default: '2000' },
    id: { type: 'string', default: String(process.pid) },
  },
});
const fleet: FleetSpec = { boxes: Number(flags.boxes), devicesPerBox: Number(flags.devices) };
const t0 = Number(flags.t0);
const rate = Number(flags.rate);
const repeatRate = Number(flags.repeat);
const INFLIGHT = Number(flags.inflight);
const leadS = Number(flags['lead-s']);
const minAhead = Number(flags['min-ahead']);
if (!flags.url || !Number.isInteger(t0) || !(fleet.boxes >= 1) || !(fleet.devicesPerBox >= 1) || !(rate >= 0) || !(INFLIGHT >= 1)) {
  console.error('fleet-publisher: --url and --t0 are required; --boxes, --devices, --inflight ≥ 1; --rate ≥ 0');
  process.exit(2);
}

/** mulberry32: a seeded stream, so two runs repeat the same batches. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(20261123);

interface Box { index: number; client: MqttClient; inflight: number; next: number; repeats: number[] }
const devices = deviceCount(fleet);
const maxSeq = new Array<number>(devices).fill(0);
const s = { acked: 0, firsts: 0, repeats: 0, points: 0, errors: 0, bytes: 0, handed: 0 };
let consumed = 0;
const consumedHistory: { at: number; n: number }[] = [];
let stopping = false;
let heldMs = 0;
let heldSince: number | undefined;
let startedAt = 0;

async function connectBoxes(): Promise<Box[]> {
  const boxes: Box[] = [];
  // A few dozen at a time: 200 CONNECTs at once only make the first seconds noisier.
  for (let b = 0; b < fleet.boxes; b += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, fleet.boxes - b) }, (_, j) => mqtt.connectAsync(flags.url!, {
      clientId: `fleet-${flags.id}-box-${b + j}`, protocolVersion: 5, clean: true, reconnectPeriod: 0, keepalive: 60,
    })));
    for (const client of batch) boxes.push({ index: boxes.length, client, inflight: 0, next: 0, repeats: [] });
  }
  return boxes;
}

/** How many messages may be handed on but not yet taken by the ingest: `--lead-s` of its recent rate. */
function ahead(): number {
  const h = consumedHistory;
  let perS = 0;
  if (h.length >= 2) {
    const a = h[Math.max(0, h.length - 4)]!; const b = h[h.length - 1]!;
    if (b.at > a.at) perS = ((b.n - a.n) * 1000) / (b.at - a.at);
  }
  return Math.max(minAhead, leadS * perS);
}

function owed(): number {
  return rate > 0 ? Math.floor((rate * (performance.now() - startedAt)) / 1000) - s.handed : Infinity;
}

let boxes: Box[] = [];
let cursor = 0;
let pumpQueued = false;
let drained: (() => void) | undefined;

function schedulePump(): void {
  if (pumpQueued) return;
  pumpQueued = true;
  setImmediate(() => { pumpQueued = false; pump(); });
}

function send(box: Box): void {
  const repeat = box.repeats.length > 0;
  let i: number; let seq: number;
  if (repeat) {
    const r = box.repeats.shift()!;
    i = Math.floor(r / 2 ** 32); seq = r % 2 ** 32;
  } else {
    i = box.index * fleet.devicesPerBox + box.next;
    box.next = (box.next + 1) % fleet.devicesPerBox;
    seq = ++maxSeq[i]!;
  }
  const payload = batchPayload(fleet, i, seq, t0);
  box.inflight++;
  s.handed++;
  box.client.publish(topicOf(fleet, i), payload, { qos: 1 }, (err) => {
    box.inflight--;
    if (err) {
      s.errors++;
    } else {
      s.acked++;
      s.bytes += payload.length;
      if (repeat) s.repeats++;
      else {
        s.firsts++;
        s.points += tagsOf(i);
        // The box did not see this PUBACK (say): it sends the batch again after reconnecting.
        if (random() < repeatRate) box.repeats.push(i * 2 ** 32 + seq);
      }
    }
    if (stopping && boxes.every((b) => b.inflight === 0)) drained?.();
    else schedulePump();
  });
}

function pump(): void {
  if (stopping) return;
  const limit = ahead();
  let idle = 0;
  while (idle < boxes.length) {
    if (s.handed - consumed >= limit || owed() <= 0) {
      if (s.handed - consumed >= limit && heldSince === undefined) heldSince = performance.now();
      return;
    }
    if (heldSince !== undefined) { heldMs += performance.now() - heldSince; heldSince = undefined; }
    const box = boxes[cursor]!;
    cursor = (cursor + 1) % boxes.length;
    if (box.inflight >= INFLIGHT) { idle++; continue; }
    idle = 0;
    send(box);
  }
}

const line = (): PubLine => ({
  at: wallNow(), acked: s.acked, firsts: s.firsts, repeats: s.repeats, points: s.points,
  inflight: boxes.reduce((a, b) => a + b.inflight, 0), errors: s.errors,
  heldMs: heldMs + (heldSince !== undefined ? performance.now() - heldSince : 0),
  behind: rate > 0 ? Math.max(0, owed()) : 0, bytes: s.bytes,
});

boxes = await connectBoxes();
startedAt = performance.now();
console.log('STARTED');
const timer = setInterval(() => console.log(`STATS ${JSON.stringify(line())}`), 1000);
// The fixed rate's clock; flat out, PUBACKs and `consumed` lines drive the pump.
const ticker = rate > 0 ? setInterval(schedulePump, 5) : undefined;
pump();

let stopped: Promise<void> | undefined;
const stop = (): Promise<void> => (stopped ??= (async () => {
  stopping = true;
  clearInterval(ticker);
  if (heldSince !== undefined) { heldMs += performance.now() - heldSince; heldSince = undefined; }
  if (boxes.some((b) => b.inflight > 0)) await new Promise<void>((resolve) => { drained = resolve; });
  clearInterval(timer);
  console.log(`STOPPED ${JSON.stringify({ ...line(), maxSeq })}`);
  await Promise.allSettled(boxes.map((b) => b.client.endAsync()));
})());

createInterface({ input: process.stdin }).on('line', (l) => {
  const [cmd, arg] = l.trim().split(' ');
  if (cmd === 'consumed') {
    consumed = Number(arg);
    consumedHistory.push({ at: performance.now(), n: consumed });
    if (consumedHistory.length > 16) consumedHistory.shift();
    schedulePump();
  } else if (cmd === 'stop') {
    void stop().then(() => process.exit(0));
  }
});
process.once('SIGTERM', () => { void stop().finally(() => process.exit(0)); });
