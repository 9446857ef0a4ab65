// The MBAP client over real loopback sockets: against the pump-station simulator and pymodbus
// (two stacks written apart from it), and against a hand-written device for the cases a healthy
// peer never shows: split and late answers, exceptions, garbage, a peer that hangs up or goes mute.
import t, { type Test } from 'tap';
import net from 'node:net';
import { MbapConnection } from '../drivers/modbus/mbap-client.ts';
import { startPumpStation } from '../simulators/pump-station/index.ts';
import { DEBIAN_PYTHON, startPymodbus } from './helpers/pymodbus.ts';
import { spawnProcess } from './helpers/proc.ts';
import { freePort, LOOPBACK } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';
import { CodedError } from '../gateway/model/index.ts';

const live = () => new AbortController().signal;

async function connected(t: Test, port: number, opts: { unit?: number; timeoutMs?: number } = {}): Promise<MbapConnection> {
  const conn = new MbapConnection({ host: LOOPBACK, port, unit: opts.unit ?? 1, timeoutMs: opts.timeoutMs ?? 5000 });
  t.teardown(() => conn.release());
  await conn.connect(live());
  return conn;
}

/** The rejection of `p` as a CodedError (fails the test if `p` resolves or rejects otherwise). */
async function failure(p: Promise<unknown>): Promise<CodedError> {
  const e = await p.then(() => new Error('resolved, expected a rejection'), (err: unknown) => err);
  if (e instanceof CodedError) return e;
  throw e;
}

t.test('the pump-station simulator: every table read, every write lands in the PLC', async (t) => {
  const sim = await startPumpStation({ port: 0, tickMs: 0 }); // no PLC scans: the bank keeps what we put there
  t.teardown(() => sim.close());
  const ir = [0, 1, 2, 65535, 4, 5, 6, 0x8000, 0x4049, 0x0fdb];
  const hr = Array.from({ length: 35 }, (_, i) => (i * 1031 + 7) & 0xffff);
  sim.bank.writeRegisters('ir', 0, ir);
  sim.bank.writeRegisters('hr', 100, hr);
  sim.bank.writeBits('co', 0, [true, false, false, true, false, true, true, false, false, true]);
  sim.bank.writeBits('di', 0, [false, true, true, false, true, false, false, true]);
  const conn = await connected(t, sim.port);
  t.ok(conn.isOpen);

  t.same(await conn.read('ir', 0, 10), { kind: 'words', data: ir }, 'ir 0+10');
  t.same(await conn.read('hr', 100, 35), { kind: 'words', data: hr }, 'hr 100+35');
  t.same(await conn.read('co', 0, 10), { kind: 'bits', data: [true, false, false, true, false, true, true, false, false, true] }, 'co 0+10');
  t.same(await conn.read('di', 0, 8), { kind: 'bits', data: [false, true, true, false, true, false, false, true] }, 'di 0+8');
  t.same(await conn.read('di', 1, 1), { kind: 'bits', data: [true] }, 'one bit, exactly one back');

  await conn.write('hr', 129, [2]);
  t.same(sim.bank.readRegisters('hr', 129, 1), [2], 'FC6 landed');
  await conn.write('hr', 130, [250, 320, 0xffff]);
  t.same(sim.bank.readRegisters('hr', 130, 3), [250, 320, 0xffff], 'FC16 landed');
  await conn.write('co', 4, [true]);
  await conn.write('co', 0, [false]);
  t.same(sim.bank.readBits('co', 0, 5), [false, false, false, true, true], 'FC5 on and off landed');
  const coils = [true, true, false, false, true, false, true, false, true, true];
  await conn.write('co', 0, coils);
  t.same(sim.bank.readBits('co', 0, 10), coils, 'FC15 landed, bit order kept');
  t.same(await conn.read('hr', 129, 4), { kind: 'words', data: [2, 250, 320, 0xffff] }, 'read back');

  const gap = await failure(conn.read('hr', 140, 2));
  t.equal(gap.code, 'CE_ERR_MODBUS_ILLEGAL_ADDRESS', 'a gap in the map is exception 02');
  t.same(gap.details, { exception: 2 });
  t.match(gap.message, 'hr:140+2: exception 02');
  t.ok(conn.isOpen, 'an exception leaves the connection open');
  t.same(await conn.read('hr', 129, 1), { kind: 'words', data: [2] }, 'and the next request is answered');
  t.same(conn.stats, { requests: 13, dropped: 0, timeouts: 0 }, 'counts');
});

