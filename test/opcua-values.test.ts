// OPC UA values into samples, without a server: the severity bits of a StatusCode, the built-in
// types a PLC uses, the timestamp chosen, and the values a command may write to each type.
import t from 'tap';
import { qualityOf, timeOf, valueOf } from '../drivers/opcua/values.ts';
import { coerceWrite } from '../drivers/opcua/write.ts';

t.test('quality from the StatusCode severity (Part 4 §7.34.1)', async (t) => {
  t.equal(qualityOf(0x0000_0000), 'good', 'Good');
  t.equal(qualityOf(0x00A2_0000), 'good', 'GoodClamped is still good');
  t.equal(qualityOf(0x4092_0000), 'uncertain', 'UncertainInitialValue');
  t.equal(qualityOf(0x408F_0000), 'uncertain', 'UncertainSensorNotAccurate');
  t.equal(qualityOf(0x8008_0000), 'bad', 'BadSensorFailure');
  t.equal(qualityOf(0x8034_0000), 'bad', 'BadNodeIdUnknown');
  t.equal(qualityOf(0xC000_0000), 'bad', 'the reserved severity 11 counts as bad, not good');
});

t.test('values of the built-in types', async (t) => {
  t.equal(valueOf({ dataType: 1, value: true }), true, 'Boolean');
  t.equal(valueOf({ dataType: 6, value: -42 }), -42, 'Int32');
  t.equal(valueOf({ dataType: 8, value: [0xFFFF_FFFF, 0xFFFF_FFFE] }), -2, 'Int64 as [high, low]');
  t.equal(valueOf({ dataType: 9, value: [0x0000_0001, 0x0000_0000] }), 4_294_967_296, 'UInt64');
  t.equal(valueOf({ dataType: 10, value: Math.fround(0.1) }), 0.1, 'Float as its shortest decimal');
  t.equal(valueOf({ dataType: 11, value: 0.1 }), 0.1, 'Double as is');
  t.equal(valueOf({ dataType: 12, value: '1# 泵' }), '1# 泵', 'String');
  t.equal(valueOf({ dataType: 13, value: new Date(1_795_000_000_000) }), 1_795_000_000_000, 'DateTime as epoch ms');
  t.equal(valueOf({ dataType: 21, value: { text: '运行', locale: 'zh-CN' } }), '运行', 'LocalizedText as its text');
  t.equal(valueOf({ dataType: 11, arrayType: 1, value: new Float64Array([1.5, 2]) }), '[1.5,2]', 'an array as JSON text, not lost');
  t.equal(valueOf({ dataType: 0, value: null }), null, 'Null');
  t.equal(valueOf(null), null);
});

t.test('the sample time: the one chosen, else the other, else receipt', async (t) => {
  const source = new Date(1_795_000_000_000), server = new Date(1_795_000_000_500);
  t.equal(timeOf({ sourceTimestamp: source, serverTimestamp: server }, 'source', 1), source.getTime());
  t.equal(timeOf({ sourceTimestamp: source, serverTimestamp: server }, 'server', 1), server.getTime());
  t.equal(timeOf({ serverTimestamp: server }, 'source', 1), server.getTime(), 'no source time: the server\'s');
  t.equal(timeOf({ sourceTimestamp: new Date(Date.UTC(1601, 0, 1)) }, 'source', 7), 7, 'the OPC UA minimum date is no time anyone measured');
});

t.test('writes into the node\'s own type', async (t) => {
  t.same(coerceWrite('p.run', 1, 1), { dataType: 1, value: true }, '1 to a Boolean');
  t.throws(() => coerceWrite('p.run', 1, 2), { code: 'CE_ERR_WRITE_RANGE', message: /not a boolean/ });
  t.same(coerceWrite('p.n', 4, -32768), { dataType: 4, value: -32768 });
  t.throws(() => coerceWrite('p.n', 4, 40000), { message: /does not fit Int16/ });
  t.throws(() => coerceWrite('p.n', 5, -1), { message: /does not fit UInt16/ });
  t.throws(() => coerceWrite('p.n', 6, 1.5), { message: /not an integer; the node is Int32/ });
  t.throws(() => coerceWrite('p.n', 11, 'x'), { message: /not a number/ });
  t.throws(() => coerceWrite('p.f', 10, 1e39), { message: /does not fit a Float/ });
  t.same(coerceWrite('p.big', 8, -2), { dataType: 8, value: [0xFFFF_FFFF, 0xFFFF_FFFE] }, 'Int64 as [high, low]');
  t.same(coerceWrite('p.s', 12, 42), { dataType: 12, value: '42' });
  t.throws(() => coerceWrite('p.x', 13, 1), { code: 'CE_ERR_WRITE_REFUSED' }, 'a DateTime node is not written from a number');
});
