// The pump station obeys its platform and its engineers, end to end: Debian's Mosquitto, the
// simulator, the example configuration. The platform raises the high-high limit over MQTT 5 (the
// reply comes on its response topic with its correlation data), a storm raises the alarm at the
// new limit, the platform acknowledges it, the storm passes and the alarm returns to normal. An
// MQTT 3.1.1 client gets its replies on …/cmd-result; malformed and forbidden commands are refused
// with a reason. An engineer with a token uses the HTTP API; a viewer cannot change anything. After
// a restart the tuned limit is still in force.
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { waitFor } from './helpers/wait.ts';
import { startExampleStation } from './helpers/example-config.ts';
import { startGateway, type Gateway } from '../gateway/main.ts';
import { readSignal, signal } from '../simulators/pump-station/register-map.ts';

interface Alarm { rule: string; state: string; value: number; limit: number; user?: string }
interface Reply { id: string | null; verb: string; ok: boolean; result?: Record<string, unknown>; error?: { code: string; message: string } }

const token = () => randomBytes(24).toString('base64url');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

t.test('tuned and acknowledged over MQTT and HTTP, refused when bad, kept across a restart', async (t) => {
  const engineer = token(), viewer = token();
  const { broker, plc, config } = await startExampleStation(t, {
    pollMs: 200,
    edit: (doc) => {
      // This platform may tune and acknowledge, not take alarms out of service.
      doc.setIn(['upstreams', 0, 'commands'], ['set-alarm', 'ack-alarm']);
      doc.set('api', { host: '127.0.0.1', port: 0, users: [
        { name: 'engineer-li', role: 'engineer', token_sha256: sha(engineer) },
        { name: 'duty-viewer', role: 'viewer', token_sha256: sha(viewer) },
      ] });
    },
  });
  const prefix = `cityedge/v1/${config.site.id}`;

  const alarms: Alarm[] = [];
  const replies = new Map<string, { body: Reply; correlation?: string }>();
  const platform = await mqtt.connectAsync(broker.url, { clientId: 'platform-v5', protocolVersion: 5 });
  t.teardown(() => platform.endAsync(true));
  platform.on('message', (topic, p, packet) => {
    if (topic === `${prefix}/alarms`) alarms.push(JSON.parse(p.toString()) as Alarm);
    else if (topic === 'platform/replies') {
      const body = JSON.parse(p.toString()) as Reply;
      replies.set(body.id ?? 'null', { body, correlation: packet.properties?.correlationData?.toString() });
    }
  });
  await platform.subscribeAsync([`${prefix}/alarms`, 'platform/replies'], { qos: 1 });
  const command = async (verb: string, body: Record<string, unknown>) => {
    await platform.publishAsync(`${prefix}/cmd/${verb}`, JSON.stringify(body), {
      qos: 1, properties: { responseTopic: 'platform/replies', correlationData: Buffer.from(`corr-${String(body.id)}`) },
    });
    await waitFor(() => replies.has(String(body.id)), { what: `the reply to ${verb} ${String(body.id)}`, timeoutMs: 60_000 });
    return replies.get(String(body.id))!;
  };

  let gw: Gateway = startGateway(config);
  t.teardown(() => gw.stop());
  const { apiUrl } = await gw.ready();
  t.ok(apiUrl, `the API listens: ${apiUrl}`);
  await waitFor(() => gw.status().upstreams.city?.connected === true, { what: 'gateway connected', timeoutMs: 60_000 });

  await t.test('the platform raises the high-high limit over MQTT 5', async (t) => {
    // The gateway subscribes right after its CONNACK; resend until it answers.
    await waitFor(async () => {
      await platform.publishAsync(`${prefix}/cmd/ack-alarm`, JSON.stringify({ id: `ping-${Date.now()}`, user: 'platform', rule: 'wet_well_h' }), { qos: 1, properties: { responseTopic: 'platform/replies' } });
      return replies.size > 0;
    }, { what: 'the gateway answering commands', timeoutMs: 60_000, intervalMs: 1000 });
    const r = await command('set-alarm', { id: 'tune-1', user: 'platform-zhao', rules: [{ rule: 'wet_well_hh', above: 4.8 }, { rule: 'wet_well_h', above: 4.4 }], version: 0 });
    t.equal(r.correlation, 'corr-tune-1', 'the reply carries the correlation data');
    t.match(r.body, { id: 'tune-1', verb: 'set-alarm', ok: true, result: { version: 1, rules: [{ rule: 'wet_well_hh', old: { above: 4.5 }, new: { above: 4.8 } }, { rule: 'wet_well_h' }] } });
  });

  await t.test('a storm raises the alarm at the new limit; the platform acknowledges; it returns to normal', async (t) => {
    plc.physics.setInflow(6000);
    await waitFor(() => alarms.some((a) => a.rule === 'wet_well_hh' && a.state === 'active'), { what: 'the high-high alarm', timeoutMs: 120_000 });
    const hh = alarms.find((a) => a.rule === 'wet_well_hh' && a.state === 'active')!;
    t.equal(hh.limit, 4.8, 'judged by the tuned limit');
    t.ok(hh.value >= 4.8, `raised at ${hh.value} m, not at the configured 4.5`);
    const ack = await command('ack-alarm', { id: 'ack-1', user: 'duty-officer-wu', rule: 'wet_well_hh', comment: '已派单' });
    t.match(ack.body, { ok: true, result: { rule: 'wet_well_hh', state: 'acknowledged', changed: true } });
    await waitFor(() => alarms.some((a) => a.rule === 'wet_well_hh' && a.state === 'acknowledged'), { what: 'the acknowledged event', timeoutMs: 60_000 });
    t.match(alarms.find((a) => a.rule === 'wet_well_hh' && a.state === 'acknowledged'), { user: 'duty-officer-wu', comment: '已派单' });
    plc.physics.setInflow(0);
    await waitFor(() => alarms.some((a) => a.rule === 'wet_well_hh' && a.state === 'normal'), { what: 'high-high back to normal', timeoutMs: 120_000 });
    t.notOk(alarms.some((a) => a.rule === 'wet_well_hh' && a.state === 'rtn_unack'), 'acknowledged before it cleared: straight to normal');
  });

  await t.test('bad and forbidden commands are refused with a reason; MQTT 3.1.1 replies on cmd-result', async (t) => {
    const old = await mqtt.connectAsync(broker.url, { clientId: 'platform-v311', protocolVersion: 4 });
    t.teardown(() => old.endAsync(true));
    const results: Reply[] = [];
    old.on('message', (_topic, p) => results.push(JSON.parse(p.toString()) as Reply));
    await old.subscribeAsync(`${prefix}/cmd-result`, { qos: 1 });
    await old.publishAsync(`${prefix}/cmd/set-alarm`, '{"rule": "wet_well_hh", "above": 9', { qos: 1 });
    await old.publishAsync(`${prefix}/cmd/disable-alarm`, JSON.stringify({ id: 'oos-1', user: 'x', rule: 'wet_well_hh' }), { qos: 1 });
    await old.publishAsync(`${prefix}/cmd/set-alarm`, JSON.stringify({ id: 'bad-1', user: 'x', rule: 'wet_well_hh', above: 4.0 }), { qos: 1 });
    await waitFor(() => results.length >= 3, { what: 'three replies on cmd-result', timeoutMs: 60_000 });
    t.match(results[0], { id: null, verb: 'set-alarm', ok: false, error: { code: 'CE_ERR_CMD_MALFORMED' } });
    t.match(results[1], { id: 'oos-1', ok: false, error: { code: 'CE_ERR_CMD_FORBIDDEN', message: /mqtt:city may not disable-alarm/ } });
    t.match(results[2], { id: 'bad-1', ok: false, error: { code: 'CE_ERR_CMD_INVALID', message: /wet_well_h \(4\.4\) must stay below wet_well_hh \(4\)/ } });
    t.match(gw.status().commands, { refused: 3 });
    t.equal(gw.status().alarms.find((a) => a.rule === 'wet_well_hh')!.settings.above, 4.8, 'nothing changed');
    t.equal(gw.status().upstreams.city?.connected, true, 'and the gateway carries on');
  });

  await t.test('the HTTP API: a token for everything, engineers change, viewers read', async (t) => {
    const call = (path: string, o: { token?: string; body?: unknown } = {}) => fetch(`${apiUrl}${path}`, {
      method: o.body === undefined ? 'GET' : 'POST',
      headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), 'content-type': 'application/json' },
      ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
    });
    t.equal((await call('/api/alarms')).status, 401, 'no token, no answer');
    t.equal((await call('/api/alarms', { token: 'guess' })).status, 401);
    const list = await (await call('/api/alarms', { token: viewer })).json() as { version: number; alarms: { rule: string; settings: { above?: number } }[] };
    t.equal(list.version, 1);
    t.equal(list.alarms.find((a) => a.rule === 'wet_well_hh')!.settings.above, 4.8);
    const denied = await call('/api/commands/set-alarm', { token: viewer, body: { id: 'v1', rule: 'wet_well_hh', above: 5 } });
    t.equal(denied.status, 403, 'a viewer cannot tune');
    t.match(await denied.json(), { ok: false, error: { code: 'CE_ERR_CMD_FORBIDDEN', message: /duty-viewer/ } });
    const bad = await call('/api/commands/set-alarm', { token: engineer, body: '{"rule":' });
    t.equal(bad.status, 400);
    t.match(await bad.json(), { error: { code: 'CE_ERR_CMD_MALFORMED' } });
    const unknown = await call('/api/commands/set-alarm', { token: engineer, body: { id: 'h0', rule: 'no_such_rule', above: 5 } });
    t.equal(unknown.status, 404);
    const ok = await call('/api/commands/set-alarm', { token: engineer, body: { id: 'h1', rule: 'wet_well_hh', deadband: 0.2, version: 1 } });
    t.equal(ok.status, 200);
    t.match(await ok.json(), { ok: true, result: { version: 2 } });
    const conflict = await call('/api/commands/set-alarm', { token: engineer, body: { id: 'h2', rule: 'wet_well_hh', deadband: 0.3, version: 1 } });
    t.equal(conflict.status, 409, 'a change against an old version');

    // A write through the same door: checked, written to the PLC, read back.
    const wrote = await call('/api/commands/write', { token: engineer, body: { id: 'w1', device: 'plc1', tag: 'lead_start_level', value: 2.7 } });
    t.equal(wrote.status, 200);
    t.match(await wrote.json(), { ok: true, result: { device: 'plc1', tag: 'lead_start_level', value: 2.7 } });
    t.ok(Math.abs((readSignal(plc.bank, signal('lead_start_level')) as number) - 2.7) < 1e-9, 'the PLC holds the new start level');
    const ro = await call('/api/commands/write', { token: engineer, body: { id: 'w2', device: 'plc1', tag: 'wet_well_level', value: 1 } });
    t.equal(ro.status, 403, 'a tag not marked writable');
    const far = await call('/api/commands/write', { token: engineer, body: { id: 'w3', device: 'plc1', tag: 'lead_start_level', value: 9 } });
    t.equal(far.status, 400, 'out of the tag\'s limits');
    t.match(await far.json(), { error: { code: 'CE_ERR_WRITE_RANGE', message: /outside 0\.5…6/ } });

    const history = await (await call('/api/alarms/history?rule=wet_well_hh', { token: viewer })).json() as { events: Alarm[] };
    t.same(history.events.map((e) => e.state).reverse().filter((s) => s !== 'suppressed'), ['active', 'acknowledged', 'normal'], 'the local history, newest first');
    const audit = await (await call('/api/audit', { token: engineer })).json() as { entries: { user: string; source: string; verb: string; ok: boolean }[] };
    t.match(audit.entries[0], { user: 'engineer-li', source: 'http', verb: 'write', ok: false, rule: 'plc1.lead_start_level', new: 9 }, 'the newest entry: the refused write, with what was asked');
    t.ok(audit.entries.some((e) => e.verb === 'write' && e.ok), 'and the one done');
    t.ok(audit.entries.some((e) => e.user === 'platform-zhao' && e.source === 'mqtt:city' && e.ok), 'the platform\'s change, with who and where from');
    t.ok(audit.entries.some((e) => e.user === 'duty-viewer' && !e.ok), 'and the viewer\'s attempt');
  });

  await t.test('after a restart the tuned limits are in force', async (t) => {
    await gw.stop();
    gw = startGateway(config);
    const { apiUrl: again } = await gw.ready();
    const list = await (await fetch(`${again}/api/alarms`, { headers: { authorization: `Bearer ${viewer}` } })).json() as { version: number; alarms: { rule: string; settings: Record<string, number> }[] };
    t.equal(list.version, 2);
    t.match(list.alarms.find((a) => a.rule === 'wet_well_hh')!.settings, { above: 4.8, deadband: 0.2 });
  });
});
