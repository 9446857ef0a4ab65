// A Modbus RTU server (slave) for simulated devices, written from the specifications:
//   - MODBUS over Serial Line Specification and Implementation Guide V1.02 ("SL §"): addressing
//     (SL §2.2), RTU framing (SL §2.5.1), timings t1.5/t3.5 (SL §2.5.1.1), CRC (SL §6.2.2);
//   - MODBUS Application Protocol Specification V1.1b3 ("AP §"): the PDU, answered by the same
//     handlePdu() and RegisterBank as the TCP server.
// One server is one line: several unit ids (several devices on one RS-485 bus) share it. Two
// transports: a serial device (a real port, or one end of a socat pseudo-terminal pair), or TCP
// carrying raw RTU frames with their CRC and no MBAP header, as the serial-to-Ethernet converter in
// a streetlight cabinet does. Like the TCP server it shares no code with drivers/ or gateway/.
import net from 'node:net';
import { handlePdu, type RegisterBank } from './tcp-server.ts';
import { RtuFramer, rtuTimings, withCrc, type FramerEvent } from './rtu-frame.ts';

/**
 * An application check of a write, run after the AP §6 checks of the request (quantity, address)
 * have passed: return an exception code to refuse it (nothing is written), or undefined to accept.
 * Coil values are 0/1. A device that refuses out-of-range setpoints with exception 03 uses this.
 */
export type WriteCheck = (table: 'co' | 'hr', address: number, values: readonly number[]) => number | undefined;

export interface RtuUnit {
  bank: RegisterBank;
  checkWrite?: WriteCheck;
}

export interface SerialOptions {
  path: string;
  /** Default 9600, the usual setting of cabinet controllers. */
  baudRate?: number;
  /** SL §2.5.1 makes even parity the default; cabinets in the field are mostly 8N1, so none here. */
  parity?: 'none' | 'even' | 'odd';
  stopBits?: 1 | 2;
}

export interface TcpOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface ModbusRtuServerOptions {
  /** Unit id (1–247, SL §2.2) → its data. Frames for other ids are not answered. */
  units: ReadonlyMap<number, RegisterBank | RtuUnit>;
  /** Exactly one of serial and tcp. */
  serial?: SerialOptions;
  tcp?: TcpOptions;
  /** Silence that ends a frame; default t3.5 at the baud rate (9600 for TCP, the line behind the converter). */
  interFrameMs?: number;
  signal?: AbortSignal;
}

export type RtuEndpoint =
  | { transport: 'serial'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; stopBits: 1 | 2 }
  | { transport: 'tcp'; host: string; port: number };

export interface RtuServerStats {
  bytesIn: number;
  bytesOut: number;
  /** Frames with a good CRC, for any unit id. */
  frames: number;
  /** Frames dropped for a bad CRC, never answered (SL §2.5.1.1). */
  badCrc: number;
  /** Fragments cut short by a silence, and runs longer than 256 bytes. */
  incomplete: number;
  /** Frames for a unit id this line does not serve. */
  ignored: number;
  /** Broadcasts (unit 0) received; executed by every live unit, answered by none (SL §2.1). */
  broadcasts: number;
  /** Requests swallowed by a silent unit. */
  silenced: number;
  responses: number;
  exceptions: number;
  /** TCP connections accepted since start, and open now. */
  connections: number;
  open: number;
}

export interface UnitStats {
  /** Requests addressed to this unit (not broadcasts), answered or not. */
  requests: number;
  responses: number;
  exceptions: number;
  broadcasts: number;
}

/** Faults of one unit, for tests: `setUnitFault(unit, {})` clears them. */
export interface UnitFault {
  /** A dead device: it executes nothing and never answers. */
  silent?: boolean;
  /** Answer this many ms late (on top of the t3.5 turnaround of a serial line). */
  delayMs?: number;
}

export interface ModbusRtuServer {
  readonly endpoint: RtuEndpoint;
  readonly stats: Readonly<RtuServerStats>;
  /** The silence (ms) that ends a frame on this line. */
  readonly interFrameMs: number;
  unitStats(unit: number): Readonly<UnitStats>;
  /**
   * True when every byte received has been judged: no line holds part of a frame or is skipping a
   * bad one until the next silence. A test waits for it before sending what must be a new frame.
   */
  quiet(): boolean;
  setUnitFault(unit: number, fault: UnitFault): void;
  close(): Promise<void>;
}

