// Plausible physics of a drainage pump station and the PLC program that runs it: inflow fills a wet
// well, three pumps in lead/lag empty it. Time advances only through step(seconds), so a test drives
// it tick by tick (deterministic, with a seeded noise source) and a demo drives it from a timer.
// The values it produces are named after the register map (register-map.ts), which encodes them.
import type { SignalValues, WritableSignalName } from './register-map.ts';

export type PumpNo = 1 | 2 | 3;
export const PUMPS: readonly PumpNo[] = [1, 2, 3];

/** The station's constants (a mid-size urban storm-water station). */
export const STATION = {
  wellAreaM2: 50,
  maxLevelM: 8,
  ratedFlowM3h: 400,
  ratedCurrentA: 60,
  ratedHz: 50,
  accelHzPerS: 5, // VFD ramps: 10 s up to 50 Hz, 5 s down
  decelHzPerS: 10,
  gatePctPerS: 1,
  floats: { hh: 4.5, h: 4.0, l: 1.0, ll: 0.6 },
  supplyKv: 0.4,
  powerFactor: 0.86,
  auxiliaryKw: 2.5, // PLC, lighting, ventilation, dehumidifier
} as const;

export interface PhysicsOptions {
  /** Seed of the noise source; the same seed gives the same run. Default 12345. */
  seed?: number;
  /** Sensor and inflow noise; off makes every value a smooth function of time. Default on. */
  noise?: boolean;
  /** Starting wet-well level in m. Default 1.5. */
  initialLevel?: number;
  /** Mean dry-weather inflow in m³/h. Default 260. */
  baseInflow?: number;
  /** Period of the slow inflow swing in s. Default 1800. */
  inflowPeriodS?: number;
}

interface Pump {
  running: boolean;
  frequency: number;
  current: number;
  fault: number;
  remote: boolean;
  auto: boolean;
  manualRun: boolean;
  load: number;
  runHours: number;
  starts: number;
}