t.test('pymodbus: reads and writes agree with an independent stack', async (t) => {
  const peer = await startPymodbus({
    t,
    map: {
      unit: 3,
      hr: { start: 10, values: [1, 2, 3, 4, 5, 6, 0xfff6, 65535] },
      ir: { start: 0, values: [100, 200, 300] },
      co: { start: 0, values: [true, false, true, false, false, false, false, false, true, true, false] },
      di: { start: 5, values: [1, 0, 1] },
    },
  });
  const conn = await connected(t, peer.port, { unit: 3 });
  t.same(await conn.read('hr', 10, 8), { kind: 'words', data: [1, 2, 3, 4, 5, 6, 0xfff6, 65535] }, 'hr');
  t.same(await conn.read('ir', 0, 3), { kind: 'words', data: [100, 200, 300] }, 'ir');
  t.same(await conn.read('co', 0, 11), { kind: 'bits', data: [true, false, true, false, false, false, false, false, true, true, false] }, 'co across a byte');
  t.same(await conn.read('di', 5, 3), { kind: 'bits', data: [true, false, true] }, 'di');

  await conn.write('hr', 11, [4242]);
  await conn.write('hr', 13, [7, 8, 9]);
  t.same(await conn.read('hr', 10, 6), { kind: 'words', data: [1, 4242, 3, 7, 8, 9] }, 'FC6 and FC16 read back');
  await conn.write('co', 1, [true]);
  await conn.write('co', 0, [false]);
  await conn.write('co', 3, [true, true, false, true, false, true, true, true]);
  t.same(await conn.read('co', 0, 11), { kind: 'bits', data: [false, true, true, true, true, false, true, false, true, true, true] }, 'FC5 and FC15 read back');

  const e = await failure(conn.read('hr', 17, 2));
  t.equal(e.code, 'CE_ERR_MODBUS_ILLEGAL_ADDRESS', 'a read running past the map');
  t.same(e.details, { exception: 2 });
  const w = await failure(conn.write('hr', 30, [1]));
  t.equal(w.code, 'CE_ERR_MODBUS_ILLEGAL_ADDRESS', 'a write outside the map');
  t.match(w.message, 'write hr:30+1: exception 02');
});

// ---- a hand-written device ------------------------------------------------------------------------

interface PeerRequest { tid: number; unit: number; pdu: Buffer }
type OnRequest = (req: PeerRequest, sock: net.Socket) => void;

/** An ADU as a device sends it: transaction id, protocol id, length, unit, PDU. */
function adu(tid: number, unit: number, pdu: number[] | Buffer, protocol = 0): Buffer {
  const p = Buffer.from(pdu);
  const head = Buffer.alloc(7);
  head.writeUInt16BE(tid, 0);
  head.writeUInt16BE(protocol, 2);
  head.writeUInt16BE(p.length + 1, 4);
  head[6] = unit;
  return Buffer.concat([head, p]);
}

/** FC3/4 answer with registers `start, start+1, …` (the address as the value, so answers are told apart). */
function registersAnswer(req: PeerRequest): Buffer {
  const start = req.pdu.readUInt16BE(1);
  const count = req.pdu.readUInt16BE(3);
  const pdu = Buffer.alloc(2 + 2 * count);
  pdu[0] = req.pdu[0]!;
  pdu[1] = 2 * count;
  for (let i = 0; i < count; i++) pdu.writeUInt16BE(start + i, 2 + 2 * i);
  return adu(req.tid, req.unit, pdu);
}

async function startPeer(t: Test, onRequest: OnRequest) {
  const requests: PeerRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 7 && buf.length >= 6 + buf.readUInt16BE(4)) {
        const end = 6 + buf.readUInt16BE(4);
        const req = { tid: buf.readUInt16BE(0), unit: buf[6]!, pdu: Buffer.from(buf.subarray(7, end)) };
        buf = buf.subarray(end);
        requests.push(req);
        onRequest(req, sock);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  t.teardown(() => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }));
  return { port: (server.address() as net.AddressInfo).port, requests, sockets };
}

