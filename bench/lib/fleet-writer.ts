// The raw ceiling of `npm run bench:fleet`: a bare loop, in a process of its own, writing the fleet's
// batches straight to VictoriaMetrics' `/api/v2/write` (no MQTT, no JSON, no dedup): one POST per
// device batch, built with the ingest's own line-protocol code (cloud-sync/line-protocol.ts), so the
// body is byte for byte what `cityedge ingest` writes for the same batch, with `--concurrency`
// writes in flight (the ingest's `--connections` × instances).
//
//   node bin/run-ts.mjs bench/lib/fleet-writer.ts --url http://127.0.0.1:PORT --bucket B --measurement M
//        --boxes 200 --devices 3 --t0 MS --concurrency 4 [--client fetch|http]
//
// `--client fetch`: the global fetch (undici), as the ingest writes; `--client http`: node:http with a
// keep-alive agent, a cheaper client, so the figure is nearer what the store itself takes. Prints
// `STARTED`, then `STATS {json}` (WriterLine) every second; exits on SIGTERM.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { escapeKey, pointLines, seriesKey } from '../../cloud-sync/line-protocol.ts';
import { batchPoints, boxOf, deviceCount, deviceName, siteName, tagsOf, wallNow, type FleetSpec, type WriterLine } from './fleet-common.ts';

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' }, bucket: { type: 'string', default: 'fleet' }, measurement: { type: 'string', default: 'fleetraw' },
    boxes: { type: 'string', default: '200' }, devices: { type: 'string', default: '3' }, t0: { type: 'string' },
    concurrency: { type: 'string', default: '4' }, client: { type: 'string', default: 'fetch' },
  },
});
const fleet: FleetSpec = { boxes: Number(flags.boxes), devicesPerBox: Number(flags.devices) };
const t0 = Number(flags.t0);
const concurrency = Number(flags.concurrency);
if (!flags.url || !Number.isInteger(t0) || !(concurrency >= 1) || !['fetch', 'http'].includes(flags.client!)) {
  console.error('fleet-writer: --url and --t0 are required; --concurrency ≥ 1; --client fetch or http');
  process.exit(2);
}

// As the ingest builds it (cloud-sync/ingest/ingest.ts): precision ms, the bucket as a query argument.
const writeUrl = `${flags.url.replace(/\/+$/, '')}/api/v2/write?${new URLSearchParams({ bucket: flags.bucket!, precision: 'ms' })}`;
const headers = { 'content-type': 'text/plain; charset=utf-8' };
const fieldKeys = new Map<string, string>();
const fieldKey = (tag: string): string => {
  let k = fieldKeys.get(tag);
  if (k === undefined) { k = `${escapeKey(tag)}=`; fieldKeys.set(tag, k); }
  return k;
};
const devices = deviceCount(fleet);
const series = Array.from({ length: devices }, (_, i) => seriesKey(flags.measurement!, siteName(boxOf(fleet, i)), deviceName(i % fleet.devicesPerBox)));

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL(writeUrl);

function postHttp(body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: target.hostname, port: target.port, path: target.pathname + target.search, method: 'POST', agent,
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { if (text.length < 300) text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function postFetch(body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(writeUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, text: res.status >= 300 ? (await res.text()).slice(0, 300) : (await res.arrayBuffer(), '') };
}
const post = flags.client === 'http' ? postHttp : postFetch;

const s = { writes: 0, points: 0, failures: 0, lastError: undefined as string | undefined };
let next = 0;
let running = true;

async function worker(): Promise<void> {
  while (running) {
    // Devices in turn, each batch the next seq of its device: what the ingest writes flat out.
    const n = next++;
    const i = n % devices;
    const seq = Math.floor(n / devices) + 1;
    const lines = pointLines(series[i]!, batchPoints(i, seq, t0), fieldKey);
    try {
      const r = await post(lines.text);
      if (r.status >= 200 && r.status < 300) { s.writes++; s.points += tagsOf(i); continue; }
      s.lastError = `${r.status}: ${r.text}`;
    } catch (e) {
      s.lastError = (e as Error).message;
    }
    s.failures++;
    await new Promise((r) => setTimeout(r, 100));
  }
}

console.log('STARTED');
const timer = setInterval(() => console.log(`STATS ${JSON.stringify({ at: wallNow(), ...s } satisfies WriterLine)}`), 1000);
const workers = Promise.all(Array.from({ length: concurrency }, worker));
process.once('SIGTERM', () => {
  running = false;
  clearInterval(timer);
  void workers.finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
