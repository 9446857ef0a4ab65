// The streetlight cabinet simulator on Modbus RTU, checked with independent masters: modbus-serial's
// RTU client on a socat pseudo-terminal pair and over TCP (its "telnet" port: raw RTU frames with
// CRC), Debian's mbpoll (libmodbus) on a pty, and hand-built frames where a client cannot go. The
// framing and the physics are also tested alone, with no port and in fake time (step()).
import t from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import ModbusSerial from 'modbus-serial';
import { spawnProcess, type SpawnedProcess } from './helpers/proc.ts';
import { ptyPair } from './helpers/socat.ts';
import { waitFor, withTimeout } from './helpers/wait.ts';
import { crcOk, requestLength, rtuTimings, RtuFramer, withCrc } from '../simulators/modbus/rtu-frame.ts';
import { startStreetlightCabinet, type StreetlightCabinet, type StreetlightCabinetOptions } from '../simulators/streetlight/index.ts';
import { StreetlightPhysics } from '../simulators/streetlight/physics.ts';
import { bankLayout, CABINET_SIGNALS, LOOP_SIGNALS, readSignal, signalOf, streetlightMap } from '../simulators/streetlight/register-map.ts';

const ModbusClient = ModbusSerial.default; // CommonJS: the default import is the module object
type ModbusRTU = InstanceType<typeof ModbusClient>;
interface Test { teardown(fn: () => unknown): void }
const ROOT = new URL('..', import.meta.url).pathname;

const closeClient = (c: ModbusRTU): Promise<void> => new Promise((resolve) => { if (c.isOpen) c.close(() => resolve()); else resolve(); });

/** The Modbus exception code a rejected request carried, or its message ('Timed out'). */
async function failure(p: Promise<unknown>): Promise<number | string> {
  try { await p; return 'no error'; } catch (err) {
    const e = err as { modbusCode?: number; message?: string };
    return e.modbusCode ?? e.message ?? String(err);
  }
}

async function cabinet(tt: Test, options: StreetlightCabinetOptions = {}): Promise<StreetlightCabinet> {
  const cab = await startStreetlightCabinet({ tickMs: 0, units: [1, 2, 3], silentUnits: [3], ...options });
  tt.teardown(() => cab.close());
  return cab;
}

async function tcpClient(tt: Test, port: number, timeoutMs = 1000): Promise<ModbusRTU> {
  const c = new ModbusClient();
  await c.connectTelnet('127.0.0.1', { port }); // raw RTU frames over TCP, what a converter carries
  c.setTimeout(timeoutMs);
  tt.teardown(() => closeClient(c));
  return c;
}

async function serialClient(tt: Test, path: string, timeoutMs = 1000): Promise<ModbusRTU> {
  const c = new ModbusClient();
  await c.connectRTUBuffered(path, { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 });
  c.setTimeout(timeoutMs);
  tt.teardown(() => closeClient(c));
  return c;
}

/** A raw TCP socket that cuts what it receives into RTU responses (AP §6 lengths). */
async function rawTcp(tt: Test, port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  tt.teardown(() => { socket.destroy(); });
  let buf = Buffer.alloc(0);
  const replies: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const fc = buf[1] ?? 0;
      const len = buf.length < 3 ? Infinity : fc & 0x80 ? 5 : fc <= 4 ? 5 + (buf[2] ?? 0) : 8;
      if (buf.length < len) break;
      replies.push(buf.subarray(0, len));
      buf = buf.subarray(len);
    }
  });
  const send = (bytes: readonly number[], crc = true): void => { socket.write(crc ? withCrc(Buffer.from(bytes)) : Buffer.from(bytes)); };
  const next = async (): Promise<Buffer> => { await waitFor(() => replies.length > 0, { what: 'an RTU reply' }); return replies.shift()!; };
  return { send, next, replies };
}

const reg = (r: { data: number[] }, i = 0): number => r.data[i] ?? NaN;

