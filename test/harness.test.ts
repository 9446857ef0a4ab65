// Tests of the test harness itself: if a helper silently did nothing (a broker that never started,
// a peer serving shifted addresses, a kill that left grandchildren), every other test built on it
// would be testing nothing. Each check here uses an independent client to look.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import ModbusSerial from 'modbus-serial';
import t from 'tap';
import { canBind, canConnect, freePort, waitForPort } from './helpers/ports.ts';
import { groupMembers, spawnProcess } from './helpers/proc.ts';
import { startMosquitto } from './helpers/mosquitto.ts';
import { startPymodbus } from './helpers/pymodbus.ts';
import type { ModbusBlock, ModbusUnitMap } from './helpers/pymodbus.ts';
import { waitFor, waitForValue, withTimeout } from './helpers/wait.ts';

// CommonJS with typings that declare an ES default: under NodeNext the default import is the module
// object, whose `default` is the client class (at run time too).
const ModbusClient = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusClient>;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Independent of proc.ts: gone means no /proc entry, or a zombie nobody has reaped yet. */
function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

t.test('wait helpers', async (t) => {
  let n = 0;
  await waitFor(() => ++n >= 3, { intervalMs: 1 });
  t.equal(n, 3, 'polls until the condition holds');
  await t.rejects(waitFor(() => false, { timeoutMs: 100, what: 'the moon to turn blue' }), /the moon to turn blue/);
  await t.rejects(waitFor(() => { throw new Error('ECONNREFUSED here'); }, { timeoutMs: 100, what: 'x' }),
    /last error: ECONNREFUSED here/, 'quotes the last error');
  t.equal(await waitForValue(() => (n > 0 ? 'v' : undefined)), 'v');
  await t.rejects(withTimeout(new Promise(() => {}), 50, 'a promise that never settles'), /never settles/);
});

t.test('ports', async (t) => {
  const port = await freePort();
  t.ok(port > 0 && (await canBind(port)), 'freePort gives a bindable port');
  t.notOk(await canConnect(port), 'nothing listens there');
  // A listener that appears only later: waitForPort must wait for it, not fail at once.
  const net = await import('node:net');
  const srv = net.createServer((s) => s.destroy());
  t.teardown(() => { srv.close(); });
  const late = setTimeout(() => srv.listen(port, '127.0.0.1'), 300);
  t.teardown(() => clearTimeout(late));
  await waitForPort(port);
  t.ok(await canConnect(port));
  await t.rejects(waitForPort(await freePort(), { timeoutMs: 200 }), /a listener on 127\.0\.0\.1:\d+/);
});

