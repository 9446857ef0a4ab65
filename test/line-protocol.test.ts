// Line protocol from journal records (cloud-sync/line-protocol.ts): escaping per the InfluxDB rules,
// one line per timestamp, numbers always floats, no field for a point without a value.
import t from 'tap';
import { escapeKey, escapeMeasurement, fieldValue, LineEncoder, pointLines, quoteString, seriesKey } from '../cloud-sync/line-protocol.ts';
import { encodePoints, type StoredPoint } from '../gateway/journal/points.ts';
import type { Sample } from '../gateway/model/index.ts';
import { retryAfterMs } from '../cloud-sync/influx-uplink.ts';

const T = 1_700_000_000_123;
const key = (tag: string) => `${escapeKey(tag)}=`;

t.test('names: commas, spaces, equals signs and backslashes are escaped where they are special', async (t) => {
  t.equal(escapeKey('plain_name-1'), 'plain_name-1', 'nothing to escape: the same string');
  t.equal(escapeKey('wet well'), 'wet\\ well', 'space');
  t.equal(escapeKey('a,b'), 'a\\,b', 'comma');
  t.equal(escapeKey('a=b'), 'a\\=b', 'equals sign');
  t.equal(escapeKey('c:\\dir'), 'c:\\\\dir', 'backslash doubled');
  t.equal(escapeKey('ends\\'), 'ends\\\\', 'a trailing backslash cannot escape the separator after it');
  t.equal(escapeKey('two\nlines'), 'two\\\\nlines', 'a newline cannot end the line');
  t.equal(escapeMeasurement('my measurement,x=1'), 'my\\ measurement\\,x=1', 'measurement: comma and space, not the equals sign');
  t.equal(seriesKey('cityedge', 'ps 1', 'plc,1', '3301=01'), 'cityedge,component=3301\\=01,device=plc\\,1,site=ps\\ 1', 'tags sorted by key, each escaped');
  t.equal(seriesKey('cityedge', 'ps1', 'plc1', undefined), 'cityedge,device=plc1,site=ps1', 'no component code: no component tag');
  t.equal(seriesKey('cityedge', 'ps1', 'plc1', ''), 'cityedge,device=plc1,site=ps1', 'an empty code is no code (line protocol has no empty tag values)');
});

t.test('field values: floats, booleans, quoted strings', async (t) => {
  t.equal(fieldValue(3), '3', 'a whole number is written as a float (no i suffix): its type never flips');
  t.equal(fieldValue(-0.25), '-0.25');
  t.equal(fieldValue(1e21), '1e+21', 'exponent notation, which line protocol floats accept');
  t.equal(fieldValue(0.1 + 0.2), '0.30000000000000004', 'shortest text that reads back as the same double');
  t.equal(fieldValue(true), 'true');
  t.equal(fieldValue(false), 'false');
  t.equal(fieldValue('open'), '"open"');
  t.equal(quoteString('say "hi"'), '"say \\"hi\\""', 'double quotes escaped');
  t.equal(quoteString('c:\\dir\\'), '"c:\\\\dir\\\\"', 'backslashes escaped, also the last one before the closing quote');
  t.equal(quoteString('a\nb'), '"a\\\\nb"', 'a newline becomes the two characters \\n');
  t.equal(quoteString('a,b=c d'), '"a,b=c d"', 'commas, equals signs and spaces are plain inside quotes');
});

t.test('points of one timestamp share a line; nulls write no field; uncertain is written', async (t) => {
  const pts: StoredPoint[] = [
    { tag: 'level', v: 1.5, q: 'good', t: T },
    { tag: 'run', v: true, q: 'good', t: T },
    { tag: 'mode', v: 'auto', q: 'uncertain', t: T },
    { tag: 'flow', v: null, q: 'bad', t: T },
    { tag: 'level', v: 1.6, q: 'good', t: T + 1000 },
    { tag: 'flow', v: null, q: 'bad', t: T + 2000 },
    { tag: 'count', v: 7, q: 'good', t: T },
  ];
  const r = pointLines('m,device=d,site=s', pts, key);
  t.equal(r.text, [
    `m,device=d,site=s level=1.5,run=true,mode="auto",count=7 ${T}`,
    `m,device=d,site=s level=1.6 ${T + 1000}`,
  ].join('\n'), 'one line per timestamp in order of first appearance; a timestamp with only nulls has no line');
  t.same({ lines: r.lines, fields: r.fields, nulls: r.nulls }, { lines: 2, fields: 5, nulls: 2 }, 'counts');
  const none = pointLines('m', [{ tag: 'x', v: null, q: 'bad', t: T }], key);
  t.same(none, { text: '', lines: 0, fields: 0, nulls: 1 }, 'only nulls: no line at all (a line needs a field)');
});

