// The fault OPC UA users report most: the plant's server restarts and the gateway's subscription
// silently stops. Here the simulator runs as its own process and is killed with SIGKILL in the
// middle of a subscription; every tag turns bad while it is gone (never a stale good value), and
// when it is back on the same port data flows again, without a gateway restart.
import t from 'tap';
import { join } from 'node:path';
import { OpcuaDriver } from '../drivers/opcua/driver.ts';
import type { ScanResult } from '../gateway/model/index.ts';
import { freePort } from './helpers/ports.ts';
import { spawnProcess } from './helpers/proc.ts';
import { good, latest, plantDevice, scanUntil } from './helpers/opcua.ts';
import { tempDir } from './helpers/temp.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'cityedge.mjs');

t.test('kill -9 of the server mid-subscription: bad in between, data again after its restart', async (t) => {
  const port = await freePort();
  const pki = tempDir(t, 'cityedge-opcua-sim-pki-');
  const start = () => spawnProcess(process.execPath, [CLI, 'sim', 'opcua', '--port', String(port), '--pki', pki],
    { t, readyLine: /listening on opc\.tcp:\/\//, readyTimeoutMs: 90_000, name: 'opcua-sim' });
  let sim = await start();

  const driver = new OpcuaDriver(plantDevice(`opc.tcp://127.0.0.1:${port}`), { dataDir: tempDir(t, 'cityedge-opcua-') });
  t.teardown(() => driver.close());
  const before = (await scanUntil(driver, (r) => good(r, 'level', 'energy'), 'data before the restart')).at(-1)!;
  t.type(latest(before, 'energy')!.value, 'number');

  await sim.kill('SIGKILL');
  const down = await scanUntil(driver, (r) => r.error !== undefined, 'the loss noticed');
  const lost = down.at(-1)!;
  t.match(lost.error, { code: /CE_ERR_DEVICE_DISCONNECTED|CE_ERR_OPCUA_CONNECT/ });
  t.ok(lost.samples.every((s) => s.quality === 'bad' && s.value === null), 'every tag bad, no value');
  let n = 0;
  const gone = await scanUntil(driver, () => ++n >= 10, 'ten scans while it is down');
  t.ok(gone.every((r) => r.samples.every((s) => s.quality === 'bad')), 'no stale good value while the server is gone');

  const restartedAt = Date.now();
  sim = await start();
  const back = await scanUntil(driver, (r) => good(r, 'level', 'energy', 'do1'), 'data after the restart', 90_000);
  const between = back.slice(0, -1);
  t.ok(between.every((r: ScanResult) => r.samples.every((s) => s.quality !== 'good')), 'nothing good until the server answered again');
  const first = back.at(-1)!;
  t.ok(latest(first, 'level')!.ts >= restartedAt - 1000, 'the values are the new server\'s, not the old session\'s');
  // The subscription itself is alive again: values keep coming, not only the first one.
  const e1 = latest(first, 'energy')!.value as number;
  await scanUntil(driver, (r) => (latest(r, 'energy')?.value as number) > e1, 'the energy counter moving after the restart');
  t.equal(first.tagErrors?.get('no_such')?.code, 'CE_ERR_OPCUA_NODE', 'the bad node is still reported, alone');
  await sim.kill();
});
