// Plain JSON sensors without a broker: JSON pointers into the message, scale and offset, the
// sensor's own time, messages carrying some of the tags, garbage rejected and counted, and a
// sensor that falls silent turning bad, in fake time.
import t from 'tap';
import { parseConfig } from '../config/loader.ts';
import { MqttJsonDriver } from '../drivers/mqtt/driver.ts';
import { FakeClock } from '../gateway/model/clock.ts';
import type { MessageHandler, MqttDeviceConfig } from '../gateway/model/index.ts';

const device = parseConfig(`
site: { id: s1 }
buffer: { journal: memory }
broker: { port: 0 }
devices:
  - id: ws1
    driver: mqtt
    topic: "sensors/ws1/state"
    time_path: /ts
    heartbeat_s: 60
    missed_heartbeats: 2
    tags:
      - { name: temperature, path: /t, scale: 0.1 }
      - { name: humidity, path: /env/rh }
      - { name: door, path: /flags/door~1gate }
      - { name: status, path: /status }
`, 'ws.yaml').devices[0] as MqttDeviceConfig;

function setup() {
  const clock = new FakeClock(1_795_000_000_000);
  const handlers: MessageHandler[] = [];
  const driver = new MqttJsonDriver(device, { clock, source: { subscribe: (f, h) => { t.equal(f, 'sensors/ws1/state'); handlers.push(h); return () => {}; } } });
  const send = (body: string) => handlers.forEach((h) => h('sensors/ws1/state', Buffer.from(body)));
  return { clock, driver, send };
}

t.test('values by JSON pointer, with the sensor\'s time', async (t) => {
  const { driver, send } = setup();
  send(JSON.stringify({ ts: 1_795_000_000, t: 235, env: { rh: 61.5 }, flags: { 'door/gate': false }, status: 'ok' }));
  const r = await driver.scan();
  t.same(r.samples.map((s) => [s.tag, s.value, s.quality]), [
    ['ws1.temperature', 23.5, 'good'], ['ws1.humidity', 61.5, 'good'], ['ws1.door', false, 'good'], ['ws1.status', 'ok', 'good'],
  ]);
  t.ok(r.samples.every((s) => s.ts === 1_795_000_000_000), 'epoch seconds from the sensor, as ms');
  send(JSON.stringify({ t: 240 }));
  t.same((await driver.scan()).samples.map((s) => [s.tag, s.value]), [['ws1.temperature', 24]], 'a message with one tag carries one tag');
  send(JSON.stringify({ t: null, env: { rh: { bad: 1 } } }));
  t.same((await driver.scan()).samples.map((s) => [s.tag, s.quality]), [['ws1.temperature', 'bad'], ['ws1.humidity', 'bad']], 'null or an object is a bad reading');
});

t.test('garbage is counted, not fatal; silence turns the sensor bad', async (t) => {
  const { driver, send, clock } = setup();
  send('{not json');
  send('[]');
  send(JSON.stringify({ unrelated: 1 }));
  send(JSON.stringify({ t: 100 }));
  t.match(driver.stats(), { received: 4, accepted: 1, rejected: { 'bad json': 1, 'no values': 2 } });
  t.equal((await driver.scan()).samples.length, 1);
  await clock.advance(119_000);
  t.same((await driver.scan()).samples, [], 'within two heartbeats: nothing');
  await clock.advance(2_000);
  const r = await driver.scan();
  t.same(r.samples.map((s) => [s.tag, s.value, s.quality]), device.tags.map((x) => [`ws1.${x.name}`, null, 'bad']), 'past them: every tag bad, once');
  t.same((await driver.scan()).samples, [], 'and not again every scan');
  send(JSON.stringify({ t: 101 }));
  t.match((await driver.scan()).samples, [{ tag: 'ws1.temperature', value: 10.1, quality: 'good' }], 'back with its next message');
});
