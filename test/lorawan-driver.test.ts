// The LoRaWAN device in fake time, without a broker: a bay's occupancy debounced (two readings
// agree, or a hold time), interference as unknown, a silent sensor turning offline after its missed
// heartbeats and back with its next uplink, and the lot's counts following.
import t from 'tap';
import { parseConfig } from '../config/loader.ts';
import { LorawanDriver } from '../drivers/lorawan/driver.ts';
import { sensorFields } from '../config/tag-names.ts';
import { FakeClock } from '../gateway/model/clock.ts';
import type { LorawanDeviceConfig, MessageHandler } from '../gateway/model/index.ts';

const device = parseConfig(`
site: { id: s1 }
buffer: { journal: memory }
broker: { port: 0 }
devices:
  - id: lot-b
    driver: lorawan
    codec: cityedge-parking-v1
    lot: B区
    heartbeat_s: 600
    missed_heartbeats: 2
    debounce_s: 30
    sensors:
      - { name: bay1, dev_eui: "00000000000000b1" }
      - { name: bay2, dev_eui: "00000000000000b2" }
`, 'lot-b.yaml').devices[0] as LorawanDeviceConfig;

function setup() {
  const clock = new FakeClock(1_795_000_000_000);
  let deliver: MessageHandler = () => {};
  const driver = new LorawanDriver(device, {
    clock, source: { subscribe: (_f, h) => { deliver = h; return () => {}; } }, sourceKey: `test-${Math.random()}`, fields: sensorFields(device),
  });
  const fCnt = new Map<string, number>();
  const bay = (eui: string, flags: number) => {
    const n = (fCnt.get(eui) ?? 0) + 1;
    fCnt.set(eui, n);
    deliver('application/1/device/x/event/up', Buffer.from(JSON.stringify({ deviceInfo: { devEui: eui }, fCnt: n, fPort: 1, data: Buffer.from([flags, 90, 0, 0, 0, 0, 0, 0]).toString('base64') })));
  };
  const scan = async () => (await driver.scan()).samples;
  const occupied = (samples: { tag: string; value: unknown; quality: string }[], b: string) => samples.filter((s) => s.tag === `lot-b.${b}_occupied`).map((s) => [s.value, s.quality]);
  const count = (samples: { tag: string; value: unknown }[], what: string) => samples.find((s) => s.tag === `lot-b.bays_${what}`)?.value;
  t.teardown(() => driver.close());
  return { clock, driver, bay, scan, occupied, count };
}

t.test('occupancy: the first reading at once, a change after two agree or 30 s', async (t) => {
  const { clock, bay, scan, occupied, count } = setup();
  bay('00000000000000b1', 0x00);
  bay('00000000000000b2', 0x01);
  let s = await scan();
  t.same(occupied(s, 'bay1'), [[false, 'good']], 'a first reading is taken as it is');
  t.equal(count(s, 'free'), 1);
  t.equal(count(s, 'occupied'), 1);

  bay('00000000000000b1', 0x01); // a car manoeuvring over the sensor
  t.same(occupied(await scan(), 'bay1'), [], 'one reading is not yet a change');
  bay('00000000000000b1', 0x00);
  await clock.advance(40_000);
  t.same(occupied(await scan(), 'bay1'), [[false, 'good']], 'it flipped back: still free, and the hold time running out later changes nothing');

  bay('00000000000000b1', 0x01);
  bay('00000000000000b1', 0x01);
  s = await scan();
  t.same(occupied(s, 'bay1'), [[true, 'good']], 'two readings agree: parked');
  t.equal(count(s, 'occupied'), 2);

  bay('00000000000000b1', 0x00);
  await clock.advance(29_000);
  t.same(occupied(await scan(), 'bay1'), []);
  await clock.advance(2_000);
  t.same(occupied(await scan(), 'bay1'), [[false, 'good']], 'held for 30 s: left');
});

t.test('interference is unknown, not a flip', async (t) => {
  const { bay, scan, occupied, count } = setup();
  bay('00000000000000b1', 0x01);
  bay('00000000000000b2', 0x00);
  await scan();
  bay('00000000000000b1', 0x02); // interference, occupied bit clear
  const s = await scan();
  t.same(occupied(s, 'bay1'), [[true, 'uncertain']], 'the last known state, uncertain');
  t.equal(count(s, 'occupied'), 1, 'the debounced state did not change');
  bay('00000000000000b1', 0x01);
  t.same(occupied(await scan(), 'bay1'), [[true, 'good']]);
});

t.test('a silent sensor goes offline after its missed heartbeats, and comes back', async (t) => {
  const { clock, bay, scan, count } = setup();
  bay('00000000000000b1', 0x01);
  bay('00000000000000b2', 0x00);
  await scan();
  await clock.advance(1000 * 600);
  bay('00000000000000b2', 0x00);
  await clock.advance(1000 * 600 + 1000);
  const s = await scan();
  t.match(s.filter((x) => x.tag.startsWith('lot-b.bay1_')).find((x) => x.tag === 'lot-b.bay1_online'), { value: false, quality: 'good' }, 'bay 1 offline: 2 × 600 s without a word');
  t.ok(s.filter((x) => x.tag.startsWith('lot-b.bay1_') && x.tag !== 'lot-b.bay1_online').every((x) => x.quality === 'bad' && x.value === null), 'its values bad');
  t.notOk(s.some((x) => x.tag === 'lot-b.bay2_online'), 'bay 2 spoke 601 s ago: still online');
  t.equal(count(s, 'unknown'), 1, 'the lot counts the silent bay as unknown');
  bay('00000000000000b1', 0x01);
  const back = await scan();
  t.match(back.find((x) => x.tag === 'lot-b.bay1_online'), { value: true });
  t.equal(count(back, 'occupied'), 1);
});

t.test('a flood is handed on when the driver holds 2,000 samples, not at the next poll', async (t) => {
  const { driver, bay, scan } = setup();
  // The scheduler's side, as a counter: the driver calls it, once per crossing.
  let wakes = 0;
  driver.wakeWith(() => { wakes++; });
  let n = 0;
  while (wakes === 0 && n < 10_000) { bay(n % 2 ? '00000000000000b1' : '00000000000000b2', n % 4 < 2 ? 0 : 1); n++; }
  t.equal(wakes, 1, 'asked for a scan');
  const held = (await scan()).length;
  t.ok(held >= 2000 && held < 2020, `it held ${held} samples (${n} uplinks) when it asked`);
  for (let i = 0; i < 300; i++) bay('00000000000000b1', 0);
  t.equal(wakes, 1, 'not again until it holds 2,000 more');
});
