// The host's side of a Sparkplug test, and the edge node under test: a host application's MQTT
// client that decodes every payload with Eclipse Tahu's decoder (sparkplug-payload), not ours, and
// the checks a Tahu-based host relies on (seq, aliases, births before data).
import type { Test } from 'tap';
import mqtt from 'mqtt';
import sparkplug from 'sparkplug-payload';
import type { Teardownable } from './proc.ts';
import { keepingLogger, type Line } from './uplink.ts';
import { SparkplugEdgeNode, type SparkplugEdgeNodeOptions } from '../../cloud-sync/sparkplug/edge-node.ts';
import type { DeviceSpec } from '../../cloud-sync/sparkplug/metrics.ts';
import { MemoryJournal } from '../../gateway/journal/memory.ts';
import { systemClock, type Clock } from '../../gateway/model/clock.ts';
import type { CommandHandler, Sample, UpstreamConfig } from '../../gateway/model/index.ts';

export const tahu = sparkplug.get('spBv1.0')!;
export const G = 'g1';
export const E = 'box1';
export const DEVICES: DeviceSpec[] = [
  { id: 'plc1', tags: [{ name: 'level', type: 'uint16', unit: 'm', scaled: true }, { name: 'pump_run', type: 'bool', writable: true }, { name: 'setpoint', type: 'float32', unit: 'm', writable: true }] },
  // Sensor fields: no type, the datatype comes from the values.
  { id: 'manhole', tags: [{ name: 'cover_open' }, { name: 'depth_cm', unit: 'cm' }] },
];

// ── what the host sees ──────────────────────────────────────────────────────────────────────────

export interface Metric { name?: string; alias?: number; type: string; value: unknown; timestamp?: number; isHistorical?: boolean; properties?: Record<string, { type: string; value: unknown }> }
export interface Msg { verb: string; device?: string; seq?: number; timestamp?: number; metrics: Metric[] }

export const num = (v: unknown): unknown => (typeof v === 'object' && v !== null && typeof (v as { toNumber?: unknown }).toNumber === 'function' ? (v as { toNumber(): number }).toNumber() : v);

export function decode(topic: string, payload: Buffer): Msg {
  const [, , verb, , device] = topic.split('/');
  const p = tahu.decodePayload(payload);
  // Only what is on the wire: Tahu leaves absent fields out.
  const metrics = (p.metrics ?? []).map((m) => Object.fromEntries(Object.entries({
    name: m.name, alias: num(m.alias), type: m.type, value: num(m.value), timestamp: num(m.timestamp), isHistorical: m.isHistorical || undefined, properties: m.properties,
  }).filter(([k, v]) => v !== undefined || k === 'value')) as unknown as Metric);
  return { verb: verb!, ...(device ? { device } : {}), ...(p.seq != null ? { seq: num(p.seq) as number } : {}), ...(p.timestamp != null ? { timestamp: num(p.timestamp) as number } : {}), metrics };
}

