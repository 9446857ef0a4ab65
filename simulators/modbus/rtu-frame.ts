// Modbus RTU framing, written from the "MODBUS over Serial Line Specification and Implementation
// Guide V1.02" ("SL §"): the CRC (SL §6.2.2), the character timings (SL §2.5.1.1) and a receiver that
// cuts a byte stream into request frames. It is pure (no timers, no I/O) so it is tested without a
// port; the transports in rtu-server.ts feed it bytes and tell it when the line fell silent.

/** SL §2.5.1: an RTU frame is at most 256 bytes (address 1 + PDU 253 + CRC 2). */
export const MAX_RTU_FRAME = 256;
/** SL §2.5.1: address + function code + CRC, the smallest frame there is. */
export const MIN_RTU_FRAME = 4;

// SL §6.2.2: CRC-16 with the reflected polynomial 0xA001 (x^16 + x^15 + x^2 + 1), register preset to
// 0xFFFF. A 256-entry table computes it a byte at a time instead of a bit at a time.
const CRC_TABLE = new Uint16Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
  CRC_TABLE[n] = c;
}

/** The CRC-16 of SL §6.2.2 over `bytes`. */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const b of bytes) crc = (crc >>> 8) ^ (CRC_TABLE[(crc ^ b) & 0xff] ?? 0);
  return crc;
}

/** SL §6.2.2: the CRC is appended low-order byte first, the one exception to Modbus big-endian. */
export function withCrc(body: Uint8Array): Buffer {
  const frame = Buffer.alloc(body.length + 2);
  frame.set(body);
  frame.writeUInt16LE(crc16(body), body.length);
  return frame;
}

export function crcOk(frame: Uint8Array): boolean {
  if (frame.length < MIN_RTU_FRAME) return false;
  const body = frame.subarray(0, frame.length - 2);
  return crc16(body) === ((frame[frame.length - 2] ?? 0) | ((frame[frame.length - 1] ?? 0) << 8));
}

export interface RtuTimings {
  /** Time of one character on the line, ms. */
  charMs: number;
  /** SL §2.5.1.1: longest silence allowed between two characters of one frame. */
  t15Ms: number;
  /** SL §2.5.1.1: the silence that separates frames. */
  t35Ms: number;
}

/**
 * SL §2.5.1.1 timings for a baud rate. A character is 11 bits in RTU (SL §2.5.1: start, 8 data,
 * parity and one stop, or two stops without parity). Above 19200 baud the spec fixes t1.5 at
 * 750 µs and t3.5 at 1.75 ms, because the computed values would be too short for UART interrupts.
 */
export function rtuTimings(baud: number): RtuTimings {
  if (!(baud > 0)) throw new RangeError(`baud rate ${baud} is not positive`);
  const charMs = (11 * 1000) / baud;
  if (baud > 19200) return { charMs, t15Ms: 0.75, t35Ms: 1.75 };
  return { charMs, t15Ms: 1.5 * charMs, t35Ms: 3.5 * charMs };
}

/**
 * Length of the request frame that `buf` starts, from its function code (MODBUS Application
 * Protocol V1.1b3 §6): a number once it is known, 'more' while the byte count that decides it has not
 * arrived yet, 'unknown' when the function code does not tell (its end is then the next silence).
 */
