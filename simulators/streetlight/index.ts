// Streetlight control cabinets (路灯控制柜) on Modbus RTU: each unit id is one controller with its
// own physics, scanned into its own register bank, all served on one line by the simulator's RTU
// server, over a serial device (a socat pty in tests) or raw RTU over TCP (the cabinet's
// serial-to-Ethernet converter).
import { performance } from 'node:perf_hooks';
import { RegisterBank } from '../modbus/tcp-server.ts';
import { startModbusRtuServer, type ModbusRtuServer, type RtuEndpoint, type RtuServerStats, type RtuUnit } from '../modbus/rtu-server.ts';
import { StreetlightPhysics, type StreetlightPhysicsOptions } from './physics.ts';
import { bankLayout, readSignal, streetlightMap, writeCheck, writeSignal, type StreetlightSignal } from './register-map.ts';

export interface StreetlightCabinetOptions {
  /** A serial device, e.g. one end of `socat -d -d pty,raw,echo=0 pty,raw,echo=0`. */
  serial?: { path: string; baud?: number; parity?: 'none' | 'even' | 'odd'; stopBits?: 1 | 2 };
  /** Raw RTU frames over TCP; port 0 picks a free one. The default when serial is not given. */
  tcp?: { host?: string; port?: number };
  /** Unit ids (1–247) on the line, one controller each. Default [1]. */
  units?: readonly number[];
  /** Loops per cabinet, 1–16. Default 4. */
  loops?: number;
  /** Scan period in real ms. 0: no timer; the caller drives time with step(). Default 500. */
  tickMs?: number;
  /** Simulated seconds per real second. */
  timeScale?: number;
  /** Units that are dead from the start: they never answer (server.setUnitFault changes it later). */
  silentUnits?: readonly number[];
  /** Every unit answers this many ms late. */
  responseDelayMs?: number;
  /** Override of the silence that ends a frame (default t3.5 at the baud rate). */
  interFrameMs?: number;
  /** Physics options for every unit; the seed is offset by the unit id so cabinets differ. */
  physics?: Omit<StreetlightPhysicsOptions, 'loops'>;
  signal?: AbortSignal;
}

export interface StreetlightCabinet {
  endpoint: RtuEndpoint;
  units: readonly number[];
  loops: number;
  /** The register map every unit uses. */
  map: readonly StreetlightSignal[];
  /** Unit id → its cabinet's physics (fault injection: lamps, relays, door, leakage, voltage). */
  physics: ReadonlyMap<number, StreetlightPhysics>;
  banks: ReadonlyMap<number, RegisterBank>;
  /** The RTU server: per-unit request counters, unit faults (silent, delay). */
  server: ModbusRtuServer;
  readonly stats: Readonly<RtuServerStats>;
  /** One controller scan of every unit over `seconds` of simulated time. */
  step(seconds: number): void;
  close(): Promise<void>;
}

/** Copies what the master wrote (contactor commands, dim levels) into the controller. */
function scanInputs(map: readonly StreetlightSignal[], bank: RegisterBank, physics: StreetlightPhysics): void {
  for (const sig of map) if (sig.access === 'rw') physics.write(sig.name, readSignal(bank, sig));
}

/** Publishes every signal, writable ones included: the controller writes back what it holds. */
function scanOutputs(map: readonly StreetlightSignal[], bank: RegisterBank, physics: StreetlightPhysics): void {
  const values = physics.signals();
  for (const sig of map) writeSignal(bank, sig, values[sig.name] ?? 0);
}

export async function startStreetlightCabinet(options: StreetlightCabinetOptions = {}): Promise<StreetlightCabinet> {
  const { units = [1], loops = 4, tickMs = 500, timeScale = 1, silentUnits = [], signal } = options;
  if (options.serial && options.tcp) throw new TypeError('give one of serial and tcp, not both');
  if (units.length === 0 || new Set(units).size !== units.length) throw new RangeError(`units ${units.join(',')}: expected distinct ids`);
  for (const s of silentUnits) if (!units.includes(s)) throw new RangeError(`silent unit ${s} is not one of units ${units.join(',')}`);
  const map = streetlightMap(loops);
  const layout = bankLayout(map);
  const check = writeCheck(map);
  const physics = new Map<number, StreetlightPhysics>();
  const banks = new Map<number, RegisterBank>();
  const rtuUnits = new Map<number, RtuUnit>();
  for (const id of units) {
    const p = new StreetlightPhysics({ ...options.physics, loops, seed: (options.physics?.seed ?? 2024) + id });
    const bank = new RegisterBank(layout);
    scanOutputs(map, bank, p);
    physics.set(id, p);
    banks.set(id, bank);
    rtuUnits.set(id, { bank, checkWrite: check });
  }

  const step = (seconds: number): void => {
    for (const id of units) {
      const p = physics.get(id)!, bank = banks.get(id)!;
      scanInputs(map, bank, p);
      p.step(seconds);
      scanOutputs(map, bank, p);
    }
  };

  const server = await startModbusRtuServer({
    units: rtuUnits,
    ...(options.serial
      ? { serial: { path: options.serial.path, baudRate: options.serial.baud ?? 9600, parity: options.serial.parity ?? 'none', stopBits: options.serial.stopBits ?? 1 } }
      : { tcp: options.tcp ?? {} }),
    ...(options.interFrameMs === undefined ? {} : { interFrameMs: options.interFrameMs }),
    signal,
  });
  for (const id of units) {
    server.setUnitFault(id, { silent: silentUnits.includes(id), delayMs: options.responseDelayMs ?? 0 });
  }

  let timer: NodeJS.Timeout | undefined;
  if (tickMs > 0) {
    // Advance by the time that really passed, so a busy event loop slows the scan, not the clock.
    let last = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      step((Math.min(now - last, 5000) / 1000) * timeScale);
      last = now;
    }, tickMs);
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      await server.close();
    })();
    return closing;
  };
  const onAbort = (): void => { void close(); };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) { await close(); signal.throwIfAborted(); }

  return {
    endpoint: server.endpoint, units: [...units], loops, map, physics, banks, server,
    get stats() { return server.stats; },
    step, close,
  };
}

export { StreetlightPhysics, CABINET } from './physics.ts';
export { streetlightMap, signalOf, CABINET_FAULT_BITS, LOOP_FAULT_BITS } from './register-map.ts';
