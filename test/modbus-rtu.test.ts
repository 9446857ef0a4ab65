// The Modbus RTU driver on a real serial path (a socat pty pair) and through RTU over TCP, against
// the streetlight cabinet simulator: three controllers on one line read on while a fourth is dead,
// loops switched and dimmed with read-back, refusals by the tag's limits and by the device.
import t from 'tap';
import { parseConfig } from '../config/loader.ts';
import { ModbusDriver } from '../drivers/modbus/driver.ts';
import { RtuBus } from '../drivers/modbus/rtu-bus.ts';
import type { ModbusRtuDeviceConfig, ScanResult } from '../gateway/model/index.ts';
import { startStreetlightCabinet } from '../simulators/streetlight/index.ts';
import { ptyPair } from './helpers/socat.ts';
import { waitFor } from './helpers/wait.ts';

const TAGS = `
      - { name: voltage_a, address: "ir:0", type: uint16, scale: 0.1, unit: V }
      - { name: leakage, address: "ir:4", type: uint16, unit: mA }
      - { name: door_open, address: "di:0", type: bool }
      - { name: loop1_on, address: "co:0", type: bool, writable: true }
      - { name: loop1_dim, address: "hr:0", type: uint16, unit: "%", writable: true, min: 0, max: 200 }
      - { name: loop2_dim, address: "hr:1", type: uint16, unit: "%", writable: true, allowed: [0, 30, 50, 70, 100] }
      - { name: loop1_current, address: "ir:100", type: uint16, scale: 0.01, unit: A }
      - { name: loop1_power, address: "ir:101", type: uint16, unit: W }
      - { name: energy, address: "hr:100", type: uint32, scale: 0.01, unit: kWh }`;

function cabinets(line: string, units: number[]): ModbusRtuDeviceConfig[] {
  return parseConfig(`
site: { id: street-1 }
buffer: { journal: memory }
devices:
${units.map((u) => `  - id: cab${u}
    driver: modbus-rtu
    ${line}
    unit: ${u}
    poll_ms: 200
    timeout_ms: 300
    tags:${TAGS}`).join('\n')}
`, 'street.yaml').devices as ModbusRtuDeviceConfig[];
}

const value = (r: ScanResult, tag: string) => r.samples.find((s) => s.tag.endsWith(`.${tag}`))?.value;
const signal = new AbortController().signal;

t.test('on a serial line: three controllers read, a dead fourth does not starve them', async (t) => {
  const [simEnd, boxEnd] = await ptyPair(t);
  const cab = await startStreetlightCabinet({ serial: { path: simEnd, baud: 9600 }, units: [1, 2, 3, 4], silentUnits: [4], tickMs: 100 });
  t.teardown(() => cab.close());
  const drivers = cabinets(`serial: { path: ${boxEnd}, baud: 9600 }`, [1, 2, 3, 4]).map((d) => new ModbusDriver(d));
  t.teardown(() => Promise.all(drivers.map((d) => d.close())));

  const first = await Promise.all(drivers.map((d) => d.scan(signal)));
  for (const r of first.slice(0, 3)) {
    t.notOk(r.error, 'a live controller answers');
    t.ok((value(r, 'voltage_a') as number) > 180 && (value(r, 'voltage_a') as number) < 260, `phase A ${String(value(r, 'voltage_a'))} V`);
    t.ok((value(r, 'loop1_current') as number) > 5, `loop 1 lit at night: ${String(value(r, 'loop1_current'))} A`);
  }
  t.match(first[3]!.error, { code: 'CE_ERR_MODBUS_TIMEOUT' }, 'the dead one times out');
  t.ok(first[3]!.samples.every((s) => s.quality === 'bad'));

  // Ten seconds of polling every 200 ms, all four at once, as the scheduler would. What is judged is
  // not speed (the machine may be busy) but starvation: no live controller's scan fails, and the
  // dead one gets a small share of the line's requests.
  const scans = [0, 0, 0, 0];
  const good = [0, 0, 0, 0];
  const until = Date.now() + 10_000;
  await Promise.all(drivers.map(async (d, i) => {
    while (Date.now() < until) {
      const r = await d.scan(signal);
      scans[i]!++;
      if (!r.error) good[i]!++;
      await new Promise((res) => { setTimeout(res, 200); });
    }
  }));
  const asked = [1, 2, 3, 4].map((u) => cab.server.unitStats(u).requests);
  t.same(good.slice(0, 3), scans.slice(0, 3), `every scan of the live controllers read (${good.slice(0, 3).join(', ')} scans)`);
  t.ok(good.slice(0, 3).every((n) => n >= 5), 'and they kept polling');
  t.equal(good[3], 0);
  t.ok(asked[3]! * 5 <= Math.min(...asked.slice(0, 3)), `the dead unit was asked ${asked[3]} times, each live one ${asked.slice(0, 3).join(', ')}: it is backed off`);
});