export function requestLength(buf: Uint8Array): number | 'more' | 'unknown' {
  if (buf.length < 2) return 'more';
  const fc = buf[1] ?? 0;
  switch (fc) {
    case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x06:
      return 8; // address, function, 2 + 2 bytes of address/quantity or value, CRC
    case 0x07: case 0x0b: case 0x0c: case 0x11:
      return 4; // serial-line-only functions with no data (AP §6.7, §6.9, §6.10, §6.13)
    case 0x0f: case 0x10:
      return buf.length < 7 ? 'more' : 9 + (buf[6] ?? 0); // AP §6.11, §6.12: byte count at offset 6
    case 0x14: case 0x15:
      return buf.length < 3 ? 'more' : 5 + (buf[2] ?? 0); // AP §6.14, §6.15: byte count at offset 2
    case 0x16:
      return 10; // AP §6.16 mask write: address, AND mask, OR mask
    case 0x17:
      return buf.length < 11 ? 'more' : 13 + (buf[10] ?? 0); // AP §6.17: write byte count at offset 10
    case 0x18:
      return 6; // AP §6.18 read FIFO: pointer address
    case 0x2b:
      if (buf.length < 3) return 'more';
      return buf[2] === 0x0e ? 7 : 'unknown'; // AP §6.21 read device identification: MEI, code, object id
    default:
      return 'unknown'; // diagnostics (08) and user functions vary; so do other slaves' responses
  }
}

export type FramerEvent =
  | { kind: 'frame'; frame: Buffer }
  /** Bytes that were not a frame: a bad CRC, a fragment cut by a silence, or more than 256 bytes. */
  | { kind: 'drop'; reason: 'bad-crc' | 'incomplete' | 'overrun'; bytes: number };

/**
 * Cuts received bytes into request frames, two ways at once:
 *  - by length: as soon as the bytes a function code calls for are in and the CRC holds, the frame
 *    is complete. On a pseudo-terminal or TCP the bytes come in chunks with no timing worth the name,
 *    and a master may send its next request right after our answer, so length is what frames them;
 *  - by silence (SL §2.5.1.1): the transport calls silence() after t3.5 without a byte. It ends a
 *    frame whose length the function code does not tell, and drops a fragment.
 * After a bad CRC nothing in the buffer can be trusted to start a frame, so, like a real slave
 * (SL §2.5.1.1: the frame is flagged "not OK" and discarded), everything up to the next silence is
 * dropped.
 */
export class RtuFramer {
  #buf: Buffer = Buffer.alloc(0);
  #discarding = false;

  /** Bytes held while a frame or a silence is awaited. */
  get pending(): number { return this.#buf.length; }
  /** True while skipping bytes until the next silence. */
  get discarding(): boolean { return this.#discarding; }

  push(chunk: Uint8Array): FramerEvent[] {
    if (this.#discarding) return [];
    this.#buf = this.#buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buf, chunk]);
    const events: FramerEvent[] = [];
    for (;;) {
      const length = requestLength(this.#buf);
      if (length === 'more' || length === 'unknown') break;
      if (length > MAX_RTU_FRAME) { this.#discard(events, 'overrun'); break; }
      if (this.#buf.length < length) break;
      const frame = this.#buf.subarray(0, length);
      if (!crcOk(frame)) { this.#discard(events, 'bad-crc'); break; }
      events.push({ kind: 'frame', frame: Buffer.from(frame) });
      this.#buf = this.#buf.subarray(length);
    }
    if (this.#buf.length > MAX_RTU_FRAME) this.#discard(events, 'overrun');
    return events;
  }

  /** The line has been quiet for t3.5: whatever is buffered ends here. */
  silence(): FramerEvent[] {
    const wasDiscarding = this.#discarding;
    this.#discarding = false;
    const buf = this.#buf;
    this.#buf = Buffer.alloc(0);
    if (wasDiscarding || buf.length === 0) return [];
    // Only a frame of unknown length can end at a silence: a known length not reached is a fragment.
    if (requestLength(buf) === 'unknown' && crcOk(buf)) return [{ kind: 'frame', frame: buf }];
    return [{ kind: 'drop', reason: requestLength(buf) === 'unknown' && buf.length >= MIN_RTU_FRAME ? 'bad-crc' : 'incomplete', bytes: buf.length }];
  }

  #discard(events: FramerEvent[], reason: 'bad-crc' | 'overrun'): void {
    events.push({ kind: 'drop', reason, bytes: this.#buf.length });
    this.#buf = Buffer.alloc(0);
    this.#discarding = true;
  }
}
