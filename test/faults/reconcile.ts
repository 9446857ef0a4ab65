// What the campaign's devices produced, held against what reached a platform. Pure: the campaign
// hands in the simulators' records, the kill times and the platform's records.
//
// A sample missing at the platform is "in flight at a kill" when it was produced within the commit
// window before a `kill -9` (DESIGN.md: a sample is durable once committed, at least every
// `commit_ms`); that is the promise's own allowance. Every other missing sample is lost.
import type { AlarmSeen, PointSeen } from './platform.ts';

export interface PlcRecord { device: string; served: [number, number][]; alarmRule: string }
export interface SensorRecord { device: string; produced: { sensor: string; t: number; depthCm: number }[] }

export interface Reconciliation {
  produced: number;
  delivered: number;
  inFlightAtKill: number;
  /** Missing, produced while this upstream was down long enough for the quota to drop the oldest. */
  quotaDropped: number;
  lost: number;
  /** Samples delivered more than once (different batches carrying the same read). */
  duplicatedSamples: number;
  /** Samples at the platform that no device produced: a decoding or identity bug. */
  unexplained: number;
  alarmsRaised: number;
  alarmsDelivered: number;
  /** Rules raised more often than the contact closed: a raise repeated across a restart. */
  alarmsRepeated: number;
  lostExamples: string[];
  /** What arrived, by sample (`plc1#42`, `wl003@1795327761447`): another platform's reference. */
  deliveredKeys: Set<string>;
}

export interface ReconcileInput {
  plcs: readonly PlcRecord[];
  sensors: SensorRecord;
  points: readonly PointSeen[];
  alarms: readonly AlarmSeen[];
  kills: readonly number[];
  /** How long before a kill a PLC read may still be uncommitted: commit_ms plus a scan's slack. */
  killWindowMs: number;
  /** The same for a sensor uplink, which also waits for its device's next scan (poll_ms). */
  sensorKillWindowMs: number;
  /** Times this upstream was down while the journal was over its quota: what is missing from them was dropped, oldest first. */
  quotaWindows?: readonly [number, number][];
  /** A sample missing in a quota window counts as dropped only if this platform got it: the box had it. */
  reference?: ReadonlySet<string>;
}

export function reconcile(i: ReconcileInput): Reconciliation {
  const r: Reconciliation = {
    produced: 0, delivered: 0, inFlightAtKill: 0, quotaDropped: 0, lost: 0, duplicatedSamples: 0, unexplained: 0,
    alarmsRaised: 0, alarmsDelivered: 0, alarmsRepeated: 0, lostExamples: [], deliveredKeys: new Set(),
  };
  const nearKill = (at: number, windowMs: number): boolean => i.kills.some((k) => at <= k && at >= k - windowMs);
  const miss = (key: string, what: string, at: number, windowMs = i.killWindowMs): void => {
    if (nearKill(at, windowMs)) { r.inFlightAtKill++; return; }
    if (i.quotaWindows?.some(([from, to]) => at >= from && at <= to) && (!i.reference || i.reference.has(key))) { r.quotaDropped++; return; }
    r.lost++;
    if (r.lostExamples.length < 10) r.lostExamples.push(`${what} produced at ${new Date(at).toISOString()}`);
  };
  const good = i.points.filter((p) => p.q === 'good');

  for (const plc of i.plcs) {
    const seen = new Map<number, number>();
    for (const p of good) if (p.device === plc.device && p.tag === 'counter') seen.set(Number(p.v), (seen.get(Number(p.v)) ?? 0) + 1);
    const served = new Set<number>();
    for (const [value, at] of plc.served) {
      served.add(value);
      r.produced++;
      const n = seen.get(value) ?? 0;
      const key = `${plc.device}#${value}`;
      if (n > 0) { r.delivered++; r.duplicatedSamples += n - 1; r.deliveredKeys.add(key); } else miss(key, `${plc.device} read counter ${value}`, at);
    }
    for (const v of seen.keys()) if (!served.has(v)) r.unexplained++;

    // Alarms: each run of a closed contact in the delivered telemetry (bad reads do not break a
    // run: the rule holds its state while the PLC is unreachable) is one raise the box owed.
    const contact = good.filter((p) => p.device === plc.device && p.tag === 'alarm').sort((a, b) => a.t - b.t);
    let runs = 0;
    let last = 0;
    for (const p of contact) { const v = Number(p.v); if (v === 1 && last !== 1) runs++; last = v; }
    const raised = new Set(i.alarms.filter((a) => a.rule === plc.alarmRule && a.state === 'active').map((a) => a.id)).size;
    r.alarmsRaised += runs;
    r.alarmsDelivered += Math.min(raised, runs);
    r.alarmsRepeated += Math.max(0, raised - runs);
  }

  const bySensor = new Map<string, Map<number, number>>();
  for (const p of good) {
    if (p.device !== i.sensors.device || !p.tag.endsWith('_depth_cm')) continue;
    const sensor = p.tag.slice(0, -'_depth_cm'.length);
    const m = bySensor.get(sensor) ?? new Map<number, number>();
    m.set(p.t, (m.get(p.t) ?? 0) + 1);
    bySensor.set(sensor, m);
  }
  const producedKeys = new Set<string>();
  for (const u of i.sensors.produced) {
    r.produced++;
    producedKeys.add(`${u.sensor}@${u.t}`);
    const n = bySensor.get(u.sensor)?.get(u.t) ?? 0;
    const key = `${u.sensor}@${u.t}`;
    if (n > 0) { r.delivered++; r.duplicatedSamples += n - 1; r.deliveredKeys.add(key); } else miss(key, `${u.sensor} uplink`, u.t, i.sensorKillWindowMs);
  }
  for (const [sensor, m] of bySensor) for (const t of m.keys()) if (!producedKeys.has(`${sensor}@${t}`)) r.unexplained++;
  return r;
}

export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