t.test('an answer split byte by byte is reassembled', async (t) => {
  const peer = await startPeer(t, (req, sock) => {
    const bytes = [...registersAnswer(req)];
    const next = (): void => {
      const b = bytes.shift();
      if (b === undefined || sock.destroyed) return;
      sock.write(Buffer.from([b]), () => setImmediate(next));
    };
    next();
  });
  const conn = await connected(t, peer.port);
  t.same(await conn.read('hr', 7, 5), { kind: 'words', data: [7, 8, 9, 10, 11] });
  t.same(await conn.read('ir', 500, 2), { kind: 'words', data: [500, 501] }, 'and the next one');
});

t.test('requests are serialized, one outstanding at a time, transaction ids counting up', async (t) => {
  let outstanding = 0;
  let most = 0;
  const peer = await startPeer(t, (req, sock) => {
    most = Math.max(most, ++outstanding);
    setImmediate(() => { outstanding--; sock.write(registersAnswer(req)); });
  });
  const conn = await connected(t, peer.port);
  const reads = await Promise.all([conn.read('hr', 0, 1), conn.read('hr', 10, 2), conn.read('ir', 20, 3), conn.read('hr', 30, 1)]);
  t.same(reads.map((r) => r.data), [[0], [10, 11], [20, 21, 22], [30]], 'each caller gets its own answer');
  t.equal(most, 1, 'the device never had two requests at once');
  const tids = peer.requests.map((r) => r.tid);
  t.same(tids.slice(1).map((id, i) => id - tids[i]!), [1, 1, 1], `transaction ids ${tids.join(', ')}`);
  t.ok(peer.requests.every((r) => r.unit === 1), 'the configured unit id');
});

t.test('a late answer to a timed-out request is dropped, never given to the next one', async (t) => {
  let held: PeerRequest | undefined;
  const peer = await startPeer(t, (req, sock) => {
    if (!held) { held = req; return; } // the first request: no answer yet
    // The late answer (claiming hr 0 = 0xdead) and the right one, in one chunk.
    const late = adu(held.tid, held.unit, [3, 2, 0xde, 0xad]);
    sock.write(Buffer.concat([late, registersAnswer(req)]));
  });
  const conn = await connected(t, peer.port, { timeoutMs: 200 });
  const first = await failure(conn.read('hr', 0, 1));
  t.equal(first.code, 'CE_ERR_MODBUS_TIMEOUT');
  t.match(first.message, 'hr:0+1: no answer within 200 ms');
  t.ok(conn.isOpen, 'a timeout leaves the connection open (the driver decides)');
  t.same(await conn.read('hr', 0, 1), { kind: 'words', data: [0] }, 'the right answer, not the late 0xdead');
  t.same(conn.stats, { requests: 2, dropped: 1, timeouts: 1 });
  t.ok(conn.isOpen);
});

t.test('exception answers give the codes the driver acts on', async (t) => {
  const peer = await startPeer(t, (req, sock) => {
    const code = req.pdu.readUInt16BE(1) === 2 ? 2 : 4;
    sock.write(adu(req.tid, req.unit, [req.pdu[0]! | 0x80, code]));
  });
  const conn = await connected(t, peer.port);
  const e2 = await failure(conn.read('hr', 2, 3));
  t.equal(e2.code, 'CE_ERR_MODBUS_ILLEGAL_ADDRESS');
  t.same(e2.details, { exception: 2 });
  t.match(e2.message, 'hr:2+3: exception 02');
  const e4 = await failure(conn.read('co', 4, 1));
  t.equal(e4.code, 'CE_ERR_MODBUS_EXCEPTION');
  t.same(e4.details, { exception: 4 });
  t.match(e4.message, 'co:4+1: exception 04');
  const w = await failure(conn.write('hr', 5, [1]));
  t.equal(w.code, 'CE_ERR_MODBUS_EXCEPTION');
  t.match(w.message, 'write hr:5+1: exception 04');
  t.ok(conn.isOpen, 'exceptions leave the connection open');
});

/** A device that answers every request with `answer(req)`; the test expects the link dropped over it. */
async function droppedOver(t: Test, answer: (req: PeerRequest) => Buffer, read: (c: MbapConnection) => Promise<unknown>): Promise<CodedError> {
  const peer = await startPeer(t, (req, sock) => sock.write(answer(req)));
  const conn = await connected(t, peer.port, { timeoutMs: 10_000 });
  const e = await failure(read(conn));
  t.equal(e.code, 'CE_ERR_DEVICE_DISCONNECTED', e.message);
  t.notOk(conn.isOpen, 'the connection is dropped');
  await waitFor(() => peer.sockets.size === 0, { what: 'the device to see the connection closed' });
  const after = await failure(conn.read('hr', 0, 1));
  t.equal(after.code, 'CE_ERR_DEVICE_DISCONNECTED');
  t.match(after.message, 'not connected');
  return e;
}

