// The pump-station simulator over real sockets, checked with modbus-serial's client (an
// implementation independent of our server) and with hand-built ADUs where the client cannot go.
// Physics runs with tickMs 0: each test advances simulated time itself, so nothing waits on a clock.
import t from 'tap';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import ModbusSerial from 'modbus-serial';
import { parse } from 'yaml';
import { Ajv } from 'ajv';
import { RegisterBank, startModbusTcpServer } from '../simulators/modbus/tcp-server.ts';
import { startPumpStation, type PumpStation } from '../simulators/pump-station/index.ts';
import { PUMP_STATION_MAP, bankLayout, signal, type SignalName } from '../simulators/pump-station/register-map.ts';
import { ConfigSchema } from '../config/schema.ts';

// CommonJS with typings that declare an ES default: under NodeNext the default import is the module
// object, whose `default` is the client class (at run time too).
const ModbusClient = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusClient>;
/** What the helpers need of a (sub)test: somewhere to register cleanup. */
interface Test { teardown(fn: () => unknown): void }

async function client(tt: Test, port: number, unit = 1, timeoutMs = 2000): Promise<ModbusRTU> {
  const c = new ModbusClient();
  await c.connectTCP('127.0.0.1', { port });
  c.setID(unit);
  c.setTimeout(timeoutMs);
  tt.teardown(() => new Promise<void>((resolve) => { if (c.isOpen) c.close(() => resolve()); else resolve(); }));
  return c;
}

/** A Modbus TCP ADU built by hand (MBAP header + PDU). */
function adu(transaction: number, unit: number, pdu: readonly number[]): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(transaction, 0);
  b.writeUInt16BE(pdu.length + 1, 4);
  b[6] = unit;
  Buffer.from(pdu).copy(b, 7);
  return b;
}

interface Reply { transaction: number; unit: number; pdu: number[] }

/** A raw socket that splits what it receives into ADUs; `next(n)` waits for n of them. */
async function raw(tt: Test, port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  tt.teardown(() => { socket.destroy(); });
  let buf = Buffer.alloc(0);
  const replies: Reply[] = [];
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 7 && buf.length >= 6 + buf.readUInt16BE(4)) {
      const end = 6 + buf.readUInt16BE(4);
      replies.push({ transaction: buf.readUInt16BE(0), unit: buf[6] ?? -1, pdu: [...buf.subarray(7, end)] });
      buf = buf.subarray(end);
    }
  });
  const closed = once(socket, 'close');
  const write = (data: Buffer): Promise<void> => new Promise((resolve, reject) => socket.write(data, (e) => (e ? reject(e) : resolve())));
  const next = async (n: number): Promise<Reply[]> => {
    await waitFor(() => replies.length >= n, `${n} replies (got ${replies.length})`);
    return replies.splice(0, n);
  };
  return { socket, write, next, closed };
}

/** The Modbus exception code a rejected request carried. */
async function exceptionOf(p: Promise<unknown>): Promise<number | string> {
  try { await p; return 'no exception'; } catch (err) {
    const e = err as { modbusCode?: number; message?: string };
    return e.modbusCode ?? e.message ?? String(err);
  }
}