t.test('RTU framing: CRC, t3.5, request lengths, framer', async (tt) => {
  // SL §6.2.2 worked example and a well-known request.
  tt.same([...withCrc(Buffer.from([0x02, 0x07]))], [0x02, 0x07, 0x41, 0x12]);
  tt.same([...withCrc(Buffer.from([1, 3, 0, 0, 0, 1]))].slice(6), [0x84, 0x0a]);
  tt.ok(crcOk(Buffer.from([1, 3, 0, 0, 0, 1, 0x84, 0x0a])));
  tt.ok(Math.abs(rtuTimings(9600).t35Ms - 4.01) < 0.01, 't3.5 ≈ 4 ms at 9600 baud');
  tt.same([rtuTimings(38400).t15Ms, rtuTimings(38400).t35Ms], [0.75, 1.75], 'fixed above 19200 baud');
  tt.same([requestLength(Buffer.from([1, 3])), requestLength(Buffer.from([1, 16, 0, 0, 0])), requestLength(Buffer.from([1, 16, 0, 0, 0, 2, 4])), requestLength(Buffer.from([1, 8]))],
    [8, 'more', 13, 'unknown']);

  const f = new RtuFramer();
  const read = withCrc(Buffer.from([1, 3, 0, 0, 0, 4]));
  const write = withCrc(Buffer.from([2, 16, 0, 0, 0, 2, 4, 0, 50, 0, 60]));
  const frames = [...read].flatMap((b) => f.push(Buffer.from([b])));
  tt.same(frames.map((e) => e.kind), ['frame'], 'byte by byte: one frame, complete at its last byte');
  tt.same(f.push(Buffer.concat([read, write])).map((e) => (e.kind === 'frame' ? e.frame.length : e.reason)), [8, 13], 'back to back, no silence');
  const bad = Buffer.from(read); bad[7]! ^= 0xff;
  tt.same(f.push(Buffer.concat([bad, read])).map((e) => (e.kind === 'drop' ? e.reason : 'frame')), ['bad-crc'], 'after a bad CRC…');
  tt.same(f.push(read), [], '…everything is skipped until a silence');
  tt.same(f.silence(), []);
  tt.equal(f.push(read).length, 1, 'framing resumes after the silence');
  tt.same(f.push(read.subarray(0, 5)), []);
  tt.same(f.silence(), [{ kind: 'drop', reason: 'incomplete', bytes: 5 }], 'a fragment ends at a silence');
  const diag = withCrc(Buffer.from([1, 8, 0, 0, 0x12, 0x34]));
  tt.same(f.push(diag), [], 'function 08: its length is not known…');
  tt.same(f.silence(), [{ kind: 'frame', frame: diag }], '…so the silence ends it');
  tt.same(f.push(Buffer.alloc(300, 0x08)).map((e) => e.kind === 'drop' && e.reason), ['overrun']);
});

t.test('physics in fake time: current follows relay and dim; faults', async (tt) => {
  const p = new StreetlightPhysics({ noise: false });
  const s0 = p.loop(1);
  tt.same([s0.relay, s0.contactor, s0.dim, s0.power], [true, true, 100, 3000], '20 × 150 W at full power');
  tt.ok(Math.abs(s0.current - 3000 / (226.4 * 0.98)) < 1e-9, `${s0.current.toFixed(2)} A on phase A`);
  p.write('loop1_relay', false);
  tt.same([p.loop(1).current, p.loop(1).power, p.signals().loop1_power_factor], [0, 0, 0], 'off: nothing flows');
  p.write('loop1_relay', true);
  p.write('loop1_dim', 50);
  tt.equal(p.loop(1).power, 20 * (1.5 + 148.5 * 0.5), 'dimmed to 50 %: about half the power');
  tt.ok(p.loop(1).powerFactor < 0.92, 'and a worse power factor');
  p.write('loop1_dim', 100);

  p.setFailedLamps(2, 3);
  tt.equal(p.loop(2).power, 17 * 150);
  tt.same([p.signals().loop2_lamp_failure, p.signals().fault_lamp_failure], [true, true], 'lamp failure bits');
  p.setRelayFailure(3, true);
  const s3 = p.signals();
  tt.same([s3.loop3_relay, s3.loop3_contactor, s3.loop3_current, s3.loop3_relay_failure, s3.fault_relay_failure], [true, false, 0, true, true],
    'a stuck contactor: the command reads back, no current, relay failure');

  const before = p.signals();
  p.step(3600);
  const after = p.signals();
  const loads = [3000, 2550, 0, 3000];
  loads.forEach((w, i) => tt.ok(Math.abs(((after[`loop${i + 1}_energy`] as number) - (before[`loop${i + 1}_energy`] as number)) - w / 1000) <= 0.011, `loop ${i + 1}: ${w / 1000} kWh in an hour`));
  tt.ok(p.temperatureC > 25 && p.temperatureC < 40, `cabinet at ${p.temperatureC.toFixed(1)} °C`);

  tt.equal(p.signals().fault_leakage, false);
  p.setLeakage(35);
  tt.same([Math.round(p.signals().leakage_current as number) >= 35, p.signals().fault_leakage], [true, true], 'leakage ≥ 30 mA');
  p.setPhaseVoltage(250, 'b');
  tt.same([p.signals().phase_b_voltage, p.signals().fault_over_voltage, p.signals().fault_under_voltage], [250, true, false]);
  tt.ok(p.loop(2).current < 2550 / (227.9 * 0.98), 'a higher voltage draws less current for the same power');
  p.setPhaseVoltage(190);
  tt.same([p.signals().fault_over_voltage, p.signals().fault_under_voltage], [false, true]);
  p.setAmbientTemperature(58);
  p.step(7200);
  tt.equal(p.signals().fault_over_temperature, true, 'a sun-baked cabinet overheats');
  p.setDoorOpen(true);
  p.setMainsFailure(true);
  const dark = p.signals();
  tt.same([dark.door_open, dark.mains_ok, dark.total_power, dark.loop1_contactor, dark.fault_relay_failure, dark.fault_under_voltage],
    [true, false, 0, false, false, true], 'mains failure: contactors drop out, which is not a relay failure');
});

