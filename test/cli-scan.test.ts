// `cityedge scan` as a technician runs it (the CLI in a child process) against two devices whose maps
// we know: Debian's pymodbus, an independent stack, serving hr:0-9 and hr:100-104 and exception 02
// everywhere else; and the project's pump-station simulator with its documented register map.
import t from 'tap';
import { once } from 'node:events';
import { spawnProcess } from './helpers/proc.ts';
import { freePort } from './helpers/ports.ts';
import { startPymodbus } from './helpers/pymodbus.ts';
import { withTimeout } from './helpers/wait.ts';

const ROOT = new URL('..', import.meta.url).pathname;
interface Test { teardown(fn: () => unknown): void }
interface Run { status: number; stdout: string; stderr: string }

interface ScanJson {
  target: string; unit: number; scanned: string[];
  answering: Array<{ range: string; table: string; start: number; end: number; count: number; values: number[] }>;
  requests: number; timed_out: string[]; exceptions: Record<string, number>; stopped: string | null; interrupted: boolean; covered: number;
}

async function scan(tt: Test, args: string[]): Promise<Run> {
  const proc = await spawnProcess(process.execPath, ['bin/cityedge.mjs', 'scan', ...args], { cwd: ROOT, t: tt, name: 'cityedge scan' });
  let stdout = '';
  let stderr = '';
  proc.child.stdout!.on('data', (c: string) => { stdout += c; });
  proc.child.stderr!.on('data', (c: string) => { stderr += c; });
  const closed = once(proc.child, 'close');
  const { status } = await withTimeout(proc.exited, 180_000, `cityedge scan ${args.join(' ')} to exit`);
  await closed;
  return { status, stdout, stderr };
}

const HR_LOW = [1234, 1, 0, 65535, 0x4349, 0x5459, 7, 8, 9, 10];
const HR_HIGH = [4000, 7, 65535, 2, 42];

t.test('pymodbus with holes in its map', async (t) => {
  const peer = await startPymodbus({ t, map: { unit: 1, hr: [{ start: 0, values: HR_LOW }, { start: 100, values: HR_HIGH }] } });
  const url = `modbus://127.0.0.1:${peer.port}`;

  t.test('the answering ranges, their first values and a config line each; progress on stderr', async (t) => {
    const r = await scan(t, [url, '--range', 'hr:0-200']);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, new RegExp(`^${url} unit 1: 15 of 201 address\\(es\\) answer \\(scanned hr:0-200; \\d+ requests in [\\d.]+ s\\)$`, 'm'));
    t.match(r.stdout, /^answering: hr:0-9, hr:100-104$/m);
    t.match(r.stdout, /^ {2}hr:0-9 +10 registers {2}0x04D2 1234 · 0x0001 1 · 0x0000 0 · 0xFFFF 65535 …$/m);
    t.match(r.stdout, /^ {2}hr:100-104 +5 registers {2}0x0FA0 4000 · 0x0007 7 · 0xFFFF 65535 · 0x0002 2 …$/m);
    t.match(r.stdout, /^exceptions: 02 ×\d+ \(illegal data address\)$/m);
    const config = r.stdout.split('\n').filter((l) => l.trimStart().startsWith('- {'));
    t.same(config, [
      '      - { name: hr_0, address: "hr:0", type: uint16 }',
      '      - { name: hr_100, address: "hr:100", type: uint16 }',
    ]);
    t.match(r.stderr, `scanning ${url} unit 1: 100 % (201/201), 15 answering`);
    t.notMatch(r.stdout, /scanning/, 'progress stays off stdout');
  });

  t.test('--json, with blocks that straddle the holes', async (t) => {
    const r = await scan(t, [url, '--range', 'hr:0-120', '--range', 'hr:95-110', '--block', '3', '--json']);
    t.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as ScanJson;
    t.same(j.scanned, ['hr:0-120'], 'overlapping ranges are scanned once');
    t.same(j.answering, [
      { range: 'hr:0-9', table: 'hr', start: 0, end: 9, count: 10, values: HR_LOW },
      { range: 'hr:100-104', table: 'hr', start: 100, end: 104, count: 5, values: HR_HIGH },
    ]);
    t.equal(j.stopped, null);
    t.same(j.timed_out, []);
    t.equal(j.covered, 121);
    t.ok(j.exceptions['02']! > 0);
    t.match(r.stderr, /100 % \(121\/121\)/);
  });

  t.test('a table with nothing mapped: exit 1', async (t) => {
    const r = await scan(t, [url, '--range', 'ir:0-50', '--range', 'co:0-20']);
    t.equal(r.status, 1);
    t.match(r.stdout, /: 0 of 72 address\(es\) answer/);
    t.notMatch(r.stdout, /answering:|- \{ name/);
    t.match(r.stderr, `cityedge scan: nothing answered in ir:0-50, co:0-20 on ${url} unit 1`);
  });

  t.test('a unit id nobody answers: three silences, then a stop that says why; exit 1', async (t) => {
    const r = await scan(t, [url, '--unit', '7', '--timeout-ms', '300', '--range', 'hr:0-200', '--json']);
    t.equal(r.status, 1);
    const j = JSON.parse(r.stdout) as ScanJson;
    t.same(j.answering, []);
    t.same(j.timed_out, ['hr:0-9', 'hr:10-19', 'hr:20-29']);
    t.equal(j.covered, 20, 'the scan stopped at the third silence');
    t.equal(j.stopped, `3 requests in a row got no answer (last hr:20-29): 127.0.0.1:${peer.port} does not answer; the device is silent or unit id 7 is wrong`);
    t.match(r.stderr, 'cityedge scan: stopped: 3 requests in a row got no answer');
  });
});

