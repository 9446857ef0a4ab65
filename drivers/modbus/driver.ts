// The Modbus TCP driver: walks the read plan built at configuration time, decodes each tag, and
// keeps one bad device or one bad tag from harming anything else.
import {
  Backoff, CodedError, isCoded, parseModbusAddress, registerSpan, silentLogger, systemClock, tagPath,
  type Clock, type DeviceDriver, type Logger, type ModbusAddress, type ModbusTagConfig,
  type ModbusTcpDeviceConfig, type Sample, type ScanResult,
} from '../../gateway/model/index.ts';
import { decodeRegisters, type ValueFormat } from './codec.ts';
import { describePlan, planReads, splitRequest, type PlanTag, type ReadRequest } from './planner.ts';
import { ModbusConnection } from './connection.ts';

export interface ModbusDriverOptions {
  clock?: Clock;
  logger?: Logger;
  /** How often a tag isolated after exception 02 is tried again (ms). */
  isolatedRetryMs?: number;
  /** Injected for tests; the default talks to the device over TCP. */
  connection?: ModbusConnection;
}

interface TagState { cfg: ModbusTagConfig; path: string; addr: ModbusAddress; fmt: ValueFormat; plan: PlanTag }

export class ModbusTcpDriver implements DeviceDriver {
  readonly deviceId: string;
  readonly #dev: ModbusTcpDeviceConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #conn: ModbusConnection;
  readonly #tags: TagState[];
  readonly #byName: Map<string, TagState>;
  readonly #backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  readonly #isolatedRetryMs: number;
  /** Requests that drew exception 02 on their own: tried again only every isolatedRetryMs. */
  readonly #isolated = new Map<ReadRequest, { error: CodedError; retryAt: number }>();
  #plan: ReadRequest[];
  #nextConnectAt = 0;
  #lastError: CodedError | undefined;

