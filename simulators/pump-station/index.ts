// A pump-station PLC on Modbus TCP: the physics (the station and its PLC program) scanned into a
// register bank laid out by the register map, served by the simulator's own Modbus TCP server.
import { performance } from 'node:perf_hooks';
import { RegisterBank, startModbusTcpServer, type ModbusTcpServer } from '../modbus/tcp-server.ts';
import { PumpStationPhysics, type PhysicsOptions } from './physics.ts';
import { bankLayout, PUMP_STATION_MAP, readSignal, writeSignal } from './register-map.ts';

export interface PumpStationOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Modbus unit id the PLC answers to; others get no answer. */
  unit?: number;
  /** Scan period of the PLC in real ms. 0: no timer; the caller drives time with step(). */
  tickMs?: number;
  /** Simulated seconds per real second (10 makes a demo's wet well fill ten times faster). */
  timeScale?: number;
  physics?: PhysicsOptions;
  signal?: AbortSignal;
}

export interface PumpStation {
  host: string;
  port: number;
  unit: number;
  physics: PumpStationPhysics;
  /** The Modbus server, for its stats and its fault hook (delays, silence, dropped connections). */
  server: ModbusTcpServer;
  bank: RegisterBank;
  /** One PLC scan covering `seconds` of simulated time: read the SCADA's writes, advance, publish. */
  step(seconds: number): void;
  close(): Promise<void>;
}

/** Copies what the SCADA wrote (commands, setpoints) into the PLC program. */
function scanInputs(bank: RegisterBank, physics: PumpStationPhysics): void {
  for (const sig of PUMP_STATION_MAP) {
    if (sig.access === 'rw') physics.write(sig.name, readSignal(bank, sig));
  }
}

/** Publishes every signal into the bank, writable ones included: the PLC writes back what it accepted. */
function scanOutputs(bank: RegisterBank, physics: PumpStationPhysics): void {
  const values = physics.signals();
  for (const sig of PUMP_STATION_MAP) writeSignal(bank, sig, values[sig.name]);
}

export async function startPumpStation(options: PumpStationOptions = {}): Promise<PumpStation> {
  const { host = '127.0.0.1', port = 0, unit = 1, tickMs = 200, timeScale = 1, signal } = options;
  if (!Number.isInteger(unit) || unit < 0 || unit > 255) throw new RangeError(`unit ${unit} is not a Modbus unit id (0–255)`);
  const physics = new PumpStationPhysics(options.physics);
  const bank = new RegisterBank(bankLayout());
  scanOutputs(bank, physics);

  const step = (seconds: number): void => {
    scanInputs(bank, physics);
    physics.step(seconds);
    scanOutputs(bank, physics);
  };

  const server = await startModbusTcpServer({ host, port, banks: new Map([[unit, bank]]), signal });

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

  return { host, port: server.port, unit, physics, server, bank, step, close };
}