t.test('a journal record through the encoder: tag names with spaces and commas, string values with quotes', async (t) => {
  const samples: Sample[] = [
    { tag: 'plc 1.wet well,level', value: 2.25, quality: 'good', ts: T },
    { tag: 'plc 1.note', value: 'valve "A" open\\closed', quality: 'good', ts: T },
    { tag: 'plc 1.alarm=on', value: false, quality: 'uncertain', ts: T },
  ];
  const components = new Map([['plc 1', '3301050101000001']]);
  const enc = new LineEncoder({ site: 'ps-gongshu-012', componentOf: (d) => components.get(d) });
  const r = enc.record('plc 1', encodePoints(samples));
  t.equal(r.text,
    `cityedge,component=3301050101000001,device=plc\\ 1,site=ps-gongshu-012 wet\\ well\\,level=2.25,note="valve \\"A\\" open\\\\closed",alarm\\=on=false ${T}`,
    'default measurement, component tag, every name and the string escaped');
  t.equal(new LineEncoder({ site: 's', measurement: 'pump station' }).record('d', encodePoints([{ tag: 'd.x', value: 1, quality: 'good', ts: T }])).text,
    `pump\\ station,device=d,site=s x=1 ${T}`, 'configured measurement, escaped');
  t.throws(() => new LineEncoder({ site: 's', measurement: '' }), 'an empty measurement is refused');
});

t.test('not-a-number values reach the journal as null and write no field', async (t) => {
  const body = encodePoints([{ tag: 'd.x', value: Number.NaN, quality: 'good', ts: T }, { tag: 'd.y', value: 2, quality: 'good', ts: T }]);
  const r = new LineEncoder({ site: 's' }).record('d', body);
  t.equal(r.text, `cityedge,device=d,site=s y=2 ${T}`);
  t.equal(r.nulls, 1);
});

t.test('Retry-After: seconds or an HTTP date, bounded', async (t) => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  t.equal(retryAfterMs('3', now), 3000, 'delay-seconds');
  t.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000, 'HTTP-date');
  t.equal(retryAfterMs('Wed, 31 Dec 2025 00:00:10 GMT', now), 0, 'a date in the past: now');
  t.equal(retryAfterMs(null, now), 0, 'absent');
  t.equal(retryAfterMs('soon', now), 0, 'unreadable');
  t.equal(retryAfterMs('86400', now), 15 * 60_000, 'a day is asked again after 15 minutes');
});

t.test('encoding a large batch stays cheap', async (t) => {
  // Not a timing assertion: a smoke check that 5,000 points of 250 records encode, and how long it took.
  const enc = new LineEncoder({ site: 's', componentOf: () => '3301050101000001' });
  const bodies = Array.from({ length: 250 }, (_, r) => encodePoints(Array.from({ length: 20 }, (_, k) => ({ tag: `d${r % 10}.tag_${k}`, value: r * 0.01 + k, quality: 'good' as const, ts: T + r }))));
  const start = process.hrtime.bigint();
  let lines = 0;
  for (let rep = 0; rep < 20; rep++) for (let r = 0; r < bodies.length; r++) lines += enc.record(`d${r % 10}`, bodies[r]!).lines;
  const us = Number(process.hrtime.bigint() - start) / 1000 / 20;
  t.equal(lines, 250 * 20);
  t.comment(`5,000 points in 250 records encoded in ${us.toFixed(0)} µs per batch`);
});
