// The Sparkplug edge node when things go wrong between it and the host, against a real Mosquitto,
// every payload read with Tahu's decoder: a device that is dead when the node is born again but has
// a backlog; a broker that refuses a birth or a device's data (ACL), then allows it; a broker with
// a Maximum Packet Size smaller than a record. Each time the host must be able to make sense of
// every DDATA (born since the NBIRTH, not dead since), and nothing may be lost or loop.
import t from 'tap';
import { kill } from 'node:process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from './helpers/mosquitto.ts';
import { checkAliases, checkBorn, checkSeqs, dataValues, DEVICES, lastIndex, of, platform, pt, startNode, type Line } from './helpers/sparkplug-host.ts';
import type { DeviceSpec } from '../cloud-sync/sparkplug/metrics.ts';
import { waitFor, waitForValue } from './helpers/wait.ts';
import { systemClock, type Clock } from '../gateway/model/clock.ts';

const dead = (ts: number) => [pt('plc1', 'level', null, 'bad', ts), pt('plc1', 'pump_run', null, 'bad', ts), pt('plc1', 'setpoint', null, 'bad', ts)];

t.test('a device dead at the NBIRTH with a backlog: DBIRTH, its history, DDEATH; then DBIRTH when it is back', async (t) => {
  const broker = await startMosquitto({ t, persistence: true });
  const host = await platform(t, broker.url, { clientId: 'scada', persistent: true });
  let skew = 0;
  const clock: Clock = { now: () => Date.now() + skew, sleep: systemClock.sleep };
  const { node, journal } = startNode(t, broker.url, { clock });
  journal.append('plc1', [pt('plc1', 'level', 1)]);
  journal.append('plc1', dead(Date.now()));
  await waitFor(() => of(host.msgs, 'DDEATH', 'plc1').length === 1 && journal.backlog('city') === 0, { what: 'the DDEATH delivered', timeoutMs: 60_000 });

  await broker.stop();
  await waitFor(() => !node.stats().connected, { what: 'the node to see the outage', timeoutMs: 30_000 });
  // The PLC answered for a while during the outage; those records are the backlog.
  for (const v of [2, 3]) journal.append('plc1', [pt('plc1', 'level', v)]);
  skew = 60_000;
  await broker.restart();
  await waitForValue(() => (host.client.connected ? true : undefined), { what: 'the host back', timeoutMs: 60_000 });
  await waitFor(() => of(host.msgs, 'NBIRTH').length === 2 && journal.backlog('city') === 0, { what: 'the backlog delivered', timeoutMs: 90_000 });
  const afterBirth = host.msgs.slice(lastIndex(host.msgs, 'NBIRTH'));
  t.same(afterBirth.slice(0, 2).map((m) => [m.verb, m.device]), [['NBIRTH', undefined], ['DBIRTH', 'manhole']], 'the NBIRTH\'s births leave the dead device out');
  t.same(afterBirth.filter((m) => m.device === 'plc1').map((m) => m.verb), ['DBIRTH', 'DDATA', 'DDEATH', 'DBIRTH', 'DDATA', 'DDEATH'],
    'each backlog record: born for its history, then dead again');

  journal.append('plc1', [pt('plc1', 'level', 4)]);
  await waitFor(() => dataValues(host.msgs, 'plc1').length === 4, { what: 'live data of the device back', timeoutMs: 60_000 });
  t.same(host.msgs.slice(lastIndex(host.msgs, 'NBIRTH')).filter((m) => m.device === 'plc1').slice(-2).map((m) => m.verb), ['DBIRTH', 'DDATA'], 'alive again: born, then data');
  t.same(dataValues(host.msgs, 'plc1').map((v) => [v.value, v.historical]), [[1, false], [2, true], [3, true], [4, false]], 'every value once, history flagged');
  checkBorn(t, host.msgs);
  checkAliases(t, host.msgs);
});

