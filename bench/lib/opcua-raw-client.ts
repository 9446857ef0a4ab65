// The floor the OPC UA driver is compared with: node-opcua's client alone, on the same server, with
// the same parameters as drivers/opcua/ (link.ts, monitor.ts), doing nothing with what it gets but
// count it: no conversion to samples, no report by exception, no journal, no JSON, no MQTT.
//
//   subscribe: one subscription publishing every --poll-ms (keep-alive count 10, lifetime 60, no limit
//              on notifications per publish), monitored items created 1,000 per call, sampling
//              interval --poll-ms, queue 10, discard oldest, both timestamps; counts every 'changed'.
//   poll:      a Read of every node every --poll-ms in requests of 500 nodes (maxAge 0), on the
//              scheduler's fixed cadence; counts the values read and those that changed.
//
// bench/opcua.ts bundles this file with esbuild and runs it with plain node, as the gateway's own
// code runs (no loader), so that the two RSS figures have the same floor.
//
// Talks to bench/opcua.ts over stdio, one line each way:
//   stdout  LOADED {json}        node-opcua imported, nothing connected yet (RSS then: the floor)
//   stdout  READY {json}         the session, the subscription and every monitored item exist (subscribe),
//                                or the session is open (poll); the times of each step
//   stdout  FIRST / ALL          the first value came in / every node has given one
//   stdin   count [FROM TO]      answer COUNT {json}: the counters so far, and with FROM TO (Date.now()
//                                times) the samples whose source time falls in the whole seconds between
//   stdin   EOF, or SIGTERM      close the session and exit
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { bulkNodeIdOf } from '../../simulators/opcua/signals.ts';

const { values: flags } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    nodes: { type: 'string', default: '5000' },
    mode: { type: 'string', default: 'subscribe' },
    'poll-ms': { type: 'string', default: '1000' },
    pki: { type: 'string' },
  },
});
const N = Number(flags.nodes);
const POLL_MS = Number(flags['poll-ms']);
const MODE = flags.mode;
if (!flags.endpoint || !flags.pki || !(N > 0) || !(POLL_MS > 0) || (MODE !== 'subscribe' && MODE !== 'poll')) {
  console.error('usage: opcua-raw-client --endpoint opc.tcp://… --pki DIR [--nodes 5000] [--mode subscribe|poll] [--poll-ms 1000]');
  process.exit(2);
}
// The same constants as drivers/opcua/monitor.ts and driver.ts.
const CREATE_BATCH = 1000;
const READ_BATCH = 500;
const KEEPALIVE_COUNT = 10;
const QUEUE_SIZE = 10;
const TIMEOUT_MS = 10_000;

const rssKb = (): number => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);

const ms = (t0: number) => Math.round(performance.now() - t0);
const nodeIds = Array.from({ length: N }, (_, i) => bulkNodeIdOf(i));

const counts = { notifications: 0, distinct: 0, reads: 0, readValues: 0, changedValues: 0, errors: 0, badValues: 0 };
const seen = new Uint8Array(N);
/** Samples (notifications; changed values read) per second of source time. */
const bySecond = new Map<number, number>();
function tally(sourceTimestamp: Date | null | undefined): void {
  const sec = Math.floor((sourceTimestamp?.getTime() ?? Date.now()) / 1000);
  bySecond.set(sec, (bySecond.get(sec) ?? 0) + 1);
}
let announcedAll = false;
function saw(i: number): void {
  if (seen[i] === 0) {
    seen[i] = 1;
    if (++counts.distinct === 1) process.stdout.write('FIRST\n');
    if (counts.distinct === N && !announcedAll) { announcedAll = true; process.stdout.write('ALL\n'); }
  }
}

const tImport = performance.now();
const l = await import('node-opcua');
process.stdout.write(`LOADED ${JSON.stringify({ importMs: ms(tImport), rssKb: rssKb() })}\n`);

// Our own PKI folder, as the driver has one under the data folder (node-opcua's default writes under $HOME).
mkdirSync(flags.pki, { recursive: true });
const steps: Record<string, number> = {};
let t = performance.now();
const cm = new l.OPCUACertificateManager({ rootFolder: flags.pki, automaticallyAcceptUnknownCertificate: false });
await cm.initialize();
const client = l.OPCUAClient.create({
  applicationName: 'cityedge-bench-raw',
  applicationUri: `urn:${hostname()}:cityedge-bench-raw`,
  clientCertificateManager: cm,
  securityMode: l.MessageSecurityMode.None,
  securityPolicy: l.SecurityPolicy.None,
  endpointMustExist: false,
  connectionStrategy: { maxRetry: 0, initialDelay: 1000, maxDelay: 1000 },
  requestedSessionTimeout: 60_000,
  transportTimeout: TIMEOUT_MS,
  defaultTransactionTimeout: TIMEOUT_MS,
  keepSessionAlive: true,
});
await client.connect(flags.endpoint);
steps.connectMs = ms(t); t = performance.now();
const session = await client.createSession({ type: l.UserTokenType.Anonymous });
steps.sessionMs = ms(t); t = performance.now();