t.test('a wrong protocol id puts the stream out of step: disconnected', async (t) => {
  const e = await droppedOver(t, (req) => adu(req.tid, req.unit, [3, 2, 0, 1], 0x0001), (c) => c.read('hr', 0, 1));
  t.match(e.message, /hr:0\+1: the answer stream is out of step \(protocol id 1, expected 0\)/);
});

t.test('a byte count that does not match the request is refused, not decoded', async (t) => {
  const e = await droppedOver(t, (req) => adu(req.tid, req.unit, [3, 4, 0, 1, 0, 2]), (c) => c.read('hr', 0, 3));
  t.match(e.message, /hr:0\+3: malformed answer \(byte count 4, expected 6 for 3 registers\)/);
});

t.test('an answer from another unit or for another function is refused', async (t) => {
  const unit = await droppedOver(t, (req) => adu(req.tid, 9, [3, 2, 0, 1]), (c) => c.read('hr', 0, 1));
  t.match(unit.message, /answer from unit 9, expected 1/);
  const fc = await droppedOver(t, (req) => adu(req.tid, req.unit, [4, 2, 0, 1]), (c) => c.read('hr', 0, 1));
  t.match(fc.message, /function code 4, expected 3/);
  const echo = await droppedOver(t, (req) => adu(req.tid, req.unit, [6, 0, 5, 0, 2]), (c) => c.write('hr', 5, [1]));
  t.match(echo.message, /write hr:5\+1: malformed answer \(write answer echoes 5\/2, expected 5\/1\)/);
});

t.test('the device hanging up mid-request fails it at once, not after the timeout', async (t) => {
  const peer = await startPeer(t, (_req, sock) => sock.destroy());
  const conn = await connected(t, peer.port, { timeoutMs: 10_000 });
  const [a, b] = await Promise.all([failure(conn.read('hr', 0, 1)), failure(conn.read('hr', 1, 1))]);
  // A timeout would be CE_ERR_MODBUS_TIMEOUT; this code says the close itself failed the request.
  t.equal(a.code, 'CE_ERR_DEVICE_DISCONNECTED');
  t.match(a.message, 'hr:0+1: the device closed the connection');
  t.equal(b.code, 'CE_ERR_DEVICE_DISCONNECTED', 'the request queued behind it fails too');
  t.notOk(conn.isOpen);
  t.equal(conn.stats.timeouts, 0);
});

t.test('a device that accepts and never answers: timeout, still open until close()', async (t) => {
  const peer = await startPeer(t, () => {});
  const conn = await connected(t, peer.port, { timeoutMs: 150 });
  const e = await failure(conn.read('di', 3, 2));
  t.equal(e.code, 'CE_ERR_MODBUS_TIMEOUT');
  t.match(e.message, 'di:3+2: no answer within 150 ms');
  t.ok(conn.isOpen, 'still open');
  const waiting = conn.read('hr', 0, 1);
  conn.close();
  const closed = await failure(waiting);
  t.equal(closed.code, 'CE_ERR_DEVICE_DISCONNECTED', 'close() fails what waits at once');
  t.notOk(conn.isOpen, 'closed');
  await waitFor(() => peer.sockets.size === 0, { what: 'the device to see the connection closed' });
  t.same(conn.stats, { requests: 2, dropped: 0, timeouts: 1 });
});

t.test('nobody listening: CE_ERR_MODBUS_CONNECT naming the address', async (t) => {
  const port = await freePort();
  const conn = new MbapConnection({ host: LOOPBACK, port, unit: 1, timeoutMs: 5000 });
  const e = await failure(conn.connect(live()));
  t.equal(e.code, 'CE_ERR_MODBUS_CONNECT');
  t.match(e.message, `${LOOPBACK}:${port}: connect ECONNREFUSED`);
  t.notOk(conn.isOpen);
  t.equal((await failure(conn.read('hr', 0, 1))).code, 'CE_ERR_DEVICE_DISCONNECTED', 'reads refused, not queued');
});

