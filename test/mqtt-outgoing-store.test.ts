// mqtt.js's outgoing store as cityedge gives it to every connection (cloud-sync/mqtt-outgoing-store.ts):
// it answers for packet ids awaiting their PUBACK and never holds a payload, so a window of
// unacknowledged telemetry costs the gateway no copies of it. End to end, every uplink test runs
// through it (test/uplink-*.test.ts).
import t from 'tap';
import { PacketIdStore } from '../cloud-sync/mqtt-outgoing-store.ts';

const publish = (messageId: number, bytes: number) => ({
  cmd: 'publish' as const, topic: 'cityedge/v1/site/telemetry/plc1', payload: Buffer.alloc(bytes, 0x41), qos: 1 as const, retain: false, dup: false, messageId,
});

const call = <T>(fn: (cb: (err?: Error, p?: T) => void) => unknown) => new Promise<{ err?: Error; p?: T }>((resolve) => { fn((err, p) => resolve({ err, p })); });

t.test('a stored publish comes back as its kind and id, without its payload', async (t) => {
  const store = new PacketIdStore();
  await call((cb) => store.put(publish(7, 1 << 20), cb));
  const got = await call((cb) => store.get({ messageId: 7 }, cb));
  t.equal(got.err, undefined);
  t.same(got.p, { cmd: 'publish', messageId: 7 });
  t.notOk('payload' in (got.p as object), 'no payload kept');
  const deleted = await call((cb) => store.del({ messageId: 7 }, cb));
  t.same(deleted.p, { cmd: 'publish', messageId: 7 }, 'del hands back what mqtt.js passes to the publish callback');
  const again = await call((cb) => store.del({ messageId: 7 }, cb));
  t.match(again.err?.message, /missing packet/, 'an id acknowledged twice is an error, as with mqtt.js\'s own store');
});

t.test('nothing is offered again on a reconnect: the journal does that', async (t) => {
  const store = new PacketIdStore();
  await call((cb) => store.put(publish(1, 10), cb));
  const seen: unknown[] = [];
  const stream = store.createStream();
  stream.on('data', (p: unknown) => seen.push(p));
  await new Promise((resolve) => stream.once('end', resolve));
  t.same(seen, []);
});
