// The telemetry payload is written as text by hand for speed; it must be exactly the JSON of the
// contract in docs/mqtt.md, whatever the values.
import t from 'tap';
import { telemetryJson, topicPrefix, type TelemetryPayload } from '../cloud-sync/json-format.ts';
import { encodePoints } from '../gateway/journal/points.ts';

t.test('telemetry JSON parses to the documented shape', async (t) => {
  const points = [
      { tag: 'plc1.level', value: 2.31, quality: 'good' as const, ts: 1795327761447 },
      { tag: 'plc1.run', value: true, quality: 'good' as const, ts: 1795327761447 },
      { tag: 'plc1.name', value: 'say "水泵"\n\\', quality: 'uncertain' as const, ts: 2 },
      { tag: 'plc1.flow', value: null, quality: 'bad' as const, ts: 3 },
      { tag: 'plc1.neg', value: -1e-7, quality: 'good' as const, ts: 4 },
      { tag: 'plc1.nan', value: Number.NaN, quality: 'bad' as const, ts: 5 },
  ];
  const rec = { id: 7, lane: 'telemetry' as const, channel: 'telemetry', device: 'plc1', seq: 1795327761449, ts: 1, count: points.length, body: encodePoints(points) };
  const parsed = JSON.parse(telemetryJson('ps-1', rec, true)) as TelemetryPayload;
  t.same(parsed, {
    site: 'ps-1', device: 'plc1', seq: 1795327761449, historical: true,
    points: [
      { tag: 'level', v: 2.31, q: 'good', t: 1795327761447 },
      { tag: 'run', v: true, q: 'good', t: 1795327761447 },
      { tag: 'name', v: 'say "水泵"\n\\', q: 'uncertain', t: 2 },
      { tag: 'flow', v: null, q: 'bad', t: 3 },
      { tag: 'neg', v: -1e-7, q: 'good', t: 4 },
      { tag: 'nan', v: null, q: 'bad', t: 5 },
    ],
  });
  t.same(JSON.parse(telemetryJson('s', { ...rec, body: encodePoints([]) }, false)).points, []);
});

t.test('points of one scan share their time; each keeps its own quality and time in the text', async (t) => {
  // The encoder reuses the text after a value while quality and time stay the same: a change of
  // either, and a change back, must each show in the point they belong to.
  const ts = 1795327761447;
  const points = [
    { tag: 'd.a', value: 1, quality: 'good' as const, ts }, { tag: 'd.b', value: 2, quality: 'good' as const, ts },
    { tag: 'd.c', value: null, quality: 'bad' as const, ts }, { tag: 'd.d', value: 4, quality: 'good' as const, ts },
    { tag: 'd.e', value: 5, quality: 'good' as const, ts: ts + 1 }, { tag: 'd.a', value: 6, quality: 'good' as const, ts },
  ];
  t.same(JSON.parse(encodePoints(points)), points.map((p) => ({ tag: p.tag.slice(2), v: p.value, q: p.quality, t: p.ts })));
  t.same(JSON.parse(encodePoints([points[2]!])), [{ tag: 'c', v: null, q: 'bad', t: ts }]);
});

t.test('topic prefix', async (t) => {
  const up = { id: 'c', url: 'mqtt://x', format: 'json' as const, protocol_version: 5 as const, keepalive_s: 30, inflight: 1, commands: [], session_expiry_s: 0 };
  t.equal(topicPrefix(up, { id: 'ps1' }), 'cityedge/v1/ps1');
  t.equal(topicPrefix({ ...up, topic_prefix: 'city/{site}/edge/' }, { id: 'ps1' }), 'city/ps1/edge');
});
