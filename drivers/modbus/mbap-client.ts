// One Modbus TCP connection over node:net, framed with the MBAP header (MODBUS Messaging on TCP/IP
// Implementation Guide V1.0b, "TCP §"; the PDUs are in mbap-frame.ts). It replaces modbus-serial
// for TCP devices: no RTU framing or CRC, no transaction table, no serialport bindings loaded.
//
// Requests on one connection are strictly serialized: many PLCs and serial gateways answer one
// transaction at a time, whatever TCP §4.2 allows. The transaction id (mod 65536) only tells a
// late answer, to a request that timed out, from the one awaited: the late one is dropped.
//
// Which failure does what:
//   - exception answer (AP §7): the request fails with its code, the connection stays;
//   - no answer within timeoutMs: CE_ERR_MODBUS_TIMEOUT, the connection stays (the driver decides);
//   - stream out of step (protocol id ≠ 0, impossible length), peer gone, socket error, or an answer
//     with the right transaction id that is malformed (other unit or function code, byte count or
//     echo not matching the request): CE_ERR_DEVICE_DISCONNECTED saying what was wrong, and the
//     connection is destroyed. A device answering nonsense cannot be trusted with the next request,
//     and the driver reconnects with backoff, which is also what it does for a lost connection.
import net from 'node:net';
import { CodedError, type ModbusTable } from '../../gateway/model/index.ts';
import { exceptionError, type ConnectionOptions, type ModbusLink, type ReadBits, type ReadWords } from './connection.ts';
import {
  AduReader, answerBits, answerWords, checkAnswer, encodeRead, encodeWriteCoils, encodeWriteRegisters,
  encodeWriteSingle, FC, isBitRead, setTransaction, type RequestShape,
} from './mbap-frame.ts';

export interface MbapStats {
  /** Requests sent. */
  requests: number;
  /** Answers whose transaction id was not the one awaited (late after a timeout, or garbage). */
  dropped: number;
  /** Requests that got no answer within timeoutMs. */
  timeouts: number;
}

type Result = ReadWords | ReadBits | undefined;

const READ_FC: Record<ModbusTable, number> = {
  co: FC.readCoils, di: FC.readDiscreteInputs, hr: FC.readHoldingRegisters, ir: FC.readInputRegisters,
};

/** One request, from queued to settled. A class, so every request has the same shape. */
class Request implements RequestShape {
  transaction = -1;
  resolve: (r: Result) => void = noop;
  reject: (e: Error) => void = noop;
  constructor(
    readonly adu: Buffer, readonly unit: number, readonly fc: number, readonly table: ModbusTable,
    readonly start: number, readonly count: number, readonly value: number, readonly write: boolean,
  ) {}

  /** `hr:100+125` or `write hr:5+1`, as the driver's messages have them; built only for an error. */
  get what(): string { return `${this.write ? 'write ' : ''}${this.table}:${this.start}+${this.count}`; }
}

const noop = (): void => {};

export class MbapConnection implements ModbusLink {
  readonly #o: ConnectionOptions;
  #socket: net.Socket | undefined;
  #cancelConnect: (() => void) | undefined;
  readonly #reader = new AduReader();
  readonly #queue: Request[] = [];
  #current: Request | undefined;
  #timer: NodeJS.Timeout | undefined;
  #transaction = 0;
  readonly #stats: MbapStats = { requests: 0, dropped: 0, timeouts: 0 };
  // Bound once, not per request.
  readonly #onAdu = (buf: Buffer, off: number, end: number): boolean => this.#answer(buf, off, end);
  readonly #onTimeout = (): void => this.#timedOut();

  constructor(opts: ConnectionOptions) { this.#o = opts; }

  get isOpen(): boolean { return this.#socket !== undefined; }

  /** Live counters (the same object each time; read, do not keep a copy expecting it to change). */
  get stats(): Readonly<MbapStats> { return this.#stats; }

  async connect(signal: AbortSignal): Promise<void> {
    this.close();
    const { host, port, timeoutMs } = this.#o;
    const fail = (detail: string, cause?: unknown): CodedError =>
      new CodedError('CE_ERR_MODBUS_CONNECT', `${host}:${port}: ${detail}`, {}, cause === undefined ? undefined : { cause });
    if (signal.aborted) throw fail('connect aborted');
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      const done = (err?: CodedError): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect).off('error', onError);
        this.#cancelConnect = undefined;
        // Adopted before the promise settles: the caller resumes a microtask later, and an error or
        // a close() in between would otherwise meet a socket nobody listens to or knows of.
        if (!err) { this.#adopt(socket); resolve(); return; }
        // No half-open socket left behind, and no late error event with nobody listening.
        socket.on('error', noop).destroy();
        reject(err);
      };
      const onConnect = (): void => done();
      const onError = (e: Error): void => done(fail(e.message, e));
      const onAbort = (): void => done(fail('connect aborted'));
      const timer = setTimeout(() => done(fail(`did not accept a connection within ${timeoutMs} ms`)), timeoutMs);
      socket.once('connect', onConnect).once('error', onError);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#cancelConnect = () => done(fail('connection closed while connecting'));
    });
  }

