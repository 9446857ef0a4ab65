// A Modbus TCP server (slave) written from the specifications, for simulated devices:
//   - MODBUS Application Protocol Specification V1.1b3 (the PDU, function codes, exceptions), "AP §";
//   - MODBUS Messaging on TCP/IP Implementation Guide V1.0b (the MBAP header), "TCP §".
// It deliberately shares no code with drivers/ or gateway/: if the driver misreads the protocol, the
// tests must see it disagree with this server instead of agreeing with a copy of the same mistake.
// It answers straight from the socket's data event (no timer), so a poll benchmark measures the
// client, not this simulator.
import net from 'node:net';

export type BitTable = 'co' | 'di';
export type RegisterTable = 'hr' | 'ir';
/** The four primary tables of AP §4.3: coils, discrete inputs, holding and input registers. */
export type Table = BitTable | RegisterTable;

/** A run of mapped addresses, 0-based PDU addresses (AP §4.4), `count` ≥ 1. */
export interface AddressRange { start: number; count: number }
export type BankLayout = Partial<Record<Table, readonly AddressRange[]>>;

interface Block { start: number; end: number; data: Uint16Array | Uint8Array }

const TABLES: readonly Table[] = ['co', 'di', 'hr', 'ir'];

/**
 * The data model of one unit: four tables, each defined only on its mapped ranges, as in a real PLC
 * where reading a gap between blocks is an error (exception 02), not a row of zeros.
 */
export class RegisterBank {
  readonly #blocks: Record<Table, Block[]> = { co: [], di: [], hr: [], ir: [] };

  constructor(layout: BankLayout) {
    for (const table of TABLES) {
      const ranges = [...(layout[table] ?? [])].sort((a, b) => a.start - b.start);
      for (const r of ranges) {
        if (!Number.isInteger(r.start) || !Number.isInteger(r.count) || r.start < 0 || r.count < 1 || r.start + r.count > 65536) {
          throw new RangeError(`${table}: range ${r.start}+${r.count} is not inside 0–65535`);
        }
      }
      // Overlapping or touching ranges merge, so any request inside mapped space lies in one block.
      const merged: { start: number; end: number }[] = [];
      for (const r of ranges) {
        const last = merged.at(-1);
        if (last && r.start <= last.end) last.end = Math.max(last.end, r.start + r.count);
        else merged.push({ start: r.start, end: r.start + r.count });
      }
      const bits = table === 'co' || table === 'di';
      this.#blocks[table] = merged.map(({ start, end }) => ({
        start, end, data: bits ? new Uint8Array(end - start) : new Uint16Array(end - start),
      }));
    }
  }

  /** The mapped ranges of a table, merged and sorted. */
  ranges(table: Table): AddressRange[] {
    return this.#blocks[table].map((b) => ({ start: b.start, count: b.end - b.start }));
  }

  /** True when every address of `address … address+count-1` is mapped. */
  isMapped(table: Table, address: number, count: number): boolean {
    return this.#find(table, address, count) !== undefined;
  }

  readBits(table: BitTable, address: number, count: number): boolean[] {
    const b = this.#get(table, address, count);
    return Array.from(b.data.subarray(address - b.start, address - b.start + count), (v) => v !== 0);
  }

  writeBits(table: BitTable, address: number, values: readonly boolean[]): void {
    const b = this.#get(table, address, values.length);
    values.forEach((v, i) => { b.data[address - b.start + i] = v ? 1 : 0; });
  }

  readRegisters(table: RegisterTable, address: number, count: number): number[] {
    const b = this.#get(table, address, count);
    return Array.from(b.data.subarray(address - b.start, address - b.start + count));
  }

  writeRegisters(table: RegisterTable, address: number, values: readonly number[]): void {
    const b = this.#get(table, address, values.length);
    // Uint16Array stores modulo 2^16, which is how a signed int16 lands in a register.
    values.forEach((v, i) => { b.data[address - b.start + i] = v; });
  }

  #find(table: Table, address: number, count: number): Block | undefined {
    if (count < 1) return undefined;
    return this.#blocks[table].find((b) => address >= b.start && address + count <= b.end);
  }

  #get(table: Table, address: number, count: number): Block {
    const b = this.#find(table, address, count);
    if (!b) throw new RangeError(`${table}:${address}+${count} is not mapped`);
    return b;
  }
}

