// One Modbus TCP connection through modbus-serial, with its callbacks and error objects turned
// into promises and coded errors. Requests on one connection are strictly serialized: many PLCs
// and serial gateways answer one transaction at a time, whatever the transaction id says.
import ModbusSerial from 'modbus-serial';
import { CodedError, type ModbusTable } from '../../gateway/model/index.ts';

// modbus-serial is CommonJS whose typings declare an ES default export; under NodeNext the default
// import is the module object, whose `default` is the client class (at run time too).
const ModbusClient = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusClient>;

export interface ConnectionOptions { host: string; port: number; unit: number; timeoutMs: number }

export type ReadWords = { kind: 'words'; data: number[] };
export type ReadBits = { kind: 'bits'; data: boolean[] };

/** What the driver needs of a device's line: a TCP connection of its own, or its unit on an RTU bus. */
export interface ModbusLink {
  readonly isOpen: boolean;
  connect(signal: AbortSignal): Promise<void>;
  read(table: ModbusTable, start: number, count: number): Promise<ReadWords | ReadBits>;
  write(table: 'hr' | 'co', start: number, values: number[] | boolean[]): Promise<void>;
  /** After a failure: the next scan connects again (after the driver's backoff). */
  close(): void;
  /** The driver is done with it for good. */
  release(): void;
}

export class ModbusConnection implements ModbusLink {
  readonly #o: ConnectionOptions;
  #client: ModbusRTU | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(opts: ConnectionOptions) { this.#o = opts; }

  get isOpen(): boolean { return this.#client?.isOpen ?? false; }

  async connect(signal: AbortSignal): Promise<void> {
    this.close();
    const client = new ModbusClient();
    const { host, port, unit, timeoutMs } = this.#o;
    const onAbort = () => client.destroy(() => {});
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      // modbus-serial's connectTCP has its own timeout option, but it leaves the socket half-open
      // on refusal; racing it against our own timer keeps one code path for every failure.
      await withTimeout(client.connectTCP(host, { port, timeout: timeoutMs }), timeoutMs,
        () => new CodedError('CE_ERR_MODBUS_CONNECT', `${host}:${port} did not accept a connection within ${timeoutMs} ms`));
    } catch (e) {
      client.destroy(() => {});
      if (e instanceof CodedError) throw e;
      throw new CodedError('CE_ERR_MODBUS_CONNECT', `${host}:${port}: ${(e as Error).message}`, {}, { cause: e });
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    client.setID(unit);
    client.setTimeout(timeoutMs);
    this.#client = client;
  }

  /** Reads `count` registers or bits of `table` starting at `start` (0-based PDU address). */
  read(table: ModbusTable, start: number, count: number): Promise<ReadWords | ReadBits> {
    return this.#serial(async () => {
      const c = this.#client;
      if (!c?.isOpen) throw new CodedError('CE_ERR_DEVICE_DISCONNECTED', 'not connected');
      try {
        switch (table) {
          case 'hr': return { kind: 'words', data: (await c.readHoldingRegisters(start, count)).data };
          case 'ir': return { kind: 'words', data: (await c.readInputRegisters(start, count)).data };
          case 'co': return { kind: 'bits', data: (await c.readCoils(start, count)).data.slice(0, count) };
          case 'di': return { kind: 'bits', data: (await c.readDiscreteInputs(start, count)).data.slice(0, count) };
        }
      } catch (e) {
        throw this.#coded(e, `${table}:${start}+${count}`);
      } finally {
        forgetTransactions(c);
      }
    });
  }

  write(table: 'hr' | 'co', start: number, values: number[] | boolean[]): Promise<void> {
    return this.#serial(async () => {
      const c = this.#client;
      if (!c?.isOpen) throw new CodedError('CE_ERR_DEVICE_DISCONNECTED', 'not connected');
      try {
        if (table === 'co') await (values.length === 1 ? c.writeCoil(start, values[0] as boolean) : c.writeCoils(start, values as boolean[]));
        else await (values.length === 1 ? c.writeRegister(start, values[0] as number) : c.writeRegisters(start, values as number[]));
      } catch (e) {
        throw this.#coded(e, `write ${table}:${start}+${values.length}`);
      } finally {
        forgetTransactions(c);
      }
    });
  }

  release(): void { this.close(); }

  close(): void {
    const c = this.#client;
    this.#client = undefined;
    // destroy, not close: close() is a polite FIN whose callback never comes on a socket the peer
    // already closed, and leaves a half-open socket behind when the cable is gone. destroy also
    // fails any request still waiting, so nothing hangs on it.
    c?.destroy(() => {});
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => {});
    return run;
  }

  #coded(e: unknown, what: string): CodedError {
    return codedModbusError(e, what, this.#client?.isOpen ?? false, this.#o.timeoutMs);
  }
}

/** modbus-serial's errors as coded ones: an exception, a timeout, or a line that went away. */
export function codedModbusError(e: unknown, what: string, stillOpen: boolean, timeoutMs: number): CodedError {
  if (e instanceof CodedError) return e;
  const err = e as { modbusCode?: number; name?: string; errno?: string; message?: string };
  if (typeof err.modbusCode === 'number') {
    const code = err.modbusCode === 2 ? 'CE_ERR_MODBUS_ILLEGAL_ADDRESS' : 'CE_ERR_MODBUS_EXCEPTION';
    return new CodedError(code, `${what}: exception ${err.modbusCode.toString(16).padStart(2, '0')}`, { exception: err.modbusCode });
  }
  if (!stillOpen) return new CodedError('CE_ERR_DEVICE_DISCONNECTED', `${what}: the device closed the connection`);
  if (err.name === 'TransactionTimedOutError' || err.errno === 'ETIMEDOUT') {
    return new CodedError('CE_ERR_MODBUS_TIMEOUT', `${what}: no answer within ${timeoutMs} ms`);
  }
  return new CodedError('CE_ERR_DEVICE_DISCONNECTED', `${what}: ${err.message ?? String(e)}`);
}

/**
 * modbus-serial keeps every transaction (request, responses, callback, decoded data) in a table of
 * 256 slots per connection until the slot is reused. At 4 requests/s that is a minute of garbage
 * per device that outlives the young generation, so V8 promotes it and RSS climbs (measured: about
 * 1 MB/s for 20 PLCs × 500 registers). Requests here are strictly one at a time and a late answer
 * after a timeout closes the connection anyway, so a finished transaction can go at once.
 */
export function forgetTransactions(client: ModbusRTU): void {
  const internals = client as unknown as { _transactions?: Record<number, unknown> };
  if (internals._transactions) internals._transactions = {};
}

export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(onTimeout()), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