t.test('spawnProcess', async (t) => {
  t.test('resolves on the ready line and collects output', async (t) => {
    const p = await spawnProcess('sh', ['-c', 'echo to-stderr >&2; echo "ready on 42"; exec sleep 300'], { t, readyLine: /ready on (\d+)/ });
    t.equal(p.ready?.[1], '42');
    // stdout and stderr are separate pipes: the stderr line may arrive after the ready line.
    await p.waitForOutput(/^to-stderr$/);
    t.ok(p.running());
    t.equal(await p.kill(), 128 + 15, 'killed by SIGTERM: shell-style status 143');
    t.notOk(pidAlive(p.pid));
    t.equal(await p.kill(), 143, 'a second kill() is harmless');
  });

  t.test('rejects with the output when the process exits before the ready line', async (t) => {
    await t.rejects(spawnProcess('sh', ['-c', 'echo boom; exit 3'], { readyLine: /never/ }),
      /exited \(status 3\) before printing \/never\/; output:\nboom/);
  });

  t.test('rejects on timeout and leaves nothing running', async (t) => {
    const err = await spawnProcess('sh', ['-c', 'echo "pid $$"; exec sleep 300'], { readyLine: /never/, readyTimeoutMs: 300 })
      .then(() => undefined, (e: unknown) => e as Error);
    t.match(err?.message, /did not print \/never\/ within 300 ms/);
    const pid = Number(/pid (\d+)/.exec(err?.message ?? '')?.[1]);
    t.ok(pid > 0);
    t.notOk(pidAlive(pid), 'the timed-out process was killed');
  });

  t.test('a missing binary is a clear error', async (t) => {
    await t.rejects(spawnProcess('/nonexistent/cityedge-nothing', []), /cannot start cityedge-nothing.*ENOENT/);
  });

  t.test('kill() stops the whole process group', async (t) => {
    const p = await spawnProcess('sh', ['-c', 'sleep 300 & sleep 300 & echo started; wait'], { t, readyLine: /started/ });
    // Both sleeps are in the shell's group (detached: the group id is the shell's pid).
    const sleeps = await waitForValue(async () => {
      const m = (await groupMembers(p.pid)).filter((pid) => pid !== p.pid);
      return m.length === 2 ? m : undefined;
    }, { what: 'two sleeps in the group' });
    for (const pid of sleeps) t.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /^sleep\x00300/);
    await p.kill();
    for (const pid of [p.pid, ...sleeps]) t.notOk(pidAlive(pid), `pid ${pid} is gone`);
  });

  t.test('kill() escalates to SIGKILL when SIGTERM is ignored', async (t) => {
    // An ignored signal stays ignored across exec, so the whole group ignores TERM.
    const p = await spawnProcess('sh', ['-c', 'trap "" TERM; sleep 300 & echo started; wait'], { t, readyLine: /started/, killGraceMs: 300 });
    t.equal(await p.kill('SIGTERM'), 128 + 9, 'ended by SIGKILL');
    t.same(await groupMembers(p.pid), []);
  });

  // The last resort: a test process that exits or is killed (tap's timeout sends SIGALRM) without
  // its teardowns must still take its peers with it.
  for (const how of ['exit', 'SIGTERM', 'SIGALRM'] as const) {
    t.test(`the test process's peers die when it ends by ${how}`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'cityedge-harness-'));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const script = join(dir, 'orphan.mts'); // .mts: ESM (top-level await) outside our package
      writeFileSync(script, [
        `import { spawnProcess } from ${JSON.stringify(pathToFileURL(join(ROOT, 'test/helpers/proc.ts')).href)};`,
        `const p = await spawnProcess('sleep', ['300']);`,
        `console.log('peer ' + p.pid);`,
        // Exit only when told: the test must see the peer alive first.
        `process.stdin.once('data', () => { if (process.argv[2] === 'exit') process.exit(0); });`,
        `setInterval(() => {}, 1000);`,
      ].join('\n'));
      const parent = await spawnProcess(process.execPath, ['--import', 'tsx', script, how], {
        t, cwd: ROOT, readyLine: /peer (\d+)/, env: { NODE_OPTIONS: undefined }, stdin: 'pipe',
      });
      const peer = Number(parent.ready?.[1]);
      t.ok(pidAlive(peer), 'the peer was running');
      if (how === 'exit') parent.child.stdin?.write('exit\n');
      else process.kill(parent.pid, how);
      const status = (await parent.exited).status;
      if (how !== 'exit') t.equal(status, how === 'SIGTERM' ? 143 : 142, 'the signal still ended the parent');
      await waitFor(() => !pidAlive(peer), { what: `peer ${peer} to be killed by the sweep` });
      t.pass('the peer is gone');
    });
  }
});

