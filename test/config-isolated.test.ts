// `cityedge run` loads its configuration in a child process that exits (config/isolated.ts), so the
// loader's memory never stays in the gateway. What comes back must be exactly what the loader made,
// frozen, and a refusal must reach the user with its file, line and key as `check` gives them.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config/errors.ts';
import { loadConfigIsolated } from '../config/isolated.ts';
import { loadConfig } from '../config/loader.ts';
import { spawnProcess } from './helpers/proc.ts';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'cityedge.mjs');

t.test('the configuration comes back from the child as the loader made it, frozen', async (t) => {
  for (const name of ['pump-station', 'sewage-plant', 'streetlight-cabinet']) {
    const file = join(ROOT, 'config', 'examples', `${name}.yaml`);
    const config = await loadConfigIsolated(file);
    t.same(config, loadConfig(file), `${name}: same as loaded here`);
    t.ok(Object.isFrozen(config) && Object.isFrozen(config.devices[0]), `${name}: frozen`);
  }
});

t.test('a refused file gives the same coded error, line and key as loading it here', async (t) => {
  const file = join(ROOT, 'test', 'fixtures', 'bad-config', '01-unknown-key.yaml');
  let here: ConfigError | undefined;
  try { loadConfig(file); } catch (e) { here = e as ConfigError; }
  t.ok(here instanceof ConfigError, 'refused when loaded here');
  const err = await loadConfigIsolated(file).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof ConfigError, 'a ConfigError, not a generic one');
  t.equal((err as ConfigError).code, here!.code);
  t.same((err as ConfigError).issues, here!.issues);
  t.match((err as ConfigError).message, /devices\[0\]\.pol_ms/);
});

t.test('a missing file is refused, not a crash of the child', async (t) => {
  const err = await loadConfigIsolated('/nonexistent/cityedge.yaml').then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof Error, 'rejected');
  t.match(String((err as Error).message), /nonexistent/);
});

t.test('`cityedge run` with a bad file says where and why, starts nothing, exits 1', async (t) => {
  const file = join(ROOT, 'test', 'fixtures', 'bad-config', '01-unknown-key.yaml');
  const p = await spawnProcess(process.execPath, [CLI, 'run', '--config', file], { t, name: 'cityedge run' });
  const exit = await p.exited;
  t.equal(exit.code, 1);
  t.match(p.output(), /01-unknown-key\.yaml:10/);
  t.match(p.output(), /pol_ms/);
  t.match(p.output(), /nothing started/);
});

t.test('what the loader process prints to stdout is not taken for its answer', async (t) => {
  // --trace-gc makes V8 itself write to stdout, in the loader process too: it inherits Node's flags.
  const file = join(ROOT, 'test', 'fixtures', 'bad-config', '01-unknown-key.yaml');
  const p = await spawnProcess(process.execPath, ['--trace-gc', CLI, 'run', '--config', file], { t, name: 'cityedge run --trace-gc' });
  const exit = await p.exited;
  t.equal(exit.code, 1);
  t.match(p.output(), /01-unknown-key\.yaml:10/, 'the refusal with its line, not "stopped without an answer"');
  t.match(p.output(), /Scavenge|Mark-Compact|Mark-sweep/, 'V8 did write to stdout');
});

t.test("Node's own flags of the gateway do not reach the loader process, values and all", async (t) => {
  // A flag whose value is a separate argument: passed on with the flag filtered out, its value
  // would be taken for the child's script.
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-prof-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(ROOT, 'test', 'fixtures', 'bad-config', '01-unknown-key.yaml');
  const p = await spawnProcess(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, CLI, 'run', '--config', file], { t, name: 'cityedge run --cpu-prof-dir' });
  const exit = await p.exited;
  t.equal(exit.code, 1);
  t.match(p.output(), /01-unknown-key\.yaml:10/, 'the refusal with its line, not "stopped without an answer"');
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; a loader thread of the gateway's (tsx under tap) has its own.
  const pids = new Set(readdirSync(dir).map((f) => f.split('.')[3]));
  t.equal(pids.size, 1, `profiles of one process, the gateway's: the loader was not profiled (${readdirSync(dir).join(', ')})`);
});
