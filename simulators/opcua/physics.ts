// Plausible physics of a small sewage treatment plant (about 15,000 m³/d) and the control programs
// of its PLCs: an inlet pump station lifts the sewage into an activated-sludge aeration tank whose
// blowers hold a dissolved-oxygen setpoint, then a secondary clarifier, then the effluent meters.
// Time advances only through step(seconds), so a test drives it in fake time (deterministic with
// a seed) and the server drives it from a timer. Values are named after signals.ts.
import type { SignalName, SignalValue, SignalValues, WritableSignalName } from './signals.ts';

export type PumpNo = 1 | 2 | 3;
export type BlowerNo = 1 | 2;
export type SensorFault = 'bad' | 'uncertain';
const PUMPS: readonly PumpNo[] = [1, 2, 3];
const BLOWERS: readonly BlowerNo[] = [1, 2];

export const PLANT = {
  name: '城东污水处理厂 (cityedge simulator)',
  wellAreaM2: 30,
  maxLevelM: 6,
  pumpRatedFlowM3h: 450,
  ratedHz: 50,
  minHz: 38, // below this the pumps would not lift against the static head
  accelHzPerS: 2.5, // VFD ramps: 20 s up to 50 Hz, 10 s down
  decelHzPerS: 5,
  pumpRatedCurrentA: 42,
  supplyKv: 0.4,
  powerFactor: 0.86,
  doSaturation: 9.0, // mg/L at about 20 °C
  kLaPerM3h: 0.0018, // oxygen transfer coefficient per m³/h of air, 1/h
  ourMgLh: 30, // oxygen uptake rate of the biomass at the design load, mg/L/h
  blowerMinM3h: 1200, // turbo blower turndown
  blowerMaxM3h: 3600,
  blowerRampM3hPerS: 30,
  desludgeRunS: 600,
  auxiliaryKw: 35, // mixers, return sludge pumps, UV, lighting, laboratory
} as const;

export interface PhysicsOptions {
  /** Seed of the noise source; the same seed gives the same run. Default 20240601. */
  seed?: number;
  /** Sensor and process noise; off makes every value a smooth function of time. Default on. */
  noise?: boolean;
  /** Mean dry-weather inflow in m³/h. Default 620. */
  baseInflow?: number;
  /** Period of the diurnal inflow swing in simulated s. Default 86400. */
  diurnalPeriodS?: number;
  /** Starting wet-well level in m. Default 1.5. */
  initialLevel?: number;
}

interface Pump { running: boolean; hz: number; current: number; fault: boolean; remote: boolean; runHours: number; starts: number }
interface Blower { running: boolean; airflow: number }