// The writes whose values a WriteCheck sees, decoded only when well formed (AP §6.5, §6.6, §6.11,
// §6.12); anything else goes to handlePdu untouched, which answers it with its own exception.
function decodeWrite(pdu: Buffer): { table: 'co' | 'hr'; address: number; values: number[] } | undefined {
  if (pdu.length < 5) return undefined;
  const fc = pdu[0], address = pdu.readUInt16BE(1), q = pdu.readUInt16BE(3), bytes = pdu[5] ?? 0;
  switch (fc) {
    case 0x05: return pdu.length === 5 && (q === 0xff00 || q === 0) ? { table: 'co', address, values: [q ? 1 : 0] } : undefined;
    case 0x06: return pdu.length === 5 ? { table: 'hr', address, values: [q] } : undefined;
    case 0x0f:
      if (q < 1 || bytes !== Math.ceil(q / 8) || pdu.length !== 6 + bytes) return undefined;
      return { table: 'co', address, values: Array.from({ length: q }, (_, i) => ((pdu[6 + (i >> 3)] ?? 0) >> (i & 7)) & 1) };
    case 0x10:
      if (q < 1 || bytes !== 2 * q || pdu.length !== 6 + bytes) return undefined;
      return { table: 'hr', address, values: Array.from({ length: q }, (_, i) => pdu.readUInt16BE(6 + 2 * i)) };
    default: return undefined;
  }
}

/** Answers one request PDU for one unit: the application check first, then the AP §6 handler. */
function answer(unit: RtuUnit, pdu: Buffer): Buffer {
  const w = unit.checkWrite ? decodeWrite(pdu) : undefined;
  if (w && unit.bank.isMapped(w.table, w.address, w.values.length)) {
    const code = unit.checkWrite?.(w.table, w.address, w.values);
    if (code !== undefined) return Buffer.from([((pdu[0] ?? 0) | 0x80) & 0xff, code]);
  }
  return handlePdu(unit.bank, pdu);
}

/** The part of serialport's SerialPort used here. */
interface SerialLike {
  readonly isOpen: boolean;
  open(cb: (err: Error | null) => void): void;
  write(data: Buffer): boolean;
  close(cb?: (err: Error | null) => void): void;
  on(event: 'data', fn: (chunk: Buffer) => void): this;
  on(event: 'error' | 'close', fn: (...args: unknown[]) => void): this;
}
type SerialCtor = new (options: { path: string; baudRate: number; dataBits: 8; parity: string; stopBits: number; autoOpen: false }) => SerialLike;

// serialport is an optional dependency of modbus-serial: named through a variable, TypeScript does
// not need it installed, and a TCP-only simulator runs without it and its native binding.
const SERIALPORT: string = 'serialport';

async function loadSerialPort(): Promise<SerialCtor> {
  try {
    return ((await import(SERIALPORT)) as { SerialPort: SerialCtor }).SerialPort;
  } catch (err) {
    throw new Error(`the serial transport needs the serialport package (an optional dependency of modbus-serial): ${(err as Error).message}`);
  }
}

const isWrite = (fc: number): boolean => fc === 0x05 || fc === 0x06 || fc === 0x0f || fc === 0x10;

/** One receiving end: a serial port or one TCP connection, with its own framer and silence timer. */
interface Line {
  framer: RtuFramer;
  silenceTimer?: NodeJS.Timeout;
  write(frame: Buffer): void;
  alive(): boolean;
}

