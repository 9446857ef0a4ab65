// What the Modbus driver needs of a device's line, and the helpers for modbus-serial, which carries
// the RTU lines (rtu-bus.ts). A Modbus TCP device has a connection of its own (mbap-client.ts).
import type ModbusSerial from 'modbus-serial';
import { CodedError, type ModbusTable } from '../../gateway/model/index.ts';

// modbus-serial is CommonJS whose typings declare an ES default export; under NodeNext the default
// import is the module object, whose `default` is the client class (at run time too).
type ModbusRTU = InstanceType<typeof ModbusSerial.default>;

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

/**
 * A Modbus exception answer as the driver expects it, whichever client got it: exception 02 (illegal
 * data address) has a code of its own, because the driver splits the request to isolate the tag.
 */
export function exceptionError(what: string, exception: number): CodedError {
  return new CodedError(exception === 2 ? 'CE_ERR_MODBUS_ILLEGAL_ADDRESS' : 'CE_ERR_MODBUS_EXCEPTION',
    `${what}: exception ${exception.toString(16).padStart(2, '0')}`, { exception });
}

/** modbus-serial's errors as coded ones: an exception, a timeout, or a line that went away. */
export function codedModbusError(e: unknown, what: string, stillOpen: boolean, timeoutMs: number): CodedError {
  if (e instanceof CodedError) return e;
  const err = e as { modbusCode?: number; name?: string; errno?: string; message?: string };
  if (typeof err.modbusCode === 'number') return exceptionError(what, err.modbusCode);
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