t.test('register map: blocks, cabinets with more loops, docs', async (tt) => {
  tt.same(bankLayout(streetlightMap(4)), {
    co: [{ start: 0, count: 4 }], di: [{ start: 0, count: 2 }, { start: 100, count: 4 }],
    hr: [{ start: 0, count: 4 }, { start: 100, count: 10 }], ir: [{ start: 0, count: 8 }, { start: 100, count: 16 }],
  });
  const twelve = streetlightMap(12);
  tt.same([signalOf(twelve, 'loop12_current').address, signalOf(twelve, 'loop12_energy').address, signalOf(twelve, 'loop4_dim').address], [144, 124, 3]);
  tt.throws(() => streetlightMap(17));
  const all = readFileSync(new URL('../docs/simulators.md', import.meta.url), 'utf8');
  const docs = all.slice(all.indexOf('## Streetlight cabinet'));
  tt.ok(all.includes('## Streetlight cabinet') && all.includes('| streetlight cabinet'), 'a section and a row in the table at the top');
  for (const s of CABINET_SIGNALS) {
    const address = `${s.table}:${s.address}${s.bit === undefined ? '' : `.${s.bit}`}${s.type === 'uint32' ? `–${s.address + 1}` : ''}`;
    tt.ok(docs.includes(`| \`${address}\` | \`${s.name}\` |`), `${s.name} in the docs`);
  }
  for (const l of LOOP_SIGNALS) tt.ok(docs.includes(`| \`loopN_${l.suffix}\` |`), `loopN_${l.suffix} in the docs`);
});

