// The Sparkplug B edge node (cloud-sync/sparkplug/edge-node.ts) against a real Mosquitto, every
// payload read with Eclipse Tahu's decoder (sparkplug-payload), not ours: what a Tahu-based host
// would see. Births before data with seq 0, 1, 2…; aliases that match between births and data; the
// will as the NDEATH of the NBIRTH's bdSeq; rebirth; the primary host's STATE; DDEATH and DBIRTH of
// a device that stops and comes back; DCMD as write commands; the backlog of an outage flagged
// historical; garbage commands that stop nothing.
import t from 'tap';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from './helpers/mosquitto.ts';
import {
  bdSeqOf, checkAliases, checkBorn, checkSeqs, dataValues, E, G, lastIndex, of, platform, pt, startNode, tahu, type Line,
} from './helpers/sparkplug-host.ts';
import type { Teardownable } from './helpers/proc.ts';
import { waitFor, waitForValue } from './helpers/wait.ts';
import type { CommandHandler } from '../gateway/model/index.ts';
import { systemClock, type Clock } from '../gateway/model/clock.ts';
import { MemoryJournal } from '../gateway/journal/memory.ts';

// ── the tests ───────────────────────────────────────────────────────────────────────────────────

t.test('NBIRTH, DBIRTHs, then alarms and DDATA: seq 0, 1, 2…, aliases, datatypes and units as Tahu reads them', async (t) => {
  const broker = await startMosquitto({ t });
  const host = await platform(t, broker.url);
  const journal = new MemoryJournal();
  const t0 = Date.now();
  journal.append('plc1', [pt('plc1', 'level', 1.25, 'good', t0), pt('plc1', 'pump_run', true, 'good', t0), pt('plc1', 'setpoint', 2.5, 'good', t0)]);
  journal.append('plc1', [pt('plc1', 'level', 1.5, 'good', t0 + 1000)]);
  journal.append('manhole', [pt('manhole', 'cover_open', false, 'good', t0 + 2000), pt('manhole', 'depth_cm', 12.5, 'good', t0 + 2000)]);
  const alarm = JSON.stringify({ id: 'wet_well_hh', device: 'plc1', state: 'active', t: t0 });
  journal.appendEvent('alarms', 'plc1', alarm);
  journal.appendEvent('cmd-result', 'plc1', JSON.stringify({ id: 'c-1', ok: true }));
  const { node } = startNode(t, broker.url, { journal });

  await waitFor(() => journal.backlog('city') === 0 && of(host.msgs, 'DDATA').length === 3, { what: 'three DDATA acknowledged', timeoutMs: 60_000 });
  t.same(of(host.msgs, 'NDATA').map((m) => m.metrics.map((x) => [x.alias, x.type, x.value])), [[[3, 'String', alarm]]],
    'the alarm as an NDATA of Alarms/Event (alias 3), ahead of the telemetry; the command reply not published');
  t.equal(host.msgs[3]!.verb, 'NDATA', 'alarms before telemetry');
  const msgs = host.msgs;
  t.equal(msgs[0]!.verb, 'NBIRTH', 'the NBIRTH first');
  t.same(msgs.slice(1, 3).map((m) => `${m.verb}/${m.device}`), ['DBIRTH/plc1', 'DBIRTH/manhole'], 'then a DBIRTH per device, in configuration order');
  checkSeqs(t, msgs);
  checkAliases(t, msgs);
  checkBorn(t, msgs);

  const nb = msgs[0]!;
  const byName = new Map(nb.metrics.map((m) => [m.name, m]));
  t.match(byName.get('bdSeq'), { type: 'Int64', value: node.stats().bdSeq }, 'bdSeq, Int64');
  t.match(byName.get('Node Control/Rebirth'), { type: 'Boolean', value: false }, 'Node Control/Rebirth, Boolean false');
  t.equal(byName.get('Node Control/Rebirth')!.alias, undefined, 'no alias for the rebirth metric');
  t.match(byName.get('Properties/Version'), { type: 'String', value: '0.2.0-test' });
  t.ok(nb.metrics.every((m) => m.timestamp !== undefined), 'every NBIRTH metric has a timestamp');

  const plc = new Map(msgs[1]!.metrics.map((m) => [m.name, m]));
  t.match(plc.get('level'), { type: 'Double', value: null, properties: { engUnit: { type: 'String', value: 'm' } } }, 'a scaled uint16 is Double, with its unit; no value yet: null');
  t.match(plc.get('pump_run'), { type: 'Boolean', value: null });
  t.match(plc.get('setpoint'), { type: 'Float', value: null });
  const aliases = [...nb.metrics, ...msgs[1]!.metrics, ...msgs[2]!.metrics].map((m) => m.alias).filter((a) => a !== undefined);
  t.equal(new Set(aliases).size, aliases.length, 'aliases unique across the edge node');

  t.same(dataValues(msgs, 'plc1').map((v) => [v.tag, v.value, v.t]),
    [['level', 1.25, t0], ['pump_run', true, t0], ['setpoint', 2.5, t0], ['level', 1.5, t0 + 1000]], 'plc1 values with their own timestamps');
  // The sensor field cover_open was born Double (no type, no value yet); its first value is a
  // Boolean, so the device is born again, with the datatype learnt, before the data.
  const manhole = msgs.filter((m) => m.device === 'manhole').map((m) => m.verb);
  t.same(manhole, ['DBIRTH', 'DBIRTH', 'DDATA'], 'manhole born again before its first data');
  t.match(of(msgs, 'DBIRTH', 'manhole')[1]!.metrics.find((m) => m.name === 'cover_open'), { type: 'Boolean' });
  t.same(dataValues(msgs, 'manhole').map((v) => [v.tag, v.value]), [['cover_open', false], ['depth_cm', 12.5]]);
  t.ok(dataValues(msgs, 'plc1').every((v) => !v.historical), 'live data is not historical');
  t.equal(node.stats().acked, 4, 'the three telemetry records and the alarm acknowledged on PUBACK');
});

