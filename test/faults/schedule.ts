// When each fault of the campaign happens, in seconds from the start. Two profiles: the full campaign
// (`npm run test:faults`, about 9 minutes) and the short one CI runs inside `npm test`. Kill moments
// move by a seeded jitter, so a different --seed hits the gateway at different points of its
// commit cycle; the rest is fixed so a run's table can be read against the schedule.
import { Random } from '../../simulators/lorawan/random.ts';

export type Fault =
  | { at: number; op: 'kill' }
  | { at: number; op: 'broker'; upstream: 'city' | 'district'; up: boolean }
  | { at: number; op: 'plc-stop' | 'plc-start'; plc: number }
  | { at: number; op: 'plc-fault'; plc: number; fault: { delayMs?: number; exception?: number } }
  | { at: number; op: 'flood'; count: number };

export interface Profile {
  name: 'full' | 'short';
  /** When the faults are over; then everything is up and the campaign waits for the drain. */
  endS: number;
  /** Longest wait for the backlog to drain after endS. */
  drainS: number;
  /** buffer.max_bytes: small enough that the district's outage fills it. */
  quotaBytes: number;
  plcs: number;
  tagsPerPlc: number;
  sensors: number;
  sensorEveryMs: number;
  /**
   * Slack on top of the commit window when judging what was in flight at a kill: a commit can run late
   * when the machine is starved. The short profile runs inside `npm test`, beside other test files
   * on a 2-core CI machine, so it allows more.
   */
  killSlackMs: number;
  faults: Fault[];
}

export function profile(name: 'full' | 'short', seed: number): Profile {
  const rng = new Random(seed);
  const rnd = (): number => rng.next();
  const kill = (s: number): Fault => ({ at: Math.round((s + (rnd() - 0.5) * 6) * 10) / 10, op: 'kill' });
  const window = (from: number, to: number, f: (up: boolean) => Fault[]): Fault[] => [...f(false).map((x) => ({ ...x, at: from })), ...f(true).map((x) => ({ ...x, at: to }))];
  const plcOutage = (plc: number, from: number, to: number): Fault[] => [{ at: from, op: 'plc-stop', plc }, { at: to, op: 'plc-start', plc }];
  const plcFault = (plc: number, from: number, to: number, fault: { delayMs?: number; exception?: number }): Fault[] =>
    [{ at: from, op: 'plc-fault', plc, fault }, { at: to, op: 'plc-fault', plc, fault: {} }];
  const broker = (upstream: 'city' | 'district', from: number, to: number): Fault[] =>
    window(from, to, (up) => [{ at: 0, op: 'broker', upstream, up }]);

  if (name === 'short') {
    return {
      name, endS: 90, drainS: 120, quotaBytes: 1_000_000, plcs: 4, tagsPerPlc: 40, sensors: 20, sensorEveryMs: 4000, killSlackMs: 1500,
      faults: [
        ...broker('district', 10, 75),
        ...plcOutage(1, 15, 25),
        kill(28),
        ...broker('city', 35, 47),
        ...plcFault(2, 40, 52, { delayMs: 700 }),
        { at: 50, op: 'flood', count: 500 },
        kill(62),
        ...plcFault(3, 66, 74, { exception: 4 }),
      ],
    };
  }
  return {
    name, endS: 450, drainS: 240, quotaBytes: 4_000_000, plcs: 4, tagsPerPlc: 40, sensors: 60, sensorEveryMs: 5000, killSlackMs: 500,
    faults: [
      ...broker('district', 30, 380),
      kill(45),
      ...broker('city', 70, 95),
      kill(110),
      ...plcOutage(1, 130, 150),
      ...plcFault(3, 150, 170, { exception: 4 }),
      kill(175),
      ...plcFault(2, 190, 225, { delayMs: 700 }),
      kill(240),
      ...broker('city', 260, 280),
      kill(300),
      { at: 320, op: 'flood', count: 3000 },
      kill(350),
      ...plcOutage(0, 395, 405),
      kill(420),
    ],
  };
}