t.test('RTU over TCP (modbus-serial telnet port): read, switch, dim, exceptions, dead unit', async (tt) => {
  const cab = await cabinet(tt);
  const port = cab.endpoint.transport === 'tcp' ? cab.endpoint.port : 0;
  const c = await tcpClient(tt, port, 400);
  c.setID(1);
  const [va = 0, vb = 0, vc = 0] = (await c.readInputRegisters(0, 3)).data;
  for (const v of [va, vb, vc]) tt.ok(v / 10 > 215 && v / 10 < 240, `phase voltage ${v / 10} V`);
  const loop1 = (await c.readInputRegisters(100, 4)).data;
  tt.ok((loop1[0] ?? 0) / 100 > 13 && (loop1[0] ?? 0) / 100 < 14.5, `loop 1 draws ${(loop1[0] ?? 0) / 100} A`);
  tt.ok(Math.abs((loop1[1] ?? 0) - 3000) < 30, `${loop1[1]} W`);

  tt.same(await c.writeCoil(0, false), { address: 0, state: false });
  tt.same((await c.readCoils(0, 1)).data[0], false, 'the command reads back at once');
  cab.step(1);
  tt.same((await c.readInputRegisters(100, 2)).data, [0, 0], 'loop 1 off: no current');
  tt.same((await c.readDiscreteInputs(100, 1)).data[0], false, 'contactor open');
  await c.writeCoil(0, true);
  cab.step(1);
  tt.ok(reg(await c.readInputRegisters(100, 1)) > 1300, 'back on');

  tt.same(await c.writeRegister(1, 40), { address: 1, value: 40 });
  tt.equal(reg(await c.readHoldingRegisters(1, 1)), 40, 'dim reads back');
  cab.step(1);
  const dimmed = reg(await c.readInputRegisters(105, 1));
  tt.ok(Math.abs(dimmed - 20 * (1.5 + 148.5 * 0.4)) < 10, `loop 2 at 40 %: ${dimmed} W`);
  tt.equal(await failure(c.writeRegister(1, 101)), 3, 'dim 101 %: exception 03');
  tt.equal(await failure(c.writeRegisters(0, [50, 150])), 3, 'one bad value refuses the whole FC16');
  tt.same((await c.readHoldingRegisters(0, 2)).data, [100, 40], 'nothing written');
  tt.equal(await failure(c.readInputRegisters(8, 1)), 2, 'ir:8 is a gap: exception 02');
  tt.equal(await failure(c.readHoldingRegisters(98, 4)), 2);
  const [hi = 0, lo = 0] = (await c.readHoldingRegisters(100, 2)).data;
  tt.ok(Math.abs((hi * 65536 + lo) / 100 - (readSignal(cab.banks.get(1)!, signalOf(cab.map, 'total_energy')) as number)) < 1e-9, 'uint32 energy, high word first');

  c.setID(3);
  tt.equal(await failure(c.readInputRegisters(0, 1)), 'Timed out', 'unit 3 is dead');
  c.setID(2);
  tt.equal((await c.readInputRegisters(0, 3)).data.length, 3, 'unit 2 still answers on the same line');
  tt.same([cab.server.unitStats(3).requests, cab.server.unitStats(3).responses], [1, 0]);
  tt.equal(cab.server.unitStats(2).responses, 1);
});

t.test('RTU over TCP, raw frames: bad CRC, broadcast, exception 01; MBAP is not RTU', async (tt) => {
  const cab = await cabinet(tt);
  const port = cab.endpoint.transport === 'tcp' ? cab.endpoint.port : 0;
  const raw = await rawTcp(tt, port);
  const read = [1, 4, 0, 0, 0, 1];
  const bad = withCrc(Buffer.from(read)); bad[6]! ^= 0x55;
  raw.send([...bad], false);
  await waitFor(() => cab.stats.badCrc === 1 && cab.server.quiet(), { what: 'the bad frame to be dropped' });
  raw.send(read);
  const reply = await raw.next();
  tt.same([reply[0], reply[1], reply[2]], [1, 4, 2], 'the only reply is to the good frame');
  tt.ok(crcOk(reply), 'with a good CRC');

  raw.send([0, 6, 0, 2, 0, 25]); // broadcast: dim loop 3 to 25 % on every cabinet
  await waitFor(() => cab.stats.broadcasts === 1, { what: 'the broadcast' });
  const dim3 = (unit: number): number => cab.banks.get(unit)!.readRegisters('hr', 2, 1)[0] ?? NaN;
  tt.same([dim3(1), dim3(2), dim3(3)], [25, 25, 100], 'executed by every live unit, not by the dead one');
  raw.send([1, 7]);
  tt.same([...(await raw.next()).subarray(0, 3)], [1, 0x87, 1], 'function 07 unsupported: exception 01, the broadcast got no reply');
  raw.send([2, 8, 0, 0, 0xab, 0xcd]);
  tt.same([...(await raw.next()).subarray(0, 3)], [2, 0x88, 1], 'function 08, framed by the silence: exception 01');
  raw.send([9, 3, 0, 0, 0, 1]);
  await waitFor(() => cab.stats.ignored === 1, { what: 'the frame for unit 9' });

  // modbus-serial's connectTcpRTUBuffered sends an MBAP header without CRC: Modbus TCP, not RTU.
  const mbap = new ModbusClient();
  await mbap.connectTcpRTUBuffered('127.0.0.1', { port });
  mbap.setTimeout(300);
  tt.teardown(() => closeClient(mbap));
  mbap.setID(1);
  tt.equal(await failure(mbap.readInputRegisters(0, 1)), 'Timed out', 'an RTU line cannot answer an MBAP frame');
  tt.equal(cab.stats.badCrc, 2);
  tt.equal(raw.replies.length, 0);
});

