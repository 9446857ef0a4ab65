// The driver against the pump-station simulator over a real socket: every tag of the example
// configuration decodes to what the simulated PLC holds, and the device going away and coming
// back is seen as quality, not as stale values.
import t from 'tap';
import { join } from 'node:path';
import { startPumpStation } from '../simulators/pump-station/index.ts';
import { PUMP_STATION_MAP, readSignal } from '../simulators/pump-station/register-map.ts';
import { loadConfig } from '../config/loader.ts';
import { ModbusTcpDriver } from '../drivers/modbus/driver.ts';
import { FakeClock } from '../gateway/model/clock.ts';
import type { ModbusTcpDeviceConfig } from '../gateway/model/index.ts';

const example = loadConfig(join(import.meta.dirname, '..', 'config/examples/pump-station.yaml'));
const plc1 = example.devices[0] as ModbusTcpDeviceConfig;

t.test('every tag of the example config reads what the PLC holds', async (t) => {
  const sim = await startPumpStation({ port: 0, tickMs: 0 });
  t.teardown(() => sim.close());
  sim.physics.setLevel(3.0); // lead and first lag pump running: currents, flow, frequencies non-zero
  sim.step(5);
  const driver = new ModbusTcpDriver({ ...plc1, port: sim.port });
  t.teardown(() => driver.close());
  const r = await driver.scan(new AbortController().signal);
  t.notOk(r.error);
  t.equal(r.requests, 5, 'five requests: one per register block');
  t.equal(r.samples.length, plc1.tags.length);

  const held = new Map(PUMP_STATION_MAP.map((sig) => [sig.name as string, readSignal(sim.bank, sig)]));
  for (const s of r.samples) {
    const name = s.tag.split('.')[1]!;
    t.equal(s.quality, 'good', `${name} good`);
    const want = held.get(name);
    if (want === undefined) { t.fail(`${name} is not in the simulator's map`); continue; }
    if (typeof want === 'number') t.ok(Math.abs((s.value as number) - want) <= Math.abs(want) * 1e-6 + 1e-9, `${name} = ${String(s.value)} (PLC holds ${want})`);
    else t.equal(s.value, want, `${name} = ${String(want)}`);
  }
  const value = (n: string) => r.samples.find((s) => s.tag === `plc1.${n}`)?.value;
  t.equal(value('pump1_run'), true, 'the lead pump runs at 3.0 m');
  t.ok((value('outlet_flow') as number) > 100, 'flow follows the running pumps');
});

t.test('PLC gone: all tags bad with an error and no values; back: good again', async (t) => {
  const sim = await startPumpStation({ port: 0, tickMs: 0 });
  const port = sim.port;
  const clock = new FakeClock(Date.now());
  const driver = new ModbusTcpDriver({ ...plc1, port, timeout_ms: 500 }, { clock });
  t.teardown(() => driver.close());
  const ac = new AbortController();
  t.notOk((await driver.scan(ac.signal)).error);
  await sim.close();

  const down = await driver.scan(ac.signal);
  t.ok(down.error, `error ${down.error?.code}`);
  t.ok(down.samples.every((s) => s.quality === 'bad' && s.value === null), 'every tag bad, no stale value');
  const waiting = await driver.scan(ac.signal);
  t.equal(waiting.requests, 0, 'within the backoff delay the driver does not hammer the device');
  t.ok(waiting.error && waiting.samples.every((s) => s.quality === 'bad'), 'still bad meanwhile');
  await clock.advance(61_000);
  const refused = await driver.scan(ac.signal);
  t.equal(refused.error?.code, 'CE_ERR_MODBUS_CONNECT', 'nothing listens: connect refused');

  const back = await startPumpStation({ port, tickMs: 0 });
  t.teardown(() => back.close());
  const during = await driver.scan(ac.signal);
  t.equal(during.requests, 0, 'the next try waits for its backoff delay');
  await clock.advance(61_000);
  const ok = await driver.scan(ac.signal);
  t.notOk(ok.error, 'reconnected after the backoff delay');
  t.ok(ok.samples.every((s) => s.quality === 'good'));
});