t.test('the broker refuses a DBIRTH and a device\'s DDATA (ACL): others flow; once allowed, births again and everything within the connection', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-spacl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const acl = join(dir, 'acl');
  writeFileSync(acl, 'topic readwrite spBv1.0/#\ntopic deny spBv1.0/g1/DBIRTH/box1/plc1\ntopic deny spBv1.0/g1/DDATA/box1/manhole\n');
  const b = await startMosquitto({ t, extraConf: [`acl_file ${acl}`] });
  const host = await platform(t, b.url);
  // REFUSED_RETRY_MS (30 s) passes quickly here; everything else at its real pace.
  const clock: Clock = { now: () => Date.now(), sleep: (ms, s) => systemClock.sleep(ms >= 30_000 ? 500 : ms, s) };
  const lines: Line[] = [];
  const { node, journal } = startNode(t, b.url, { clock, lines });
  journal.append('plc1', [pt('plc1', 'level', 1)]);
  journal.append('manhole', [pt('manhole', 'depth_cm', 7)]);
  journal.appendEvent('alarms', 'plc1', JSON.stringify({ id: 'a1', state: 'active' }));
  await waitFor(() => of(host.msgs, 'NDATA').length === 1 && node.stats().refused >= 2, { what: 'the alarm through, the DBIRTH and a DDATA refused', timeoutMs: 60_000 });
  t.equal(dataValues(host.msgs, 'plc1').length, 0, 'no data for the device whose birth was refused');
  t.ok(lines.some((l) => l.obj.code === 'CE_ERR_UPSTREAM_PUBLISH'), 'the refusal logged with its code');

  writeFileSync(acl, 'topic readwrite spBv1.0/#\n');
  kill(b.process()!.pid, 'SIGHUP'); // Mosquitto reads its ACL file again
  await waitFor(() => journal.backlog('city') === 0 && dataValues(host.msgs, 'plc1').length === 1 && dataValues(host.msgs, 'manhole').length === 1,
    { what: 'both devices delivered once allowed', timeoutMs: 90_000 });
  const last = host.msgs.slice(lastIndex(host.msgs, 'NBIRTH'));
  t.same(last.filter((m) => m.device === 'plc1').map((m) => m.verb), ['DBIRTH', 'DDATA'], 'plc1 born, then its data');
  t.equal(node.stats().connects, 1, 'all within the first connection');
  t.ok(node.stats().births >= 2, 'births again after the refusal');
  checkBorn(t, host.msgs);
  checkAliases(t, host.msgs);
  checkSeqs(t, last);
});

t.test('a broker\'s Maximum Packet Size below a record: DDATA split to fit, no disconnect loop, every value once', async (t) => {
  const broker = await startMosquitto({ t, extraConf: ['max_packet_size 2048'] });
  const host = await platform(t, broker.url);
  const { node, journal } = startNode(t, broker.url);
  const t0 = Date.now();
  // One record of 150 points: about 4 kB of DDATA.
  journal.append('plc1', Array.from({ length: 150 }, (_, i) => pt('plc1', 'level', i / 4, 'good', t0 + i)));
  journal.append('plc1', [pt('plc1', 'level', 99, 'good', t0 + 1000)]);
  await waitFor(() => journal.backlog('city') === 0 && dataValues(host.msgs, 'plc1').length === 151, { what: 'all 151 values', timeoutMs: 60_000 });
  t.same(dataValues(host.msgs, 'plc1').map((v) => v.value), [...Array.from({ length: 150 }, (_, i) => i / 4), 99], 'every value once, in order');
  t.ok(of(host.msgs, 'DDATA', 'plc1').length >= 3, 'the big record went as several DDATA');
  t.equal(node.stats().connects, 1, 'never disconnected by the broker');
  t.equal(node.stats().oversize, 0, 'nothing dropped');
  checkSeqs(t, host.msgs);
  checkBorn(t, host.msgs);
});

t.test('a DBIRTH larger than the broker takes: dropped and counted; the other devices\' births and data go on', async (t) => {
  const broker = await startMosquitto({ t, extraConf: ['max_packet_size 2048'] });
  const host = await platform(t, broker.url);
  const big: DeviceSpec = { id: 'bigplc', tags: Array.from({ length: 200 }, (_, i) => ({ name: `register_with_a_long_name_${i}`, type: 'float32', unit: 'm3/h' })) };
  const lines: Line[] = [];
  const { node, journal } = startNode(t, broker.url, { devices: [...DEVICES, big], lines });
  journal.append('plc1', [pt('plc1', 'level', 1.5)]);
  await waitFor(() => dataValues(host.msgs, 'plc1').length === 1 && journal.backlog('city') === 0, { what: 'plc1 data after the births', timeoutMs: 60_000 });
  t.equal(node.stats().oversize, 1, 'the big DBIRTH counted');
  t.equal(of(host.msgs, 'DBIRTH', 'bigplc').length, 0, 'and not sent');
  t.ok(lines.some((l) => l.obj.code === 'CE_ERR_UPSTREAM_PUBLISH' && /maximum packet size \(2048\)/.test(l.msg)), 'logged with the limit');
  t.equal(node.stats().connects, 1, 'never disconnected by the broker');
  checkBorn(t, host.msgs);
});