const stop = new AbortController();
let loop: Promise<void> = Promise.resolve();

if (MODE === 'subscribe') {
  const sub = await session.createSubscription2({
    requestedPublishingInterval: POLL_MS,
    requestedMaxKeepAliveCount: KEEPALIVE_COUNT,
    requestedLifetimeCount: KEEPALIVE_COUNT * 6,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 10,
  });
  steps.subscriptionMs = ms(t); t = performance.now();
  sub.on('terminated', () => { counts.errors++; process.stderr.write('raw client: subscription terminated\n'); });
  const batchMs: number[] = [];
  for (let i = 0; i < N; i += CREATE_BATCH) {
    const tb = performance.now();
    const offset = i;
    const batch = nodeIds.slice(i, i + CREATE_BATCH);
    const g = await sub.monitorItems(
      batch.map((nodeId) => ({ nodeId, attributeId: l.AttributeIds.Value })),
      { samplingInterval: POLL_MS, queueSize: QUEUE_SIZE, discardOldest: true },
      l.TimestampsToReturn.Both,
    );
    g.on('changed', (_item: unknown, dv: { statusCode?: { value: number }; sourceTimestamp?: Date | null }, idx: number) => {
      counts.notifications++;
      tally(dv.sourceTimestamp);
      if ((dv.statusCode?.value ?? 0) >>> 30 === 2) counts.badValues++;
      saw(offset + idx);
    });
    g.monitoredItems.forEach((item) => { if (item.statusCode.isBad()) counts.errors++; });
    batchMs.push(ms(tb));
  }
  steps.monitorItemsMs = ms(t);
  process.stdout.write(`READY ${JSON.stringify({ ...steps, batchMs, revisedPublishingMs: sub.publishingInterval, refused: counts.errors })}\n`);
} else {
  process.stdout.write(`READY ${JSON.stringify(steps)}\n`);
  const last = new Float64Array(N).fill(NaN);
  const read = nodeIds.map((nodeId) => ({ nodeId, attributeId: l.AttributeIds.Value }));
  const sleep = (d: number) => new Promise<void>((r) => {
    const timer = setTimeout(r, d);
    stop.signal.addEventListener('abort', () => { clearTimeout(timer); r(); }, { once: true });
  });
  // The scheduler's cadence (gateway/scheduler.ts): fixed slots, a late scan skips the slots it missed.
  loop = (async () => {
    let next = performance.now();
    while (!stop.signal.aborted) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      if (stop.signal.aborted) break;
      try {
        for (let k = 0; k < N; k += READ_BATCH) {
          const dvs = await session.read(read.slice(k, k + READ_BATCH), 0);
          counts.reads++;
          dvs.forEach((dv, j) => {
            counts.readValues++;
            if (dv.statusCode.isBad()) { counts.badValues++; return; }
            const v = dv.value.value as number;
            if (v !== last[k + j]) { counts.changedValues++; last[k + j] = v; tally(dv.sourceTimestamp); }
            saw(k + j);
          });
        }
      } catch (e) {
        if (counts.errors++ < 5) process.stderr.write(`raw client: read failed: ${(e as Error).message}\n`);
      }
      next += POLL_MS;
      const now = performance.now();
      if (now > next) next += Math.ceil((now - next) / POLL_MS) * POLL_MS;
    }
  })();
}

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  stop.abort();
  await loop;
  await session.close(true).catch(() => {});
  await client.disconnect().catch(() => {});
  process.exit(0);
}
process.once('SIGTERM', () => { void shutdown(); });
process.once('SIGINT', () => { void shutdown(); });
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, from, to] = line.trim().split(/\s+/);
  if (cmd !== 'count') return;
  let byValueTime: { points: number; seconds: number } | undefined;
  if (from !== undefined && to !== undefined) {
    const first = Math.ceil(Number(from) / 1000);
    const end = Math.floor(Number(to) / 1000);
    let points = 0;
    for (let sec = first; sec < end; sec++) points += bySecond.get(sec) ?? 0;
    byValueTime = { points, seconds: Math.max(0, end - first) };
  }
  process.stdout.write(`COUNT ${JSON.stringify({ ...counts, at: Date.now(), byValueTime })}\n`);
});
rl.on('close', () => { void shutdown(); }); // the bench that started us is gone
