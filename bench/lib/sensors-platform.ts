// The platform's side of `npm run bench:sensors`: a QoS 1 subscriber on Mosquitto that keeps every
// telemetry message as it came (the payload and its arrival time; parsing waits for the end, so the
// subscriber takes little CPU from the gateway it shares the machine with), and the end-to-end
// accounting of a run: which of the uplinks the network server sent reached the platform.
//
// An uplink reached the platform when a point of its sensor carries its time (`t` is the network
// server's `time`, docs/drivers/lorawan.md). Report by exception means an uplink whose values all
// equal those last published for its sensor rightly sends nothing: such an uplink is told apart from
// a lost one by decoding its frame (the driver's own codecs) and comparing each field, RSSI and SNR
// with the last value the platform received for that tag, within the integrity interval (60 s).
import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync } from 'node:fs';
import { decodeFrame, type CodecName } from '../../drivers/lorawan/codecs/index.ts';
import { DEFAULT_MAX_INTERVAL_MS } from '../../gateway/rbe.ts';
import { deviceOf, type NsRecord } from './sensors-common.ts';
import type { SensorInfo } from '../../simulators/lorawan/index.ts';

interface Message { at: number; payload: Buffer }
interface Batch { site: string; device: string; seq: number; historical: boolean; points: { tag: string; v: unknown; q: string; t: number }[] }

export class PlatformSubscriber {
  readonly messages: Message[] = [];
  #client: MqttClient | undefined;
  points = 0;

  async connect(url: string, clientId: string): Promise<void> {
    const client = await mqtt.connectAsync(url, { clientId, protocolVersion: 5, reconnectPeriod: 0, clean: true });
    this.#client = client;
    client.on('message', (_topic, payload) => { this.messages.push({ at: performance.now(), payload }); });
    await client.subscribeAsync('cityedge/v1/+/telemetry/#', { qos: 1 });
  }

  /** Messages that arrived between two performance.now() times, and their points (counted by string scan). */
  between(from: number, to: number): { messages: number; points: number } {
    let messages = 0; let points = 0;
    for (const m of this.messages) {
      if (m.at < from || m.at >= to) continue;
      messages++;
      const text = m.payload.toString('latin1');
      for (let i = text.indexOf('{"tag":'); i >= 0; i = text.indexOf('{"tag":', i + 7)) points++;
    }
    return { messages, points };
  }

