// The subscription of one device: one OPC UA subscription publishing every poll_ms, its monitored
// items created in batches and grouped by their parameters (sampling, queue, deadband), and a
// watchdog: the server must publish data or a keep-alive within its keep-alive time, or the link
// is declared dead and built again (Part 4 §5.13.1: a subscription the server has dropped sends
// nothing more, and nothing else tells the client).
import type * as OpcuaLib from 'node-opcua';
import type { OpcuaLink } from './link.ts';
import type { DataValueLike } from './values.ts';

export interface MonitoredTag { index: number; nodeId: string; samplingMs: number; queueSize: number; deadband: number | undefined }

/** Part 4 §5.12.1.2 leaves the per-call limit to the server; 1,000 suits those we have met. */
const BATCH = 1000;
const KEEPALIVE_COUNT = 10;

export interface MonitorResult {
  /** Tags whose monitored item the server refused, with the status it gave. */
  failed: Map<number, string>;
  /** When the server last published (data or keep-alive). */
  lastHeard: () => number;
  /** How long silence may last before the link counts as dead (ms). */
  deadlineMs: number;
}

export async function monitor(
  link: OpcuaLink, tags: readonly MonitoredTag[], publishMs: number,
  onValue: (index: number, dv: DataValueLike) => void, onLost: (why: string) => void, now: () => number,
): Promise<MonitorResult> {
  const l = link.lib;
  const sub = await link.session.createSubscription2({
    requestedPublishingInterval: publishMs,
    requestedMaxKeepAliveCount: KEEPALIVE_COUNT,
    requestedLifetimeCount: KEEPALIVE_COUNT * 6,
    maxNotificationsPerPublish: 0,
    publishingEnabled: true,
    priority: 10,
  });
  let heard = now();
  const hear = () => { heard = now(); };
  sub.on('keepalive', hear);
  sub.on('received_notifications', hear);
  sub.on('terminated', () => onLost('subscription terminated'));
  sub.on('internal_error', (e: Error) => onLost(`subscription error: ${e.message}`));
  sub.on('status_changed', (status: OpcuaLib.StatusCode) => { if (status.isBad()) onLost(`subscription status ${status.name}`); });

  const failed = new Map<number, string>();
  const groups = new Map<string, MonitoredTag[]>();
  for (const t of tags) {
    const key = `${t.samplingMs}/${t.queueSize}/${t.deadband ?? ''}`;
    const g = groups.get(key);
    if (g) g.push(t); else groups.set(key, [t]);
  }
  for (const group of groups.values()) {
    const { samplingMs, queueSize, deadband } = group[0]!;
    for (let i = 0; i < group.length; i += BATCH) {
      const batch = group.slice(i, i + BATCH);
      const g = await sub.monitorItems(
        batch.map((t) => ({ nodeId: t.nodeId, attributeId: l.AttributeIds.Value })),
        {
          samplingInterval: samplingMs, queueSize, discardOldest: true,
          ...(deadband ? { filter: new l.DataChangeFilter({ trigger: l.DataChangeTrigger.StatusValue, deadbandType: l.DeadbandType.Absolute, deadbandValue: deadband }) } : {}),
        },
        l.TimestampsToReturn.Both,
      );
      g.on('changed', (_item: unknown, dv: OpcuaLib.DataValue, idx: number) => { heard = now(); onValue(batch[idx]!.index, dv as DataValueLike); });
      g.monitoredItems.forEach((item, idx) => {
        if (item.statusCode.isBad()) failed.set(batch[idx]!.index, item.statusCode.name);
      });
    }
  }
  // The server revises the interval and the keep-alive count; allow three keep-alive periods.
  const revised = sub.publishingInterval * Math.max(1, sub.maxKeepAliveCount);
  return { failed, lastHeard: () => heard, deadlineMs: Math.max(10_000, 3 * revised) };
}
