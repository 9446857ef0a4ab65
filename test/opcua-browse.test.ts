// `cityedge browse` as a technician uses it in a plant: the tree of the server, then configuration
// lines that, pasted under a device, read the variables they name.
import t from 'tap';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OpcuaDriver } from '../drivers/opcua/driver.ts';
import { startOpcuaPlant } from '../simulators/opcua/index.ts';
import { good, plantDevice, scanUntil } from './helpers/opcua.ts';
import { tempDir } from './helpers/temp.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'cityedge.mjs');
const run = promisify(execFile);

t.test('the tree, and config lines that work as printed', async (t) => {
  const plant = await startOpcuaPlant({ port: 0 });
  t.teardown(() => plant.close());
  const data = tempDir(t, 'cityedge-browse-');
  const { stdout } = await run(process.execPath, [CLI, 'browse', plant.endpointUrl, '--data', data], { timeout: 120_000 });
  t.match(stdout, /^Plant\/ +\(ns=1;s=Plant\)$/m, 'the plant folder, with its NodeId');
  t.match(stdout, /^ {2}Aeration\/ /m, 'its parts one level in');
  t.match(stdout, /^ {4}DO = [\d.]+ {2}Double {2}\(ns=1;s=Plant\.Aeration\.DO\)$/m, 'a variable with value, type and NodeId');
  t.match(stdout, /DOSetpoint = [\d.]+ {2}Double rw/, 'writable ones marked');
  t.notMatch(stdout, /ServerStatus|Locations/, 'the server\'s standard nodes left out');

  const { stdout: chosen } = await run(process.execPath, [CLI, 'browse', plant.endpointUrl, '--data', data, '--select', 'aeration/1:do|wetwell', '--paths'], { timeout: 120_000 });
  const lines = chosen.split('\n').filter((l) => /^ {6}- \{ name: /.test(l));
  t.same(lines.map((l) => /name: ([a-z0-9_-]+)/.exec(l)![1]).sort(), ['aeration_do', 'aeration_dosetpoint', 'wetwell_level'], 'the chosen variables, named from their paths');
  t.match(lines.join('\n'), /path: "\/Objects\/1:Plant\/1:Aeration\/1:DO"/);

  // Pasted as printed under a device, they read.
  const driver = new OpcuaDriver(plantDevice(plant.endpointUrl, '', `${lines.join('\n')}\n`), { dataDir: data });
  t.teardown(() => driver.close());
  await scanUntil(driver, (r) => good(r, 'aeration_do', 'aeration_dosetpoint', 'wetwell_level'), 'the browsed tags read');
});
