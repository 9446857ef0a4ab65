// Contracts checked from outside: the CLI, the editor schema, the error registry in the docs, and
// which way imports point (DESIGN.md "the house").
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { editorSchema, SCHEMA_FILE } from '../config/write-json-schema.ts';
import { ErrorCodes } from '../gateway/model/errors.ts';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'cityedge.mjs');
const run = promisify(execFile);

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

t.test('cityedge check prints the read plan of the example pump station', async (t) => {
  const r = await cli('check', '--config', 'config/examples/pump-station.yaml');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /config\/examples\/pump-station\.yaml: OK/);
  t.match(r.stdout, /device plc1 \(modbus-tcp 127\.0\.0\.1:5020 unit 1\), every 1000 ms: \d+ tags in 5 request\(s\) per scan/);
  t.match(r.stdout, /unit 1 ir 0–\d+ \(\d+ registers, \d+ tags\)/, 'each request with the registers it touches');
  t.match(r.stdout, /total: 5 requests per scan/);
});

t.test('cityedge check prints the plan of the example sewage plant (OPC UA)', async (t) => {
  const r = await cli('check', '--config', 'config/examples/sewage-plant.yaml');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /device wwtp \(opcua, subscribe\), every 1000 ms: 22 tags/);
  t.match(r.stdout, /opc\.tcp:\/\/127\.0\.0\.1:4840 \(no security\): 1 subscription publishing every 1000 ms, 22 monitored item\(s\)/);
});

t.test('cityedge check lists cameras without their passwords', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-check-cam-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'cam.yaml');
  writeFileSync(file, `site: { id: s1 }
devices:
  - { id: plc1, driver: modbus-tcp, host: 127.0.0.1, tags: [ { name: level, address: "ir:0", type: uint16 } ] }
  - { id: cam-gate, driver: camera, name: gate, url: "rtsp://viewer:s3cret@10.0.0.64:554/ch1", width: 320, height: 180 }
alarms:
  - { id: level_high, tag: plc1.level, above: 10, camera: cam-gate }
`);
  const r = await cli('check', '--config', file);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /1 camera\(s\)/);
  t.match(r.stdout, /camera cam-gate \(gate\): rtsp:\/\/viewer:\*\*\*@10\.0\.0\.64:554\/ch1, live 320x180 at 800 kbit\/s; snapshots for level_high/);
  t.notMatch(r.stdout, /s3cret/, 'the camera password is not printed');
});

t.test('cityedge check refuses a bad file with file, line and key, exit 1', async (t) => {
  const r = await cli('check', '--config', 'test/fixtures/bad-config/03-address-out-of-range.yaml');
  t.equal(r.code, 1);
  t.match(r.stderr, /03-address-out-of-range\.yaml:13:\d+: devices\[0\]\.tags\[1\]\.address: /);
  t.match(r.stderr, /hint: /);
  t.equal(r.stdout, '', 'no read plan for a refused file');
});

t.test('usage errors exit 2', async (t) => {
  t.equal((await cli('check')).code, 2);
  t.equal((await cli('frobnicate')).code, 2);
  t.match((await cli('--version')).stdout, /^\d+\.\d+\.\d+/);
});

t.test('the published editor schema matches the schema in code', async (t) => {
  const onDisk = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
  delete onDisk.$schema;
  t.same(onDisk, editorSchema(), 'run `npm run schema` after changing config/schema.ts');
});

t.test('every coded error is documented in docs/errors.md', async (t) => {
  const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  for (const code of Object.keys(ErrorCodes)) t.ok(doc.includes(code), `${code} documented`);
});

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((f) => {
    const p = join(dir, f);
    return statSync(join(ROOT, p)).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}
function imports(file: string): string[] {
  const src = readFileSync(join(ROOT, file), 'utf8');
  return [...src.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => relative(ROOT, join(ROOT, file, '..', m[1]!)));
}

t.test('imports point the way DESIGN.md says', async (t) => {
  const bad: string[] = [];
  const check = (dir: string, allowed: (target: string, file: string) => boolean) => {
    for (const f of tsFiles(dir)) for (const i of imports(f)) if (!allowed(i, f)) bad.push(`${f} → ${i}`);
  };
  check('config', (i) => i.startsWith('config/'));
  check('simulators', (i) => i.startsWith('simulators/'));
  check('gateway/model', (i) => i.startsWith('gateway/model/') || i.startsWith('config/'));
  check('gateway/journal', (i) => i.startsWith('gateway/model/') || i.startsWith('gateway/journal/'));
  check('drivers', (i, f) => i.startsWith('gateway/model/') || i.startsWith(f.split('/').slice(0, 2).join('/')));
  check('cloud-sync', (i) => i.startsWith('gateway/model/') || i === 'gateway/journal/journal.ts' || i.startsWith('cloud-sync/'));
  for (const dir of ['gateway', 'drivers', 'cloud-sync', 'config', 'simulators']) {
    for (const f of tsFiles(dir)) {
      if (f.startsWith('gateway/cli/')) continue;
      for (const i of imports(f)) if (i.startsWith('gateway/cli/')) bad.push(`${f} → ${i} (nothing imports the CLI)`);
    }
  }
  const concrete = tsFiles('gateway').filter((f) => f !== 'gateway/main.ts' && !f.startsWith('gateway/cli/'))
    .filter((f) => imports(f).some((i) => i.startsWith('drivers/') || i.startsWith('cloud-sync/')));
  t.same(concrete, [], 'only gateway/main.ts (and the CLI) know concrete drivers and uplinks');
  t.same(bad, [], 'no import against the grain');
});