/** A TCP proxy in front of the broker: cut() drops every connection without a DISCONNECT. */
async function proxy(t: Teardownable, port: number) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const up = net.connect(port, '127.0.0.1');
    const close = () => { c.destroy(); up.destroy(); sockets.delete(c); sockets.delete(up); };
    for (const s of [c, up]) { sockets.add(s); s.on('error', close); s.on('close', close); }
    c.pipe(up);
    up.pipe(c);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cut = () => { for (const s of [...sockets]) s.destroy(); };
  t.teardown(() => { cut(); return new Promise<void>((r) => server.close(() => r())); });
  return { url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`, cut };
}

t.test('the will is an NDEATH with the NBIRTH\'s bdSeq; bdSeq counts on across reconnects and restarts', async (t) => {
  const broker = await startMosquitto({ t });
  const host = await platform(t, broker.url);
  const link = await proxy(t, broker.port);
  const dataDir = await mkdtemp(join(tmpdir(), 'cityedge-sp-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));

  const first = startNode(t, link.url, { dataDir });
  await waitFor(() => of(host.msgs, 'NBIRTH').length === 1 && of(host.msgs, 'DBIRTH').length === 2, { what: 'the first births', timeoutMs: 60_000 });
  const b0 = bdSeqOf(of(host.msgs, 'NBIRTH')[0]!);
  t.equal(b0, 0, 'the very first bdSeq is 0');

  link.cut(); // the box's link dies: the broker publishes the will
  await waitFor(() => of(host.msgs, 'NDEATH').length === 1, { what: 'the NDEATH will', timeoutMs: 60_000 });
  const will = of(host.msgs, 'NDEATH')[0]!;
  t.same(will.metrics.map((m) => [m.name, m.type, m.value]), [['bdSeq', 'Int64', b0]], 'the will carries only the bdSeq of the NBIRTH');
  t.equal(will.seq, undefined, 'no seq in the NDEATH');

  await waitFor(() => of(host.msgs, 'NBIRTH').length === 2, { what: 'the births after reconnecting', timeoutMs: 60_000 });
  t.equal(bdSeqOf(of(host.msgs, 'NBIRTH')[1]!), b0 + 1, 'a new connection, the next bdSeq');

  await first.stop(); // clean stop: NDEATH with the current bdSeq, then DISCONNECT
  await waitFor(() => of(host.msgs, 'NDEATH').some((m) => bdSeqOf(m) === b0 + 1), { what: 'the NDEATH of the clean stop', timeoutMs: 30_000 });

  startNode(t, link.url, { dataDir });
  await waitFor(() => of(host.msgs, 'NBIRTH').length === 3, { what: 'the births after a restart', timeoutMs: 60_000 });
  t.equal(bdSeqOf(of(host.msgs, 'NBIRTH')[2]!), b0 + 2, 'bdSeq kept in the data folder across the restart');
  checkSeqs(t, host.msgs);
});

const rebirthRequest = () => Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] }));

t.test('NCMD Node Control/Rebirth: NBIRTH (same bdSeq) and every DBIRTH again, then data', async (t) => {
  const broker = await startMosquitto({ t });
  const host = await platform(t, broker.url);
  const { journal } = startNode(t, broker.url);
  journal.append('plc1', [pt('plc1', 'level', 3.25)]);
  await waitFor(() => of(host.msgs, 'DDATA').length === 1, { what: 'the first DDATA', timeoutMs: 60_000 });

  await host.client.publishAsync(`spBv1.0/${G}/NCMD/${E}`, rebirthRequest(), { qos: 0 });
  await waitFor(() => of(host.msgs, 'NBIRTH').length === 2 && of(host.msgs, 'DBIRTH').length === 4, { what: 'the births again', timeoutMs: 60_000 });
  const [nb1, nb2] = of(host.msgs, 'NBIRTH');
  t.equal(bdSeqOf(nb2!), bdSeqOf(nb1!), 'the same bdSeq: the same MQTT session');
  t.match(of(host.msgs, 'DBIRTH', 'plc1')[1]!.metrics.find((m) => m.name === 'level'), { value: 3.25 }, 'the DBIRTH carries the last known value');

  journal.append('plc1', [pt('plc1', 'level', 3.5)]);
  await waitFor(() => of(host.msgs, 'DDATA').length === 2, { what: 'data after the rebirth', timeoutMs: 60_000 });
  checkSeqs(t, host.msgs);
  checkAliases(t, host.msgs);
  checkBorn(t, host.msgs);
});

t.test('primary host: no births nor data while it is offline; births then all data when online', async (t) => {
  const broker = await startMosquitto({ t });
  const host = await platform(t, broker.url);
  const state = (online: boolean, timestamp: number) => host.client.publishAsync('spBv1.0/STATE/scada', JSON.stringify({ online, timestamp }), { qos: 1, retain: true });
  const T = Date.now();
  await state(false, T);
  const lines: Line[] = [];
  const { node, journal } = startNode(t, broker.url, { upstream: { primary_host_id: 'scada' }, lines });
  journal.append('plc1', [pt('plc1', 'level', 1)]);
  journal.append('plc1', [pt('plc1', 'level', 2)]);
  const waiting = () => lines.filter((l) => /waiting for it before the births/.test(l.msg)).length;
  await waitFor(() => waiting() === 1, { what: 'the node to read the offline STATE', timeoutMs: 60_000 });
  t.same(host.msgs.map((m) => m.verb), [], 'nothing published while the host is offline');
  t.equal(journal.backlog('city'), 2, 'the data waits in the journal');

  await state(true, T + 1);
  await waitFor(() => of(host.msgs, 'DDATA').length === 2 && journal.backlog('city') === 0, { what: 'births and data once online', timeoutMs: 60_000 });
  t.same(host.msgs.slice(0, 3).map((m) => m.verb), ['NBIRTH', 'DBIRTH', 'DBIRTH'], 'births first');

  await state(true, T - 10); // older than the last STATE: stale, ignored
  await state(false, T + 2); // the host goes: NDEATH, reconnect, wait again
  await waitFor(() => of(host.msgs, 'NDEATH').length >= 1 && waiting() === 2 && node.stats().connects === 2, { what: 'NDEATH and waiting again', timeoutMs: 60_000 });
  journal.append('plc1', [pt('plc1', 'level', 3)]);
  journal.append('plc1', [pt('plc1', 'level', 4)]);
  t.equal(of(host.msgs, 'DDATA').length, 2, 'no data while the host is away');

  await state(true, T + 3);
  await waitFor(() => of(host.msgs, 'DDATA').length === 4 && journal.backlog('city') === 0, { what: 'the rest once back', timeoutMs: 60_000 });
  const after = host.msgs.slice(lastIndex(host.msgs, 'NBIRTH'));
  t.same(after.map((m) => m.verb), ['NBIRTH', 'DBIRTH', 'DBIRTH', 'DDATA', 'DDATA'], 'births again, then the data that waited');
  t.equal(bdSeqOf(after[0]!), bdSeqOf(of(host.msgs, 'NBIRTH')[0]!) + 1, 'a new session, the next bdSeq');
  t.same(dataValues(host.msgs, 'plc1').map((v) => v.value), [1, 2, 3, 4], 'nothing lost');
  t.ok(of(host.msgs, 'NDEATH').every((m) => bdSeqOf(m) === bdSeqOf(of(host.msgs, 'NBIRTH')[0]!)), 'the NDEATH names the session that ended');
  checkSeqs(t, host.msgs);
});

t.test('a device that stops answering: DDEATH; when it answers again: DBIRTH, then DDATA', async (t) => {
  const broker = await startMosquitto({ t });
  const host = await platform(t, broker.url);
  const { journal } = startNode(t, broker.url);
  journal.append('plc1', [pt('plc1', 'level', 1.75), pt('plc1', 'pump_run', true), pt('plc1', 'setpoint', 2)]);
  await waitFor(() => of(host.msgs, 'DDATA', 'plc1').length === 1, { what: 'the first DDATA', timeoutMs: 60_000 });

  const dead = () => [pt('plc1', 'level', null, 'bad'), pt('plc1', 'pump_run', null, 'bad'), pt('plc1', 'setpoint', null, 'bad')];
  journal.append('plc1', dead());
  journal.append('plc1', dead()); // still dead: nothing more to say
  journal.append('manhole', [pt('manhole', 'depth_cm', 3, 'good')]); // one bad device does not stop another
  await waitFor(() => of(host.msgs, 'DDEATH', 'plc1').length === 1 && of(host.msgs, 'DDATA', 'manhole').length === 1, { what: 'the DDEATH', timeoutMs: 60_000 });

  journal.append('plc1', [pt('plc1', 'level', 1.8), pt('plc1', 'pump_run', null, 'bad'), pt('plc1', 'setpoint', 2)]);
  await waitFor(() => of(host.msgs, 'DDATA', 'plc1').length === 2 && journal.backlog('city') === 0, { what: 'data after the device is back', timeoutMs: 60_000 });
  const plc = host.msgs.filter((m) => m.device === 'plc1').map((m) => m.verb);
  t.same(plc, ['DBIRTH', 'DDATA', 'DDEATH', 'DBIRTH', 'DDATA'], 'DDEATH once, then DBIRTH before its data');
  const reborn = of(host.msgs, 'DBIRTH', 'plc1')[1]!;
  t.ok(reborn.metrics.every((m) => m.value === null), 'born again with unknown values (nothing stale as current)');
  t.same(dataValues(host.msgs, 'plc1').slice(-3).map((v) => [v.tag, v.value]), [['level', 1.8], ['pump_run', null], ['setpoint', 2]], 'a bad point is is_null');
  checkSeqs(t, host.msgs);
  checkAliases(t, host.msgs);
  checkBorn(t, host.msgs);
});

t.test('DCMD: each metric becomes a write command; refusals logged; garbage stops nothing', async (t) => {
  const broker = await startMosquitto({ t });
  const host = await platform(t, broker.url);
  const calls: { verb: string; body: Record<string, unknown>; source: string; allowed: readonly string[] }[] = [];
  const onCommand: CommandHandler = async (verb, payload, from) => {
    const body = JSON.parse(payload.toString()) as Record<string, unknown>;
    calls.push({ verb, body, source: from.source, allowed: from.allowed });
    return body.tag === 'pump_run'
      ? { id: body.id as string, verb, ok: false, t: Date.now(), error: { code: 'CE_ERR_WRITE_FORBIDDEN', message: 'not writable here' } }
      : { id: body.id as string, verb, ok: true, t: Date.now(), result: { device: body.device, tag: body.tag, value: body.value } };
  };
  const lines: Line[] = [];
  const { node, journal } = startNode(t, broker.url, { upstream: { commands: ['write'] }, onCommand, lines });
  await waitFor(() => of(host.msgs, 'DBIRTH', 'plc1').length === 1, { what: 'the births', timeoutMs: 60_000 });
  const pumpAlias = of(host.msgs, 'DBIRTH', 'plc1')[0]!.metrics.find((m) => m.name === 'pump_run')!.alias!;

  const dcmd = `spBv1.0/${G}/DCMD/${E}/plc1`;
  await host.client.publishAsync(dcmd, Buffer.from([0xff, 0x01, 0x02, 0x03]), { qos: 0 });
  await host.client.publishAsync(`spBv1.0/${G}/NCMD/${E}`, Buffer.from('not protobuf at all'), { qos: 0 });
  await host.client.publishAsync(dcmd, Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'setpoint', type: 'Float', value: 2.5 }] })), { qos: 0 });
  await host.client.publishAsync(dcmd, Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics: [{ alias: pumpAlias, type: 'Boolean', value: true }] })), { qos: 0 });
  await host.client.publishAsync(dcmd, Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'no_such_tag', type: 'Double', value: 1 }] })), { qos: 0 });
  await waitFor(() => calls.length === 2 && node.stats().garbage === 3, { what: 'two writes and three unusable messages', timeoutMs: 60_000 });

  t.match(calls[0], { verb: 'write', body: { device: 'plc1', tag: 'setpoint', value: 2.5, user: 'sparkplug' }, source: 'sparkplug:city', allowed: ['write'] }, 'a DCMD by name');
  t.match(calls[1], { verb: 'write', body: { device: 'plc1', tag: 'pump_run', value: true, user: 'sparkplug' } }, 'a DCMD by alias');
  t.ok(calls.every((c) => typeof c.body.id === 'string' && (c.body.id as string).length <= 128), 'each write has an id');
  t.same(Object.keys(calls[0]!.body).sort(), ['device', 'id', 'tag', 'user', 'value'], 'the write payload of docs/commands.md');
  await waitFor(() => lines.some((l) => l.obj.code === 'CE_ERR_WRITE_FORBIDDEN'), { what: 'the refusal logged with its code', timeoutMs: 30_000 });
  t.equal(lines.filter((l) => /unusable/.test(l.msg)).length, 1, 'garbage logged once, not per message');

  journal.append('plc1', [pt('plc1', 'setpoint', 2.5)]);
  await waitFor(() => of(host.msgs, 'DDATA', 'plc1').length === 1, { what: 'data still flowing', timeoutMs: 60_000 });
  t.ok(node.stats().connected, 'still connected');
});

t.test('the backlog of a broker outage is sent flagged is_historical, after births', async (t) => {
  const broker = await startMosquitto({ t, persistence: true });
  // A kept session for the host: it must see what the node sends the moment the broker is back.
  const host = await platform(t, broker.url, { clientId: 'scada', persistent: true });
  let skew = 0;
  const clock: Clock = { now: () => Date.now() + skew, sleep: systemClock.sleep };
  const { node, journal } = startNode(t, broker.url, { clock });
  journal.append('plc1', [pt('plc1', 'level', 1)]);
  await waitFor(() => of(host.msgs, 'DDATA').length === 1, { what: 'live data', timeoutMs: 60_000 });

  await broker.stop();
  await waitFor(() => !node.stats().connected, { what: 'the node to see the outage', timeoutMs: 30_000 });
  for (const v of [2, 3, 4]) journal.append('plc1', [pt('plc1', 'level', v)]);
  // These waited for the broker: the node's clock says long enough (rather than sleeping 5 s).
  skew = 60_000;
  await broker.restart();
  await waitForValue(() => (host.client.connected ? true : undefined), { what: 'the host back', timeoutMs: 60_000 });
  await waitFor(() => of(host.msgs, 'NBIRTH').length === 2 && journal.backlog('city') === 0, { what: 'the backlog delivered', timeoutMs: 90_000 });
  journal.append('plc1', [pt('plc1', 'level', 5)]);
  await waitFor(() => dataValues(host.msgs, 'plc1').length === 5, { what: 'live data after the backlog', timeoutMs: 60_000 });

  const values = dataValues(host.msgs, 'plc1');
  t.same(values.map((v) => [v.value, v.historical]), [[1, false], [2, true], [3, true], [4, true], [5, false]], 'the outage\'s records historical, live ones not');
  const second = lastIndex(host.msgs, 'NBIRTH');
  t.ok(host.msgs.slice(second).findIndex((m) => m.verb === 'DDATA') > 2, 'births before the backlog');
  checkSeqs(t, host.msgs.filter((m) => m.verb !== 'NDEATH'));
  checkAliases(t, host.msgs);
  checkBorn(t, host.msgs);
});

t.test('data_qos 0 over MQTT 3.1.1: records acknowledged once written; births, data and the clean stop as usual', async (t) => {
  const broker = await startMosquitto({ t });
  const host = await platform(t, broker.url);
  const { node, journal, stop } = startNode(t, broker.url, { upstream: { data_qos: 0, protocol_version: 4 } });
  for (const v of [1, 2, 3]) journal.append('plc1', [pt('plc1', 'level', v)]);
  await waitFor(() => journal.backlog('city') === 0 && of(host.msgs, 'DDATA').length === 3, { what: 'three DDATA sent and acknowledged', timeoutMs: 60_000 });
  t.equal(node.stats().protocol, 4, 'MQTT 3.1.1');
  t.same(dataValues(host.msgs, 'plc1').map((v) => v.value), [1, 2, 3]);
  checkSeqs(t, host.msgs);
  const bdSeq = node.stats().bdSeq;
  await stop();
  await waitFor(() => of(host.msgs, 'NDEATH').length === 1, { what: 'the NDEATH of the clean stop', timeoutMs: 30_000 });
  t.equal(bdSeqOf(of(host.msgs, 'NDEATH')[0]!), bdSeq, 'with the bdSeq of the session');
});
