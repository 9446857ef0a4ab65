// The fault campaign's short profile (test/faults/, docs/reliability.md), run inside `npm test` so CI
// runs it on every change: two kill -9, a broker outage, a PLC stopped, one slow, one in an
// exception storm, a flood of malformed sensor payloads and the journal over its quota, then the
// devices' records are held against what reached the platforms. The full campaign is
// `npm run test:faults`.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnProcess } from './helpers/proc.ts';

const ROOT = join(import.meta.dirname, '..');

interface Side { produced: number; delivered: number; lost: number; inFlightAtKill: number; quotaDropped: number; alarmsRaised: number; alarmsDelivered: number; unexplained: number }
interface Result { kills: number; city: Side; district: Side; flood: { sent: number; counted: number }; crashes: string[]; cleanStop: boolean }

t.test('fault campaign, short profile: nothing lost', { timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-faults-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = join(dir, 'result.json');
  const campaign = await spawnProcess(process.execPath, [join(ROOT, 'bin', 'run-ts.mjs'), join(ROOT, 'test', 'faults', 'campaign.ts'), '--short', '--json', json],
    { name: 'fault campaign', killGraceMs: 30_000 });
  t.teardown(() => campaign.kill());
  const exit = await campaign.exited;
  t.comment(campaign.output().split('\n').filter((l) => /^(\||PASS|FAIL|lost:|malformed|fault campaign)/.test(l)).join('\n'));
  t.equal(exit.status, 0, 'the campaign passed its own checks');
  const r = JSON.parse(readFileSync(json, 'utf8')) as Result;

  t.equal(r.kills, 2, 'the gateway was killed with SIGKILL twice');
  t.ok(r.city.produced > 1000, `the devices produced a real load (${r.city.produced} samples)`);
  t.equal(r.city.lost, 0, 'nothing the devices produced is missing at the city platform');
  // 4 PLCs read 4 times a second and sensors arrive 5 a second: a starved commit window is a few dozen.
  t.ok(r.city.inFlightAtKill <= 60, `at most a commit window per kill was in flight (${r.city.inFlightAtKill})`);
  t.equal(r.city.unexplained, 0, 'nothing arrived that no device produced');
  t.ok(r.city.alarmsRaised > 0, 'the alarm contacts closed during the run');
  t.equal(r.city.alarmsDelivered, r.city.alarmsRaised, 'every alarm raise reached the city platform');
  t.ok(r.district.quotaDropped > 0, 'the district outage pushed the journal over its quota');
  t.equal(r.district.lost, 0, 'the district missed nothing outside its outage');
  t.equal(r.flood.counted, r.flood.sent, 'every malformed payload was counted as rejected');
  t.same(r.crashes, [], 'the gateway never exited by itself');
});
