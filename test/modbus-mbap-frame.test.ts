// MBAP framing without sockets: request bytes as the specifications' own examples give them, the
// answer stream cut into ADUs however it arrives, and answers checked against their request.
import t from 'tap';
import {
  AduReader, answerBits, answerWords, checkAnswer, encodeRead, encodeWriteCoils, encodeWriteRegisters,
  encodeWriteSingle, type RequestShape,
} from '../drivers/modbus/mbap-frame.ts';

const hex = (b: Buffer) => b.toString('hex').replace(/(..)(?!$)/g, '$1 ');
const bytes = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** An answer ADU: transaction, unit, PDU (length field computed). */
const answer = (tid: number, unit: number, pdu: string) => {
  const p = bytes(pdu);
  const head = Buffer.alloc(7);
  head.writeUInt16BE(tid, 0);
  head.writeUInt16BE(p.length + 1, 4);
  head[6] = unit;
  return Buffer.concat([head, p]);
};
const req = (fc: number, start: number, count: number, value = 0, unit = 0x11): RequestShape => ({ unit, fc, start, count, value });
const check = (adu: Buffer, r: RequestShape) => checkAnswer(adu, 0, adu.length, r);

t.test('requests encode as the specifications give them', async (t) => {
  // Messaging on TCP/IP Implementation Guide V1.0b §3.1.3 / AP §6.3: read 3 registers at 0x006B, unit 0x11.
  t.equal(hex(encodeRead(1, 0x11, 3, 0x6b, 3)), '00 01 00 00 00 06 11 03 00 6b 00 03', 'FC3');
  t.equal(hex(encodeRead(0xffff, 1, 1, 19, 19)), 'ff ff 00 00 00 06 01 01 00 13 00 13', 'FC1, transaction id 65535');
  // AP §6.5: write coil 173 ON is FF 00; OFF is 00 00.
  t.equal(hex(encodeWriteSingle(2, 1, 5, 0xac, 0xff00)), '00 02 00 00 00 06 01 05 00 ac ff 00', 'FC5 on');
  // AP §6.6: write register 2 (address 0x0001) = 0x0003.
  t.equal(hex(encodeWriteSingle(3, 1, 6, 1, 3)), '00 03 00 00 00 06 01 06 00 01 00 03', 'FC6');
  // AP §6.12: registers 2–3 (address 0x0001) = 0x000A, 0x0102; byte count 4.
  t.equal(hex(encodeWriteRegisters(4, 1, 1, [0x000a, 0x0102])), '00 04 00 00 00 0b 01 10 00 01 00 02 04 00 0a 01 02', 'FC16 with byte count');
  // AP §6.11: 10 coils from address 19: 1 0 1 1 0 0 1 1 | 1 0 → CD 01, first coil in the LSB.
  const coils = [true, false, true, true, false, false, true, true, true, false];
  t.equal(hex(encodeWriteCoils(5, 1, 19, coils)), '00 05 00 00 00 09 01 0f 00 13 00 0a 02 cd 01', 'FC15 bits packed LSB first');
});

t.test('quantities outside the spec limits are refused before anything is sent', async (t) => {
  t.throws(() => encodeRead(1, 1, 3, 0, 126), RangeError, '126 registers');
  t.throws(() => encodeRead(1, 1, 3, 0, 0), RangeError, 'zero registers');
  t.throws(() => encodeRead(1, 1, 1, 0, 2001), RangeError, '2001 bits');
  t.throws(() => encodeRead(1, 1, 3, 65500, 100), RangeError, 'past address 65535');
  t.throws(() => encodeWriteRegisters(1, 1, 0, new Array<number>(124).fill(0)), RangeError, '124 registers written');
  t.throws(() => encodeWriteRegisters(1, 1, 0, [1, 65536]), RangeError, 'a value that is not a register');
  t.throws(() => encodeWriteSingle(1, 1, 6, 0, -1), RangeError, 'negative register');
  t.ok(encodeRead(1, 1, 3, 65411, 125), '125 registers ending at 65535 are fine');
});

t.test('answers decode as the specifications give them', async (t) => {
  // AP §6.3: 3 registers 0x022B, 0x0000, 0x0064.
  const fc3 = answer(1, 0x11, '03 06 02 2b 00 00 00 64');
  t.equal(check(fc3, req(3, 0x6b, 3)), undefined, 'FC3 answer accepted');
  t.same(answerWords(fc3, 0, 3), [555, 0, 100], 'FC3 registers');
  // AP §6.1: 19 coils from 20: CD 6B 05.
  const fc1 = answer(1, 0x11, '01 03 cd 6b 05');
  t.equal(check(fc1, req(1, 19, 19)), undefined, 'FC1 answer accepted');
  const want = [1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1].map((b) => b === 1);
  t.same(answerBits(fc1, 0, 19), want, 'FC1 bits, LSB first, padding ignored');
  t.equal(check(answer(1, 0x11, '05 00 ac ff 00'), req(5, 0xac, 1, 0xff00)), undefined, 'FC5 echo');
  t.equal(check(answer(1, 0x11, '10 00 01 00 02'), req(16, 1, 2)), undefined, 'FC16 echo of address and quantity');
  t.equal(check(answer(1, 0x11, '0f 00 13 00 0a'), req(15, 19, 10)), undefined, 'FC15 echo');
});