/** Exception codes of AP §7. */
export const ModbusException = {
  IllegalFunction: 0x01,
  IllegalDataAddress: 0x02,
  IllegalDataValue: 0x03,
  ServerDeviceFailure: 0x04,
} as const;

// Quantity limits, chosen by the spec so that every request and response fits the 253-byte PDU (AP §4.1).
const MAX_READ_BITS = 2000; // 0x07D0, AP §6.1 / §6.2
const MAX_READ_REGISTERS = 125; // 0x007D, AP §6.3 / §6.4
const MAX_WRITE_BITS = 1968; // 0x07B0, AP §6.11
const MAX_WRITE_REGISTERS = 123; // 0x007B, AP §6.12
const MBAP_LENGTH = 7; // TCP §3.1.3: transaction id 2, protocol id 2, length 2, unit id 1
const MAX_LENGTH_FIELD = 254; // unit id + a PDU of at most 253 bytes

class PduError extends Error {
  constructor(readonly code: number) { super(`modbus exception ${code}`); }
}

const exception = (code: number): never => { throw new PduError(code); };

/** Reads the (address, quantity) pair that opens every request handled here, big-endian (AP §4.2). */
function addressAndQuantity(pdu: Buffer): { address: number; quantity: number } {
  if (pdu.length < 5) exception(ModbusException.IllegalDataValue);
  return { address: pdu.readUInt16BE(1), quantity: pdu.readUInt16BE(3) };
}

// The checks follow the order of the state diagrams of AP §6.x: quantity (03), then address (02),
// then execution (04).
function readBits(bank: RegisterBank, table: BitTable, pdu: Buffer): Buffer {
  const { address, quantity } = addressAndQuantity(pdu);
  if (pdu.length !== 5 || quantity < 1 || quantity > MAX_READ_BITS) exception(ModbusException.IllegalDataValue);
  if (!bank.isMapped(table, address, quantity)) exception(ModbusException.IllegalDataAddress);
  const bits = bank.readBits(table, address, quantity);
  const byteCount = Math.ceil(quantity / 8);
  const out = Buffer.alloc(2 + byteCount);
  out[0] = pdu[0] ?? 0;
  out[1] = byteCount;
  // AP §6.1: the first addressed bit is the LSB of the first data byte; unused high bits are zero.
  bits.forEach((on, i) => { if (on) out[2 + (i >> 3)]! |= 1 << (i & 7); });
  return out;
}

function readRegisters(bank: RegisterBank, table: RegisterTable, pdu: Buffer): Buffer {
  const { address, quantity } = addressAndQuantity(pdu);
  if (pdu.length !== 5 || quantity < 1 || quantity > MAX_READ_REGISTERS) exception(ModbusException.IllegalDataValue);
  if (!bank.isMapped(table, address, quantity)) exception(ModbusException.IllegalDataAddress);
  const out = Buffer.alloc(2 + 2 * quantity);
  out[0] = pdu[0] ?? 0;
  out[1] = 2 * quantity;
  bank.readRegisters(table, address, quantity).forEach((v, i) => out.writeUInt16BE(v, 2 + 2 * i));
  return out;
}

function writeSingleCoil(bank: RegisterBank, pdu: Buffer): Buffer {
  const { address, quantity: value } = addressAndQuantity(pdu);
  // AP §6.5: 0xFF00 is ON, 0x0000 is OFF, anything else is an illegal value.
  if (pdu.length !== 5 || (value !== 0xff00 && value !== 0x0000)) exception(ModbusException.IllegalDataValue);
  if (!bank.isMapped('co', address, 1)) exception(ModbusException.IllegalDataAddress);
  bank.writeBits('co', address, [value === 0xff00]);
  return Buffer.from(pdu); // AP §6.5: the normal response echoes the request
}

function writeSingleRegister(bank: RegisterBank, pdu: Buffer): Buffer {
  const { address, quantity: value } = addressAndQuantity(pdu);
  if (pdu.length !== 5) exception(ModbusException.IllegalDataValue);
  if (!bank.isMapped('hr', address, 1)) exception(ModbusException.IllegalDataAddress);
  bank.writeRegisters('hr', address, [value]);
  return Buffer.from(pdu); // AP §6.6: echo
}

