// One Modbus RTU line (RS-485 behind a serial port, or RTU frames through a serial-to-Ethernet
// converter) shared by every unit on it. A line carries one transaction at a time: requests of all
// units wait in one queue, writes ahead of polls, with the inter-frame silence the spec asks for
// between them (Serial Line Spec §2.5.1.1: 3.5 character times, fixed 1.75 ms above 19200 baud).
// A unit that does not answer is its device's business (the driver backs it off), never the line's:
// only a failing port closes the line for everyone.
import { createRequire } from 'node:module';
import type ModbusSerial from 'modbus-serial';
import { CodedError, type ModbusRtuDeviceConfig, type ModbusTable } from '../../gateway/model/index.ts';
import { codedModbusError, forgetTransactions, withTimeout, type ModbusLink, type ReadBits, type ReadWords } from './connection.ts';

type Client = InstanceType<typeof ModbusSerial.default>;

// Loaded when a line first opens: a box without RTU lines never loads modbus-serial and the
// serialport native bindings it pulls in (~8 MB of RSS).
let clientClass: typeof ModbusSerial.default | undefined;
function newClient(): Client {
  clientClass ??= (createRequire(import.meta.url)('modbus-serial') as typeof ModbusSerial).default;
  return new clientClass();
}

type Line = { kind: 'serial'; path: string; baud: number; parity: 'none' | 'even' | 'odd'; dataBits: 7 | 8; stopBits: 1 | 2 } | { kind: 'tcp'; host: string; port: number };

interface Job { priority: number; unit: number; timeoutMs: number; what: string; run: (c: Client) => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void }

const lines = new Map<string, RtuBus>();

export function lineKey(d: Pick<ModbusRtuDeviceConfig, 'serial' | 'tcp'>): string {
  return d.serial ? `serial:${d.serial.path}` : `tcp:${d.tcp!.host}:${d.tcp!.port}`;
}

/** 3.5 characters of 11 bits (start, 8 data, parity or a second stop, stop), or 1.75 ms above 19200 baud. */
export function interFrameMs(baud: number): number {
  return baud > 19_200 ? 1.75 : (3.5 * 11 * 1000) / baud;
}

export class RtuBus {
  readonly key: string;
  readonly #line: Line;
  readonly #gapMs: number;
  #client: Client | undefined;
  #opening: Promise<void> | undefined;
  #queue: Job[] = [];
  #busy = false;
  #users = 0;

  /** The line a device is on, shared with the other devices that name it. */
  static acquire(d: ModbusRtuDeviceConfig): RtuBus {
    const key = lineKey(d);
    let bus = lines.get(key);
    if (!bus) {
      bus = new RtuBus(key, d.serial
        ? { kind: 'serial', path: d.serial.path, baud: d.serial.baud, parity: d.serial.parity, dataBits: d.serial.data_bits, stopBits: d.serial.stop_bits }
        : { kind: 'tcp', host: d.tcp!.host, port: d.tcp!.port });
      lines.set(key, bus);
    }
    bus.#users++;
    return bus;
  }

  private constructor(key: string, line: Line) {
    this.key = key;
    this.#line = line;
    this.#gapMs = line.kind === 'serial' ? interFrameMs(line.baud) : 2;
  }

  get isOpen(): boolean { return this.#client?.isOpen ?? false; }

  /** Opens the port once for all its units; concurrent callers share the attempt. */
  open(timeoutMs: number): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    this.#opening ??= this.#open(timeoutMs).finally(() => { this.#opening = undefined; });
    return this.#opening;
  }