t.test('nothing listening: exit 1, the refusal named', async (t) => {
  const port = await freePort();
  const r = await scan(t, [`modbus://127.0.0.1:${port}`]);
  t.equal(r.status, 1);
  t.match(r.stderr, `cityedge scan: stopped: cannot connect to 127.0.0.1:${port}: ECONNREFUSED`);
});

t.test('usage errors: exit 2 and what is wrong', async (t) => {
  const cases: Array<[string[], string | RegExp]> = [
    [['modbus://127.0.0.1:1', '--range', 'hr:5-2'], '--range hr:5-2: the end (2) is before the start (5)'],
    [['modbus://127.0.0.1:1', '--range', 'xx:0-1'], '--range xx:0-1: unknown table "xx"'],
    [['modbus://127.0.0.1:1', '--range', 'hr:0-65536'], '--range hr:0-65536: addresses are 0–65535'],
    [['modbus://127.0.0.1:1', '--range', 'hr0-5'], '--range hr0-5: expected TABLE:START-END'],
    [['modbus://127.0.0.1:1', '--block', '0'], '--block 0: expected a whole number 1–125'],
    [['modbus://127.0.0.1:1', '--unit', '300'], '--unit 300: expected a whole number 0–255'],
    [['tcp://127.0.0.1:502'], 'tcp://127.0.0.1:502: scan speaks Modbus TCP only'],
    [['modbus-tcp://127.0.0.1:502'], '(write modbus://127.0.0.1:502)'],
    [[], /usage: cityedge scan modbus:\/\/HOST:PORT/],
  ];
  for (const [args, message] of cases) {
    const r = await scan(t, args);
    t.equal(r.status, 2, `scan ${args.join(' ')}`);
    t.match(r.stderr, message);
  }
});

t.test('the pump-station simulator: its documented blocks, exactly', async (t) => {
  const sim = await spawnProcess(process.execPath, ['bin/cityedge.mjs', 'sim', 'pump-station', '--port', '0'], {
    cwd: ROOT, t, name: 'cityedge sim pump-station', readyLine: /listening on modbus-tcp:\/\/127\.0\.0\.1:(\d+)/, readyTimeoutMs: 90_000,
  });
  const url = `modbus://127.0.0.1:${sim.ready![1]}`;
  const r = await scan(t, [url, '--range', 'hr:0-250', '--range', 'ir:0-20', '--range', 'co:0-20', '--range', 'di:0-20', '--json']);
  t.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as ScanJson;
  t.same(j.answering.map((a) => a.range), ['hr:100-134', 'hr:200-202', 'ir:0-9', 'co:0-9', 'di:0-7']);
  // hr:130-133 hold the default start/stop levels (docs/simulators.md): read at the right addresses.
  t.same(j.answering[0]!.values.slice(30, 34), [250, 320, 380, 120]);
  t.ok(j.answering.find((a) => a.table === 'co')!.values.every((v) => v === 0 || v === 1), 'bits as 0/1');

  const text = await scan(t, [url, '--range', 'hr:0-250', '--range', 'di:0-20']);
  t.equal(text.status, 0);
  t.match(text.stdout, /^answering: hr:100-134, hr:200-202, di:0-7$/m);
  t.match(text.stdout, /^ {6}- \{ name: di_0, address: "di:0", type: bool \}$/m);
});
