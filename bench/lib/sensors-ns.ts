// The network server of `npm run bench:sensors`: the LoRaWAN network-server simulator
// (simulators/lorawan, `startLorawanNs`) in rate mode, in a process of its own, publishing the
// 10,000 sensors of bench/lib/sensors-common.ts as ChirpStack v4 uplink events (QoS 0, as
// ChirpStack's integration does) to a broker: the gateway's own, or the bare aedes of the ceiling.
//
//   node bin/run-ts.mjs bench/lib/sensors-ns.ts --url mqtt://127.0.0.1:PORT [--username U --password P]
//                                               --period S [--record FILE]
//
// `--period 0`: flat out (batches of 500 back to back, each awaited: the broker's TCP window is the
// only brake); `--period S`: every sensor once every S seconds, spread evenly.
// Duplicates as the simulator's default (1 % of uplinks published twice: failed deduplication), no
// malformed events (the fuzz tests cover those; here they would only blur the accounting).
//
// With --record, every message published is noted (NsRecord: sensor, fCnt, fPort, time, best RSSI
// and SNR, frame) by wrapping mqtt.js's publish in this process: what really left, read with string
// scans rather than JSON.parse, so the recording costs the simulator little. On `stop` (a line on
// stdin) the simulator stops, lets what it is publishing leave, writes the records to FILE as JSON
// lines and prints `STOPPED {json}` (NsLine). Prints `STARTED` once publishing and `STATS {json}`
// (NsLine) every second.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { startLorawanNs, type LorawanNs } from '../../simulators/lorawan/index.ts';
import { SEED, SPEC, sensors, wallNow, type NsLine, type NsRecord } from './sensors-common.ts';

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    period: { type: 'string', default: '0' },
    record: { type: 'string' },
  },
});
if (!flags.url) { console.error('sensors-ns: --url is required'); process.exit(2); }
const periodS = Number(flags.period);
if (!(periodS >= 0)) { console.error('sensors-ns: --period must be seconds ≥ 0'); process.exit(2); }

const index = new Map(sensors().map((s, i) => [s.devEui, i]));

/**
 * What was published, in columns (typed arrays, grown in chunks): at tens of thousands of messages
 * a second for a minute, an array per message would keep the simulator's garbage collector busy.
 * Fields are found in one forward pass over the payload: chirpstackV4 writes `time`, then
 * `fCnt` and `fPort`, then `data`, then `rxInfo`.
 */
class Records {
  length = 0;
  sensor = new Int32Array(1 << 16);
  fCnt = new Float64Array(1 << 16);
  fPort = new Int32Array(1 << 16);
  t = new Float64Array(1 << 16);
  rssi = new Float64Array(1 << 16);
  snr = new Float64Array(1 << 16);
  readonly data: string[] = [];

  add(sensor: number, text: string): void {
    if (this.length === this.sensor.length) this.#grow();
    const i = this.length++;
    this.sensor[i] = sensor;
    let at = text.indexOf('"time":"') + 8;
    const timeEnd = text.indexOf('"', at);
    this.t[i] = Date.parse(text.slice(at, timeEnd));
    at = text.indexOf('"fCnt":', timeEnd);
    this.fCnt[i] = int(text, at + 7);
    at = text.indexOf('"fPort":', at);
    this.fPort[i] = int(text, at + 8);
    at = text.indexOf('"data":"', at) + 8;
    const dataEnd = text.indexOf('"', at);
    // A copy, not a slice: a slice would keep the whole payload alive.
    this.data.push(Buffer.from(text.slice(at, dataEnd), 'latin1').toString('latin1'));
    // rxInfo: the router takes the first reception with the highest RSSI, and its SNR.
    let rssi = NaN; let snr = NaN;
    for (let r = text.indexOf('"rssi":', dataEnd); r >= 0; r = text.indexOf('"rssi":', r + 7)) {
      const v = int(text, r + 7);
      if (!(v <= rssi)) { rssi = v; snr = Number(text.slice(text.indexOf('"snr":', r) + 6, text.indexOf(',', text.indexOf('"snr":', r)))); }
    }
    this.rssi[i] = rssi;
    this.snr[i] = snr;
  }

  #grow(): void {
    const grow = <T extends Int32Array | Float64Array>(a: T): T => { const b = new (a.constructor as new (n: number) => T)(a.length * 2); b.set(a); return b; };
    this.sensor = grow(this.sensor); this.fCnt = grow(this.fCnt); this.fPort = grow(this.fPort);
    this.t = grow(this.t); this.rssi = grow(this.rssi); this.snr = grow(this.snr);
  }

  record(i: number): NsRecord {
    const n = (x: number) => (Number.isNaN(x) ? null : x);
    return [this.sensor[i]!, this.fCnt[i]!, this.fPort[i]!, this.t[i]!, n(this.rssi[i]!), n(this.snr[i]!), this.data[i]!];
  }
}

/** A (possibly negative) integer written at `at`. */
function int(text: string, at: number): number {
  let neg = false;
  if (text.charCodeAt(at) === 45) { neg = true; at++; }
  let v = 0;
  for (let c = text.charCodeAt(at); c >= 48 && c <= 57; c = text.charCodeAt(++at)) v = v * 10 + (c - 48);
  return neg ? -v : v;
}

const records = new Records();
if (flags.record) {
  // Every message the simulator hands to mqtt.js passes through publish (publishAsync calls it).
  const proto = mqtt.MqttClient.prototype as unknown as { publish: (this: unknown, ...args: unknown[]) => unknown };
  const original = proto.publish;
  proto.publish = function (this: unknown, ...args: unknown[]) {
    const [topic, payload] = args as [string, string | Buffer];
    // application/{app}/device/{devEui}/event/up
    const sensor = index.get(topic.slice(topic.indexOf('/device/') + 8, topic.indexOf('/event/')));
    if (sensor !== undefined) records.add(sensor, typeof payload === 'string' ? payload : payload.toString('utf8'));
    return original.apply(this, args);
  };
}

const ns: LorawanNs = await startLorawanNs({
  url: flags.url,
  ...(flags.username === undefined ? {} : { username: flags.username }),
  ...(flags.password === undefined ? {} : { password: flags.password }),
  clientId: `cityedge-bench-ns-${process.pid}`,
  ...SPEC, seed: SEED, format: 'v4', qos: 0,
  duplicateRate: 0.01, malformedRate: 0,
  rate: { periodS },
});
console.log('STARTED');

const line = (): NsLine => {
  const s = ns.stats();
  return {
    at: wallNow(), uplinks: s.uplinks.parking + s.uplinks.manhole + s.uplinks.waterlogging,
    published: s.published, duplicates: s.duplicates, errors: s.errors, behind: s.behind, connected: s.connected,
  };
};
const timer = setInterval(() => console.log(`STATS ${JSON.stringify(line())}`), 1000);

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => (stopping ??= (async () => {
  clearInterval(timer);
  await ns.close();
  const final = line();
  if (flags.record) {
    const out = createWriteStream(flags.record);
    for (let i = 0; i < records.length; i++) if (!out.write(`${JSON.stringify(records.record(i))}\n`)) await once(out, 'drain');
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
  console.log(`STOPPED ${JSON.stringify(final)}`);
})());

createInterface({ input: process.stdin }).on('line', (l) => { if (l.trim() === 'stop') void stop(); });
process.once('SIGTERM', () => { void stop().finally(() => process.exit(0)); });