t.test('loops switched and dimmed, read back; refused by the tag and by the device', async (t) => {
  const [simEnd, boxEnd] = await ptyPair(t);
  const cab = await startStreetlightCabinet({ serial: { path: simEnd, baud: 9600 }, units: [1], tickMs: 100 });
  t.teardown(() => cab.close());
  const [dev] = cabinets(`serial: { path: ${boxEnd}, baud: 9600 }`, [1]);
  const driver = new ModbusDriver(dev!);
  t.teardown(() => driver.close());
  t.notOk((await driver.scan(signal)).error);

  t.equal(await driver.write('loop1_on', false), false, 'the contactor command, read back');
  await waitFor(async () => value(await driver.scan(signal), 'loop1_current') === 0, { what: 'loop 1 dark', timeoutMs: 30_000 });
  t.equal(await driver.write('loop1_on', true), true);
  t.equal(await driver.write('loop1_dim', 50), 50);
  let dimmed = 0;
  await waitFor(async () => {
    dimmed = value(await driver.scan(signal), 'loop1_power') as number;
    return dimmed > 0 && dimmed < 2000;
  }, { what: 'loop 1 at half power', timeoutMs: 30_000 });
  t.pass(`dimmed to 50 %: ${dimmed} W, from about 3000`);
  await t.rejects(driver.write('loop2_dim', 40), { code: 'CE_ERR_WRITE_RANGE', message: /not one of 0, 30, 50, 70, 100/ });
  await t.rejects(driver.write('loop1_dim', 150), { code: 'CE_ERR_WRITE_REFUSED', message: /exception 03/ }, 'within the tag\'s limits, refused by the controller');
  t.equal(value(await driver.scan(signal), 'loop1_dim'), 50, 'and nothing changed');
  await t.rejects(driver.write('voltage_a', 220), { code: 'CE_ERR_WRITE_FORBIDDEN' });
});

t.test('RTU over TCP (a serial-to-Ethernet converter)', async (t) => {
  const cab = await startStreetlightCabinet({ tcp: { host: '127.0.0.1', port: 0 }, units: [1, 2], tickMs: 100 });
  t.teardown(() => cab.close());
  const port = (cab.endpoint as { port: number }).port;
  const drivers = cabinets(`tcp: { host: 127.0.0.1, port: ${port} }`, [1, 2]).map((d) => new ModbusDriver(d));
  t.teardown(() => Promise.all(drivers.map((d) => d.close())));
  for (const d of drivers) {
    const r = await d.scan(signal);
    t.notOk(r.error, `${d.deviceId} answers through the converter`);
    t.ok((value(r, 'energy') as number) >= 0, 'a uint32 energy counter');
  }
  t.equal(await drivers[1]!.write('loop1_dim', 70), 70);
  t.equal(cab.server.unitStats(1).requests > 0 && cab.server.unitStats(2).requests > 0, true, 'both units on one socket');
});

t.test('a write waiting for the line goes ahead of the polls queued before it', async (t) => {
  const cab = await startStreetlightCabinet({ tcp: { host: '127.0.0.1', port: 0 }, units: [1, 2, 3], tickMs: 100, responseDelayMs: 30 });
  t.teardown(() => cab.close());
  const [dev] = cabinets(`tcp: { host: 127.0.0.1, port: ${(cab.endpoint as { port: number }).port} }`, [1]);
  // Three devices on one converter: one line, one queue.
  const units = [1, 2, 3].map((u) => RtuBus.acquire(dev!).unit(u, 1000));
  t.teardown(() => units.forEach((u) => u.release()));
  await Promise.all(units.map((u) => u.connect(signal)));
  // Three cabinets' polls wait on the line (one in flight); then an operator switches a loop.
  const done: string[] = [];
  const polls = [0, 1, 2, 0, 1, 2].map((i, n) => units[i]!.read('ir', 0, 8).then(() => done.push(`poll ${n}`)));
  const write = units[0]!.write('hr', 0, [30]).then(() => done.push('write'));
  await Promise.all([...polls, write]);
  t.equal(done.indexOf('write'), 1, `the write went right after the poll already on the line: ${done.join(', ')}`);
  t.same(done.filter((d) => d !== 'write'), ['poll 0', 'poll 1', 'poll 2', 'poll 3', 'poll 4', 'poll 5'], 'the polls keep their order');
});
