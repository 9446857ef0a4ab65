// The probe behind `cityedge scan`: which addresses of a Modbus TCP device answer. It talks to
// modbus-serial directly, not through the gateway's driver: a scan is one request at a time with its
// own rules (split on exception 02, give up after three silences), none of which a poll loop wants.
import ModbusSerial from 'modbus-serial';

// modbus-serial is CommonJS whose typings declare an ES default export; under NodeNext the default
// import is the module object, whose `default` is the client class (at run time too).
const ModbusClient = ModbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusClient>;

export type ScanTable = 'hr' | 'ir' | 'co' | 'di';
export const SCAN_TABLES: readonly ScanTable[] = ['hr', 'ir', 'co', 'di'];
export const isBitTable = (t: ScanTable): boolean => t === 'co' || t === 'di';

/** Addresses `start`…`end` of one table, 0-based as in the config, end inclusive. */
export interface ScanRange { table: ScanTable; start: number; end: number }

export interface ProbeOptions {
  host: string;
  port: number;
  unit: number;
  timeoutMs: number;
  /** Registers per request; bit tables read 8 times as many (one register's worth of bits each). */
  block: number;
  ranges: readonly ScanRange[];
  signal?: AbortSignal;
  /** Called after every request with the addresses covered so far and how many answered. */
  onProgress?(done: number, answering: number): void;
}

export interface ProbeResult {
  /** Per table, answering address → value (registers as uint16, bits as 0/1). */
  answered: Map<ScanTable, Map<number, number>>;
  requests: number;
  /** Requests that got no answer in time (`hr:40-49`, or one address `hr:40`). */
  timedOut: string[];
  /** Exception code (two hex digits) → count, for the requests that got one. */
  exceptions: Record<string, number>;
  /** Why the scan stopped early (a silent device, a refused connection), if it did. */
  stopped: string | null;
  interrupted: boolean;
  /** Addresses scanned; less than asked when the scan stopped or was interrupted. */
  covered: number;
}

/** How many requests in a row may go unanswered before the device counts as silent. */
export const SILENT_AFTER = 3;

type Outcome =
  | { kind: 'ok'; values: number[] }
  | { kind: 'exception'; code: number }
  | { kind: 'timeout' }
  | { kind: 'closed'; message: string };

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
const where = (table: ScanTable, start: number, count: number): string =>
  count === 1 ? `${table}:${start}` : `${table}:${start}-${start + count - 1}`;

