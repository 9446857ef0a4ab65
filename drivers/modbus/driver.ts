// The Modbus driver, TCP or RTU: walks the read plan built at configuration time, decodes each tag,
// and keeps one bad device or one bad tag from harming anything else. An RTU device is one unit on a
// shared line (rtu-bus.ts): a unit that stops answering is backed off like a TCP device that does,
// so it does not eat the line's time; the others on the line read on.
import {
  Backoff, CodedError, checkWrite, isCoded, parseModbusAddress, registerSpan, silentLogger, systemClock, tagPath,
  type Clock, type DeviceDriver, type Logger, type ModbusTagConfig,
  type ModbusRtuDeviceConfig, type ModbusTcpDeviceConfig, type Sample, type ScanResult, type Value,
} from '../../gateway/model/index.ts';
import { decodeRegisters, encodeValue, type ValueFormat } from './codec.ts';
import { describePlan, planReads, splitRequest, type PlanTag, type ReadRequest } from './planner.ts';
import type { ModbusLink } from './connection.ts';
import { MbapConnection } from './mbap-client.ts';
import { RtuBus } from './rtu-bus.ts';

export type ModbusDeviceConfig = ModbusTcpDeviceConfig | ModbusRtuDeviceConfig;

export interface ModbusDriverOptions {
  clock?: Clock;
  logger?: Logger;
  /** How often a tag isolated after exception 02 is tried again (ms). */
  isolatedRetryMs?: number;
}

const TABLES = ['hr', 'ir', 'co', 'di'];
const isolationKey = (req: ReadRequest): string => req.tags.map((t) => t.name).join(',');
const noneIsolated = new Map<string, never>();

/**
 * A tag as the driver keeps it: its value format on the record itself, not in an object of its own
 * (10,000 tags are 10,000 records). `index`: its place in the device's tag list, and so in a scan's
 * samples. Where it lives is in `plan` (table, index) and, for a bit of a register, `bit`.
 */
interface TagState extends ValueFormat { cfg: ModbusTagConfig; path: string; plan: PlanTag; index: number }

export class ModbusDriver implements DeviceDriver {
  readonly deviceId: string;
  readonly #dev: ModbusDeviceConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #conn: ModbusLink;
  readonly #tags: TagState[];
  readonly #byName: Map<string, TagState>;
  readonly #states = new WeakMap<ReadRequest, TagState[]>();
  readonly #backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  readonly #isolatedRetryMs: number;
  /** Tags that drew exception 02 on their own, by tag names: tried again only every isolatedRetryMs. */
  readonly #isolated = new Map<string, { req: ReadRequest; error: CodedError; retryAt: number }>();
  #plan: ReadRequest[];
  /** Addresses a request must not reach across: gaps that drew exception 02 when bridged. */
  readonly #barriers: { table: string; at: number }[] = [];
  /** Set when a tag was isolated or answered again: the plan is rebuilt after the scan. */
  #planStale = false;
  #nextConnectAt = 0;
  #lastError: CodedError | undefined;
  /** Tags currently bad for a reason of their own, with the code last logged. */
  readonly #tagFaults = new Map<string, string>();