t.test('serial over a socat pty (modbus-serial RTU client)', async (tt) => {
  await tt.rejects(startStreetlightCabinet({ serial: { path: '/dev/no-such-tty' }, tickMs: 0 }), 'a missing device fails the start');
  await tt.rejects(startStreetlightCabinet({ serial: { path: '/dev/null' }, tcp: {}, tickMs: 0 }), TypeError, 'serial or tcp, not both');
  const [simEnd, masterEnd] = await ptyPair(tt);
  const cab = await cabinet(tt, { serial: { path: simEnd, baud: 9600 } });
  tt.same(cab.endpoint, { transport: 'serial', path: simEnd, baudRate: 9600, parity: 'none', stopBits: 1 });
  const c = await serialClient(tt, masterEnd, 500);
  c.setID(1);
  tt.ok(reg(await c.readInputRegisters(0, 1)) / 10 > 215);
  await c.writeCoil(3, false);
  cab.step(1);
  tt.same((await c.readInputRegisters(112, 2)).data, [0, 0], 'loop 4 off');
  await c.writeCoils(3, [true]);
  await c.writeRegisters(3, [20]);
  cab.step(1);
  const w = reg(await c.readInputRegisters(113, 1));
  tt.ok(Math.abs(w - 20 * (1.5 + 148.5 * 0.2)) < 10, `loop 4 back on at 20 %: ${w} W`);
  tt.equal(await failure(c.writeRegister(0, 200)), 3);
  tt.equal(await failure(c.readCoils(4, 1)), 2, 'co:4 does not exist on a 4-loop cabinet');
  c.setID(3);
  tt.equal(await failure(c.readInputRegisters(0, 1)), 'Timed out', 'dead unit');
  for (const unit of [1, 2]) {
    c.setID(unit);
    tt.equal((await c.readInputRegisters(0, 8)).data.length, 8, `unit ${unit} answers after the dead one timed out`);
  }
  tt.same([cab.server.unitStats(3).requests, cab.stats.badCrc, cab.stats.incomplete], [1, 0, 0]);

  cab.server.setUnitFault(3, {});
  c.setID(3);
  tt.equal((await c.readDiscreteInputs(0, 2)).data.length >= 2, true, 'unit 3 revived');
});

/** Runs mbpoll once (-1) on a pty; mbpoll counts registers from 1. */
async function mbpoll(tt: Test, pty: string, options: string[], values: string[] = []): Promise<{ status: number; proc: SpawnedProcess }> {
  const proc = await spawnProcess('mbpoll', ['-m', 'rtu', '-b', '9600', '-P', 'none', '-o', '0.5', '-1', ...options, pty, ...values], { t: tt });
  const { status } = await withTimeout(proc.exited, 20_000, `mbpoll ${options.join(' ')}`);
  return { status, proc };
}

/** The values mbpoll printed, `[ref]: value` lines, once its output is all in. */
async function polled(proc: SpawnedProcess, count: number): Promise<number[]> {
  await proc.waitForOutput(new RegExp(`(\\[\\d+\\]:\\s+-?\\d+\\s*\\n[^]*){${count}}`), { timeoutMs: 5000 });
  return [...proc.output().matchAll(/^\[\d+\]:\s+(-?\d+)/gm)].map((m) => Number(m[1]));
}

