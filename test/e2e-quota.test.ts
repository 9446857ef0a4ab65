// The journal's quota when the platform will not take the box's telemetry for a long time (here
// its broker refuses the telemetry topics by ACL, an MQTT 5 PUBACK 0x87, so every batch stays in the
// journal): the oldest telemetry is dropped and counted, the journal stays within its quota, and the
// journal_full alarm, on a topic the broker does accept, reaches the platform at once, while the
// retained status says the journal is full. (That alarms go ahead of a telemetry backlog is tested
// in uplink-drain.test.ts; which telemetry is dropped first, in journal-sqlite.test.ts.)
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { waitFor } from './helpers/wait.ts';
import { startExampleStation } from './helpers/example-config.ts';
import { startGateway } from '../gateway/main.ts';

interface Alarm { rule: string; state: string; device: string; value: number; limit: number; droppedPoints: number; message: string }
interface Status { online: boolean; journal?: { dropped: number; droppedPoints: number; full: boolean; backlog: number } }

t.test('a full journal drops the oldest telemetry, counts it, and raises an alarm the platform gets', async (t) => {
  let aclFile = '';
  const { broker, config } = await startExampleStation(t, {
    pollMs: 100,
    edit: (doc) => doc.setIn(['buffer', 'max_bytes'], '8KB'),
    brokerConf: (dir) => {
      aclFile = join(dir, 'acl');
      // The box may write its status and alarms, not its telemetry; the platform reads everything.
      writeFileSync(aclFile, 'topic read cityedge/v1/#\ntopic write cityedge/v1/+/status\ntopic write cityedge/v1/+/alarms\n');
      return [`acl_file ${aclFile}`];
    },
  });

  const alarms: Alarm[] = [];
  const statuses: Status[] = [];
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'platform-quota', protocolVersion: 5 });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, p) => {
    const body = JSON.parse(p.toString());
    if (topic.endsWith('/status')) statuses.push(body as Status);
    else if (topic.endsWith('/alarms')) alarms.push(body as Alarm);
  });
  await sub.subscribeAsync(`cityedge/v1/${config.site.id}/#`, { qos: 1 });

  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  await waitFor(() => gw.status().journal.full && gw.status().journal.dropped >= 5, { what: 'the quota forcing drops', timeoutMs: 90_000 });
  const held = gw.status().journal.bytes;
  t.ok(held <= 8_000, `the journal holds ${held} bytes, within its 8 KB quota`);
  t.ok((gw.status().upstreams.city as { refused: number }).refused > 0, 'the broker refused the telemetry (it stays in the journal)');

  await waitFor(() => alarms.some((a) => a.rule === 'journal_full'), { what: 'the journal_full alarm at the platform', timeoutMs: 60_000 });
  const alarm = alarms.find((a) => a.rule === 'journal_full')!;
  t.match(alarm, { rule: 'journal_full', state: 'active', device: 'gateway', limit: 8000 });
  t.ok(alarm.droppedPoints > 0, `the alarm says ${alarm.droppedPoints} points were dropped`);
  t.match(alarm.message, /缓存已满/);

  await waitFor(() => statuses.some((s) => s.online && s.journal?.full === true), { what: 'a status saying the journal is full', timeoutMs: 30_000 });
  const status = statuses.find((s) => s.journal?.full === true)!;
  t.ok(status.journal!.droppedPoints > 0 && status.journal!.backlog > 0, `the status carries its drops and backlog: ${JSON.stringify(status.journal)}`);
  const st = gw.status().journal;
  t.equal(st.droppedPoints >= st.dropped, true, 'drops counted in batches and points');
});
