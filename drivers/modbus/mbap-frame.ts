// Modbus TCP framing, pure (no sockets): requests encoded as MBAP ADUs, the answer stream cut back
// into ADUs, and an answer checked against the request it claims to answer. Written from
//   - MODBUS Application Protocol Specification V1.1b3, "AP §" (PDUs, function codes, exceptions);
//   - MODBUS Messaging on TCP/IP Implementation Guide V1.0b, "TCP §" (the MBAP header).
// Hot path: a read is one 12-byte Buffer out, and on the way back the answer is checked and decoded
// in place in the received chunk; nothing is allocated for a good answer but its data array.

/** TCP §3.1.3: transaction id 2, protocol id 2, length 2, unit id 1. */
export const MBAP_HEADER = 7;
// TCP §3.1.3: the length field counts the unit id and the PDU (at most 253 bytes, AP §4.1).
const MIN_LENGTH = 2;
const MAX_LENGTH = 254;

export const FC = {
  readCoils: 0x01, readDiscreteInputs: 0x02, readHoldingRegisters: 0x03, readInputRegisters: 0x04,
  writeSingleCoil: 0x05, writeSingleRegister: 0x06, writeMultipleCoils: 0x0f, writeMultipleRegisters: 0x10,
} as const;

// Quantity limits of AP §6.1–6.4, §6.11, §6.12: what keeps request and answer inside one PDU.
const MAX_READ_BITS = 2000;
const MAX_READ_REGISTERS = 125;
const MAX_WRITE_BITS = 1968;
const MAX_WRITE_REGISTERS = 123;

/** An ADU with the MBAP header filled in; the PDU is written by the caller from byte 7. */
function adu(transaction: number, unit: number, pduLength: number, zeroed = false): Buffer {
  const b = zeroed ? Buffer.alloc(MBAP_HEADER + pduLength) : Buffer.allocUnsafe(MBAP_HEADER + pduLength);
  b.writeUInt16BE(transaction, 0);
  b.writeUInt16BE(0, 2); // TCP §3.1.3: protocol id 0 is MODBUS
  b.writeUInt16BE(pduLength + 1, 4);
  b[6] = unit;
  return b;
}

function checkRange(start: number, count: number, max: number, what: string): void {
  if (!Number.isInteger(start) || start < 0 || start > 0xffff) throw new RangeError(`${what}: address ${start} is not 0–65535`);
  if (!Number.isInteger(count) || count < 1 || count > max) throw new RangeError(`${what}: quantity ${count} is not 1–${max}`);
  if (start + count > 0x10000) throw new RangeError(`${what}: ${start}+${count} runs past address 65535`);
}

/** FC 1–4 (AP §6.1–6.4): starting address and quantity. */
export function encodeRead(transaction: number, unit: number, fc: number, start: number, count: number): Buffer {
  checkRange(start, count, fc <= FC.readDiscreteInputs ? MAX_READ_BITS : MAX_READ_REGISTERS, `read fc ${fc}`);
  const b = adu(transaction, unit, 5);
  b[7] = fc;
  b.writeUInt16BE(start, 8);
  b.writeUInt16BE(count, 10);
  return b;
}

/** FC 5 (AP §6.5: value 0xFF00 on, 0x0000 off) and FC 6 (AP §6.6): address and value. */
export function encodeWriteSingle(transaction: number, unit: number, fc: number, address: number, value: number): Buffer {
  checkRange(address, 1, 1, `write fc ${fc}`);
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError(`write fc ${fc}: value ${value} is not a register (0–65535)`);
  const b = adu(transaction, unit, 5);
  b[7] = fc;
  b.writeUInt16BE(address, 8);
  b.writeUInt16BE(value, 10);
  return b;
}

/** FC 16 (AP §6.12): address, quantity, byte count, then the registers big-endian. */
export function encodeWriteRegisters(transaction: number, unit: number, start: number, values: readonly number[]): Buffer {
  checkRange(start, values.length, MAX_WRITE_REGISTERS, 'write fc 16');
  const b = adu(transaction, unit, 6 + 2 * values.length);
  b[7] = FC.writeMultipleRegisters;
  b.writeUInt16BE(start, 8);
  b.writeUInt16BE(values.length, 10);
  b[12] = 2 * values.length;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`write fc 16: value ${v} is not a register (0–65535)`);
    b.writeUInt16BE(v, 13 + 2 * i);
  }
  return b;
}

/** FC 15 (AP §6.11): the first coil is the LSB of the first data byte; unused high bits stay zero. */
export function encodeWriteCoils(transaction: number, unit: number, start: number, values: readonly boolean[]): Buffer {
  checkRange(start, values.length, MAX_WRITE_BITS, 'write fc 15');
  const bytes = (values.length + 7) >> 3;
  const b = adu(transaction, unit, 6 + bytes, true);
  b[7] = FC.writeMultipleCoils;
  b.writeUInt16BE(start, 8);
  b.writeUInt16BE(values.length, 10);
  b[12] = bytes;
  for (let i = 0; i < values.length; i++) if (values[i]) b[13 + (i >> 3)]! |= 1 << (i & 7);
  return b;
}

/** Sets the transaction id of an encoded ADU: it is chosen when the request is sent, not when queued. */
export function setTransaction(adu: Buffer, transaction: number): void {
  adu.writeUInt16BE(transaction, 0);
}

