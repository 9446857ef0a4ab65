// Plausible physics of a streetlight control cabinet (路灯控制柜) and its controller: a three-phase
// supply feeding single-phase lighting loops (回路) through contactors, each loop a string of LED
// lamps with dimmable constant-power drivers. Time advances only through step(seconds), so tests
// drive it in fake time (with a seeded noise source) and the simulator drives it from a timer. The
// values are named after the register map (register-map.ts), which encodes them.
import { MAX_LOOPS } from './register-map.ts';

/** The cabinet's constants. */
export const CABINET = {
  nominalV: 220,
  // GB/T 12325 allows 220 V −10 %/+7 %; controllers alarm at ±10 %.
  overVoltageV: 242,
  underVoltageV: 198,
  // A lightly loaded grid runs high at night, when streetlights are on.
  phaseMeansV: [226.4, 227.9, 225.6] as const,
  frequencyHz: 50,
  lampsPerLoop: 20,
  lampWatts: 150,
  // An LED driver stays powered at dim 0 while its contactor is closed.
  standbyWatts: 1.5,
  leakagePerLitLoopMa: 1.1, // healthy insulation: about a milliampere per energised loop
  leakageAlarmMa: 30, // the residual-current threshold of GB 50054 for outdoor lighting
  ambientC: 25,
  // Heat from contactors, breakers and cables inside the box: about 1 % of the load.
  heatCPerKw: 0.8,
  thermalTauS: 1200,
  overTemperatureC: 60,
} as const;

export interface StreetlightPhysicsOptions {
  loops?: number;
  lampsPerLoop?: number;
  lampWatts?: number;
  /** Seed of the noise source; the same seed gives the same run. Default 2024. */
  seed?: number;
  /** Measurement noise and voltage wander; off makes every value a function of the state. Default on. */
  noise?: boolean;
  ambientC?: number;
}

interface Loop {
  relay: boolean;
  dim: number;
  lamps: number;
  failedLamps: number;
  relayFailed: boolean;
  energyKwh: number;
}

/** What one loop draws now, without measurement noise. */
export interface LoopState {
  relay: boolean;
  contactor: boolean;
  dim: number;
  lamps: number;
  failedLamps: number;
  relayFailed: boolean;
  voltage: number;
  current: number;
  power: number;
  powerFactor: number;
  energyKwh: number;
  lampFailure: boolean;
  relayFailure: boolean;
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
    return sigma * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  };
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const PHASES = ['a', 'b', 'c'] as const;
export type Phase = (typeof PHASES)[number];

export class StreetlightPhysics {
  readonly loops: number;
  readonly #noise: (sigma: number) => number;
  readonly #lampWatts: number;
  readonly #loops: Loop[];
  readonly #phaseMeans: number[] = [...CABINET.phaseMeansV];
  readonly #phaseDrift = [0, 0, 0];
  #t = 0;
  #mainsOk = true;
  #doorOpen = false;
  #extraLeakageMa = 0;
  #ambientC: number;
  #temperatureC: number;