  constructor(device: ModbusDeviceConfig, opts: ModbusDriverOptions = {}) {
    this.deviceId = device.id;
    this.#dev = device;
    this.#clock = opts.clock ?? systemClock;
    this.#log = (opts.logger ?? silentLogger).child({ device: device.id });
    this.#isolatedRetryMs = opts.isolatedRetryMs ?? 60_000;
    this.#conn = device.driver === 'modbus-rtu'
      ? RtuBus.acquire(device).unit(device.unit, device.timeout_ms)
      : new MbapConnection({ host: device.host, port: device.port, unit: device.unit, timeoutMs: device.timeout_ms });
    this.#tags = device.tags.map((cfg, index) => {
      const addr = parseModbusAddress(cfg.address);
      if ('error' in addr) throw new Error(`${device.id}.${cfg.name}: ${addr.error}`); // the loader refuses these first
      const plan: PlanTag = { name: cfg.name, unit: device.unit, table: addr.table, index: addr.index, span: registerSpan(cfg.type, cfg.length) };
      return {
        cfg, path: tagPath(device.id, cfg.name), plan, index,
        type: cfg.type, order: cfg.order, scale: cfg.scale, offset: cfg.offset, bit: addr.bit, length: cfg.length,
      };
    });
    this.#byName = new Map(this.#tags.map((t) => [t.cfg.name, t]));
    this.#plan = this.#buildPlan();
  }

  readPlan(): string[] { return describePlan(this.#plan); }
  get requestsPerScan(): number { return this.#plan.length; }

  async scan(signal: AbortSignal): Promise<ScanResult> {
    if (!this.#conn.isOpen) {
      const failed = await this.#connect(signal);
      if (failed) return this.#allBad(failed, 0);
    }
    // By tag index, not by name: a map of the scan's samples would be garbage at the poll rate.
    const read = new Array<Sample | undefined>(this.#tags.length);
    const tagErrors = new Map<string, CodedError>();
    let requests = 0;
    for (const req of this.#plan) {
      if (signal.aborted) break;
      try {
        requests += (await this.#read(req, read, tagErrors)).requests;
      } catch (e) {
        // Timeout or lost connection: the device as a whole is gone for this scan. Drop the
        // connection so the next scan starts clean instead of reading late answers.
        const err = isCoded(e) ? e : new CodedError('CE_ERR_DEVICE_DISCONNECTED', String(e));
        this.#conn.close();
        // Back off before reconnecting, as after a refused connect: a device that accepts and
        // then never answers must not be reconnected every scan (serial gateways have 2–4 slots).
        this.#nextConnectAt = this.#clock.now() + this.#backoff.next();
        this.#deviceFailed(err);
        return this.#allBad(err, requests + 1);
      }
    }
    if (this.#planStale) {
      this.#planStale = false;
      this.#plan = this.#buildPlan();
      this.#log.warn({ plan: this.readPlan() }, 'read plan rebuilt around isolated addresses');
    }
    this.#deviceOk();
    this.#reportTagFaults(tagErrors);
    const ts = this.#clock.now();
    for (let i = 0; i < read.length; i++) read[i] ??= { tag: this.#tags[i]!.path, value: null, quality: 'bad', ts };
    return { samples: read as Sample[], requests, ...(tagErrors.size > 0 ? { tagErrors } : {}) };
  }

  /**
   * The plan: every healthy tag merged as tightly as the limits allow, never across an isolated
   * address or an unreadable gap (bridging it would draw exception 02 again), plus one request per
   * isolated tag.
   */
  #buildPlan(): ReadRequest[] {
    const limits = {
      maxRegisters: this.#dev.max_registers, maxBits: this.#dev.max_bits,
      maxGap: this.#dev.max_gap, maxBitGap: this.#dev.max_gap * 16,
    };
    const bad = [...this.#isolated.values()].map((i) => i.req);
    const badNames = new Set(bad.flatMap((r) => r.tags.map((t) => t.name)));
    // Tags between two isolated addresses of the same table form a segment, planned on its own.
    const segments = new Map<string, PlanTag[]>();
    for (const t of this.#tags) {
      if (badNames.has(t.cfg.name)) continue;
      const barrier = bad.filter((r) => r.table === t.plan.table && r.start <= t.plan.index).length +
        this.#barriers.filter((b) => b.table === t.plan.table && b.at <= t.plan.index).length;
      const key = `${t.plan.table}/${barrier}`;
      const seg = segments.get(key);
      if (seg) seg.push(t.plan); else segments.set(key, [t.plan]);
    }
    const plan = [...segments.values()].flatMap((seg) => planReads(seg, limits));
    return [...plan, ...bad].sort((a, b) => TABLES.indexOf(a.table) - TABLES.indexOf(b.table) || a.start - b.start);
  }

  async close(): Promise<void> { this.#conn.release(); }

  /**
   * Writes a tag marked writable, within its min / max, encoded as the tag is read (scale, offset,
   * word order), then reads it back: the value returned is what the device holds afterwards, which
   * a cabinet controller may have clamped or refused to change.
   */
  async write(tagName: string, value: Value): Promise<Value | null> {
    const t = this.#byName.get(tagName);
    checkWrite(`${this.deviceId}.${tagName}`, t?.cfg, value);
    if (!t) return null;
    if (t.plan.table !== 'hr' && t.plan.table !== 'co') throw new CodedError('CE_ERR_WRITE_FORBIDDEN', `${t.path}: ${t.plan.table}: is read-only in Modbus`);
    if (!this.#conn.isOpen) throw new CodedError('CE_ERR_DEVICE_DISCONNECTED', `${this.deviceId}: not connected`);
    try {
      if (t.plan.table === 'co') {
        if (typeof value !== 'boolean' && value !== 0 && value !== 1) throw new CodedError('CE_ERR_WRITE_RANGE', `${t.path}: a coil takes true, false, 0 or 1`);
        await this.#conn.write('co', t.plan.index, [value === true || value === 1]);
      } else {
        // A bit of a register keeps its other 15 bits: read, change one, write the word back.
        const current = t.bit !== undefined ? ((await this.#conn.read('hr', t.plan.index, 1)) as { data: number[] }).data[0] : undefined;
        let words: number[];
        try {
          words = encodeValue(value, t, current);
        } catch (e) {
          throw new CodedError('CE_ERR_WRITE_RANGE', `${t.path}: ${(e as Error).message}`);
        }
        await this.#conn.write('hr', t.plan.index, words);
      }
    } catch (e) {
      if (isCoded(e, 'CE_ERR_MODBUS_EXCEPTION') || isCoded(e, 'CE_ERR_MODBUS_ILLEGAL_ADDRESS')) throw new CodedError('CE_ERR_WRITE_REFUSED', `${t.path}: ${e.message}`);
      throw e;
    }
    const back = await this.#conn.read(t.plan.table, t.plan.index, t.plan.span);
    if (back.kind === 'bits') return back.data[0] ?? null;
    return decodeRegisters(back.data, t, 0);
  }

  async #connect(signal: AbortSignal): Promise<CodedError | undefined> {
    const now = this.#clock.now();
    if (now < this.#nextConnectAt) return this.#lastError;
    try {
      await this.#conn.connect(signal);
      return undefined;
    } catch (e) {
      const err = isCoded(e) ? e : new CodedError('CE_ERR_MODBUS_CONNECT', String(e));
      this.#nextConnectAt = now + this.#backoff.next();
      this.#deviceFailed(err);
      return err;
    }
  }

  /** Reads one request; on exception 02 bisects it so a bad tag cannot poison its neighbours. */
  async #read(req: ReadRequest, out: (Sample | undefined)[], errors: Map<string, CodedError>): Promise<{ requests: number; clean: boolean }> {
    // The key is built only when some tag is isolated: this runs for every request of every scan.
    const key = this.#isolated.size > 0 ? isolationKey(req) : '';
    const isolated = (this.#isolated.size > 0 ? this.#isolated : noneIsolated).get(key);
    if (isolated && this.#clock.now() < isolated.retryAt) {
      this.#markBad(req, isolated.error, out, errors);
      return { requests: 0, clean: false };
    }
    try {
      const res = await this.#conn.read(req.table, req.start, req.count);
      const ts = this.#clock.now();
      if (isolated) {
        this.#isolated.delete(key);
        this.#planStale = true;
      }
      const states = this.#statesOf(req);
      for (let i = 0; i < req.tags.length; i++) {
        const pt = req.tags[i]!;
        const t = states[i]!;
        const off = pt.index - req.start;
        const sample = res.kind === 'bits'
          ? { tag: t.path, value: res.data[off] ?? null, quality: res.data[off] === undefined ? 'bad' as const : 'good' as const, ts }
          : this.#decode(t, res.data, off, ts, errors);
        out[t.index] = sample;
      }
      return { requests: 1, clean: true };
    } catch (e) {
      if (isCoded(e, 'CE_ERR_MODBUS_ILLEGAL_ADDRESS')) {
        const parts = splitRequest(req);
        if (parts.length === 1) {
          const key = isolationKey(req);
          const err = new CodedError('CE_ERR_MODBUS_ILLEGAL_ADDRESS', `${this.deviceId}: ${key} at ${req.table}:${req.start}`);
          this.#isolated.set(key, { req, error: err, retryAt: this.#clock.now() + this.#isolatedRetryMs });
          if (!isolated) this.#planStale = true;
          this.#markBad(req, err, out, errors);
          return { requests: 1, clean: false };
        }
        let requests = 1;
        let clean = true;
        for (const p of parts) {
          const r = await this.#read(p, out, errors);
          requests += r.requests;
          clean &&= r.clean;
        }
        // Both halves read fine, so the address the device lacks lies in the gap the request had
        // bridged (max_gap): never bridge it again.
        const [a, b] = parts;
        if (clean && a && b && a.start + a.count < b.start) {
          this.#barriers.push({ table: b.table, at: b.start });
          this.#planStale = true;
          this.#log.warn({ table: b.table, from: a.start + a.count, to: b.start - 1 }, 'unreadable gap: no longer bridged');
        }
        return { requests, clean: false };
      }
      if (isCoded(e, 'CE_ERR_MODBUS_EXCEPTION')) {
        // Server busy, device failure and the like concern this request only; the rest of the
        // scan goes on. Quality bad: we have no fresh value to give.
        this.#markBad(req, e, out, errors);
        return { requests: 1, clean: true };
      }
      throw e;
    }
  }

  /** The tags of a request as the driver's own records, looked up once per request, not per scan. */
  #statesOf(req: ReadRequest): TagState[] {
    let states = this.#states.get(req);
    if (!states) {
      states = req.tags.map((pt) => this.#byName.get(pt.name)!);
      this.#states.set(req, states);
    }
    return states;
  }

  #decode(t: TagState, words: number[], at: number, ts: number, errors: Map<string, CodedError>): Sample {
    try {
      const value = decodeRegisters(words, t, at);
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

  #markBad(req: ReadRequest, err: CodedError, out: (Sample | undefined)[], errors: Map<string, CodedError>): void {
    const ts = this.#clock.now();
    for (const t of this.#statesOf(req)) {
      out[t.index] = { tag: t.path, value: null, quality: 'bad', ts };
      errors.set(t.cfg.name, err);
    }
  }

  #allBad(error: CodedError, requests: number): ScanResult {
    const ts = this.#clock.now();
    return { samples: this.#tags.map((t) => ({ tag: t.path, value: null, quality: 'bad', ts })), requests, error };
  }

  /**
   * Logs a tag turning bad (isolated address, exception, undecodable or NaN value) and turning good
   * again: once per change, not once per scan, so a technician sees why without a flood.
   */
  #reportTagFaults(errors: ReadonlyMap<string, CodedError>): void {
    for (const [name, err] of errors) {
      if (this.#tagFaults.get(name) === err.code) continue;
      this.#tagFaults.set(name, err.code);
      this.#log.warn({ tag: name, code: err.code, hint: err.hint }, `tag ${name} is bad: ${err.message}`);
    }
    for (const name of this.#tagFaults.keys()) {
      if (errors.has(name)) continue;
      this.#tagFaults.delete(name);
      this.#log.info({ tag: name }, `tag ${name} reads good again`);
    }
  }

  #deviceFailed(err: CodedError): void {
    if (!this.#lastError) this.#log.warn({ code: err.code, hint: err.hint }, err.message);
    this.#lastError = err;
  }

  #deviceOk(): void {
    this.#backoff.reset();
    if (this.#lastError) this.#log.info('device answers again');
    this.#lastError = undefined;
  }
}

/** The name the TCP-only driver had; the same class reads RTU devices. */
export { ModbusDriver as ModbusTcpDriver };
