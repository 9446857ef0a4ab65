// The journal's quota under a long outage: the oldest telemetry is dropped and counted, the
// journal_full alarm is raised, and when the broker returns the alarm arrives before the backlog,
// followed by exactly the batches that were not dropped.
import t from 'tap';
import mqtt from 'mqtt';
import { waitFor } from './helpers/wait.ts';
import { startExampleStation } from './helpers/example-config.ts';
import { startGateway } from '../gateway/main.ts';

interface Alarm { rule: string; state: string; device: string; value: number; limit: number; droppedPoints: number; message: string }

t.test('a full journal drops the oldest telemetry, counts it, and raises an alarm that goes first', async (t) => {
  const { broker, config } = await startExampleStation(t, { pollMs: 100, persistence: true, edit: (doc) => doc.setIn(['buffer', 'max_bytes'], '8KB') });

  const order: { kind: 'alarm' | 'telemetry'; seq?: number; alarm?: Alarm }[] = [];
  const statuses: { online: boolean; journal?: { dropped: number; droppedPoints: number; full: boolean; backlog: number } }[] = [];
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'platform-quota', protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 200 });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, p) => {
    const body = JSON.parse(p.toString());
    if (topic.endsWith('/status')) statuses.push(body);
    else if (topic.endsWith('/alarms')) order.push({ kind: 'alarm', alarm: body as Alarm });
    else if (topic.includes('/telemetry/')) order.push({ kind: 'telemetry', seq: body.seq });
  });
  await sub.subscribeAsync(`cityedge/v1/${config.site.id}/#`, { qos: 1 });
  await broker.stop(); // the platform is unreachable from the start

  const gw = startGateway(config);
  t.teardown(() => gw.stop());
  await waitFor(() => gw.status().journal.full && gw.status().journal.dropped >= 5, { what: 'the quota forcing drops', timeoutMs: 90_000 });
  // Let the alarm watcher (1 s) see it before the broker returns.
  await waitFor(() => gw.status().upstreams.city!.backlog > 0 && gw.status().journal.records > 0, { what: 'backlog', timeoutMs: 10_000 });
  const heldBytes = gw.status().journal.bytes;
  t.ok(heldBytes <= 8_000, `the journal holds ${heldBytes} bytes, within its 8 KB quota`);
  await broker.restart();
  // The gateway comes back on its own backoff (up to 60 s after a long outage).
  await waitFor(() => gw.status().upstreams.city?.connected === true, { what: 'the gateway reconnected (it backs off up to 60 s)', timeoutMs: 120_000 });
  await waitFor(() => order.some((m) => m.kind === 'alarm'), { what: 'the journal_full alarm at the platform', timeoutMs: 60_000 });
  await waitFor(() => order.some((m) => m.kind === 'telemetry'), { what: 'telemetry after the outage', timeoutMs: 60_000 });

  const firstAlarm = order.findIndex((m) => m.kind === 'alarm');
  const firstTelemetry = order.findIndex((m) => m.kind === 'telemetry');
  t.ok(firstAlarm < firstTelemetry, 'the alarm arrived before the telemetry backlog');
  const alarm = order[firstAlarm]!.alarm!;
  t.match(alarm, { rule: 'journal_full', state: 'active', device: 'gateway', limit: 8000 });
  t.ok(alarm.droppedPoints > 0, `the alarm says ${alarm.droppedPoints} points were dropped`);
  t.match(alarm.message, /缓存已满/);

  const status = statuses.find((s) => s.online && s.journal);
  t.ok(status?.journal?.full === true && status.journal.droppedPoints > 0 && status.journal.backlog > 0,
    `the status says the journal is full, with its drops and backlog: ${JSON.stringify(status?.journal)}`);

  // The oldest were dropped: what arrives starts right after the last dropped batch.
  const dropped = gw.status().journal.dropped;
  const seqs = order.filter((m) => m.kind === 'telemetry').map((m) => m.seq!);
  t.equal(Math.min(...seqs), dropped + 1, `batches 1–${dropped} were dropped (counted), delivery starts at ${dropped + 1}`);
});