/** Called with each complete ADU, `buf[off…end)`; returns false to stop reading the chunk. */
export type AduHandler = (buf: Buffer, off: number, end: number) => boolean;

/**
 * Cuts a TCP byte stream into ADUs by their MBAP length field (TCP §3.1.3): answers arrive split
 * across segments or several in one chunk. A header with a protocol id other than 0 or a length
 * outside 2–254 means the stream is out of step: nothing after it can be framed again, so push()
 * returns what was wrong and the caller drops the connection.
 */
export class AduReader {
  #rest: Buffer | undefined;

  /** Feeds one chunk; returns undefined, or why the stream can no longer be framed. */
  push(chunk: Buffer, onAdu: AduHandler): string | undefined {
    let buf = chunk;
    if (this.#rest) { buf = Buffer.concat([this.#rest, chunk]); this.#rest = undefined; }
    let off = 0;
    while (buf.length - off >= 6) {
      const protocol = buf.readUInt16BE(off + 2);
      const length = buf.readUInt16BE(off + 4);
      if (protocol !== 0) return `protocol id ${protocol}, expected 0`;
      if (length < MIN_LENGTH || length > MAX_LENGTH) return `MBAP length ${length}, outside ${MIN_LENGTH}–${MAX_LENGTH}`;
      const end = off + 6 + length;
      if (end > buf.length) break; // the rest of this ADU is still in flight
      if (!onAdu(buf, off, end)) return undefined;
      off = end;
    }
    // A view, not a copy: Node gives every socket read a buffer of its own.
    if (off < buf.length) this.#rest = buf.subarray(off);
    return undefined;
  }

  reset(): void { this.#rest = undefined; }
}

/** What an answer must match: the request's unit, function code, address and quantity (or value). */
export interface RequestShape {
  readonly unit: number;
  readonly fc: number;
  readonly start: number;
  readonly count: number;
  /** FC 5 / 6: the value written, which the answer echoes. */
  readonly value: number;
}

export type AnswerProblem = { exception: number } | { malformed: string };

export const isBitRead = (fc: number): boolean => fc === FC.readCoils || fc === FC.readDiscreteInputs;

/**
 * Checks the ADU `buf[off…end)` (transaction id already matched) against its request: undefined
 * for a good answer, the exception code of an exception answer (AP §7), or what is malformed.
 */
export function checkAnswer(buf: Buffer, off: number, end: number, req: RequestShape): AnswerProblem | undefined {
  const unit = buf[off + 6]!;
  const fc = buf[off + 7]!;
  const pduLength = end - off - MBAP_HEADER; // ≥ 1: the reader refuses a length field below 2
  // TCP §4.4.1.2: the server copies the unit id of the request into its answer.
  if (unit !== req.unit) return { malformed: `answer from unit ${unit}, expected ${req.unit}` };
  if (fc === (req.fc | 0x80)) {
    if (pduLength !== 2) return { malformed: `exception answer of ${pduLength} bytes, expected 2` };
    return { exception: buf[off + 8]! };
  }
  if (fc !== req.fc) return { malformed: `function code ${fc}, expected ${req.fc}` };
  switch (fc) {
    case FC.readCoils: case FC.readDiscreteInputs: case FC.readHoldingRegisters: case FC.readInputRegisters: {
      // AP §6.1–6.4: byte count, then ceil(N/8) bytes of bits or 2×N bytes of registers.
      const bits = isBitRead(fc);
      const want = bits ? (req.count + 7) >> 3 : 2 * req.count;
      if (pduLength < 2) return { malformed: 'answer without a byte count' };
      const n = buf[off + 8]!;
      if (n !== want) return { malformed: `byte count ${n}, expected ${want} for ${req.count} ${bits ? 'bits' : 'registers'}` };
      if (pduLength !== 2 + n) return { malformed: `${pduLength - 2} data bytes, the byte count says ${n}` };
      return undefined;
    }
    default: {
      // AP §6.5 / §6.6 echo address and value; §6.11 / §6.12 echo address and quantity.
      if (pduLength !== 5) return { malformed: `write answer of ${pduLength} bytes, expected 5` };
      const address = buf.readUInt16BE(off + 8);
      const second = buf.readUInt16BE(off + 10);
      const want = fc === FC.writeSingleCoil || fc === FC.writeSingleRegister ? req.value : req.count;
      if (address !== req.start || second !== want) {
        return { malformed: `write answer echoes ${address}/${second}, expected ${req.start}/${want}` };
      }
      return undefined;
    }
  }
}

/** The `count` registers of a checked FC 3/4 answer. */
export function answerWords(buf: Buffer, off: number, count: number): number[] {
  const data: number[] = [];
  for (let i = 0, p = off + 9; i < count; i++, p += 2) data.push((buf[p]! << 8) | buf[p + 1]!);
  return data;
}

/** The `count` bits of a checked FC 1/2 answer, LSB of the first byte first (AP §6.1); padding ignored. */
export function answerBits(buf: Buffer, off: number, count: number): boolean[] {
  const data: boolean[] = [];
  for (let i = 0; i < count; i++) data.push(((buf[off + 9 + (i >> 3)]! >> (i & 7)) & 1) === 1);
  return data;
}