  async close(): Promise<void> { await this.#client?.endAsync(true).catch(() => {}); }
}

export interface EndToEnd {
  /** MQTT messages the network server published (recorded in its process). */
  published: number;
  /** Of them, repeats of a frame counter already sent (failed deduplication): the gateway must reject them. */
  duplicates: number;
  /** The others: what the gateway should accept. */
  uplinks: number;
  /** Uplinks with a point carrying their time at the platform. */
  reached: number;
  /** Uplinks with nothing to publish: every value as last published, within the integrity interval. */
  unchanged: number;
  /** Uplinks neither reached nor unchanged: lost somewhere on the way. */
  lost: number;
  /** A few of the lost, for the report. */
  lostExamples: string[];
  /** Telemetry messages and points at the platform (duplicates by device and seq counted once). */
  batches: number; points: number; sensorPoints: number;
  /** Points whose (sensor, t) matches no uplink (a debounced occupancy confirmed at a scan, offline marks). */
  otherPoints: number;
  /** Lots' bays_free / occupied / unknown points. */
  lotPoints: number;
  redelivered: number;
  /** Seqs missing below the highest seen, over all devices: batches committed and never delivered. */
  seqGaps: number;
  malformed: number;
}

const field = (tag: string) => { const i = tag.indexOf('_'); return i < 0 ? undefined : { sensor: tag.slice(0, i), field: tag.slice(i + 1) }; };

/**
 * Walks each sensor's uplinks (in the order sent) against its points at the platform (in the order
 * of each device's seqs). `integrityMarginMs`: RBE measures the integrity interval between scans,
 * this between uplink times; a gap within the margin of 60 s counts as unchanged, not lost.
 */
export function endToEnd(recordsFile: string, messages: readonly Message[], list: readonly SensorInfo[], integrityMarginMs = 2000): EndToEnd {
  const records = readFileSync(recordsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as NsRecord);
  const keyOf = (device: string, sensor: string) => `${device}/${sensor}`;
  const index = new Map(list.map((s, i) => [keyOf(deviceOf(s), s.name), i]));

  // Uplinks per sensor, in the order sent; duplicates out (the router's rule: a counter not above the last).
  const perSensor: NsRecord[][] = list.map(() => []);
  const lastFCnt = new Int32Array(list.length).fill(-1);
  let duplicates = 0;
  for (const r of records) {
    const [s, fCnt] = r;
    if (lastFCnt[s]! >= 0 && fCnt <= lastFCnt[s]! && lastFCnt[s]! - fCnt < 1000) { duplicates++; continue; }
    lastFCnt[s] = fCnt;
    perSensor[s]!.push(r);
  }

  // Batches per device in seq order, each once.
  const devices = new Map<string, Map<number, Batch>>();
  let malformed = 0; let redelivered = 0;
  for (const m of messages) {
    let b: Batch;
    try { b = JSON.parse(m.payload.toString('utf8')) as Batch; } catch { malformed++; continue; }
    if (!Array.isArray(b.points)) { malformed++; continue; }
    let d = devices.get(b.device);
    if (!d) { d = new Map(); devices.set(b.device, d); }
    if (d.has(b.seq)) { redelivered++; continue; }
    d.set(b.seq, b);
  }

  // Per sensor: the groups of points by t, in delivery order.
  type Group = { t: number; values: Map<string, unknown> };
  const groups: Group[][] = list.map(() => []);
  let batches = 0; let points = 0; let sensorPoints = 0; let lotPoints = 0; let seqGaps = 0;
  for (const [device, bySeq] of devices) {
    const seqs = [...bySeq.keys()].sort((a, b) => a - b);
    seqGaps += seqs.length ? seqs[seqs.length - 1]! - seqs[0]! + 1 - seqs.length : 0;
    for (const seq of seqs) {
      const b = bySeq.get(seq)!;
      batches++;
      for (const p of b.points) {
        points++;
        if (p.tag.startsWith('bays_')) { lotPoints++; continue; }
        const f = field(p.tag);
        const s = f && index.get(keyOf(device, f.sensor));
        if (f === undefined || s === undefined) continue;
        sensorPoints++;
        const gs = groups[s]!;
        let g = gs[gs.length - 1];
        if (!g || g.t !== p.t) { g = { t: p.t, values: new Map() }; gs.push(g); }
        g.values.set(f.field, p.v);
      }
    }
  }

  let reached = 0; let unchanged = 0; let lost = 0; let otherPoints = 0;
  const lostExamples: string[] = [];
  for (let s = 0; s < list.length; s++) {
    const sensor = list[s]!;
    const ups = perSensor[s]!;
    const gs = groups[s]!;
    const last = new Map<string, { v: unknown; t: number }>();
    let gi = 0;
    const take = (g: Group) => { for (const [f, v] of g.values) last.set(f, { v, t: g.t }); };
    for (const u of ups) {
      const [, fCnt, fPort, t, rssi, snr, data] = u;
      // Points of this sensor older than the uplink that match no uplink (a debounced change confirmed at a scan).
      while (gi < gs.length && gs[gi]!.t < t) { otherPoints += gs[gi]!.values.size; take(gs[gi]!); gi++; }
      if (gi < gs.length && gs[gi]!.t === t) { reached++; take(gs[gi]!); gi++; continue; }
      // Nothing carries its time: did it have anything to say?
      let values: Record<string, unknown>;
      try { values = { ...decodeFrame(sensor.codec as CodecName, fPort, Buffer.from(data, 'base64')).fields, rssi, snr }; } catch { values = { frame: NaN }; }
      const changed = Object.entries(values).filter(([f, v]) => {
        const l = last.get(f);
        return !l || l.v !== v || t - l.t >= DEFAULT_MAX_INTERVAL_MS + integrityMarginMs;
      });
      if (changed.length === 0) { unchanged++; continue; }
      lost++;
      if (lostExamples.length < 5) lostExamples.push(`${deviceOf(sensor)}/${sensor.name} fCnt ${fCnt} t ${t}: ${changed.map(([f, v]) => `${f} ${JSON.stringify(v)} (last ${JSON.stringify(last.get(f)?.v)})`).join(', ')}`);
    }
    for (; gi < gs.length; gi++) otherPoints += gs[gi]!.values.size;
  }
  return {
    published: records.length, duplicates, uplinks: records.length - duplicates, reached, unchanged, lost, lostExamples,
    batches, points, sensorPoints, otherPoints, lotPoints, redelivered, seqGaps, malformed,
  };
}