t.test('mosquitto', async (t) => {
  const broker = await startMosquitto({ t, persistence: true });
  t.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);

  const sub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, clientId: 'harness-sub' });
  t.teardown(() => sub.endAsync(true));
  await sub.subscribeAsync('cityedge/harness/#', { qos: 1 });
  const got = new Promise<[string, string]>((res) => sub.on('message', (topic, payload) => res([topic, payload.toString()])));
  const pub = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, clientId: 'harness-pub' });
  t.teardown(() => pub.endAsync(true));
  await pub.publishAsync('cityedge/harness/x', 'hello 拱墅', { qos: 1 });
  t.same(await withTimeout(got, 30_000, 'the message through mosquitto'), ['cityedge/harness/x', 'hello 拱墅']);

  // restart() keeps port and config; with persistence a retained message survives it.
  await pub.publishAsync('cityedge/harness/retained', 'kept', { qos: 1, retain: true });
  await pub.endAsync();
  await sub.endAsync();
  await broker.restart();
  const again = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, clientId: 'harness-again' });
  t.teardown(() => again.endAsync(true));
  const retained = new Promise<string>((res) => again.on('message', (_topic, payload) => res(payload.toString())));
  await again.subscribeAsync('cityedge/harness/retained', { qos: 1 });
  t.equal(await withTimeout(retained, 30_000, 'the retained message after restart'), 'kept');
  await again.endAsync(true);

  const pid = broker.process()!.pid;
  await broker.stop();
  t.notOk(pidAlive(pid), 'the broker process is gone');
  t.notOk(await canConnect(broker.port), 'nothing accepts on the port');
  t.ok(await canBind(broker.port), 'the port can be bound again');
});

// ── pymodbus ───────────────────────────────────────────────────────────────────────────────────

const UNIT1: ModbusUnitMap = {
  unit: 1,
  hr: [{ start: 0, values: [0, 1, 1234, 40000, 65535] }, { start: 100, values: [7, 8] }],
  ir: { start: 10, values: [11, 12, 13] },
  co: { start: 0, values: [true, false, true, true, false, false, true, false, true] }, // 9 bits: crosses a byte
  di: { start: 5, values: [1, 0, 1] },
};
const UNIT2: ModbusUnitMap = { unit: 2, hr: { start: 0, values: [222] } };
type TableName = 'hr' | 'ir' | 'co' | 'di';
const TABLES: TableName[] = ['hr', 'ir', 'co', 'di'];
const MBPOLL_TYPE: Record<TableName, string> = { hr: '4:hex', ir: '3:hex', co: '0', di: '1' };

function blocks(unit: ModbusUnitMap, table: TableName): ModbusBlock<number | boolean>[] {
  const spec = unit[table];
  return (spec === undefined ? [] : Array.isArray(spec) ? spec : [spec]) as ModbusBlock<number | boolean>[];
}
const asNumbers = (vs: (number | boolean)[]): number[] => vs.map((v) => Number(v));

async function read(c: ModbusRTU, table: TableName, addr: number, count: number): Promise<number[]> {
  switch (table) {
    case 'hr': return (await c.readHoldingRegisters(addr, count)).data;
    case 'ir': return (await c.readInputRegisters(addr, count)).data;
    // Bit reads come back padded to a whole byte.
    case 'co': return asNumbers((await c.readCoils(addr, count)).data.slice(0, count));
    case 'di': return asNumbers((await c.readDiscreteInputs(addr, count)).data.slice(0, count));
  }
}

/** The Modbus exception code a request failed with (undefined if it succeeded or failed otherwise). */
async function exceptionCode(p: Promise<unknown>): Promise<number | string | undefined> {
  return p.then(() => 'no error', (e: unknown) => (e as { modbusCode?: number }).modbusCode);
}

/** Reads with mbpoll (0-based with -0, one poll); the values by address, or the error output. */
function mbpoll(port: number, unit: number, table: TableName, addr: number, count: number): Promise<{ code: number; values: Map<number, number>; out: string }> {
  const args = ['-m', 'tcp', '-p', String(port), '-a', String(unit), '-0', '-1', '-o', '10',
    '-t', MBPOLL_TYPE[table], '-r', String(addr), '-c', String(count), '127.0.0.1'];
  return new Promise((res) => {
    execFile('mbpoll', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const values = new Map<number, number>();
      for (const m of stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) values.set(Number(m[1]), Number(m[2]));
      res({ code: err ? Number(err.code ?? 1) : 0, values, out: stdout + stderr });
    });
  });
}