/** A host application's MQTT client: everything under spBv1.0/{G}/#, decoded by Tahu, in order. */
export async function platform(t: Teardownable, url: string, opts: { clientId?: string; persistent?: boolean } = {}) {
  const client = await mqtt.connectAsync(url, {
    clientId: opts.clientId ?? 'platform', protocolVersion: 5,
    ...(opts.persistent ? { clean: false, properties: { sessionExpiryInterval: 600 } } : {}),
  });
  t.teardown(() => client.endAsync(true));
  const msgs: Msg[] = [];
  // What the node publishes, not the host's own commands; not what the broker delivers again after its
  // own restart (a kept session, flagged dup): a host drops those by seq.
  client.on('message', (topic, payload, packet) => { if (!packet.dup && !/\/(NCMD|DCMD)\//.test(topic)) msgs.push(decode(topic, payload)); });
  await client.subscribeAsync(`spBv1.0/${G}/#`, { qos: 1 });
  return { client, msgs };
}

export const of = (msgs: Msg[], verb: string, device?: string) => msgs.filter((m) => m.verb === verb && (device === undefined || m.device === device));
export const lastIndex = (msgs: Msg[], verb: string) => msgs.map((m) => m.verb).lastIndexOf(verb);
export const bdSeqOf = (m: Msg) => m.metrics.find((x) => x.name === 'bdSeq')!.value as number;

// ── the edge node ───────────────────────────────────────────────────────────────────────────────

export type { Line } from './uplink.ts';


export function startNode(t: Teardownable, url: string, o: { upstream?: Partial<UpstreamConfig>; journal?: MemoryJournal; clock?: Clock; dataDir?: string; onCommand?: CommandHandler; lines?: Line[]; devices?: DeviceSpec[] } = {}) {
  const journal = o.journal ?? new MemoryJournal();
  const lines = o.lines ?? [];
  const opts: SparkplugEdgeNodeOptions = {
    upstream: { id: 'city', url, format: 'sparkplug', protocol_version: 5, keepalive_s: 30, inflight: 8, commands: [], session_expiry_s: 0, group_id: G, edge_node_id: E, ...o.upstream },
    site: { id: 'ps1' }, devices: o.devices ?? DEVICES, journal, clock: o.clock ?? systemClock, logger: keepingLogger(lines), version: '0.2.0-test',
    ...(o.onCommand ? { onCommand: o.onCommand } : {}), ...(o.dataDir ? { dataDir: o.dataDir } : {}),
  };
  const node = new SparkplugEdgeNode(opts);
  const ac = new AbortController();
  const running = node.run(ac.signal);
  const stop = async () => { ac.abort(); await running; };
  t.teardown(stop);
  return { node, journal, lines, stop };
}

export const pt = (device: string, tag: string, value: Sample['value'], quality: Sample['quality'] = 'good', ts = Date.now()): Sample =>
  ({ tag: `${device}.${tag}`, value, quality, ts });

/** seq goes up by one per message, 255 wrapping to 0, and every NBIRTH starts again at 0. */
export function checkSeqs(t: Test, msgs: Msg[]): void {
  let prev: number | undefined;
  const bad: string[] = [];
  for (const m of msgs) {
    if (m.verb === 'NDEATH') { if (m.seq !== undefined) bad.push('NDEATH with a seq'); continue; }
    const want = m.verb === 'NBIRTH' ? 0 : prev === undefined ? undefined : (prev + 1) % 256;
    if (want !== undefined && m.seq !== want) bad.push(`${m.verb}${m.device ? `/${m.device}` : ''} seq ${m.seq}, expected ${want}`);
    prev = m.seq;
  }
  t.same(bad, [], 'seq: 0 at NBIRTH, then one more per message');
}

/** Every DDATA metric is an alias of the DBIRTH last seen for its device, without a name. */
export function checkAliases(t: Test, msgs: Msg[]): void {
  const born = new Map<string, Map<number, string>>();
  const bad: string[] = [];
  for (const m of msgs) {
    if (m.verb === 'DBIRTH') born.set(m.device!, new Map(m.metrics.map((x) => [x.alias!, x.name!])));
    if (m.verb !== 'DDATA') continue;
    for (const x of m.metrics) {
      if (x.name !== undefined) bad.push(`DDATA ${m.device} has a name (${x.name})`);
      if (!born.get(m.device!)?.has(x.alias!)) bad.push(`DDATA ${m.device} alias ${x.alias} not in its DBIRTH`);
    }
  }
  t.same(bad, [], 'DDATA metrics by alias only, each one born');
}

/** The DDATA values of a device by tag name, through the aliases of its births. */
export function dataValues(msgs: Msg[], device: string): { tag: string; value: unknown; historical: boolean; t: number | undefined }[] {
  const names = new Map<number, string>();
  for (const m of of(msgs, 'DBIRTH', device)) for (const x of m.metrics) names.set(x.alias!, x.name!);
  return of(msgs, 'DDATA', device).flatMap((m) => m.metrics.map((x) => ({ tag: names.get(x.alias!)!, value: x.value, historical: x.isHistorical === true, t: x.timestamp })));
}


/**
 * What a host needs to make sense of DDATA: the device born (DBIRTH) since the last NBIRTH, and not
 * dead (DDEATH) since [tck-id-payloads-dbirth-order]. A host seeing otherwise asks for a rebirth.
 */
export function checkBorn(t: Test, msgs: Msg[]): void {
  const alive = new Set<string>();
  const bad: string[] = [];
  msgs.forEach((m, i) => {
    if (m.verb === 'NBIRTH') alive.clear();
    else if (m.verb === 'DBIRTH') alive.add(m.device!);
    else if (m.verb === 'DDEATH') alive.delete(m.device!);
    else if (m.verb === 'DDATA' && !alive.has(m.device!)) bad.push(`message ${i}: DDATA ${m.device} seq ${m.seq} while the host does not hold it born`);
  });
  t.same(bad, [], 'every DDATA of a device born since the NBIRTH and not dead since');
}