function writeMultipleCoils(bank: RegisterBank, pdu: Buffer): Buffer {
  const { address, quantity } = addressAndQuantity(pdu);
  const byteCount = pdu[5];
  // AP §6.11: byte count must be ceil(quantity/8) and match the bytes actually sent.
  if (quantity < 1 || quantity > MAX_WRITE_BITS || byteCount !== Math.ceil(quantity / 8) || pdu.length !== 6 + byteCount) {
    exception(ModbusException.IllegalDataValue);
  }
  if (!bank.isMapped('co', address, quantity)) exception(ModbusException.IllegalDataAddress);
  const values = Array.from({ length: quantity }, (_, i) => ((pdu[6 + (i >> 3)] ?? 0) >> (i & 7) & 1) === 1);
  bank.writeBits('co', address, values);
  return pdu.subarray(0, 5); // function code, starting address, quantity
}

function writeMultipleRegisters(bank: RegisterBank, pdu: Buffer): Buffer {
  const { address, quantity } = addressAndQuantity(pdu);
  const byteCount = pdu[5];
  if (quantity < 1 || quantity > MAX_WRITE_REGISTERS || byteCount !== 2 * quantity || pdu.length !== 6 + byteCount) {
    exception(ModbusException.IllegalDataValue); // AP §6.12
  }
  if (!bank.isMapped('hr', address, quantity)) exception(ModbusException.IllegalDataAddress);
  bank.writeRegisters('hr', address, Array.from({ length: quantity }, (_, i) => pdu.readUInt16BE(6 + 2 * i)));
  return pdu.subarray(0, 5);
}

/** Answers one request PDU with a response PDU, normal or exception (AP §7: function code | 0x80). */
export function handlePdu(bank: RegisterBank, pdu: Buffer): Buffer {
  const fc = pdu[0] ?? 0;
  try {
    switch (fc) {
      case 0x01: return readBits(bank, 'co', pdu);
      case 0x02: return readBits(bank, 'di', pdu);
      case 0x03: return readRegisters(bank, 'hr', pdu);
      case 0x04: return readRegisters(bank, 'ir', pdu);
      case 0x05: return writeSingleCoil(bank, pdu);
      case 0x06: return writeSingleRegister(bank, pdu);
      case 0x0f: return writeMultipleCoils(bank, pdu);
      case 0x10: return writeMultipleRegisters(bank, pdu);
      default: return Buffer.from([(fc | 0x80) & 0xff, ModbusException.IllegalFunction]);
    }
  } catch (err) {
    const code = err instanceof PduError ? err.code : ModbusException.ServerDeviceFailure;
    return Buffer.from([(fc | 0x80) & 0xff, code]);
  }
}

export interface ServerStats {
  /** Connections accepted since start, and open now. */
  connections: number;
  open: number;
  /** Well-framed requests received (every unit id), answered, answered with an exception. */
  requests: number;
  responses: number;
  exceptions: number;
  /** Requests for a unit id this server does not serve, or swallowed by a `silent` fault. */
  ignored: number;
  /** Frames with a wrong protocol id or an impossible length. */
  malformed: number;
  /** Bytes received, on every connection. */
  bytesIn: number;
}

/** Faults a test injects to see how a client copes; `setFault({})` clears them all. */
export interface FaultOptions {
  /** Answer each request this many ms late (order per connection is kept). */
  delayMs?: number;
  /** Read requests but never answer, like a PLC whose CPU has stopped. */
  silent?: boolean;
  /** Drop every open connection now, and every new one as soon as it is accepted. */
  disconnect?: boolean;
  /** Answer every request with this exception code instead (4: server device failure, 6: busy). */
  exception?: number;
}

export interface ModbusTcpServerOptions {
  host?: string;
  /** 0 picks a free port; the chosen one is in the result. */
  port?: number;
  /** Unit id → its data. Requests for any other unit id get no answer at all. */
  banks: ReadonlyMap<number, RegisterBank>;
  signal?: AbortSignal;
  /** Before a request is answered from its bank: a PLC program may update registers first. */
  onRequest?: (unit: number, pdu: Buffer) => void;
  /** When an answer is written to the socket: a late one when it leaves, never one dropped at close. */
  onAnswer?: (unit: number, request: Buffer, response: Buffer) => void;
}

export interface ModbusTcpServer {
  host: string;
  port: number;
  readonly stats: Readonly<ServerStats>;
  setFault(fault: FaultOptions): void;
  close(): Promise<void>;
}

