// The campaign's verdict: one table a person can read against docs/reliability.md, and the checks
// that make it pass or fail.
import type { Platform } from './platform.ts';
import { percentile, type Reconciliation } from './reconcile.ts';
import type { Fault } from './schedule.ts';

export interface CampaignResult {
  profile: string;
  seed: number;
  durationS: number;
  faults: Fault[];
  kills: number;
  city: Reconciliation & { platform: Platform };
  district: Reconciliation & { platform: Platform };
  flood: { sent: number; counted: number };
  crashes: string[];
  cleanStop: boolean;
  sensorsUnacknowledged: number;
  finalStatus: unknown;
}

export interface Check { ok: boolean; what: string }

const activeIds = (p: Platform): Set<string> => new Set(p.alarms.filter((a) => a.state === 'active').map((a) => a.id));
/** Alarm raises the city platform got and the district did not: the quota must never drop one. */
function missingAt(r: CampaignResult): number {
  const districtIds = activeIds(r.district.platform);
  return [...activeIds(r.city.platform)].filter((id) => !districtIds.has(id)).length;
}

export function checks(r: CampaignResult): Check[] {
  const missingAtDistrict = missingAt(r);
  const quotaAlarm = (p: Platform): boolean => p.alarms.some((a) => a.rule === 'journal_full' && a.state === 'active');
  const dropped = Math.max(0, ...r.city.platform.statuses.map((s) => s.journal?.droppedPoints ?? 0));
  return [
    { ok: r.city.lost === 0, what: `city: nothing lost (${r.city.lost})` },
    { ok: r.city.unexplained === 0 && r.district.unexplained === 0, what: 'no sample at a platform that no device produced' },
    { ok: r.city.alarmsDelivered === r.city.alarmsRaised, what: `city: every alarm raised was delivered (${r.city.alarmsDelivered}/${r.city.alarmsRaised})` },
    { ok: r.district.lost === 0, what: `district: nothing missing outside its outage (${r.district.lost})` },
    { ok: missingAtDistrict === 0, what: `district: every alarm event reached it despite the quota (${missingAtDistrict} missing)` },
    { ok: dropped > 0 && quotaAlarm(r.city.platform), what: `quota: oldest telemetry dropped and counted in the status (${dropped} points), journal_full alarm delivered` },
    { ok: r.flood.counted === r.flood.sent, what: `flood: every malformed payload counted as rejected (${r.flood.counted}/${r.flood.sent})` },
    { ok: r.crashes.length === 0, what: `the gateway never exited by itself${r.crashes.length ? `: ${r.crashes.join('; ')}` : ''}` },
    { ok: r.cleanStop, what: 'a clean stop at the end (exit 0)' },
  ];
}

const row = (label: string, city: string | number, district: string | number): string => `| ${label} | ${city} | ${district} |`;

/** Prints the table (markdown, for docs/reliability.md) and the checks; true when all pass. */
export function printTable(r: CampaignResult): boolean {
  const c = r.city;
  const d = r.district;
  const lat = (p: Platform): string => `${Math.round(percentile(p.liveLatencyMs, 99))} / ${Math.round(Math.max(0, ...p.liveLatencyMs))} ms`;
  const lines = [
    `fault campaign: profile ${r.profile}, seed ${r.seed}, ${r.durationS} s, ${r.faults.length} scheduled faults, ${r.kills} kill -9`,
    '',
    '| | city | district |',
    '|---|---|---|',
    row('samples produced (PLC reads answered, sensor uplinks accepted by the network server)', c.produced, d.produced),
    row('delivered', c.delivered, d.delivered),
    row('in flight at a kill -9 (produced within the commit window before it)', c.inFlightAtKill, d.inFlightAtKill),
    row('dropped by the quota while the upstream was down (oldest first)', c.quotaDropped, d.quotaDropped),
    row('**lost**', `**${c.lost}**`, `**${d.lost}**`),
    row('duplicated samples (at-least-once redelivery)', c.duplicatedSamples, d.duplicatedSamples),
    row('duplicate batches (same device and seq)', c.platform.duplicateBatches, d.platform.duplicateBatches),
    row('historical batches (replayed backlog)', c.platform.historicalBatches, d.platform.historicalBatches),
    row('alarms raised (contact closures seen in the delivered telemetry)', c.alarmsRaised, '—'),
    row('alarm raises delivered', c.alarmsDelivered, `${c.alarmsDelivered - missingAt(r)} (the same events)`),
    row('alarm raises repeated (a raise sent again after a restart)', c.alarmsRepeated, '—'),
    row('live latency p99 / max (read → platform, live batches)', lat(c.platform), lat(d.platform)),
    '',
    `malformed sensor payloads: ${r.flood.sent} sent, ${r.flood.counted} counted as rejected by the gateway`,
    `sensor uplinks the network server did not acknowledge (not counted as produced): ${r.sensorsUnacknowledged}`,
  ];
  console.log(lines.join('\n'));
  for (const ex of [...c.lostExamples.map((e) => `city: ${e}`), ...d.lostExamples.map((e) => `district: ${e}`)]) console.log(`lost: ${ex}`);
  const all = checks(r);
  console.log('');
  for (const k of all) console.log(`${k.ok ? 'PASS' : 'FAIL'}  ${k.what}`);
  const pass = all.every((k) => k.ok);
  console.log(pass ? 'fault campaign: PASS' : 'fault campaign: FAIL');
  return pass;
}