  constructor(options: StreetlightPhysicsOptions = {}) {
    this.loops = options.loops ?? 4;
    if (!Number.isInteger(this.loops) || this.loops < 1 || this.loops > MAX_LOOPS) throw new RangeError(`loops ${this.loops}: expected 1–${MAX_LOOPS}`);
    this.#noise = noiseSource(options.seed ?? 2024, options.noise ?? true);
    this.#lampWatts = options.lampWatts ?? CABINET.lampWatts;
    const lamps = options.lampsPerLoop ?? CABINET.lampsPerLoop;
    // It starts at night: every loop on at full power, meters showing years of service.
    this.#loops = Array.from({ length: this.loops }, (_, i) => ({
      relay: true, dim: 100, lamps, failedLamps: 0, relayFailed: false, energyKwh: 18_000 + 1_234.56 * (i + 1),
    }));
    this.#ambientC = options.ambientC ?? CABINET.ambientC;
    this.#temperatureC = this.#targetTemperature();
  }

  /** Simulated seconds since start. */
  get time(): number { return this.#t; }
  get temperatureC(): number { return this.#temperatureC; }

  /** True (noise-free) phase voltage; 0 during a mains failure. */
  phaseVoltage(phase: Phase): number {
    const i = PHASES.indexOf(phase);
    return this.#mainsOk ? Math.max(0, (this.#phaseMeans[i] ?? 0) + (this.#phaseDrift[i] ?? 0)) : 0;
  }

  /** Loop n (1-based) as it is now. */
  loop(n: number): LoopState {
    const l = this.#loop(n);
    // Loops are spread over the phases in turn: 1 on A, 2 on B, 3 on C, 4 on A…
    const voltage = this.phaseVoltage(PHASES[(n - 1) % 3]!);
    const contactor = l.relay && !l.relayFailed && this.#mainsOk;
    const lit = contactor && voltage > 0;
    const perLamp = CABINET.standbyWatts + (this.#lampWatts - CABINET.standbyWatts) * (l.dim / 100);
    const power = lit ? (l.lamps - l.failedLamps) * perLamp : 0;
    // A driver's power factor is best at full load and falls as it is dimmed.
    const powerFactor = power > 0 ? 0.98 - 0.33 * (1 - l.dim / 100) ** 2 : 0;
    return {
      relay: l.relay, contactor, dim: l.dim, lamps: l.lamps, failedLamps: l.failedLamps, relayFailed: l.relayFailed,
      voltage, power, powerFactor,
      // Constant-power drivers: a lower voltage draws more current for the same light.
      current: power > 0 ? power / (voltage * powerFactor) : 0,
      energyKwh: l.energyKwh,
      // A controller sees a dead lamp as power missing from a lit loop, so not while dimmed to 0.
      lampFailure: lit && l.dim > 0 && l.failedLamps > 0,
      relayFailure: l.relay && this.#mainsOk && !contactor,
    };
  }

  // --- fault injection and panel switches (not reachable over Modbus, as on a real cabinet) ---

  setDoorOpen(open: boolean): void { this.#doorOpen = open; }
  /** Supply failure: voltages 0, every contactor drops out, the controller runs on its battery. */
  setMainsFailure(failed: boolean): void { this.#mainsOk = !failed; }
  /** Mean voltage of one phase (noise still applies), or of all three when `phase` is omitted. */
  setPhaseVoltage(volts: number, phase?: Phase): void {
    for (const [i, p] of PHASES.entries()) if (phase === undefined || phase === p) this.#phaseMeans[i] = Math.max(0, volts);
  }
  /** `count` lamps of loop n draw nothing (burnt-out driver, stolen cable…); 0 repairs them. */
  setFailedLamps(n: number, count: number): void {
    const l = this.#loop(n);
    l.failedLamps = clamp(Math.round(count), 0, l.lamps);
  }
  /** Loop n's contactor no longer closes: the coil reads back as written, no current flows. */
  setRelayFailure(n: number, failed: boolean): void { this.#loop(n).relayFailed = failed; }
  /** Leakage from an insulation fault, in mA, on top of the healthy ~1 mA per lit loop. */
  setLeakage(mA: number): void { this.#extraLeakageMa = Math.max(0, mA); }
  setAmbientTemperature(c: number): void { this.#ambientC = c; }

  // --- the controller's inputs from the master (coils and holding registers) ---

  /** Applies a value a client wrote; the register map refuses out-of-range values before this. */
  write(name: string, value: number | boolean): void {
    const m = /^loop(\d+)_(relay|dim)$/.exec(name);
    if (!m) throw new Error(`${name} is not writable`);
    const l = this.#loop(Number(m[1]));
    if (m[2] === 'relay') l.relay = Boolean(value);
    else l.dim = clamp(Math.round(Number(value)), 0, 100);
  }

  // --- time ---

  /** Advances by `seconds`, in sub-steps of at most 1 s. */
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
    // Supply voltage wanders slowly (Ornstein–Uhlenbeck, τ = 60 s, about ±0.8 V), as the grid's load does.
    const tau = 60;
    for (let i = 0; i < 3; i++) {
      this.#phaseDrift[i] = (this.#phaseDrift[i] ?? 0) * (1 - dt / tau) + this.#noise(0.8 * Math.sqrt((2 * dt) / tau));
    }
    for (let n = 1; n <= this.loops; n++) this.#loop(n).energyKwh += (this.loop(n).power * dt) / 3_600_000;
    this.#temperatureC += (this.#targetTemperature() - this.#temperatureC) * (1 - Math.exp(-dt / CABINET.thermalTauS));
  }

  #totalPower(): number {
    let w = 0;
    for (let n = 1; n <= this.loops; n++) w += this.loop(n).power;
    return w;
  }

  #targetTemperature(): number { return this.#ambientC + 2 + (CABINET.heatCPerKw * this.#totalPower()) / 1000; }

  #loop(n: number): Loop {
    const l = this.#loops[n - 1];
    if (!Number.isInteger(n) || !l) throw new RangeError(`loop ${n}: this cabinet has loops 1–${this.loops}`);
    return l;
  }

  /** Every signal of the register map, in engineering units, as the controller publishes them now. */
  signals(): Record<string, number | boolean> {
    const out: Record<string, number | boolean> = {};
    const volts = PHASES.map((p) => { const v = this.phaseVoltage(p); return v > 0 ? v + this.#noise(0.15) : 0; });
    PHASES.forEach((p, i) => { out[`phase_${p}_voltage`] = volts[i] ?? 0; });
    out.mains_frequency = this.#mainsOk ? CABINET.frequencyHz + this.#noise(0.01) : 0;
    let lit = 0, watts = 0, lampFault = false, relayFault = false, energy = 0;
    for (let n = 1; n <= this.loops; n++) {
      const s = this.loop(n);
      if (s.contactor) lit++;
      lampFault ||= s.lampFailure;
      relayFault ||= s.relayFailure;
      const power = s.power > 0 ? s.power * (1 + this.#noise(0.002)) : 0;
      watts += power;
      energy += s.energyKwh;
      out[`loop${n}_relay`] = s.relay;
      out[`loop${n}_contactor`] = s.contactor;
      out[`loop${n}_current`] = s.current > 0 ? s.current * (1 + this.#noise(0.002)) : 0;
      out[`loop${n}_power`] = power;
      out[`loop${n}_power_factor`] = s.powerFactor > 0 ? clamp(s.powerFactor + this.#noise(0.001), 0, 1) : 0;
      out[`loop${n}_lamp_failure`] = s.lampFailure;
      out[`loop${n}_relay_failure`] = s.relayFailure;
      out[`loop${n}_dim`] = s.dim;
      // Meters truncate, as an integer counter does; they never round up ahead of time.
      out[`loop${n}_energy`] = Math.floor(s.energyKwh * 100) / 100;
    }
    const leakage = this.#mainsOk ? Math.max(0, 0.6 + CABINET.leakagePerLitLoopMa * lit + this.#extraLeakageMa + this.#noise(0.1)) : 0;
    const temperature = this.#temperatureC + this.#noise(0.05);
    out.leakage_current = leakage;
    out.cabinet_temperature = temperature;
    out.fault_lamp_failure = lampFault;
    out.fault_relay_failure = relayFault;
    out.fault_over_voltage = volts.some((v) => (v ?? 0) >= CABINET.overVoltageV);
    out.fault_under_voltage = volts.some((v) => (v ?? 0) <= CABINET.underVoltageV);
    out.fault_leakage = Math.round(leakage) >= CABINET.leakageAlarmMa;
    out.fault_over_temperature = temperature >= CABINET.overTemperatureC;
    out.total_power = watts;
    out.total_energy = Math.floor(energy * 100) / 100;
    out.door_open = this.#doorOpen;
    out.mains_ok = this.#mainsOk;
    return out;
  }
}