// A listener that never accepts, with a backlog of 0: once one connection waits in its accept queue,
// the kernel drops further SYNs and a connect hangs, like a device whose TCP stack is saturated.
// Python, because a Node server always accepts at once.
const NO_ACCEPT = `
import socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(0)
print('listening on', s.getsockname()[1], flush=True)
sys.stdin.read()
`;

t.test('a device that does not accept: connect gives up after timeoutMs, or on abort', async (t) => {
  const listener = await spawnProcess(DEBIAN_PYTHON, ['-c', NO_ACCEPT], { t, stdin: 'pipe', readyLine: /listening on (\d+)/, name: 'no-accept' });
  const port = Number(listener.ready![1]);
  const filler = net.connect(port, LOOPBACK);
  t.teardown(() => filler.destroy());
  await new Promise((resolve, reject) => filler.once('connect', resolve).once('error', reject));

  const conn = new MbapConnection({ host: LOOPBACK, port, unit: 1, timeoutMs: 300 });
  t.teardown(() => conn.release());
  const e = await failure(conn.connect(live()));
  t.equal(e.code, 'CE_ERR_MODBUS_CONNECT');
  t.match(e.message, `${LOOPBACK}:${port}: did not accept a connection within 300 ms`);
  t.notOk(conn.isOpen);

  const patient = new MbapConnection({ host: LOOPBACK, port, unit: 1, timeoutMs: 10_000 });
  t.teardown(() => patient.release());
  const ac = new AbortController();
  const connecting = patient.connect(ac.signal);
  setImmediate(() => ac.abort());
  const aborted = await failure(connecting);
  t.equal(aborted.code, 'CE_ERR_MODBUS_CONNECT');
  t.match(aborted.message, 'connect aborted', 'the abort ended it, not the 10 s timeout');
  t.notOk(patient.isOpen);
});

t.test('abort during connect rejects and leaves no socket behind', async (t) => {
  const peer = await startPeer(t, (req, sock) => sock.write(registersAnswer(req)));
  const conn = new MbapConnection({ host: LOOPBACK, port: peer.port, unit: 1, timeoutMs: 5000 });
  t.teardown(() => conn.release());
  const ac = new AbortController();
  const connecting = conn.connect(ac.signal);
  ac.abort();
  const e = await failure(connecting);
  t.equal(e.code, 'CE_ERR_MODBUS_CONNECT');
  t.match(e.message, `${LOOPBACK}:${peer.port}: connect aborted`);
  t.notOk(conn.isOpen);
  await waitFor(() => peer.sockets.size === 0, { what: 'no connection left open at the device' });
  const already = await failure(conn.connect(ac.signal));
  t.equal(already.code, 'CE_ERR_MODBUS_CONNECT', 'an aborted signal refuses at once');

  await conn.connect(live());
  t.same(await conn.read('hr', 3, 1), { kind: 'words', data: [3] }, 'the same link connects afterwards');
});

t.test('close() during connect rejects it and leaves no socket behind', async (t) => {
  const peer = await startPeer(t, (req, sock) => sock.write(registersAnswer(req)));
  const conn = new MbapConnection({ host: LOOPBACK, port: peer.port, unit: 1, timeoutMs: 5000 });
  t.teardown(() => conn.release());
  const connecting = conn.connect(live());
  conn.close();
  const e = await failure(connecting);
  t.equal(e.code, 'CE_ERR_MODBUS_CONNECT');
  t.match(e.message, 'connection closed while connecting');
  t.notOk(conn.isOpen);
  await waitFor(() => peer.sockets.size === 0, { what: 'no connection left open at the device' });
});

t.test("an answered request's timer is stopped: it never times out the next one", async (t) => {
  // Each answer comes 1.4 s after its request, within the 2 s timeout. The first request's timer,
  // if left running, would fire at 2 s, while the second (sent at 1.4 s) still waits for its answer.
  const peer = await startPeer(t, (req, sock) => { setTimeout(() => { if (!sock.destroyed) sock.write(registersAnswer(req)); }, 1400); });
  const conn = await connected(t, peer.port, { timeoutMs: 2000 });
  t.same(await conn.read('hr', 1, 1), { kind: 'words', data: [1] });
  t.same(await conn.read('hr', 2, 1), { kind: 'words', data: [2] });
  t.same(conn.stats, { requests: 2, dropped: 0, timeouts: 0 });
});
