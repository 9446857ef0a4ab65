// The pump station end to end: a storm fills the wet well until the high-high alarm fires on the
// box; the city platform receives it on …/alarms, coded (component, grid, event type), with the
// value; the storm passes, the level falls, and the alarm returns to normal unacknowledged.
import t from 'tap';
import mqtt from 'mqtt';
import { waitFor } from './helpers/wait.ts';
import { startExampleStation } from './helpers/example-config.ts';
import { startGateway } from '../gateway/main.ts';

interface Alarm { rule: string; state: string; device: string; tag: string | null; value: number; limit: number; severity: string; grid: string; event_type: string | null; message: string; t: number }

t.test('a storm raises the wet well high-high; the platform gets it, then its return to normal', async (t) => {
  const { broker, plc, config } = await startExampleStation(t, { pollMs: 200 });

  const alarms: Alarm[] = [];
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'platform-alarms' });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (_topic, p) => alarms.push(JSON.parse(p.toString()) as Alarm));
  await sub.subscribeAsync(`cityedge/v1/${config.site.id}/alarms`, { qos: 1 });

  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  await waitFor(() => gw.status().upstreams.city?.connected === true, { what: 'gateway connected', timeoutMs: 60_000 });
  t.same(alarms.filter((a) => a.rule === 'wet_well_hh'), [], 'no high-high in dry weather');

  plc.physics.setInflow(6000); // a cloudburst: five times what the three pumps can move
  await waitFor(() => alarms.some((a) => a.rule === 'wet_well_hh' && a.state === 'active'), { what: 'the high-high alarm', timeoutMs: 120_000 });
  const hh = alarms.find((a) => a.rule === 'wet_well_hh')!;
  t.match(hh, { device: 'plc1', tag: 'wet_well_level', severity: 'critical', limit: 4.5, grid: '330105001002101', event_type: '0192', message: '集水井超高液位' });
  t.ok(hh.value >= 4.5, `the level that raised it: ${hh.value} m`);
  t.ok(alarms.findIndex((a) => a.rule === 'wet_well_h' && a.state === 'active') < alarms.indexOf(hh), 'the high came first, on the way up');

  plc.physics.setInflow(0); // the storm passes; the pumps empty the well
  await waitFor(() => alarms.some((a) => a.rule === 'wet_well_hh' && a.state === 'rtn_unack'), { what: 'high-high back to normal', timeoutMs: 120_000 });
  const back = alarms.find((a) => a.rule === 'wet_well_hh' && a.state === 'rtn_unack')!;
  t.ok(back.value <= 4.4, `cleared once past the deadband (4.5 − 0.1): ${back.value} m`);
  t.match(gw.status().alarms.find((a) => a.rule === 'wet_well_hh'), { state: 'rtn_unack', active: false }, 'waiting for an acknowledgement');

  // The PLC goes silent: after 15 s the box says so (its tags went bad at once, in telemetry).
  const silentAt = Date.now();
  await plc.close();
  await waitFor(() => alarms.some((a) => a.rule === 'plc1_comm_loss' && a.state === 'active'), { what: 'the communication-loss alarm', timeoutMs: 120_000 });
  const comm = alarms.find((a) => a.rule === 'plc1_comm_loss')!;
  t.match(comm, { device: 'plc1', tag: null, severity: 'critical', limit: 15, message: '泵站 PLC 通信中断' });
  t.ok(comm.t - silentAt >= 15_000, `raised ${comm.t - silentAt} ms after the PLC fell silent, not before its 15 s`);
  t.notOk(alarms.some((a) => a.rule === 'plc1_heartbeat'), 'a silent PLC is a communication loss, not a stale heartbeat');
});