  #adopt(socket: net.Socket): void {
    // One small request, then wait for its answer: Nagle would only hold it back. Keep-alive
    // notices a peer that vanished behind a NAT or a pulled cable while the link is idle.
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (chunk: Buffer) => this.#data(socket, chunk));
    socket.on('error', (e: Error) => this.#lost(socket, `connection failed: ${e.message}`));
    // Without allowHalfOpen Node closes our side after the peer's FIN; fail at the FIN already.
    socket.on('end', () => this.#lost(socket, 'the device closed the connection'));
    socket.on('close', () => this.#lost(socket, 'the device closed the connection'));
    this.#socket = socket;
  }

  /** Reads `count` registers or bits of `table` starting at `start` (0-based PDU address). */
  read(table: ModbusTable, start: number, count: number): Promise<ReadWords | ReadBits> {
    const fc = READ_FC[table];
    let adu: Buffer;
    try {
      adu = encodeRead(0, this.#o.unit, fc, start, count);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#submit(new Request(adu, this.#o.unit, fc, table, start, count, 0, false)) as Promise<ReadWords | ReadBits>;
  }

  /** One value: FC 5 or 6; several: FC 15 or 16. */
  write(table: 'hr' | 'co', start: number, values: number[] | boolean[]): Promise<void> {
    const unit = this.#o.unit;
    let req: Request;
    try {
      if (values.length === 1) {
        const fc = table === 'co' ? FC.writeSingleCoil : FC.writeSingleRegister;
        const value = table === 'co' ? (values[0] ? 0xff00 : 0x0000) : values[0] as number;
        req = new Request(encodeWriteSingle(0, unit, fc, start, value), unit, fc, table, start, 1, value, true);
      } else if (table === 'co') {
        req = new Request(encodeWriteCoils(0, unit, start, values as boolean[]), unit, FC.writeMultipleCoils, table, start, values.length, 0, true);
      } else {
        req = new Request(encodeWriteRegisters(0, unit, start, values as number[]), unit, FC.writeMultipleRegisters, table, start, values.length, 0, true);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#submit(req).then(noop);
  }

  release(): void { this.close(); }

  close(): void {
    this.#cancelConnect?.();
    const socket = this.#socket;
    if (socket) this.#lost(socket, 'the connection was closed');
  }

  #submit(req: Request): Promise<Result> {
    if (!this.#socket) return Promise.reject(new CodedError('CE_ERR_DEVICE_DISCONNECTED', 'not connected'));
    return new Promise<Result>((resolve, reject) => {
      req.resolve = resolve;
      req.reject = reject;
      this.#queue.push(req);
      if (!this.#current) this.#next();
    });
  }

  /** Sends the next queued request, if the line is free. */
  #next(): void {
    // Called with a live socket only: #lost empties the queue when it goes.
    const socket = this.#socket!;
    const req = this.#queue.shift();
    if (!req) return;
    this.#transaction = (this.#transaction + 1) & 0xffff;
    req.transaction = this.#transaction;
    setTransaction(req.adu, req.transaction);
    this.#current = req;
    this.#stats.requests++;
    this.#timer = setTimeout(this.#onTimeout, this.#o.timeoutMs);
    socket.write(req.adu);
  }

  #data(socket: net.Socket, chunk: Buffer): void {
    if (socket !== this.#socket) return;
    const outOfStep = this.#reader.push(chunk, this.#onAdu);
    if (outOfStep) this.#lost(socket, `the answer stream is out of step (${outOfStep})`);
  }

  /** One framed answer; returns false once the connection was dropped over it. */
  #answer(buf: Buffer, off: number, end: number): boolean {
    const req = this.#current;
    if (!req || buf.readUInt16BE(off) !== req.transaction) { this.#stats.dropped++; return true; }
    const problem = checkAnswer(buf, off, end, req);
    if (problem === undefined) {
      const result: Result = req.write ? undefined
        : isBitRead(req.fc) ? { kind: 'bits', data: answerBits(buf, off, req.count) }
          : { kind: 'words', data: answerWords(buf, off, req.count) };
      this.#settle();
      req.resolve(result);
      return true;
    }
    if ('malformed' in problem) {
      this.#lost(this.#socket!, `malformed answer (${problem.malformed})`);
      return false;
    }
    this.#settle();
    req.reject(exceptionError(req.what, problem.exception));
    return true;
  }

  /** The current request is done: free the line and send the next one waiting, if any. */
  #settle(): void {
    clearTimeout(this.#timer);
    this.#current = undefined;
    this.#next();
  }

  #timedOut(): void {
    const req = this.#current;
    if (!req) return;
    this.#stats.timeouts++;
    this.#settle();
    // Its answer may still come: the transaction id will tell it from the next one's.
    req.reject(new CodedError('CE_ERR_MODBUS_TIMEOUT', `${req.what}: no answer within ${this.#o.timeoutMs} ms`));
  }

  /** The socket is gone or cannot be trusted: destroy it, fail everything waiting at once. */
  #lost(socket: net.Socket, why: string): void {
    socket.destroy(); // its error listener stays, for a reset already on its way
    if (socket !== this.#socket) return;
    this.#socket = undefined;
    this.#reader.reset();
    clearTimeout(this.#timer);
    const waiting = this.#current ? [this.#current, ...this.#queue] : [...this.#queue];
    this.#current = undefined;
    this.#queue.length = 0;
    for (const req of waiting) req.reject(new CodedError('CE_ERR_DEVICE_DISCONNECTED', `${req.what}: ${why}`));
  }
}
