// The OPC UA driver against the sewage-plant simulator (a node-opcua server of its own, which knows
// nothing of the driver): subscription and Read, quality from status codes, a bad node among good
// ones, writes with their checks, and signed and encrypted sessions with a user.
import t from 'tap';
import { OpcuaDriver } from '../drivers/opcua/driver.ts';
import type { ScanResult } from '../gateway/model/index.ts';
import { startOpcuaPlant, type OpcuaPlant } from '../simulators/opcua/index.ts';
import { good, latest, plantDevice, scanUntil } from './helpers/opcua.ts';
import { tempDir } from './helpers/temp.ts';

let plant: OpcuaPlant;
t.before(async () => { plant = await startOpcuaPlant({ port: 0, users: [{ username: 'operator', password: 'pump-it-up' }] }); });
t.teardown(() => plant.close());

for (const mode of ['subscribe', 'poll'] as const) {
  t.test(`${mode}: values with their quality, a bad node among good ones`, async (t) => {
    const driver = new OpcuaDriver(plantDevice(plant.endpointUrl, `    mode: ${mode}\n`), { dataDir: tempDir(t, 'cityedge-opcua-') });
    t.teardown(() => driver.close());
    const scans = await scanUntil(driver, (r) => good(r, 'level', 'do1', 'energy', 'name'), 'good values');
    const r = scans.at(-1)!;
    t.notOk(r.error, 'the device answers');
    const level = latest(r, 'level')!;
    t.ok(typeof level.value === 'number' && level.value >= 0 && level.value <= 6, `wet well level ${level.value} m`);
    t.ok(Math.abs(level.ts - Date.now()) < 10_000, 'the source timestamp is a time of today');
    t.type(latest(r, 'do1')!.value, 'number', 'a tag by browse path');
    t.type(latest(r, 'name')!.value, 'string');
    t.match(latest(r, 'no_such'), { value: null, quality: 'bad' }, 'the unknown node is bad');
    t.match(r.tagErrors?.get('no_such'), { code: 'CE_ERR_OPCUA_NODE', message: /ns=1;s=Plant\.NoSuchThing.*BadNodeIdUnknown|unknown/ });
    t.equal(r.tagErrors?.size, 1, 'and only it');
    t.equal(r.requests, mode === 'poll' ? 1 : 0);

    const e0 = latest(r, 'energy')!.value as number;
    await scanUntil(driver, (x) => (latest(x, 'energy')?.value as number) > e0, 'energy counting up');

    plant.physics.setSensorFault('Aeration.DO', 'bad');
    await scanUntil(driver, (x) => latest(x, 'do1')?.quality === 'bad', 'the DO analyser failing');
    t.match(latest((await scanUntil(driver, () => true, 'a scan')).at(-1)!, 'do1'), { value: null, quality: 'bad' }, 'a bad reading carries no value');
    plant.physics.setSensorFault('Aeration.DO', 'uncertain');
    const unc = (await scanUntil(driver, (x) => latest(x, 'do1')?.quality === 'uncertain', 'an uncertain DO')).at(-1)!;
    t.type(latest(unc, 'do1')!.value, 'number', 'an uncertain reading keeps its value');
    plant.physics.setSensorFault('Aeration.DO', undefined);
    await scanUntil(driver, (x) => latest(x, 'do1')?.quality === 'good', 'the DO analyser back');
  });
}

t.test('subscribe: every change between two scans is passed on, oldest first', async (t) => {
  const bulk = await startOpcuaPlant({ port: 0, bulk: 3 });
  t.teardown(() => bulk.close());
  const driver = new OpcuaDriver(plantDevice(bulk.endpointUrl, '', `      - { name: counter, node: "${bulk.bulkNodeIds[0]}" }\n`, 100), { dataDir: tempDir(t, 'cityedge-opcua-') });
  t.teardown(() => driver.close());
  await scanUntil(driver, (r) => good(r, 'counter'), 'the counter');
  // Collect for a while without scanning, then one scan: the server's queue and ours kept every change.
  await new Promise<void>((r) => { setTimeout(r, 3500); });
  const r = (await scanUntil(driver, () => true, 'one scan')).at(-1)!;
  const values = r.samples.map((s) => s.value as number);
  t.ok(values.length >= 3, `${values.length} changes in one scan`);
  t.same(values, [...values].sort((a, b) => a - b), 'in order');
  t.same(r.samples.map((s) => s.ts), [...r.samples.map((s) => s.ts)].sort((a, b) => a - b), 'each with its own time');
});