/** MurmurHash3's finaliser: neighbouring seeds (step 41, step 42) must give unrelated streams. */
function mix(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** xorshift32 with a Box–Muller normal deviate: a noisy run still repeats exactly for a seed. */
function gaussian(seed: number, enabled: boolean): (sigma: number) => number {
  let s = mix(seed) || 1;
  const next = (): number => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  return (sigma) => (enabled && sigma > 0 ? sigma * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()) : 0);
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const approach = (v: number, target: number, step: number): number =>
  v < target ? Math.min(target, v + step) : Math.max(target, v - step);

export class SewagePlantPhysics {
  readonly #noise: (sigma: number) => number;
  readonly #seed: number;
  readonly #noiseOn: boolean;
  #steps = 0;
  readonly #baseInflow: number;
  readonly #periodS: number;
  #t = 0;
  #level: number;
  #inflow: number;
  #inflowDrift = 0;
  #inflowOverride: number | undefined;
  #storm = 1;
  #pumped = 0;
  #plantFlow: number; // through the biology: the tanks even out the pumps' on/off flow
  #lead: PumpNo = 1;
  readonly #startLevels = [2.0, 2.6, 3.2] as const;
  readonly #stopLevel = 1.0;
  readonly #pumps: Record<PumpNo, Pump>;
  #do = 2.0;
  #doSetpoint = 2.0;
  #airDemand: number;
  #stageTimer = 0;
  readonly #blowers: Record<BlowerNo, Blower>;
  #blanket = 1.2;
  #desludgeIntervalMin = 60;
  #desludgeClock = 0;
  #nh3n: number;
  #cod: number;
  #qualityDrift = 0;
  #energy = 3_456_789.0; // a plant that has been in service for years
  readonly #faults = new Map<SignalName, { kind: SensorFault; value: SignalValue }>();

  constructor(options: PhysicsOptions = {}) {
    this.#seed = options.seed ?? 20240601;
    this.#noiseOn = options.noise ?? true;
    this.#noise = gaussian(this.#seed, this.#noiseOn);
    this.#baseInflow = options.baseInflow ?? 620;
    this.#periodS = options.diurnalPeriodS ?? 86_400;
    this.#level = clamp(options.initialLevel ?? 1.5, 0, PLANT.maxLevelM);
    this.#inflow = this.#baseInflow;
    this.#plantFlow = this.#baseInflow;
    const pump = (runHours: number, starts: number): Pump => ({ running: false, hz: 0, current: 0, fault: false, remote: true, runHours, starts });
    this.#pumps = { 1: pump(21_873.4, 6120), 2: pump(20_114.9, 5987), 3: pump(9_402.7, 2210) };
    // Start in the steady state of the design load, so a fresh simulator does not begin with a transient.
    this.#airDemand = 2170;
    this.#blowers = { 1: { running: true, airflow: this.#airDemand }, 2: { running: false, airflow: 0 } };
    this.#nh3n = this.#nh3nTarget();
    this.#cod = this.#codTarget();
  }

  /** Simulated seconds since start. */
  get time(): number { return this.#t; }
  /** True wet-well level in m (the transmitter reads it with noise). */
  get level(): number { return this.#level; }
  get inflow(): number { return this.#inflow; }
  /** Flow the inlet pumps deliver, m³/h. */
  get pumped(): number { return this.#pumped; }
  get dissolvedOxygen(): number { return this.#do; }
  get airflow(): number { return this.#blowers[1].airflow + this.#blowers[2].airflow; }
  get energy(): number { return this.#energy; }
  pump(n: PumpNo): Readonly<Pump> { return { ...this.#pumps[n] }; }
  blower(n: BlowerNo): Readonly<Blower> { return { ...this.#blowers[n] }; }

  // --- fault injection (for tests and demos; not reachable over OPC UA) ---

  /** Pins the inflow to a fixed m³/h, or back to the diurnal model with undefined. */
  setInflow(m3h: number | undefined): void { this.#inflowOverride = m3h === undefined ? undefined : Math.max(0, m3h); }
  /** Storm: multiplies the modelled inflow (1 = dry weather; 2–3 is a heavy rain on a combined sewer). */
  setStorm(multiplier: number): void { this.#storm = Math.max(0, multiplier); }
  setLevel(m: number): void { this.#level = clamp(m, 0, PLANT.maxLevelM); }
  /** Trips a pump (it stops at once and hands its duty to the next); false resets it. */
  setPumpFault(n: PumpNo, fault: boolean): void { this.#pumps[n].fault = fault; }
  /**
   * A failed transmitter: the signal keeps its last value and the server publishes it with
   * BadSensorFailure ('bad') or UncertainLastUsableValue ('uncertain'); undefined repairs it.
   */
  setSensorFault(name: SignalName, fault: SensorFault | undefined): void {
    if (fault === undefined) { this.#faults.delete(name); return; }
    const value = this.#faults.get(name)?.value ?? this.#measure()[name];
    this.#faults.set(name, { kind: fault, value });
  }
  sensorFault(name: SignalName): SensorFault | undefined { return this.#faults.get(name)?.kind; }

  // --- what the SCADA writes (the server checks the range first: signals.ts `write`) ---

  write(name: WritableSignalName, value: number | boolean): void {
    const v = Number(value);
    const remote = /^InletPS\.Pump([123])\.Remote$/.exec(name);
    if (remote) { this.#pumps[Number(remote[1]) as PumpNo].remote = Boolean(value); return; }
    switch (name) {
      case 'InletPS.LeadPump': this.#lead = clamp(Math.round(v), 1, 3) as PumpNo; return;
      case 'Aeration.DOSetpoint': this.#doSetpoint = clamp(v, 0.5, 4); return;
      case 'Clarifier.DesludgeInterval': this.#desludgeIntervalMin = clamp(Math.round(v), 10, 240); return;
    }
  }

  // --- time ---

  /** Advances the plant by `seconds`, in sub-steps of at most 1 s so the controllers stay fine-grained. */
  step(seconds: number): void {
    let remaining = Math.max(0, seconds);
    while (remaining > 1e-9) {
      const dt = Math.min(1, remaining);
      this.#advance(dt);
      remaining -= dt;
    }
  }

  #advance(dt: number): void {
    this.#t += dt;
    this.#steps++;
    this.#updateInflow(dt);
    this.#pumpControl();
    this.#updatePumps(dt);
    this.#pumped = PUMPS.reduce((q, n) => q + PLANT.pumpRatedFlowM3h * Math.max(0, (this.#pumps[n].hz - 20) / 30), 0);
    this.#level = clamp(this.#level + ((this.#inflow - this.#pumped) * dt) / 3600 / PLANT.wellAreaM2, 0, PLANT.maxLevelM);
    this.#plantFlow += ((this.#pumped - this.#plantFlow) * dt) / 900;
    this.#aeration(dt);
    this.#clarifier(dt);
    this.#effluent(dt);
    this.#energy += (this.#power() * dt) / 3600;
    for (const n of PUMPS) if (this.#pumps[n].running) this.#pumps[n].runHours += dt / 3600;
  }

  #updateInflow(dt: number): void {
    if (this.#inflowOverride !== undefined) { this.#inflow = this.#inflowOverride; return; }
    // Diurnal swing with a slowly wandering random part (Ornstein–Uhlenbeck, τ = 300 s): sewage
    // flow does not jump from second to second.
    const tau = 300;
    this.#inflowDrift += -this.#inflowDrift * (dt / tau) + this.#noise(0.05 * Math.sqrt((2 * dt) / tau));
    const swing = 1 + 0.35 * Math.sin((2 * Math.PI * this.#t) / this.#periodS);
    this.#inflow = Math.max(0, this.#baseInflow * swing * this.#storm * (1 + this.#inflowDrift));
  }

  /** Lead/lag level control: duty order from the lead pump; a tripped or non-remote pump hands on its duty. */
  #pumpControl(): void {
    const order = [this.#lead, (this.#lead % 3) + 1, ((this.#lead + 1) % 3) + 1] as PumpNo[];
    let duty = 0;
    for (const n of order) {
      const p = this.#pumps[n];
      let want = false;
      if (!p.fault && p.remote) {
        const startAt = this.#startLevels[duty++] ?? Infinity;
        want = p.running ? this.#level > this.#stopLevel : this.#level >= startAt;
      }
      if (want && !p.running) p.starts++;
      p.running = want;
    }
  }

  #updatePumps(dt: number): void {
    // Running pumps share one speed reference that rises with the level: a VFD station holds the
    // well rather than cycling pumps at full speed.
    const full = this.#startLevels[2] + 0.5;
    const ref = clamp(PLANT.minHz + (PLANT.ratedHz - PLANT.minHz) * ((this.#level - this.#stopLevel) / (full - this.#stopLevel)), PLANT.minHz, PLANT.ratedHz);
    for (const n of PUMPS) {
      const p = this.#pumps[n];
      if (p.fault) p.hz = 0; // a trip: the motor coasts, the drive output is off at once
      else if (p.running) p.hz = approach(p.hz, ref, (p.hz < ref ? PLANT.accelHzPerS : PLANT.decelHzPerS) * dt);
      else p.hz = approach(p.hz, 0, PLANT.decelHzPerS * dt);
      // Centrifugal pump: shaft power with the cube of speed, plus a magnetising current.
      const ratio = p.hz / PLANT.ratedHz;
      p.current = p.hz > 0 ? Math.max(0, PLANT.pumpRatedCurrentA * (0.3 + 0.65 * ratio ** 3) + this.#noise(0.2)) : 0;
    }
  }

  /** Load on the biology relative to the design load (1 at the mean dry-weather flow). */
  #load(): number { return this.#plantFlow / this.#baseInflow; }

  #aeration(dt: number): void {
    // Oxygen balance of a completely mixed tank: transfer kLa·(Cs − C) against the uptake of the
    // biomass, which falls off as DO approaches 0 (Monod switch, K = 0.2 mg/L).
    const our = PLANT.ourMgLh * (0.4 + 0.6 * this.#load());
    const kLa = PLANT.kLaPerM3h * this.airflow;
    const dDO = kLa * (PLANT.doSaturation - this.#do) - (our * this.#do) / (this.#do + 0.2);
    this.#do = clamp(this.#do + (dDO * dt) / 3600, 0, PLANT.doSaturation);

    // The DO controller: PI on the air demand (tuned for the tank's ~12 min time constant), its
    // integral clamped to what the blowers can deliver so it does not wind up.
    const running = BLOWERS.filter((n) => this.#blowers[n].running).length;
    const minAir = PLANT.blowerMinM3h, maxAir = PLANT.blowerMaxM3h * 2;
    const error = this.#doSetpoint - this.#do;
    this.#airDemand = clamp(this.#airDemand + 1.4 * error * dt, minAir, maxAir);
    const demand = clamp(this.#airDemand + 950 * error, minAir, maxAir);

    // Staging: the second blower starts after a minute near the first one's maximum, and stops
    // after two minutes when both would run near their minimum.
    const wantTwo = running === 1 ? demand > PLANT.blowerMaxM3h * 0.95 : demand > 2 * PLANT.blowerMinM3h * 1.1;
    this.#stageTimer = wantTwo === (running === 2) ? 0 : this.#stageTimer + dt;
    if (this.#stageTimer >= (running === 1 ? 60 : 120)) {
      this.#blowers[2].running = running === 1;
      this.#stageTimer = 0;
    }
    const share = demand / (this.#blowers[2].running ? 2 : 1);
    for (const n of BLOWERS) {
      const b = this.#blowers[n];
      const target = b.running ? clamp(share, PLANT.blowerMinM3h, PLANT.blowerMaxM3h) : 0;
      b.airflow = approach(b.airflow, target, PLANT.blowerRampM3hPerS * dt);
    }
  }

  #clarifier(dt: number): void {
    // Solids settle into the blanket with the load; the withdrawal pump runs 10 min per interval
    // and draws the blanket down faster the thicker it is.
    this.#desludgeClock = (this.#desludgeClock + dt) % (this.#desludgeIntervalMin * 60);
    const rise = 0.3 * this.#load();
    const draw = this.#desludging() ? 2.2 * (this.#blanket / 1.2) : 0;
    this.#blanket = clamp(this.#blanket + ((rise - draw) * dt) / 3600, 0.2, 3.8);
  }

  #desludging(): boolean { return this.#desludgeClock < PLANT.desludgeRunS; }

  #nh3nTarget(): number {
    // Nitrification suffers below ~2 mg/L DO and at high load; the drift stands for temperature and
    // sludge age, which the simulator does not model.
    const doFactor = (2 / Math.max(this.#do, 0.3)) ** 0.9;
    return clamp(0.8 * this.#load() ** 1.2 * doFactor * (1 + this.#qualityDrift), 0.05, 30);
  }

  #codTarget(): number {
    return clamp(24 * (0.7 + 0.3 * this.#load()) * (1 + 0.5 * this.#qualityDrift) + 4 / (this.#do + 0.5), 5, 200);
  }

  #effluent(dt: number): void {
    const tau = 7200;
    this.#qualityDrift = clamp(this.#qualityDrift - this.#qualityDrift * (dt / tau) + this.#noise(0.15 * Math.sqrt((2 * dt) / tau)), -0.5, 0.5);
    this.#nh3n += ((this.#nh3nTarget() - this.#nh3n) * dt) / 1800;
    this.#cod += ((this.#codTarget() - this.#cod) * dt) / 3600;
  }

  #blowerPower(n: BlowerNo): number {
    const b = this.#blowers[n];
    return b.airflow > 0 ? 10 + 0.021 * b.airflow : 0;
  }

  #power(): number {
    const amps = PUMPS.reduce((a, n) => a + this.#pumps[n].current, 0);
    return Math.sqrt(3) * PLANT.supplyKv * amps * PLANT.powerFactor + this.#blowerPower(1) + this.#blowerPower(2) + PLANT.auxiliaryKw;
  }

  /** Every signal as the instruments read it now, failed sensors included (those read live here). */
  #measure(): SignalValues {
    // Instrument noise comes from a generator seeded by the step, not from the process's own:
    // reading twice in one step gives the same values, and a client's reads never change the run.
    const noise = gaussian(this.#seed ^ mix(this.#steps + 1), this.#noiseOn);
    const p = this.#pumps, b = this.#blowers;
    const pumpSignals = (n: PumpNo) => ({
      [`InletPS.Pump${n}.Running`]: p[n].running,
      [`InletPS.Pump${n}.Speed`]: p[n].hz,
      [`InletPS.Pump${n}.Current`]: p[n].current,
      [`InletPS.Pump${n}.Fault`]: p[n].fault,
      // Counters truncate as a PLC's would; they never round up ahead of time.
      [`InletPS.Pump${n}.RunHours`]: Math.floor(p[n].runHours * 100) / 100,
      [`InletPS.Pump${n}.Starts`]: p[n].starts,
      [`InletPS.Pump${n}.Remote`]: p[n].remote,
    });
    const blowerSignals = (n: BlowerNo) => ({
      [`Aeration.Blower${n}.Running`]: b[n].running,
      [`Aeration.Blower${n}.Airflow`]: b[n].airflow > 0 ? b[n].airflow * (1 + noise(0.003)) : 0,
      [`Aeration.Blower${n}.Power`]: this.#blowerPower(n),
    });
    return {
      Name: PLANT.name,
      'InletPS.WetWell.Level': Math.max(0, this.#level + noise(0.002)),
      'InletPS.Inflow': this.#inflow,
      'InletPS.LeadPump': this.#lead,
      ...pumpSignals(1), ...pumpSignals(2), ...pumpSignals(3),
      'Aeration.DO': Math.max(0, this.#do + noise(0.01)),
      'Aeration.DOSetpoint': this.#doSetpoint,
      ...blowerSignals(1), ...blowerSignals(2),
      'Clarifier.SludgeBlanket': this.#blanket + noise(0.005),
      'Clarifier.SludgePump.Running': this.#desludging(),
      'Clarifier.DesludgeInterval': this.#desludgeIntervalMin,
      'Effluent.Flow': this.#plantFlow < 1 ? 0 : this.#plantFlow * (1 + noise(0.003)), // magmeter low-flow cut-off
      'Effluent.NH3N': Math.max(0, this.#nh3n + noise(0.01)),
      'Effluent.COD': Math.max(0, this.#cod + noise(0.2)),
      'Energy.Power': this.#power(),
      'Energy.Total': this.#energy,
    } as SignalValues;
  }

  /** Every signal of signals.ts as published now: a failed sensor holds the value it had when it failed. */
  signals(): SignalValues {
    const values = this.#measure();
    for (const [name, f] of this.#faults) values[name] = f.value;
    return values;
  }
}