t.test('a PLC that accepts the connection but never answers: bounded scans, reconnects backed off', async (t) => {
  const sim = await startPumpStation({ port: 0, tickMs: 0 });
  t.teardown(() => sim.close());
  sim.server.setFault({ silent: true });
  const clock = new FakeClock(Date.now());
  const driver = new ModbusTcpDriver({ ...plc1, port: sim.port, timeout_ms: 300 }, { clock });
  t.teardown(() => driver.close());
  const ac = new AbortController();
  const r = await driver.scan(ac.signal);
  t.equal(r.error?.code, 'CE_ERR_MODBUS_TIMEOUT');
  t.equal(r.requests, 1, 'the first timeout ends the scan instead of waiting on every request');
  for (let i = 0; i < 5; i++) await driver.scan(ac.signal);
  t.equal(sim.server.stats.connections, 1, 'five more scans inside the backoff delay open no new connection');
  await clock.advance(61_000);
  await driver.scan(ac.signal);
  t.equal(sim.server.stats.connections, 2, 'after the delay it tries again');
});

t.test('a bridged gap the device does not have stops being bridged', async (t) => {
  const sim = await startPumpStation({ port: 0, tickMs: 0 });
  t.teardown(() => sim.close());
  // hr 135–199 is unmapped on this PLC; max_gap 70 tempts the planner to read 134–200 in one go.
  const dev = { ...plc1, port: sim.port, max_gap: 70, tags: [
    { name: 'gate_command', address: 'hr:134', type: 'uint16' as const },
    { name: 'pump1_status', address: 'hr:200', type: 'uint16' as const },
  ] };
  const driver = new ModbusTcpDriver(dev);
  t.teardown(() => driver.close());
  t.equal(driver.requestsPerScan, 1, 'planned as one bridged request');
  const ac = new AbortController();
  const first = await driver.scan(ac.signal);
  t.ok(first.samples.every((s) => s.quality === 'good'), 'both tags read in the first scan anyway');
  t.equal(first.requests, 3, 'one exception 02, then the two halves');
  const second = await driver.scan(ac.signal);
  t.equal(second.requests, 2, 'from then on two requests, no exception');
  t.equal(driver.requestsPerScan, 2, 'and the plan says so');
  t.ok(second.samples.every((s) => s.quality === 'good'));
});

t.test('writes: a tag marked writable, within its limits, encoded as it is read, then read back', async (t) => {
  const sim = await startPumpStation({ port: 0, tickMs: 50 });
  t.teardown(() => sim.close());
  const driver = new ModbusTcpDriver({ ...plc1, port: sim.port });
  t.teardown(() => driver.close());
  t.notOk((await driver.scan(new AbortController().signal)).error);
  t.equal(await driver.write('lead_start_level', 2.8), 2.8, 'uint16 × 0.01: 2.8 m written as 280, read back as 2.8');
  const held = PUMP_STATION_MAP.find((s) => s.name === 'lead_start_level')!;
  t.ok(Math.abs((readSignal(sim.bank, held) as number) - 2.8) < 1e-9, 'and the PLC holds it');
  t.equal(await driver.write('lead_pump', 2), 2);
  await t.rejects(driver.write('lead_start_level', 7), { code: 'CE_ERR_WRITE_RANGE', message: /outside 0\.5…6/ });
  await t.rejects(driver.write('wet_well_level', 1), { code: 'CE_ERR_WRITE_FORBIDDEN', message: /not marked writable/ });
  await t.rejects(driver.write('lead_pump', 'two'), { code: 'CE_ERR_WRITE_RANGE', message: /takes a number/ });
  await t.rejects(driver.write('nope', 1), { code: 'CE_ERR_WRITE_FORBIDDEN' });
  t.equal(await driver.write('fault_reset', true), true, 'a coil');
});