  constructor(device: ModbusTcpDeviceConfig, opts: ModbusDriverOptions = {}) {
    this.deviceId = device.id;
    this.#dev = device;
    this.#clock = opts.clock ?? systemClock;
    this.#log = (opts.logger ?? silentLogger).child({ device: device.id });
    this.#isolatedRetryMs = opts.isolatedRetryMs ?? 60_000;
    this.#conn = opts.connection ?? new ModbusConnection({ host: device.host, port: device.port, unit: device.unit, timeoutMs: device.timeout_ms });
    this.#tags = device.tags.map((cfg) => {
      const addr = parseModbusAddress(cfg.address);
      if ('error' in addr) throw new Error(`${device.id}.${cfg.name}: ${addr.error}`); // the loader refuses these first
      const fmt: ValueFormat = { type: cfg.type, order: cfg.order, scale: cfg.scale, offset: cfg.offset, bit: addr.bit, length: cfg.length };
      const plan: PlanTag = { name: cfg.name, unit: device.unit, table: addr.table, index: addr.index, span: registerSpan(cfg.type, cfg.length) };
      return { cfg, path: tagPath(device.id, cfg.name), addr, fmt, plan };
    });
    this.#byName = new Map(this.#tags.map((t) => [t.cfg.name, t]));
    this.#plan = planReads(this.#tags.map((t) => t.plan), {
      maxRegisters: device.max_registers, maxBits: device.max_bits, maxGap: device.max_gap, maxBitGap: device.max_gap * 16,
    });
  }

  readPlan(): string[] { return describePlan(this.#plan); }
  get requestsPerScan(): number { return this.#plan.length; }

  async scan(signal: AbortSignal): Promise<ScanResult> {
    if (!this.#conn.isOpen) {
      const failed = await this.#connect(signal);
      if (failed) return this.#allBad(failed, 0);
    }
    const read = new Map<string, Sample>();
    const tagErrors = new Map<string, CodedError>();
    const newPlan: ReadRequest[] = [];
    let requests = 0;
    for (let i = 0; i < this.#plan.length; i++) {
      const req = this.#plan[i]!;
      if (signal.aborted) break;
      try {
        const r = await this.#read(req, read, tagErrors);
        requests += r.requests;
        newPlan.push(...r.parts);
      } catch (e) {
        // Timeout or lost connection: the device as a whole is gone for this scan. Drop the
        // connection so the next scan starts clean instead of reading late answers.
        const err = isCoded(e) ? e : new CodedError('CE_ERR_DEVICE_DISCONNECTED', String(e));
        await this.#conn.close();
        this.#deviceFailed(err);
        newPlan.push(...this.#plan.slice(i));
        this.#plan = newPlan;
        return this.#allBad(err, requests + 1);
      }
    }
    if (newPlan.length !== this.#plan.length) {
      this.#plan = newPlan;
      this.#log.warn({ plan: this.readPlan() }, 'read plan changed after an illegal-address exception');
    }
    this.#deviceOk();
    const ts = this.#clock.now();
    const samples = this.#tags.map((t) => read.get(t.cfg.name) ?? { tag: t.path, value: null, quality: 'bad' as const, ts });
    return { samples, requests, ...(tagErrors.size > 0 ? { tagErrors } : {}) };
  }

  async close(): Promise<void> { await this.#conn.close(); }

  async #connect(signal: AbortSignal): Promise<CodedError | undefined> {
    const now = this.#clock.now();
    if (now < this.#nextConnectAt) return this.#lastError;
    try {
      await this.#conn.connect(signal);
      this.#backoff.reset();
      return undefined;
    } catch (e) {
      const err = isCoded(e) ? e : new CodedError('CE_ERR_MODBUS_CONNECT', String(e));
      this.#nextConnectAt = now + this.#backoff.next();
      this.#deviceFailed(err);
      return err;
    }
  }

  /** Reads one request; on exception 02 bisects it so a bad tag cannot poison its neighbours. */
  async #read(req: ReadRequest, out: Map<string, Sample>, errors: Map<string, CodedError>): Promise<{ requests: number; parts: ReadRequest[] }> {
    const isolated = this.#isolated.get(req);
    if (isolated && this.#clock.now() < isolated.retryAt) {
      this.#markBad(req, isolated.error, out, errors);
      return { requests: 0, parts: [req] };
    }
    try {
      const res = await this.#conn.read(req.table, req.start, req.count);
      const ts = this.#clock.now();
      this.#isolated.delete(req);
      for (const pt of req.tags) {
        const t = this.#byName.get(pt.name)!;
        const off = pt.index - req.start;
        const sample = res.kind === 'bits'
          ? { tag: t.path, value: res.data[off] ?? null, quality: res.data[off] === undefined ? 'bad' as const : 'good' as const, ts }
          : this.#decode(t, res.data.slice(off, off + pt.span), ts, errors);
        out.set(pt.name, sample);
      }
      return { requests: 1, parts: [req] };
    } catch (e) {
      if (isCoded(e, 'CE_ERR_MODBUS_ILLEGAL_ADDRESS')) {
        const parts = splitRequest(req);
        if (parts.length === 1) {
          const names = req.tags.map((t) => t.name).join(', ');
          const err = new CodedError('CE_ERR_MODBUS_ILLEGAL_ADDRESS', `${this.deviceId}: ${names} at ${req.table}:${req.start}`);
          if (!this.#isolated.has(req)) this.#log.warn({ tags: names, code: err.code }, 'tag isolated: the device has no such address');
          this.#isolated.set(req, { error: err, retryAt: this.#clock.now() + this.#isolatedRetryMs });
          this.#markBad(req, err, out, errors);
          return { requests: 1, parts: [req] };
        }
        let requests = 1;
        const kept: ReadRequest[] = [];
        for (const p of parts) {
          const r = await this.#read(p, out, errors);
          requests += r.requests;
          kept.push(...r.parts);
        }
        return { requests, parts: kept };
      }
      if (isCoded(e, 'CE_ERR_MODBUS_EXCEPTION')) {
        // Server busy, device failure and the like concern this request only; the rest of the
        // scan goes on. Quality bad: we have no fresh value to give.
        this.#markBad(req, e, out, errors);
        return { requests: 1, parts: [req] };
      }
      throw e;
    }
  }

  #decode(t: TagState, words: number[], ts: number, errors: Map<string, CodedError>): Sample {
    try {
      const value = decodeRegisters(words, t.fmt);
      if (typeof value === 'number' && !Number.isFinite(value)) {
        // A float register holding NaN or ±Inf is how many instruments say "sensor fault".
        errors.set(t.cfg.name, new CodedError('CE_ERR_MODBUS_DECODE', `${t.path} read ${value}`));
        return { tag: t.path, value: null, quality: 'bad', ts };
      }
      return { tag: t.path, value, quality: 'good', ts };
    } catch (e) {
      errors.set(t.cfg.name, new CodedError('CE_ERR_MODBUS_DECODE', `${t.path}: ${(e as Error).message}`));
      return { tag: t.path, value: null, quality: 'bad', ts };
    }
  }

  #markBad(req: ReadRequest, err: CodedError, out: Map<string, Sample>, errors: Map<string, CodedError>): void {
    const ts = this.#clock.now();
    for (const pt of req.tags) {
      out.set(pt.name, { tag: this.#byName.get(pt.name)!.path, value: null, quality: 'bad', ts });
      errors.set(pt.name, err);
    }
  }

  #allBad(error: CodedError, requests: number): ScanResult {
    const ts = this.#clock.now();
    return { samples: this.#tags.map((t) => ({ tag: t.path, value: null, quality: 'bad', ts })), requests, error };
  }

  #deviceFailed(err: CodedError): void {
    if (!this.#lastError) this.#log.warn({ code: err.code, hint: err.hint }, err.message);
    this.#lastError = err;
  }

  #deviceOk(): void {
    if (this.#lastError) this.#log.info('device answers again');
    this.#lastError = undefined;
  }
}