  async #open(timeoutMs: number): Promise<void> {
    this.#destroy();
    const client = newClient();
    const l = this.#line;
    const where = l.kind === 'serial' ? l.path : `${l.host}:${l.port}`;
    try {
      const opening = l.kind === 'serial'
        ? client.connectRTUBuffered(l.path, { baudRate: l.baud, parity: l.parity, dataBits: l.dataBits, stopBits: l.stopBits })
        // Raw RTU frames, CRC and all, over the socket: modbus-serial calls that port "telnet". Its
        // connectTcpRTUBuffered frames with an MBAP header, which a transparent converter passes to
        // the line as garbage.
        : client.connectTelnet(l.host, { port: l.port, timeout: Math.max(timeoutMs, 2000) });
      await withTimeout(opening, Math.max(timeoutMs, 2000), () => new CodedError('CE_ERR_MODBUS_CONNECT', `${where} did not open within ${Math.max(timeoutMs, 2000)} ms`));
    } catch (e) {
      client.destroy(() => {});
      if (e instanceof CodedError) throw e;
      throw new CodedError('CE_ERR_MODBUS_CONNECT', `${where}: ${(e as Error).message}`, {}, { cause: e });
    }
    this.#client = client;
  }

  /** Runs one transaction for `unit` when the line is free; writes (priority 0) go before polls (1). */
  transact<T>(unit: number, timeoutMs: number, priority: number, what: string, run: (c: Client) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job: Job = { priority, unit, timeoutMs, what, run, resolve: resolve as (v: unknown) => void, reject };
      const at = this.#queue.findIndex((j) => j.priority > priority);
      if (at < 0) this.#queue.push(job); else this.#queue.splice(at, 0, job);
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (let job = this.#queue.shift(); job; job = this.#queue.shift()) {
        const c = this.#client;
        if (!c?.isOpen) { job.reject(new CodedError('CE_ERR_DEVICE_DISCONNECTED', `${this.key}: the line is closed`)); continue; }
        c.setID(job.unit);
        c.setTimeout(job.timeoutMs);
        try {
          job.resolve(await job.run(c));
        } catch (e) {
          const err = codedModbusError(e, `unit ${job.unit} ${job.what}`, c.isOpen, job.timeoutMs);
          // A port that went away (USB adapter pulled, converter rebooted) fails every unit on it.
          if (!c.isOpen) this.#destroy();
          job.reject(err);
        } finally {
          forgetTransactions(c);
        }
        // The silence that ends a frame on the line, before the next request may start.
        await new Promise((r) => setTimeout(r, this.#gapMs));
      }
    } finally {
      this.#busy = false;
    }
  }

  /** A device stops using the line; the last one closes it. */
  release(): void {
    if (--this.#users > 0) return;
    lines.delete(this.key);
    this.#destroy();
  }

  #destroy(): void {
    const c = this.#client;
    this.#client = undefined;
    if (!c) return;
    // modbus-serial's destroy fails the waiting requests but leaves a serial port open (its RTU
    // port has no destroy): the fd, and a read pending on it, would outlive the line. Close it too.
    const open = c.isOpen;
    c.destroy(() => {});
    if (open) c.close(() => {});
  }

  /** One unit's view of the line, for the driver: its own open/closed state and timeout. */
  unit(unit: number, timeoutMs: number): ModbusLink {
    const bus = this;
    let down = true;
    return {
      get isOpen() { return !down && bus.isOpen; },
      async connect() { await bus.open(timeoutMs); down = false; },
      read: (table: ModbusTable, start: number, count: number) => bus.transact<ReadWords | ReadBits>(unit, timeoutMs, 1, `${table}:${start}+${count}`, async (c) => {
        switch (table) {
          case 'hr': return { kind: 'words', data: (await c.readHoldingRegisters(start, count)).data };
          case 'ir': return { kind: 'words', data: (await c.readInputRegisters(start, count)).data };
          case 'co': return { kind: 'bits', data: (await c.readCoils(start, count)).data.slice(0, count) };
          case 'di': return { kind: 'bits', data: (await c.readDiscreteInputs(start, count)).data.slice(0, count) };
        }
      }),
      write: (table: 'hr' | 'co', start: number, values: number[] | boolean[]) => bus.transact<void>(unit, timeoutMs, 0, `write ${table}:${start}+${values.length}`, async (c) => {
        if (table === 'co') await (values.length === 1 ? c.writeCoil(start, values[0] as boolean) : c.writeCoils(start, values as boolean[]));
        else await (values.length === 1 ? c.writeRegister(start, values[0] as number) : c.writeRegisters(start, values as number[]));
      }),
      // The unit is down (it timed out): the line stays open for the others.
      close() { down = true; },
      release() { down = true; bus.release(); },
    };
  }
}