t.test('pymodbus peer', async (t) => {
  const peer = await startPymodbus({ t, map: { units: [UNIT1, UNIT2] } });
  t.ok(peer.port > 0);
  const client = new ModbusClient();
  await client.connectTCP('127.0.0.1', { port: peer.port });
  // Not awaited: modbus-serial's close() never calls back once the peer has closed the connection.
  t.teardown(() => { if (client.isOpen) client.close(() => {}); });
  client.setTimeout(10_000);

  for (const unit of [UNIT1, UNIT2]) {
    for (const table of TABLES) {
      for (const b of blocks(unit, table)) {
        const want = asNumbers(b.values);
        const where = `unit ${unit.unit} ${table}:${b.start}..${b.start + want.length - 1}`;
        client.setID(unit.unit!);
        t.same(await read(client, table, b.start, want.length), want, `modbus-serial reads ${where}`);
        // One address at a time too: catches an off-by-one that a whole-block read could hide.
        for (const [i, v] of want.entries()) t.same(await read(client, table, b.start + i, 1), [v], `modbus-serial ${table}:${b.start + i}`);
        const mb = await mbpoll(peer.port, unit.unit!, table, b.start, want.length);
        t.equal(mb.code, 0, `mbpoll ok for ${where}`, { output: mb.out });
        t.same([...mb.values.entries()], want.map((v, i) => [b.start + i, v]), `mbpoll reads ${where}`);
      }
    }
  }

  client.setID(1);
  const unmapped: [TableName, number, number][] = [
    ['hr', 5, 1], // just past the first block
    ['hr', 99, 2], // overlaps hr:100 only partly
    ['hr', 4, 2], // starts in a block, runs out of it
    ['ir', 9, 1], ['ir', 0, 1], ['co', 9, 1], ['di', 4, 1], ['di', 8, 1],
  ];
  for (const [table, addr, count] of unmapped) {
    t.equal(await exceptionCode(read(client, table, addr, count)), 2, `${table}:${addr} x${count} is exception 02`);
    const mb = await mbpoll(peer.port, 1, table, addr, count);
    t.not(mb.code, 0, `mbpoll fails on ${table}:${addr}`);
    t.match(mb.out, /Illegal data address/);
  }
  client.setID(2);
  t.equal(await exceptionCode(read(client, 'ir', 10, 1)), 2, 'unit 2 has no ir:10');

  // Writes change what every client reads; writes outside the map are refused too.
  client.setID(1);
  await client.writeRegister(1, 4321);
  await client.writeCoil(1, true);
  t.same([...(await mbpoll(peer.port, 1, 'hr', 1, 1)).values.values()], [4321], 'mbpoll sees the written register');
  t.same([...(await mbpoll(peer.port, 1, 'co', 1, 1)).values.values()], [1], 'mbpoll sees the written coil');
  t.equal(await exceptionCode(client.writeRegister(50, 1)), 2, 'writing an unmapped register is exception 02');

  // pymodbus 3.0 drops requests for a unit it does not serve: no answer at all.
  client.setID(3);
  client.setTimeout(1000);
  await t.rejects(read(client, 'hr', 0, 1), /Timed out/, 'unknown unit id: no answer');

  await new Promise<void>((res) => client.close(() => res()));
  const pid = peer.pid;
  await peer.stop();
  t.notOk(pidAlive(pid), 'the peer process is gone');
  t.notOk(await canConnect(peer.port), 'its port is closed');
});

t.test('pymodbus peer refuses a bad map with a clear error', async (t) => {
  await t.rejects(startPymodbus({ map: { unit: 1, hr: { start: 0, values: [70000] } } }),
    /bad map .*unit 1 hr\[0\]: hr:0 value 70000 is not a register/);
});