/** Polls `done` until it holds; for states another party reaches on its own schedule. */
async function waitFor(done: () => boolean, what: string, deadlineMs = 5000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const testBank = (): RegisterBank => new RegisterBank({
  co: [{ start: 0, count: 2000 }],
  di: [{ start: 0, count: 16 }],
  hr: [{ start: 0, count: 200 }, { start: 300, count: 10 }],
  ir: [{ start: 0, count: 130 }],
});

async function testServer(tt: Test, banks = new Map([[1, testBank()]])) {
  const server = await startModbusTcpServer({ banks });
  tt.teardown(() => server.close());
  return { server, banks, bank: banks.get(1) ?? testBank() };
}

t.test('server: every function code reads and writes the bank', async (tt) => {
  const { server, bank } = await testServer(tt);
  bank.writeBits('di', 3, [true, false, true]);
  bank.writeRegisters('ir', 10, [7, 65535]);
  const c = await client(tt, server.port);
  tt.same((await c.writeCoil(5, true)), { address: 5, state: true }, 'FC05 echoes');
  tt.same((await c.writeCoils(8, [true, true, false, true])), { address: 8, length: 4 }, 'FC15');
  tt.same((await c.readCoils(4, 9)).data.slice(0, 9), [false, true, false, false, true, true, false, true, false], 'FC01');
  tt.same((await c.readDiscreteInputs(2, 5)).data.slice(0, 5), [false, true, false, true, false], 'FC02');
  tt.same((await c.writeRegister(300, 0xbeef)), { address: 300, value: 0xbeef }, 'FC06 echoes');
  tt.same((await c.writeRegisters(10, [1, 2, 3])), { address: 10, length: 3 }, 'FC16');
  tt.same((await c.readHoldingRegisters(9, 5)).data, [0, 1, 2, 3, 0], 'FC03');
  tt.same((await c.readInputRegisters(10, 2)).data, [7, 65535], 'FC04');
  tt.same(bank.readRegisters('hr', 300, 1), [0xbeef], 'the bank holds what was written');
  tt.equal((await c.readCoils(0, 2000)).data.length >= 2000, true, '2000 coils in one read');
  tt.equal((await c.readHoldingRegisters(0, 125)).data.length, 125, '125 registers in one read');
  await c.writeCoils(0, Array.from({ length: 1968 }, (_, i) => i % 3 === 0));
  tt.same(bank.readBits('co', 1965, 3), [true, false, false], '1968 coils in one write');
  await c.writeRegisters(0, Array.from({ length: 123 }, (_, i) => i * 3));
  tt.same(bank.readRegisters('hr', 120, 3), [360, 363, 366], '123 registers in one write');
});

t.test('server: exceptions 01, 02 and 03', async (tt) => {
  const { server } = await testServer(tt);
  const c = await client(tt, server.port);
  tt.equal(await exceptionOf(c.customFunction(0x08, [0, 0, 0x12, 0x34])), 1, 'diagnostics (08) is not supported');
  tt.equal(await exceptionOf(c.customFunction(0x2b, [0x0e, 1, 0])), 1, 'read device identification (43) is not supported');
  tt.equal(await exceptionOf(c.readHoldingRegisters(200, 1)), 2, 'a gap between blocks');
  tt.equal(await exceptionOf(c.readHoldingRegisters(195, 10)), 2, 'a read running past the end of a block');
  tt.equal(await exceptionOf(c.readHoldingRegisters(299, 2)), 2, 'a read starting in a gap');
  tt.equal(await exceptionOf(c.readDiscreteInputs(10, 10)), 2, 'discrete inputs past the end');
  tt.equal(await exceptionOf(c.readInputRegisters(65535, 1)), 2, 'the last address, unmapped');
  tt.equal(await exceptionOf(c.writeRegister(250, 1)), 2, 'FC06 into a gap');
  tt.equal(await exceptionOf(c.writeRegisters(198, [1, 2, 3])), 2, 'FC16 across the end of a block');
  tt.equal(await exceptionOf(c.writeCoil(2000, true)), 2, 'FC05 past the last coil');
  tt.equal(await exceptionOf(c.readHoldingRegisters(0, 126)), 3, '126 registers');
  tt.equal(await exceptionOf(c.readInputRegisters(0, 0)), 3, 'count 0');
  tt.equal(await exceptionOf(c.readCoils(0, 2001)), 3, '2001 coils');
  tt.equal(await exceptionOf(c.readHoldingRegisters(60000, 200)), 3, 'the quantity is checked before the address');
  tt.equal(await exceptionOf(c.writeCoils(0, Array.from({ length: 1969 }, () => true))), 3, '1969 coils written');
  const r = await raw(tt, server.port);
  await r.write(Buffer.concat([
    adu(1, 1, [0x10, 0, 0, 0, 124, 248]), // 124 registers announced (their data would not fit a PDU)
    adu(2, 1, [0x10, 0, 0, 0, 2, 3, 0, 1, 0, 2]), // byte count disagrees with the quantity
    adu(3, 1, [0x05, 0, 1, 0x12, 0x34]), // a coil value other than FF00/0000
    adu(4, 1, [0x03, 0, 0]), // a truncated request
  ]));
  tt.same((await r.next(4)).map((x) => x.pdu), [[0x90, 3], [0x90, 3], [0x85, 3], [0x83, 3]]);
  tt.equal(server.stats.exceptions, 19);
});

t.test('server: pipelined and split ADUs', async (tt) => {
  const { server, bank } = await testServer(tt);
  bank.writeRegisters('hr', 0, [0x1111, 0x2222]);
  const r = await raw(tt, server.port);
  await r.write(Buffer.concat([adu(41, 1, [0x03, 0, 0, 0, 2]), adu(42, 1, [0x01, 0, 0, 0, 3])]));
  tt.same(await r.next(2), [
    { transaction: 41, unit: 1, pdu: [0x03, 4, 0x11, 0x11, 0x22, 0x22] },
    { transaction: 42, unit: 1, pdu: [0x01, 1, 0] },
  ], 'two requests in one segment, two answers in order');

  // One ADU in three pieces (inside the header, inside the PDU), then the tail of one ADU sharing a
  // segment with the head of the next. Each piece is seen by the server before the next is sent.
  const a = adu(43, 1, [0x06, 0, 1, 0xab, 0xcd]);
  const b = adu(44, 1, [0x03, 0, 1, 0, 1]);
  for (const piece of [a.subarray(0, 3), a.subarray(3, 9), Buffer.concat([a.subarray(9), b.subarray(0, 4)]), b.subarray(4)]) {
    const target = server.stats.bytesIn + piece.length;
    await r.write(piece);
    await waitFor(() => server.stats.bytesIn === target, 'the server to receive the piece');
  }
  tt.same(await r.next(2), [
    { transaction: 43, unit: 1, pdu: [0x06, 0, 1, 0xab, 0xcd] },
    { transaction: 44, unit: 1, pdu: [0x03, 2, 0xab, 0xcd] },
  ]);
});

t.test('server: an impossible MBAP length closes the connection', async (tt) => {
  const { server } = await testServer(tt);
  const r = await raw(tt, server.port);
  await r.write(Buffer.from([0, 1, 0, 0, 0, 0, 1]));
  await r.closed;
  tt.equal(server.stats.malformed, 1);
});

t.test('server: several clients at once', async (tt) => {
  const { server, bank } = await testServer(tt);
  const clients = await Promise.all(Array.from({ length: 8 }, () => client(tt, server.port)));
  await waitFor(() => server.stats.open === 8, 'the server to accept 8 connections');
  tt.pass('8 connections open at once');
  await Promise.all(clients.map(async (c, i) => {
    for (let k = 0; k < 20; k++) {
      await c.writeRegister(i, k);
      tt.equal((await c.readHoldingRegisters(i, 1)).data[0], k);
    }
  }));
  tt.same(bank.readRegisters('hr', 0, 8), Array(8).fill(19));
});

t.test('server: unit ids, each with its own bank; others get no answer', async (tt) => {
  const one = testBank(), two = testBank();
  one.writeRegisters('hr', 0, [111]);
  two.writeRegisters('hr', 0, [222]);
  const { server } = await testServer(tt, new Map([[1, one], [2, two]]));
  tt.equal((await (await client(tt, server.port, 1)).readHoldingRegisters(0, 1)).data[0], 111);
  tt.equal((await (await client(tt, server.port, 2)).readHoldingRegisters(0, 1)).data[0], 222);
  const r = await raw(tt, server.port);
  await r.write(Buffer.concat([adu(7, 9, [0x03, 0, 0, 0, 1]), adu(8, 0, [0x03, 0, 0, 0, 1]), adu(9, 2, [0x03, 0, 0, 0, 1])]));
  tt.same(await r.next(1), [{ transaction: 9, unit: 2, pdu: [0x03, 2, 0, 222] }], 'units 9 and 0 are skipped');
  tt.equal(server.stats.ignored, 2);
  const stranger = await client(tt, server.port, 9, 300);
  tt.match(await exceptionOf(stranger.readHoldingRegisters(0, 1)), /Timed out/, 'a client of unit 9 times out');
});

t.test('server: fault hook (delay, silence, dropped connections) and abort', async (tt) => {
  const { server } = await testServer(tt);
  const c = await client(tt, server.port, 1, 400);
  server.setFault({ delayMs: 150 });
  const started = Date.now();
  await c.readHoldingRegisters(0, 1);
  tt.ok(Date.now() - started >= 140, 'answered late');
  server.setFault({ silent: true });
  tt.match(await exceptionOf(c.readHoldingRegisters(0, 1)), /Timed out/);
  server.setFault({});
  tt.equal((await c.readHoldingRegisters(0, 1)).data.length, 1, 'answers again once cleared');
  const r = await raw(tt, server.port);
  server.setFault({ disconnect: true });
  await r.closed;
  tt.equal(server.stats.open, 0);

  const ac = new AbortController();
  const other = await startModbusTcpServer({ banks: new Map([[1, testBank()]]), signal: ac.signal });
  ac.abort();
  const refused = net.connect(other.port, '127.0.0.1');
  const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  tt.equal(err.code, 'ECONNREFUSED', 'an aborted server stops listening');
});

// ---- the pump station ----

async function station(tt: Test, initialLevel: number, inflow: number): Promise<{ ps: PumpStation; c: ModbusRTU }> {
  const ps = await startPumpStation({ tickMs: 0, physics: { initialLevel, seed: 7 } });
  tt.teardown(() => ps.close());
  ps.physics.setInflow(inflow);
  return { ps, c: await client(tt, ps.port) };
}

/** Reads one signal of the map over Modbus and decodes it by hand, independently of register-map.ts. */
async function read(c: ModbusRTU, name: SignalName): Promise<number | boolean> {
  const s = signal(name);
  if (s.table === 'co') return (await c.readCoils(s.address, 1)).data[0] === true;
  if (s.table === 'di') return (await c.readDiscreteInputs(s.address, 1)).data[0] === true;
  const words = s.type === 'float32' || s.type === 'uint32' ? 2 : s.type === 'float64' ? 4 : 1;
  const r = s.table === 'hr' ? await c.readHoldingRegisters(s.address, words) : await c.readInputRegisters(s.address, words);
  const w = r.data;
  if ('bit' in s) return (((w[0] ?? 0) >> s.bit) & 1) === 1;
  const scale = 'scale' in s ? s.scale : 1;
  const b = Buffer.alloc(8);
  const order = 'order' in s && s.order === 'CDAB' ? [1, 0] : [0, 1, 2, 3];
  order.forEach((k, i) => b.writeUInt16BE(w[k] ?? 0, 2 * i));
  switch (s.type) {
    case 'float32': return b.readFloatBE(0);
    case 'float64': return b.readDoubleBE(0);
    case 'uint32': return Number((b.readUInt32BE(0) * scale).toFixed(6));
    case 'int16': return Number((b.readInt16BE(0) * scale).toFixed(6));
    default: return Number(((w[0] ?? 0) * scale).toFixed(6)); // 190 × 0.01 is 1.9, not 1.9000000000000001
  }
}

/** Steps the station one second at a time until `done`, at most `limitS` simulated seconds. */
function runUntil(ps: PumpStation, done: () => boolean, limitS = 7200): number {
  for (let s = 0; s < limitS; s++) { if (done()) return s; ps.step(1); }
  throw new Error(`condition not reached in ${limitS} simulated seconds`);
}

t.test('pump station: every block reads in one request; gaps are exception 02', async (tt) => {
  const { c } = await station(tt, 1.5, 0);
  const layout = bankLayout();
  tt.same(layout, {
    co: [{ start: 0, count: 10 }], di: [{ start: 0, count: 8 }],
    hr: [{ start: 100, count: 35 }, { start: 200, count: 3 }], ir: [{ start: 0, count: 10 }],
  });
  for (const r of layout.hr ?? []) tt.equal((await c.readHoldingRegisters(r.start, r.count)).data.length, r.count);
  tt.equal((await c.readInputRegisters(0, 10)).data.length, 10);
  tt.equal((await c.readCoils(0, 10)).data.slice(0, 10).length, 10);
  tt.equal((await c.readDiscreteInputs(0, 8)).data.slice(0, 8).length, 8);
  for (const [table, address] of [['hr', 99], ['hr', 135], ['hr', 199], ['hr', 203], ['ir', 10]] as const) {
    const p = table === 'hr' ? c.readHoldingRegisters(address, 1) : c.readInputRegisters(address, 1);
    tt.equal(await exceptionOf(p), 2, `${table}:${address} is a gap`);
  }
  tt.equal(await exceptionOf(c.readCoils(10, 1)), 2);
  tt.equal(await exceptionOf(c.readDiscreteInputs(8, 1)), 2);
});

t.test('pump station: the level rises with inflow while the pumps are off', async (tt) => {
  const { ps, c } = await station(tt, 1.3, 300);
  const before = (await read(c, 'wet_well_level')) as number;
  for (let i = 0; i < 60; i++) ps.step(1);
  const after = (await read(c, 'wet_well_level')) as number;
  // 300 m³/h into 50 m² for 60 s is 0.10 m.
  tt.ok(after - before > 0.08 && after - before < 0.12, `rose ${(after - before).toFixed(3)} m`);
  tt.equal(await read(c, 'pump1_run'), false);
  tt.equal(await read(c, 'pump1_current'), 0);
  tt.equal(await read(c, 'outlet_flow'), 0);
  tt.equal(await read(c, 'float_l'), false, 'above the low float (1.00 m)');
});

t.test('pump station: lead and lag pumps start at their levels; current and flow follow', async (tt) => {
  const { ps, c } = await station(tt, 2.3, 300);
  const starts = (await read(c, 'pump1_starts')) as number;
  runUntil(ps, () => ps.physics.pump(1).running);
  const level = (await read(c, 'wet_well_level')) as number;
  tt.ok(level >= 2.48 && level < 2.53, `pump 1 started at ${level} m`);
  tt.equal(await read(c, 'pump1_run'), true);
  tt.equal(await read(c, 'pump1_starts'), starts + 1);
  tt.equal(await read(c, 'pump2_run'), false);
  for (let i = 0; i < 15; i++) ps.step(1); // the VFD ramps to 50 Hz in 10 s
  tt.equal(await read(c, 'pump1_frequency'), 50);
  const amps = (await read(c, 'pump1_current')) as number;
  tt.ok(amps > 52 && amps < 62, `pump 1 draws ${amps} A`);
  tt.equal(await read(c, 'pump2_current'), 0);
  // The magmeter's float32 is word-swapped (CDAB): low word at hr:100, high word at hr:101.
  const [lo = 0, hi = 0] = (await c.readHoldingRegisters(100, 2)).data;
  const bytes = Buffer.alloc(4);
  bytes.writeUInt16BE(hi, 0);
  bytes.writeUInt16BE(lo, 2);
  const flow = bytes.readFloatBE(0);
  tt.ok(flow > 370 && flow < 430, `outlet flow ${flow} m³/h`);
  tt.ok(Math.abs(flow - ps.physics.outflow) / ps.physics.outflow < 0.02, 'matches the pumped flow');
  tt.ok(((await read(c, 'power')) as number) > 30, 'the energy meter sees the motor');

  ps.physics.setInflow(1000); // more than one pump can take: the level climbs to the lag start
  runUntil(ps, () => ps.physics.pump(2).running);
  const lag = (await read(c, 'wet_well_level')) as number;
  tt.ok(lag >= 3.18 && lag < 3.24, `pump 2 started at ${lag} m`);
  ps.physics.setInflow(0);
  runUntil(ps, () => !ps.physics.pump(1).running && !ps.physics.pump(2).running);
  tt.ok(ps.physics.level <= 1.21 && ps.physics.level > 1.1, 'all auto pumps stop at 1.20 m');
});

t.test('pump station: coil commands, setpoints, remote/local', async (tt) => {
  const { ps, c } = await station(tt, 2.0, 0);
  await c.writeCoil(signal('pump1_start').address, true);
  ps.step(1);
  tt.equal(await read(c, 'pump1_run'), true, 'a start pulse runs the pump');
  tt.equal(await read(c, 'pump1_auto'), false, 'in manual');
  tt.equal(await read(c, 'pump1_start'), false, 'the PLC cleared the pulse');
  await c.writeCoil(signal('pump1_stop').address, true);
  ps.step(1);
  tt.equal(await read(c, 'pump1_run'), false);
  for (let i = 0; i < 6; i++) ps.step(1);
  tt.equal(await read(c, 'pump1_current'), 0, 'the current falls to 0 as the drive ramps down');
  await c.writeCoils(signal('pump1_to_auto').address, [true]);
  ps.step(1);
  tt.equal(await read(c, 'pump1_auto'), true);

  ps.physics.setRemote(2, false);
  await c.writeCoil(signal('pump2_start').address, true);
  ps.step(1);
  tt.same([await read(c, 'pump2_remote'), await read(c, 'pump2_run')], [false, false], 'on LOCAL, commands are ignored');

  await c.writeRegisters(signal('lead_start_level').address, [190]);
  await c.writeRegister(signal('stop_level').address, 5000); // 50 m: beyond the well
  ps.step(1);
  tt.equal(await read(c, 'lead_start_level'), 1.9);
  tt.equal(await read(c, 'stop_level'), 8, 'clamped to the well depth and written back');
  ps.physics.setLevel(1.4);
  await c.writeRegister(signal('stop_level').address, 150);
  ps.step(1);
  tt.equal(ps.physics.pump(1).running, false, 'stopped at the new stop level');
  ps.physics.setInflow(300);
  runUntil(ps, () => ps.physics.pump(1).running);
  tt.ok(ps.physics.level >= 1.9 && ps.physics.level < 1.92, 'started at the new start level');
});

t.test('pump station: heartbeat, faults, storm', async (tt) => {
  const { ps, c } = await station(tt, 2.6, 300);
  const hb = (await read(c, 'heartbeat')) as number;
  for (let i = 0; i < 3; i++) ps.step(1);
  tt.equal(await read(c, 'heartbeat'), hb + 3, '+1 per second');
  ps.physics.setHeartbeatStuck(true);
  ps.step(5);
  tt.equal(await read(c, 'heartbeat'), hb + 3, 'stuck');

  tt.equal(await read(c, 'pump1_run'), true);
  ps.physics.setPumpFault(1, 1);
  ps.step(1);
  tt.same([await read(c, 'pump1_fault'), await read(c, 'pump1_vfd_fault'), await read(c, 'pump1_run'), await read(c, 'pump1_current')],
    [true, 1, false, 0], 'the tripped pump stops');
  tt.equal(await read(c, 'pump2_run'), true, 'pump 2 takes over the lead duty');
  await c.writeCoil(signal('fault_reset').address, true);
  ps.step(1);
  tt.same([await read(c, 'pump1_fault'), await read(c, 'pump1_vfd_fault')], [false, 0], 'reset over Modbus');

  ps.physics.setInflow(undefined);
  ps.physics.setStorm(5);
  runUntil(ps, () => ps.physics.pump(3).running);
  tt.ok(ps.physics.level >= 3.8, 'a storm brings the third pump in');
  ps.physics.setMainsFailure(true);
  ps.step(1);
  tt.same([await read(c, 'mains_ok'), await read(c, 'pump3_run'), await read(c, 'power')], [false, false, 0]);
  runUntil(ps, () => ps.physics.level >= 4.5);
  ps.step(1);
  tt.same([await read(c, 'float_h'), await read(c, 'float_hh')], [true, true], 'the float switches trip');
});

t.test('the example config and docs/simulators.md cover every signal of the map', async (tt) => {
  const doc = parse(readFileSync(new URL('../config/examples/pump-station.yaml', import.meta.url), 'utf8'));
  const docs = readFileSync(new URL('../docs/simulators.md', import.meta.url), 'utf8');
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  tt.ok(ajv.validate(ConfigSchema, doc), JSON.stringify(ajv.errors));
  const tags = doc.devices[0].tags as { name: string; address: string; type: string; order?: string; scale?: number }[];
  tt.equal(tags.length, PUMP_STATION_MAP.length);
  for (const s of PUMP_STATION_MAP) {
    const tag = tags.find((x) => x.name === s.name);
    const address = `${s.table}:${s.address}${'bit' in s ? `.${s.bit}` : ''}`;
    tt.same(tag && [tag.address, tag.type, tag.order ?? 'ABCD', tag.scale ?? 1],
      [address, s.type, 'order' in s ? s.order : 'ABCD', 'scale' in s ? s.scale : 1], s.name);
    tt.ok(docs.includes(`| \`${address}`) && docs.includes(`| \`${s.name}\` |`), `${s.name} in the docs`);
  }
});

t.test('main.ts prints its address and exits cleanly on SIGINT and SIGTERM', async (tt) => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const child = spawn(process.execPath, ['bin/run-ts.mjs', 'simulators/pump-station/main.ts', '--port', '0', '--unit', '3'],
      { cwd: new URL('..', import.meta.url), stdio: ['ignore', 'pipe', 'inherit'] });
    tt.teardown(() => { child.kill('SIGKILL'); });
    const exited = once(child, 'exit');
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    const m = /^pump-station simulator listening on modbus-tcp:\/\/127\.0\.0\.1:(\d+) unit 3$/.exec(line);
    tt.ok(m, line);
    const c = await client(tt, Number(m?.[1]), 3);
    tt.equal((await c.readHoldingRegisters(signal('lead_pump').address, 1)).data[0], 1);
    child.kill(sig);
    tt.same(await exited, [0, null], `exit code 0 on ${sig}`);
  }
});