export async function startModbusTcpServer(options: ModbusTcpServerOptions): Promise<ModbusTcpServer> {
  const { host = '127.0.0.1', port = 0, banks, signal, onRequest, onAnswer } = options;
  signal?.throwIfAborted();
  const stats: ServerStats = { connections: 0, open: 0, requests: 0, responses: 0, exceptions: 0, ignored: 0, malformed: 0, bytesIn: 0 };
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let fault: FaultOptions = {};

  const send = (socket: net.Socket, adu: Buffer, unit: number, request: Buffer): void => {
    const write = (): void => {
      socket.write(adu);
      onAnswer?.(unit, request, adu.subarray(MBAP_LENGTH));
    };
    const delay = fault.delayMs ?? 0;
    if (delay <= 0) { write(); return; }
    // Equal delays fire in the order they were set, so pipelined answers stay in request order.
    const timer = setTimeout(() => { timers.delete(timer); if (!socket.destroyed) write(); }, delay);
    timers.add(timer);
  };

  /** Consumes every complete ADU in `buf`; returns the unconsumed tail, or undefined to hang up. */
  const consume = (socket: net.Socket, buf: Buffer): Buffer | undefined => {
    let off = 0;
    socket.cork(); // pipelined requests in one segment get their answers in one segment too
    try {
      while (buf.length - off >= MBAP_LENGTH) {
        const length = buf.readUInt16BE(off + 4);
        // TCP §3.1.3: the length field counts the unit id and the PDU. Outside 2…254 the stream can
        // no longer be framed, so the only safe answer is to close the connection.
        if (length < 2 || length > MAX_LENGTH_FIELD) { stats.malformed++; return undefined; }
        if (buf.length - off < 6 + length) break; // the rest of this ADU is still in flight
        const transaction = buf.readUInt16BE(off);
        const protocol = buf.readUInt16BE(off + 2);
        const unit = buf[off + 6] ?? 0;
        const pdu = buf.subarray(off + MBAP_LENGTH, off + 6 + length);
        off += 6 + length;
        // TCP §3.1.3: protocol id 0 is MODBUS; anything else is not for us, but framing still holds.
        if (protocol !== 0) { stats.malformed++; continue; }
        stats.requests++;
        const bank = banks.get(unit);
        if (!bank || fault.silent) { stats.ignored++; continue; }
        let response: Buffer;
        if (fault.exception !== undefined) {
          response = Buffer.from([((pdu[0] ?? 0) | 0x80) & 0xff, fault.exception]);
        } else {
          onRequest?.(unit, pdu);
          response = handlePdu(bank, pdu);
        }
        const adu = Buffer.alloc(MBAP_LENGTH + response.length);
        adu.writeUInt16BE(transaction, 0); // TCP §3.1.3: the server copies the transaction id
        adu.writeUInt16BE(0, 2);
        adu.writeUInt16BE(response.length + 1, 4);
        adu[6] = unit;
        response.copy(adu, MBAP_LENGTH);
        stats.responses++;
        if ((response[0] ?? 0) & 0x80) stats.exceptions++;
        send(socket, adu, unit, pdu);
      }
    } finally {
      socket.uncork();
    }
    return buf.subarray(off);
  };

  const server = net.createServer((socket) => {
    stats.connections++;
    if (fault.disconnect) { socket.destroy(); return; }
    stats.open++;
    sockets.add(socket);
    socket.setNoDelay(true); // request/response traffic: Nagle would add up to one delayed-ACK per reply
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      stats.bytesIn += chunk.length;
      const tail = consume(socket, pending.length === 0 ? chunk : Buffer.concat([pending, chunk]));
      if (tail === undefined) { socket.destroy(); return; }
      pending = tail;
    });
    socket.on('error', () => { /* a client resetting its connection is its business */ });
    socket.on('close', () => { sockets.delete(socket); stats.open--; });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      signal?.removeEventListener('abort', onAbort);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    return closing;
  };
  const onAbort = (): void => { void close(); };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) { await close(); signal.throwIfAborted(); } // aborted while we were binding

  const address = server.address() as net.AddressInfo;
  return {
    host,
    port: address.port,
    stats,
    setFault(next: FaultOptions): void {
      fault = { ...next };
      if (fault.disconnect) for (const s of sockets) s.destroy();
    },
    close,
  };
}