export async function probe(o: ProbeOptions): Promise<ProbeResult> {
  const result: ProbeResult = {
    answered: new Map(SCAN_TABLES.map((t) => [t, new Map<number, number>()])),
    requests: 0, timedOut: [], exceptions: {}, stopped: null, interrupted: false, covered: 0,
  };
  const target = `${o.host}:${o.port}`;
  let client: ModbusRTU | undefined;
  let silentInARow = 0;
  let done = 0;
  let answering = 0;

  const connect = async (): Promise<string | null> => {
    client?.destroy(() => {});
    const c = new ModbusClient();
    let timer: NodeJS.Timeout | undefined;
    try {
      // Raced against our own timer: modbus-serial's connect timeout leaves the socket half-open
      // on some failures, and a scan must never hang on a dead address.
      await Promise.race([
        c.connectTCP(o.host, { port: o.port, timeout: o.timeoutMs }),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no connection within ${o.timeoutMs} ms`)), o.timeoutMs); }),
      ]);
    } catch (e) {
      c.destroy(() => {});
      const err = e as NodeJS.ErrnoException;
      return `cannot connect to ${target}: ${err.code ?? err.message}`;
    } finally {
      clearTimeout(timer);
    }
    c.setID(o.unit);
    c.setTimeout(o.timeoutMs);
    client = c;
    return null;
  };

  const read = async (table: ScanTable, start: number, count: number): Promise<Outcome> => {
    const c = client!;
    result.requests++;
    try {
      switch (table) {
        case 'hr': return { kind: 'ok', values: (await c.readHoldingRegisters(start, count)).data };
        case 'ir': return { kind: 'ok', values: (await c.readInputRegisters(start, count)).data };
        case 'co': return { kind: 'ok', values: (await c.readCoils(start, count)).data.slice(0, count).map(Number) };
        case 'di': return { kind: 'ok', values: (await c.readDiscreteInputs(start, count)).data.slice(0, count).map(Number) };
      }
    } catch (e) {
      const err = e as { modbusCode?: number; name?: string; errno?: string; message?: string };
      if (typeof err.modbusCode === 'number') return { kind: 'exception', code: err.modbusCode };
      if (!c.isOpen) return { kind: 'closed', message: err.message ?? String(e) };
      if (err.name === 'TransactionTimedOutError' || err.errno === 'ETIMEDOUT') return { kind: 'timeout' };
      return { kind: 'closed', message: err.message ?? String(e) };
    } finally {
      // A scan is strictly one request at a time: a finished transaction can go at once.
      const internals = c as unknown as { _transactions?: Record<number, unknown> };
      if (internals._transactions) internals._transactions = {};
    }
  };

  /**
   * One request, with the bookkeeping every request shares: exceptions counted, silences counted
   * and the connection renewed after one (so a late answer can never be taken for the next
   * request's), a dropped connection reopened once. Returns null when the scan must stop.
   */
  const request = async (table: ScanTable, start: number, count: number): Promise<Outcome | null> => {
    let out = await read(table, start, count);
    if (out.kind === 'closed') {
      // Some devices drop the connection on a request they dislike; reopen and ask once more.
      const refused = await connect();
      if (refused) { result.stopped = `${target} closed the connection (${out.message}) and ${refused.replace(/^cannot connect to \S+: /, 'refuses a new one: ')}`; return null; }
      out = await read(table, start, count);
    }
    if (out.kind === 'exception') result.exceptions[hex2(out.code)] = (result.exceptions[hex2(out.code)] ?? 0) + 1;
    // 0A/0B come from a Modbus gateway whose device behind it is silent: a silence as well (AP §7).
    const silent = out.kind === 'timeout' || out.kind === 'closed' || (out.kind === 'exception' && (out.code === 0x0a || out.code === 0x0b));
    if (!silent) { silentInARow = 0; return out; }
    silentInARow++;
    result.timedOut.push(where(table, start, count));
    if (silentInARow >= SILENT_AFTER) {
      const why = out.kind === 'exception'
        ? `the Modbus gateway at ${target} answers exception ${hex2(out.code)} (its target device does not respond)`
        : out.kind === 'closed' ? `${target} keeps closing the connection (${out.message})`
        : `${target} does not answer`;
      result.stopped = `${SILENT_AFTER} requests in a row got no answer (last ${where(table, start, count)}): ${why}; ` +
        `the device is silent or unit id ${o.unit} is wrong`;
      return null;
    }
    if (out.kind === 'timeout') {
      const refused = await connect();
      if (refused) { result.stopped = refused; return null; }
    }
    return out;
  };

  const record = (table: ScanTable, start: number, values: number[]): void => {
    const m = result.answered.get(table)!;
    values.forEach((v, i) => { if (!m.has(start + i)) answering++; m.set(start + i, v); });
  };

  const refused = await connect();
  if (refused) { result.stopped = refused; return result; }
  try {
    ranges: for (const r of o.ranges) {
      const size = isBitTable(r.table) ? o.block * 8 : o.block;
      for (let a = r.start; a <= r.end; a += size) {
        if (o.signal?.aborted) { result.interrupted = true; break ranges; }
        const n = Math.min(size, r.end - a + 1);
        const out = await request(r.table, a, n);
        if (!out) break ranges;
        if (out.kind === 'ok') {
          record(r.table, a, out.values);
        } else if (out.kind === 'exception' && out.code === 0x01) {
          // Illegal function: the device has no such table at all; every further block would say so.
          done += r.end - a + 1;
          o.onProgress?.(done, answering);
          continue ranges;
        } else if (out.kind === 'exception' && n > 1) {
          // 02 (illegal data address) means some address of the block is not there (AP §7); 03 and 04
          // are what some devices say instead. One address at a time finds the ones that are.
          for (let s = a; s < a + n; s++) {
            if (o.signal?.aborted) { result.interrupted = true; break ranges; }
            const one = await request(r.table, s, 1);
            if (!one) break ranges;
            if (one.kind === 'ok') record(r.table, s, one.values);
            if (one.kind === 'exception' && one.code === 0x01) break;
          }
        }
        done += n;
        o.onProgress?.(done, answering);
      }
    }
  } finally {
    client?.destroy(() => {});
  }
  result.covered = done;
  return result;
}