export async function startModbusRtuServer(options: ModbusRtuServerOptions): Promise<ModbusRtuServer> {
  const { serial, tcp, signal } = options;
  signal?.throwIfAborted();
  if ((serial === undefined) === (tcp === undefined)) throw new TypeError('give exactly one of serial and tcp');
  const units = new Map<number, RtuUnit>();
  for (const [id, u] of options.units) {
    // SL §2.2: 1–247 are slave addresses; 0 is broadcast and 248–255 are reserved.
    if (!Number.isInteger(id) || id < 1 || id > 247) throw new RangeError(`unit ${id} is not a slave address (1–247)`);
    units.set(id, 'bank' in u ? u : { bank: u });
  }
  const baudRate = serial?.baudRate ?? 9600;
  const t35 = rtuTimings(baudRate).t35Ms;
  // Node's timers have 1 ms resolution; never wait less than the spec's silence.
  const interFrameMs = options.interFrameMs ?? Math.ceil(t35);
  // SL §2.5.1.1: frames on the wire are separated by t3.5, so a slave starts answering no sooner.
  // Over TCP the converter's own serial line keeps that gap; nothing to wait for here.
  const turnaroundMs = serial ? Math.ceil(t35) : 0;

  const stats: RtuServerStats = {
    bytesIn: 0, bytesOut: 0, frames: 0, badCrc: 0, incomplete: 0, ignored: 0, broadcasts: 0, silenced: 0,
    responses: 0, exceptions: 0, connections: 0, open: 0,
  };
  const perUnit = new Map<number, UnitStats>([...units.keys()].map((id) => [id, { requests: 0, responses: 0, exceptions: 0, broadcasts: 0 }]));
  const faults = new Map<number, UnitFault>();
  const timers = new Set<NodeJS.Timeout>();
  const lines = new Set<Line>();

  const later = (ms: number, fn: () => void): void => {
    if (ms <= 0) { fn(); return; }
    const timer = setTimeout(() => { timers.delete(timer); fn(); }, ms);
    timers.add(timer);
  };

  const onFrame = (line: Line, frame: Buffer): void => {
    stats.frames++;
    const id = frame[0] ?? 0;
    const pdu = frame.subarray(1, frame.length - 2);
    if (id === 0) {
      // SL §2.1: broadcast requests are writes, executed by every slave, answered by none.
      stats.broadcasts++;
      if (!isWrite(pdu[0] ?? 0)) return;
      for (const [uid, unit] of units) {
        if (faults.get(uid)?.silent) continue;
        perUnit.get(uid)!.broadcasts++;
        answer(unit, pdu);
      }
      return;
    }
    const unit = units.get(id);
    if (!unit) { stats.ignored++; return; } // another slave's frame on a shared bus (SL §2.2)
    const us = perUnit.get(id)!;
    us.requests++;
    const fault = faults.get(id) ?? {};
    if (fault.silent) { stats.silenced++; return; }
    const response = answer(unit, pdu);
    const exception = ((response[0] ?? 0) & 0x80) !== 0;
    stats.responses++; us.responses++;
    if (exception) { stats.exceptions++; us.exceptions++; }
    const out = withCrc(Buffer.concat([Buffer.from([id]), response]));
    later(turnaroundMs + (fault.delayMs ?? 0), () => { if (line.alive()) { stats.bytesOut += out.length; line.write(out); } });
  };

  const handle = (line: Line, events: FramerEvent[]): void => {
    for (const e of events) {
      if (e.kind === 'frame') onFrame(line, e.frame);
      else if (e.reason === 'bad-crc') stats.badCrc++;
      else stats.incomplete++;
    }
  };

  const receive = (line: Line, chunk: Buffer): void => {
    stats.bytesIn += chunk.length;
    handle(line, line.framer.push(chunk));
    // Every byte restarts the silence clock (SL §2.5.1.1); with nothing pending there is nothing to end.
    clearTimeout(line.silenceTimer);
    line.silenceTimer = undefined;
    if (line.framer.pending > 0 || line.framer.discarding) {
      line.silenceTimer = setTimeout(() => { line.silenceTimer = undefined; handle(line, line.framer.silence()); }, interFrameMs);
    }
  };

  const dropLine = (line: Line): void => { clearTimeout(line.silenceTimer); lines.delete(line); };

  let endpoint: RtuEndpoint;
  let shutdown: () => Promise<void>;
  if (serial) {
    const Port = await loadSerialPort();
    const parity = serial.parity ?? 'none';
    const stopBits = serial.stopBits ?? 1;
    const port = new Port({ path: serial.path, baudRate, dataBits: 8, parity, stopBits, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    const line: Line = { framer: new RtuFramer(), write: (f) => port.write(f), alive: () => port.isOpen };
    lines.add(line);
    port.on('data', (chunk: Buffer) => receive(line, chunk));
    // The other end of a pty going away shows as an error or close; the simulator just stops hearing.
    port.on('error', () => {});
    port.on('close', () => dropLine(line));
    endpoint = { transport: 'serial', path: serial.path, baudRate, parity, stopBits };
    shutdown = () => new Promise<void>((resolve) => {
      dropLine(line);
      if (!port.isOpen) { resolve(); return; }
      port.close(() => resolve());
    });
  } else {
    const { host = '127.0.0.1', port = 0 } = tcp ?? {};
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      stats.connections++; stats.open++;
      sockets.add(socket);
      socket.setNoDelay(true); // one small frame per answer: Nagle would hold it for a delayed ACK
      // Each connection is framed on its own, as a converter keeps one buffer per TCP client.
      const line: Line = { framer: new RtuFramer(), write: (f) => socket.write(f), alive: () => !socket.destroyed };
      lines.add(line);
      socket.on('data', (chunk: Buffer) => receive(line, chunk));
      socket.on('error', () => { /* a client resetting its connection is its business */ });
      socket.on('close', () => { dropLine(line); sockets.delete(socket); stats.open--; });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
    endpoint = { transport: 'tcp', host, port: (server.address() as net.AddressInfo).port };
    shutdown = () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      signal?.removeEventListener('abort', onAbort);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const l of lines) clearTimeout(l.silenceTimer);
      await shutdown();
    })();
    return closing;
  };
  const onAbort = (): void => { void close(); };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) { await close(); signal.throwIfAborted(); } // aborted while we were opening

  return {
    endpoint,
    stats,
    interFrameMs,
    unitStats(unit: number): Readonly<UnitStats> {
      const s = perUnit.get(unit);
      if (!s) throw new RangeError(`unit ${unit} is not served on this line`);
      return s;
    },
    quiet(): boolean {
      for (const l of lines) if (l.framer.pending > 0 || l.framer.discarding) return false;
      return true;
    },
    setUnitFault(unit: number, fault: UnitFault): void {
      if (!units.has(unit)) throw new RangeError(`unit ${unit} is not served on this line`);
      faults.set(unit, { ...fault });
    },
    close,
  };
}

