// Malformed sensor payloads by the thousand through the box's broker: random bytes, truncated and
// mangled ChirpStack JSON, wrong base64, short frames, unknown devices, replays. The gateway keeps
// running, counts every message exactly once as accepted or rejected with a reason, and still takes
// the good uplink sent after the storm.
import t from 'tap';
import { createHash } from 'node:crypto';
import mqtt from 'mqtt';
import { parseConfig } from '../config/loader.ts';
import { startGateway } from '../gateway/main.ts';
import { waitFor } from './helpers/wait.ts';

const N = 3000;
const EUI = 'a8404100000000aa';

/** A seeded PRNG (mulberry32): the same storm on every run, so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('a storm of garbage: counted, harmless, and the next good uplink gets through', async (t) => {
  const config = parseConfig(`
site: { id: fuzz }
buffer: { journal: memory }
broker: { port: 0, users: [ { username: ns, password_sha256: ${createHash('sha256').update('pw').digest('hex')}, publish: ["application/#"] } ] }
devices:
  - id: mh
    driver: lorawan
    codec: cityedge-manhole-v1
    poll_ms: 200
    sensors: [ { name: mh001, dev_eui: "${EUI}" } ]
`, 'fuzz.yaml');
  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  const { brokerPort } = await gw.ready();
  const ns = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'ns', username: 'ns', password: 'pw' });
  t.teardown(() => ns.endAsync(true));

  const rnd = prng(20261123);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  // Counters climb through the storm, so each mangled frame meets the codec rather than the replay check.
  let counter = 0;
  const good = (_kind: number, frame: Buffer, eui = EUI, fPort = 1) => ({ deviceInfo: { devEui: eui }, fCnt: ++counter, fPort, data: frame.toString('base64') });
  const makers: (() => string | Buffer)[] = [
    () => bytes(Math.floor(rnd() * 64)),
    () => JSON.stringify(good(1, bytes(10))).slice(0, Math.floor(rnd() * 40)),
    () => JSON.stringify({ ...good(2, bytes(10)), data: '%%%' + bytes(4).toString('hex') }),
    () => JSON.stringify(good(3, bytes(Math.floor(rnd() * 10)))), // short of the 10 bytes fPort 1 needs
    () => JSON.stringify({ ...good(7, bytes(10)), fCnt: Math.max(0, counter - 1 - Math.floor(rnd() * 5)) }), // a replay
    () => JSON.stringify(good(4, bytes(10), bytes(8).toString('hex'))),
    () => JSON.stringify(good(5, bytes(10), EUI, 2 + Math.floor(rnd() * 200))),
    () => JSON.stringify({ deviceInfo: { devEui: EUI }, fCnt: -1, fPort: 1 }),
    () => JSON.stringify(good(8, bytes(10 + Math.floor(rnd() * 6)))), // random but whole: decodes, accepted
    () => JSON.stringify([1, 2, 3]),
    () => JSON.stringify({ devEUI: EUI, fCnt: 6, fPort: 1, objectJSON: '{broken' }),
    () => 'null',
  ];
  for (let i = 0; i < N; i++) await ns.publishAsync(`application/1/device/${EUI}/event/up`, pick(makers)(), { qos: 1 });

  // The topic's counts: most of the storm names no device, or no sensor of mh's.
  const onTopic = () => Object.values(gw.status().ingest_topics)[0]!;
  const total = () => { const s = onTopic(); return s.accepted + Object.values(s.rejected).reduce((a, b) => a + (b ?? 0), 0); };
  await waitFor(() => total() === N, { what: `all ${N} messages counted`, timeoutMs: 120_000 });
  const s = onTopic() as { received: number; accepted: number; rejected: Record<string, number | undefined> };
  t.equal(s.received, N, 'every message received');
  t.equal(total(), N, 'and each counted once, accepted or rejected');
  t.ok(s.accepted > 0, `${s.accepted} whole frames among them accepted`);
  for (const reason of ['bad json', 'bad base64', 'short frame', 'unknown device', 'unknown port', 'not an uplink', 'duplicate']) {
    t.ok((s.rejected[reason] ?? 0) > 0, `${reason}: ${s.rejected[reason] ?? 0}`);
  }

  t.equal(gw.status().ingest.mh!.accepted, s.accepted, 'the device accepted what the topic accepted (it is the only one)');

  // After the storm, a real uplink: a cover opened, with a counter above anything the storm used.
  await ns.publishAsync(`application/1/device/${EUI}/event/up`, JSON.stringify(good(0, Buffer.from('0100960028ffff5a12c4', 'hex'))), { qos: 1 });
  await waitFor(() => gw.status().ingest.mh!.accepted > s.accepted, { what: 'the good uplink accepted', timeoutMs: 60_000 });
  t.equal(gw.status().devices.mh?.failedScans ?? 0, 0, 'the device loop never failed');
});