t.test('exception answers give their code (AP §7)', async (t) => {
  t.same(check(answer(1, 0x11, '83 02'), req(3, 0, 1)), { exception: 2 });
  t.same(check(answer(1, 0x11, '81 04'), req(1, 0, 1)), { exception: 4 });
  t.match(check(answer(1, 0x11, '83 02 00'), req(3, 0, 1)), { malformed: /exception answer of 3 bytes/ });
  t.match(check(answer(1, 0x11, '84 02'), req(3, 0, 1)), { malformed: /function code 132, expected 3/ }, 'an exception for another function');
});

t.test('inconsistent answers are refused, never decoded', async (t) => {
  t.match(check(answer(1, 0x11, '03 04 00 01 00 02'), req(3, 0, 3)), { malformed: /byte count 4, expected 6 for 3 registers/ });
  t.match(check(answer(1, 0x11, '03 06 00 01 00 02'), req(3, 0, 3)), { malformed: /4 data bytes, the byte count says 6/ });
  t.match(check(answer(1, 0x11, '01 01 ff'), req(1, 0, 9)), { malformed: /byte count 1, expected 2 for 9 bits/ });
  t.match(check(answer(1, 0x11, '04 02 00 01'), req(3, 0, 1)), { malformed: /function code 4, expected 3/ });
  t.match(check(answer(1, 0x12, '03 02 00 01'), req(3, 0, 1)), { malformed: /unit 18, expected 17/ });
  t.match(check(answer(1, 0x11, '03'), req(3, 0, 1)), { malformed: /without a byte count/ });
  t.match(check(answer(1, 0x11, '06 00 01 00 04'), req(6, 1, 1, 3)), { malformed: /echoes 1\/4, expected 1\/3/ });
  t.match(check(answer(1, 0x11, '10 00 01 00 03'), req(16, 1, 2)), { malformed: /echoes 1\/3, expected 1\/2/ });
  t.match(check(answer(1, 0x11, '05 00 ac ff'), req(5, 0xac, 1, 0xff00)), { malformed: /write answer of 4 bytes/ });
});

/** Feeds `chunks` to a reader; returns the ADUs seen (as hex) and the reader's verdict. */
function feed(chunks: Buffer[], stopAfter = Infinity) {
  const reader = new AduReader();
  const seen: string[] = [];
  let error: string | undefined;
  for (const c of chunks) {
    error = reader.push(c, (buf, off, end) => { seen.push(hex(buf.subarray(off, end))); return seen.length < stopAfter; });
    if (error || seen.length >= stopAfter) break;
  }
  return { seen, error };
}

t.test('the stream is cut into ADUs however TCP delivers it', async (t) => {
  const a = answer(7, 1, '03 02 12 34');
  const b = answer(8, 1, '01 01 05');
  const whole = Buffer.concat([a, b]);
  const oneByOne = [...whole].map((x) => Buffer.from([x]));
  t.same(feed(oneByOne).seen, [hex(a), hex(b)], 'byte by byte');
  t.same(feed([whole]).seen, [hex(a), hex(b)], 'two in one chunk');
  t.same(feed([whole.subarray(0, 5), whole.subarray(5, 13), whole.subarray(13)]).seen, [hex(a), hex(b)], 'split inside header and across ADUs');
  t.same(feed([a.subarray(0, 10)]).seen, [], 'nothing before the ADU is complete');
  t.same(feed([whole], 1).seen, [hex(a)], 'the caller can stop reading mid-chunk');
});

t.test('a header that cannot be framed puts the stream out of step', async (t) => {
  const good = answer(1, 1, '03 02 00 01');
  const badProtocol = Buffer.from(good);
  badProtocol.writeUInt16BE(0x1234, 2);
  t.same(feed([Buffer.concat([good, badProtocol])]), { seen: [hex(good)], error: 'protocol id 4660, expected 0' }, 'protocol id');
  const long = Buffer.from(good);
  long.writeUInt16BE(255, 4);
  t.match(feed([long]).error, /MBAP length 255, outside 2–254/, 'length too long');
  const short = Buffer.from(good);
  short.writeUInt16BE(1, 4);
  t.match(feed([short.subarray(0, 6)]).error, /MBAP length 1/, 'length too short, seen from the header alone');
});