/** A small seeded PRNG (mulberry32) with a normal deviate, so noisy runs still repeat exactly. */
function noiseSource(seed: number, enabled: boolean): (sigma: number) => number {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return (sigma) => {
    if (!enabled || sigma === 0) return 0;
    const u = 1 - uniform();
    return sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const approach = (v: number, target: number, step: number): number =>
  v < target ? Math.min(target, v + step) : Math.max(target, v - step);

export class PumpStationPhysics {
  readonly #noise: (sigma: number) => number;
  readonly #baseInflow: number;
  readonly #periodS: number;
  #t = 0;
  #level: number;
  #inflow = 0;
  #inflowDrift = 0;
  #inflowOverride: number | undefined;
  #outflow = 0;
  #storm = 1;
  #gate = 100;
  #gateCommand = 100;
  #mainsOk = true;
  #doorOpen = false;
  #heartbeat = 0;
  #heartbeatFraction = 0;
  #heartbeatStuck = false;
  // Seeded counters, so a demo looks like a station that has been running for years.
  #totalFlow = 8_412_345.6;
  #energy = 1_284_533.0;
  #lead: PumpNo = 1;
  readonly #startLevels: [number, number, number] = [2.5, 3.2, 3.8];
  #stopLevel = 1.2;
  readonly #pumps: Record<PumpNo, Pump>;

  constructor(options: PhysicsOptions = {}) {
    this.#noise = noiseSource(options.seed ?? 12345, options.noise ?? true);
    this.#level = clamp(options.initialLevel ?? 1.5, 0, STATION.maxLevelM);
    this.#baseInflow = options.baseInflow ?? 260;
    this.#periodS = options.inflowPeriodS ?? 1800;
    const pump = (runHours: number, starts: number): Pump => ({
      running: false, frequency: 0, current: 0, fault: 0, remote: true, auto: true, manualRun: false, load: 1, runHours, starts,
    });
    this.#pumps = { 1: pump(12_345.6, 4211), 2: pump(11_987.2, 4105), 3: pump(6021.4, 1302) };
  }

  /** Simulated seconds since start. */
  get time(): number { return this.#t; }
  /** True wet-well level in m (the sensors read it with noise). */
  get level(): number { return this.#level; }
  /** Inflow arriving at the gate, and total pumped flow, in m³/h. */
  get inflow(): number { return this.#inflow; }
  get outflow(): number { return this.#outflow; }
  pump(n: PumpNo): Readonly<Pump> { return { ...this.#pumps[n] }; }

  // --- fault injection and panel switches (not reachable over Modbus, as on a real panel) ---

  /** Trips a pump's VFD with a fault code (register-map VFD_FAULT_CODES); 0 clears it. */
  setPumpFault(n: PumpNo, code: number): void { this.#pumps[n].fault = Math.max(0, Math.round(code)); }
  /** Multiplies a pump's current, like a ragged impeller; 1 is normal. */
  setPumpLoad(n: PumpNo, factor: number): void { this.#pumps[n].load = Math.max(0, factor); }
  /** The LOCAL/REMOTE selector: on local, Modbus commands to the pump are ignored. */
  setRemote(n: PumpNo, remote: boolean): void { this.#pumps[n].remote = remote; }
  /** Storm: multiplies the inflow (1 = dry weather; 3–5 is a heavy rain). */
  setStorm(multiplier: number): void { this.#storm = Math.max(0, multiplier); }
  /** A stalled PLC task: the heartbeat register stops changing while Modbus still answers. */
  setHeartbeatStuck(stuck: boolean): void { this.#heartbeatStuck = stuck; }
  setMainsFailure(failed: boolean): void { this.#mainsOk = !failed; }
  setDoorOpen(open: boolean): void { this.#doorOpen = open; }
  /** Pins the inflow to a fixed m³/h (tests), or back to the weather model with undefined. */
  setInflow(m3h: number | undefined): void { this.#inflowOverride = m3h === undefined ? undefined : Math.max(0, m3h); }
  setLevel(m: number): void { this.#level = clamp(m, 0, STATION.maxLevelM); }

  // --- the PLC's inputs from the SCADA (coils and setpoint registers) ---

  /** A command pulse from the SCADA; returns false when the pump's selector is on LOCAL. */
  command(n: PumpNo, cmd: 'start' | 'stop' | 'auto'): boolean {
    const p = this.#pumps[n];
    if (!p.remote) return false;
    if (cmd === 'auto') p.auto = true;
    else { p.auto = false; p.manualRun = cmd === 'start'; }
    return true;
  }

  /** Clears tripped drives of pumps on REMOTE (a fault that is still present trips them again). */
  resetFaults(): void {
    for (const n of PUMPS) if (this.#pumps[n].remote) this.#pumps[n].fault = 0;
  }

  /** Applies a value the SCADA wrote; the PLC clamps setpoints to what it accepts. */
  write(name: WritableSignalName, value: number | boolean): void {
    const v = Number(value);
    const cmd = /^pump([123])_(start|stop|to_auto)$/.exec(name);
    if (cmd) {
      if (value) this.command(Number(cmd[1]) as PumpNo, cmd[2] === 'to_auto' ? 'auto' : cmd[2] as 'start' | 'stop');
      return;
    }
    switch (name) {
      case 'fault_reset': if (value) this.resetFaults(); return;
      case 'lead_pump': this.#lead = clamp(Math.round(v), 1, 3) as PumpNo; return;
      case 'lead_start_level': this.#startLevels[0] = clamp(v, 0, STATION.maxLevelM); return;
      case 'lag1_start_level': this.#startLevels[1] = clamp(v, 0, STATION.maxLevelM); return;
      case 'lag2_start_level': this.#startLevels[2] = clamp(v, 0, STATION.maxLevelM); return;
      case 'stop_level': this.#stopLevel = clamp(v, 0, STATION.maxLevelM); return;
      case 'gate_command': this.#gateCommand = clamp(v, 0, 100); return;
    }
  }

  // --- time ---

  /** Advances the station by `seconds`, in sub-steps of at most 1 s so control stays fine-grained. */
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
    this.#updateInflow(dt);
    this.#gate = approach(this.#gate, this.#gateCommand, STATION.gatePctPerS * dt);
    this.#control();
    this.#updateDrives(dt);

    const headFactor = clamp(1 + 0.05 * (this.#level - 2.5) - 0.08 * (this.#outletLevel() - 1.8), 0.7, 1.15);
    this.#outflow = PUMPS.reduce((q, n) => q + STATION.ratedFlowM3h * (this.#pumps[n].frequency / STATION.ratedHz) * headFactor, 0);
    const net = this.#inflow * this.#gateFactor() - this.#outflow;
    this.#level = clamp(this.#level + (net * dt) / 3600 / STATION.wellAreaM2, 0, STATION.maxLevelM);

    this.#totalFlow += (this.#outflow * dt) / 3600;
    this.#energy += (this.#power() * dt) / 3600;
    for (const n of PUMPS) if (this.#pumps[n].running) this.#pumps[n].runHours += dt / 3600;
    this.#heartbeatFraction += dt;
    while (this.#heartbeatFraction >= 1) {
      this.#heartbeatFraction -= 1;
      if (!this.#heartbeatStuck) this.#heartbeat = (this.#heartbeat + 1) & 0xffff;
    }
  }

  #updateInflow(dt: number): void {
    if (this.#inflowOverride !== undefined) { this.#inflow = this.#inflowOverride; return; }
    // Slow diurnal-like swing, with a slowly wandering random part (Ornstein–Uhlenbeck, τ = 120 s)
    // rather than white noise, because sewage inflow does not jump from second to second.
    const tau = 120;
    this.#inflowDrift += -this.#inflowDrift * (dt / tau) + this.#noise(0.06 * Math.sqrt((2 * dt) / tau));
    const swing = 1 + 0.35 * Math.sin((2 * Math.PI * this.#t) / this.#periodS);
    this.#inflow = Math.max(0, this.#baseInflow * swing * this.#storm * (1 + this.#inflowDrift));
  }

  /** Share of the arriving inflow the gate lets through; above 60 % open it no longer throttles. */
  #gateFactor(): number { return Math.min(1, this.#gate / 60); }

  /** The PLC's level control: lead/lag start levels, a common stop level, a dry-run interlock. */
  #control(): void {
    const dryRun = this.#level <= STATION.floats.ll;
    const available = (p: Pump): boolean => p.fault === 0 && this.#mainsOk && !dryRun;
    // Duty order starts at the lead pump; a pump that is tripped or in manual hands its duty
    // position to the next one, as a standby pump takes over on a real station.
    const order = [this.#lead, (this.#lead % 3) + 1, ((this.#lead + 1) % 3) + 1] as PumpNo[];
    // A stop level at or above a start level would start and stop a pump on alternate scans; the
    // program keeps 0.1 m of hysteresis whatever the setpoint says, as a careful PLC programmer would.
    const stopAt = Math.min(this.#stopLevel, Math.min(...this.#startLevels) - 0.1);
    let duty = 0;
    for (const n of order) {
      const p = this.#pumps[n];
      let want: boolean;
      if (!available(p)) want = false;
      else if (!p.auto) want = p.manualRun;
      else {
        const startAt = this.#startLevels[duty++] ?? Infinity;
        want = p.running ? this.#level > stopAt : this.#level >= startAt;
      }
      if (want && !p.running) p.starts++;
      p.running = want;
    }
  }

  #updateDrives(dt: number): void {
    for (const n of PUMPS) {
      const p = this.#pumps[n];
      if (p.fault !== 0 || !this.#mainsOk) p.frequency = 0; // a trip or a blackout: the motor coasts
      else if (p.running) p.frequency = approach(p.frequency, STATION.ratedHz, STATION.accelHzPerS * dt);
      else p.frequency = approach(p.frequency, 0, STATION.decelHzPerS * dt);
      // Centrifugal pump: shaft power grows with the cube of speed; magnetising current stays.
      const ratio = p.frequency / STATION.ratedHz;
      p.current = p.frequency > 0
        ? Math.max(0, STATION.ratedCurrentA * (0.3 + 0.65 * ratio ** 3) * p.load + this.#noise(0.3))
        : 0;
    }
  }

  #power(): number {
    if (!this.#mainsOk) return 0;
    const amps = PUMPS.reduce((a, n) => a + this.#pumps[n].current, 0);
    return Math.sqrt(3) * STATION.supplyKv * amps * STATION.powerFactor + STATION.auxiliaryKw;
  }

  #outletLevel(): number {
    const tide = 0.25 * Math.sin((2 * Math.PI * this.#t) / 44_700); // the river's semi-diurnal tide
    return clamp(1.8 + tide + 0.15 * (this.#storm - 1) + 0.0004 * this.#outflow, 0, 5);
  }

  #inletLevel(): number {
    const normalDepth = 0.35 + 0.9 * (this.#inflow / 1000) ** 0.6;
    const backwater = this.#level - 1.0; // the inlet sewer's invert sits 1 m above the well floor
    const throttled = 1.5 * (1 - this.#gateFactor()) * (this.#inflow / 500);
    return clamp(Math.max(normalDepth, backwater) + throttled, 0, 5);
  }

  /** Every signal of the register map, in engineering units, as the PLC would publish them now. */
  signals(): SignalValues {
    const p1 = this.#pumps[1], p2 = this.#pumps[2], p3 = this.#pumps[3];
    const measured = Math.max(0, this.#level + this.#noise(0.003));
    const flow = this.#outflow < 1 ? 0 : this.#outflow * (1 + this.#noise(0.004)); // magmeter low-flow cut-off
    const amps = p1.current + p2.current + p3.current;
    const f = STATION.floats;
    return {
      wet_well_level: measured,
      inlet_level: this.#inletLevel(),
      outlet_level: this.#outletLevel(),
      gate_position: this.#gate,
      pump1_current: p1.current, pump2_current: p2.current, pump3_current: p3.current,
      cabinet_temperature: 24 + 0.04 * amps + this.#noise(0.05),
      wet_well_level_backup: Math.max(0, this.#level + 0.015 + this.#noise(0.005)),
      outlet_flow: flow,
      total_flow: this.#totalFlow,
      power: this.#power() === 0 ? 0 : this.#power() + this.#noise(0.05),
      energy: Math.floor(this.#energy),
      pump1_frequency: p1.frequency, pump2_frequency: p2.frequency, pump3_frequency: p3.frequency,
      pump1_vfd_fault: p1.fault, pump2_vfd_fault: p2.fault, pump3_vfd_fault: p3.fault,
      // Counters truncate, as a PLC's integer counter would; they never round up ahead of time.
      pump1_run_hours: Math.floor(p1.runHours * 10) / 10,
      pump2_run_hours: Math.floor(p2.runHours * 10) / 10,
      pump3_run_hours: Math.floor(p3.runHours * 10) / 10,
      pump1_starts: p1.starts, pump2_starts: p2.starts, pump3_starts: p3.starts,
      heartbeat: this.#heartbeat,
      lead_pump: this.#lead,
      lead_start_level: this.#startLevels[0],
      lag1_start_level: this.#startLevels[1],
      lag2_start_level: this.#startLevels[2],
      stop_level: this.#stopLevel,
      gate_command: this.#gateCommand,
      pump1_run: p1.running, pump1_fault: p1.fault !== 0, pump1_remote: p1.remote, pump1_auto: p1.auto,
      pump2_run: p2.running, pump2_fault: p2.fault !== 0, pump2_remote: p2.remote, pump2_auto: p2.auto,
      pump3_run: p3.running, pump3_fault: p3.fault !== 0, pump3_remote: p3.remote, pump3_auto: p3.auto,
      // Command coils read back 0: the PLC consumed the pulse on this scan.
      pump1_start: false, pump1_stop: false, pump1_to_auto: false,
      pump2_start: false, pump2_stop: false, pump2_to_auto: false,
      pump3_start: false, pump3_stop: false, pump3_to_auto: false,
      fault_reset: false,
      float_hh: this.#level >= f.hh,
      float_h: this.#level >= f.h,
      float_l: this.#level <= f.l,
      float_ll: this.#level <= f.ll,
      gate_open: this.#gate >= 99.5,
      gate_closed: this.#gate <= 0.5,
      mains_ok: this.#mainsOk,
      door_open: this.#doorOpen,
    };
  }
}