t.test('serial over a socat pty (mbpoll, libmodbus)', async (tt) => {
  const [simEnd, masterEnd] = await ptyPair(tt);
  const cab = await cabinet(tt, { serial: { path: simEnd } });
  let r = await mbpoll(tt, masterEnd, ['-a', '1', '-t', '3', '-r', '1', '-c', '3']);
  tt.equal(r.status, 0);
  for (const v of await polled(r.proc, 3)) tt.ok(v / 10 > 215 && v / 10 < 240, `${v / 10} V`);

  r = await mbpoll(tt, masterEnd, ['-a', '1', '-t', '0', '-r', '2'], ['0']); // coil 2 = co:1, loop 2
  tt.equal(r.status, 0);
  cab.step(1);
  r = await mbpoll(tt, masterEnd, ['-a', '1', '-t', '3', '-r', '105', '-c', '2']);
  tt.same(await polled(r.proc, 2), [0, 0], 'loop 2 off: current and power 0');

  r = await mbpoll(tt, masterEnd, ['-a', '2', '-t', '4', '-r', '1'], ['30']);
  tt.equal(r.status, 0);
  cab.step(1);
  r = await mbpoll(tt, masterEnd, ['-a', '2', '-t', '3', '-r', '102']);
  const [w = 0] = await polled(r.proc, 1);
  tt.ok(Math.abs(w - 20 * (1.5 + 148.5 * 0.3)) < 10, `unit 2 loop 1 at 30 %: ${w} W`);
  r = await mbpoll(tt, masterEnd, ['-a', '2', '-t', '4:int', '-B', '-r', '101']);
  const [kwh = 0] = await polled(r.proc, 1);
  tt.equal(kwh / 100, readSignal(cab.banks.get(2)!, signalOf(cab.map, 'total_energy')), 'uint32, high word first (-B)');

  r = await mbpoll(tt, masterEnd, ['-a', '3', '-t', '3', '-r', '1']);
  tt.not(r.status, 0, 'unit 3 is dead');
  await r.proc.waitForOutput(/timed out/i);
  r = await mbpoll(tt, masterEnd, ['-a', '1', '-t', '3', '-r', '9']);
  tt.not(r.status, 0);
  await r.proc.waitForOutput(/Illegal data address/);
  r = await mbpoll(tt, masterEnd, ['-a', '1', '-t', '4', '-r', '1'], ['101']);
  tt.not(r.status, 0);
  await r.proc.waitForOutput(/Illegal data value/);
  tt.same([cab.server.unitStats(3).requests, cab.server.unitStats(3).responses, cab.stats.badCrc], [1, 0, 0]);
});

t.test('cityedge sim streetlights: TCP and serial; SIGTERM stops it', async (tt) => {
  const cli = (args: string[]) => spawnProcess(process.execPath, ['bin/cityedge.mjs', 'sim', 'streetlights', ...args], {
    t: tt, cwd: ROOT, readyTimeoutMs: 120_000, readyLine: /streetlight cabinet simulator listening on (\S+).*$/,
  });
  const tcp = await cli(['--tcp-port', '0', '--units', '1,2', '--silent', '2', '--loops', '6']);
  tt.match(tcp.ready?.[0], /rtu-over-tcp:\/\/127\.0\.0\.1:\d+ units 1,2 \(6 loops each; silent 2\)/);
  const c = await tcpClient(tt, Number(/:(\d+)$/.exec(tcp.ready?.[1] ?? '')?.[1]), 400);
  c.setID(1);
  tt.equal((await c.readInputRegisters(100, 24)).data.length, 24, 'six loops');
  c.setID(2);
  tt.equal(await failure(c.readInputRegisters(0, 1)), 'Timed out');
  await closeClient(c);
  tt.equal(await tcp.kill('SIGTERM'), 0, 'exits 0 on SIGTERM');

  const [simEnd, masterEnd] = await ptyPair(tt);
  const serial = await cli(['--serial', simEnd, '--baud', '9600']);
  tt.equal(serial.ready?.[1], 'serial');
  const r = await mbpoll(tt, masterEnd, ['-a', '1', '-t', '1', '-r', '1', '-c', '2']);
  tt.same(await polled(r.proc, 2), [0, 1], 'door closed, mains present');
  tt.equal(await serial.kill('SIGINT'), 0, 'exits 0 on SIGINT');

  const usage = await spawnProcess(process.execPath, ['bin/cityedge.mjs', 'sim', 'streetlights', '--units', '1'], { t: tt, cwd: ROOT });
  tt.equal((await usage.exited).status, 2, 'neither --tcp-port nor --serial: usage error');
});