t.test('writes: the node\'s type, the tag\'s limits, the server\'s answer, read back', async (t) => {
  const driver = new OpcuaDriver(plantDevice(plant.endpointUrl), { dataDir: tempDir(t, 'cityedge-opcua-') });
  t.teardown(() => driver.close());
  await scanUntil(driver, (r) => good(r, 'lead_pump'), 'connected');
  t.equal(await driver.write('lead_pump', 2), 2, 'an Int32 written and read back');
  await scanUntil(driver, (r) => latest(r, 'lead_pump')?.value === 2, 'the new lead pump in the data');
  t.equal(await driver.write('do_sp', 2.5), 2.5);
  await scanUntil(driver, (r) => latest(r, 'do_sp')?.value === 2.5, 'the new setpoint in the data');
  await t.rejects(driver.write('lead_pump', 2.5), { code: 'CE_ERR_WRITE_RANGE', message: /not an integer; the node is Int32/ });
  await t.rejects(driver.write('lead_pump', 7), { code: 'CE_ERR_WRITE_RANGE', message: /outside 1…3/ });
  await t.rejects(driver.write('level', 1), { code: 'CE_ERR_WRITE_FORBIDDEN', message: /not marked writable/ });
  await t.rejects(driver.write('do_sp', 8), { code: 'CE_ERR_WRITE_REFUSED', message: /BadOutOfRange/ }, 'within the tag\'s limits, refused by the server');
  let n = 0;
  const after = await scanUntil(driver, () => ++n >= 5, 'five scans');
  t.same(after.map((r) => latest(r, 'do_sp')!.value), [2.5, 2.5, 2.5, 2.5, 2.5], 'the refused write changed nothing');
});

t.test('SignAndEncrypt with a user: trusted once with --trust, remembered; a wrong password says so', async (t) => {
  const dataDir = tempDir(t, 'cityedge-opcua-pki-');
  const secure = (user: string, password: string) => plantDevice(plant.endpointUrl,
    `    security_mode: SignAndEncrypt\n    security_policy: Basic256Sha256\n    username: ${user}\n    password: ${password}\n`);

  const wary = new OpcuaDriver(secure('operator', 'pump-it-up'), { dataDir });
  t.teardown(() => wary.close());
  const refused = (await scanUntil(wary, (x) => x.error !== undefined, 'a refusal')).at(-1)!;
  t.match(refused.error, { code: 'CE_ERR_OPCUA_SECURITY', message: /rejected.*trusted.*--trust/ }, 'a server never seen is not trusted by default, and the log says how to');
  await wary.close();

  const first = new OpcuaDriver(secure('operator', 'pump-it-up'), { dataDir, trustServers: true });
  t.teardown(() => first.close());
  await scanUntil(first, (r) => good(r, 'level'), 'a signed and encrypted session');
  await first.close();

  const again = new OpcuaDriver(secure('operator', 'pump-it-up'), { dataDir });
  t.teardown(() => again.close());
  await scanUntil(again, (r) => good(r, 'level'), 'the server remembered as trusted, without --trust');

  const wrong = new OpcuaDriver(secure('operator', 'guess'), { dataDir });
  t.teardown(() => wrong.close());
  const r = (await scanUntil(wrong, (x) => x.error !== undefined, 'the refusal')).at(-1)!;
  t.match(r.error, { code: 'CE_ERR_OPCUA_SECURITY', message: /login refused for "operator"/ });
  t.ok(r.samples.every((s) => s.quality === 'bad'));
});
