// The OPC UA driver: tags by NodeId or browse path, read by subscription (monitored items) or by a
// Read per scan, chosen per device. Each scan hands the scheduler every change the server published
// since the last one, oldest first, and the last known value of each unchanged tag, so report by
// exception and alarms see one stream whichever mode is used. A server restart or a lost session
// turns every tag bad at the next scan and the link is rebuilt whole (link.ts).
import { join } from 'node:path';
import {
  Backoff, CodedError, checkWrite, silentLogger, systemClock, tagPath,
  type Clock, type DeviceDriver, type Logger, type OpcuaDeviceConfig, type OpcuaTagConfig, type Sample, type ScanResult, type Value,
} from '../../gateway/model/index.ts';
import { OpcuaLink, type LinkOptions } from './link.ts';
import { monitor, type MonitorResult } from './monitor.ts';
import { qualityOf, timeOf, valueOf, type DataValueLike } from './values.ts';
import { coerceWrite } from './write.ts';

export interface OpcuaDriverOptions {
  clock?: Clock;
  logger?: Logger;
  /** The data folder: the client certificate and the trusted server certificates go under `pki/opcua`. */
  dataDir: string;
  /** Trust a server certificate seen for the first time (`cityedge run --trust`). */
  trustServers?: boolean;
}

/** Nodes per Read request: Part 4 leaves the limit to the server (MaxNodesPerRead). */
const READ_BATCH = 500;

interface TagState { cfg: OpcuaTagConfig; path: string; nodeId: string | undefined; last: Sample | undefined; queue: Sample[]; error: CodedError | undefined }

export class OpcuaDriver implements DeviceDriver {
  readonly deviceId: string;
  readonly #dev: OpcuaDeviceConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #link: LinkOptions;
  readonly #tags: TagState[];
  readonly #byName: Map<string, TagState>;
  readonly #backoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });
  #conn: { link: OpcuaLink; monitor: MonitorResult | undefined } | undefined;
  #lost: string | undefined;
  #nextConnectAt = 0;
  #lastError: CodedError | undefined;
  #dataTypes = new Map<string, number>();

  constructor(device: OpcuaDeviceConfig, opts: OpcuaDriverOptions) {
    this.deviceId = device.id;
    this.#dev = device;
    this.#clock = opts.clock ?? systemClock;
    this.#log = (opts.logger ?? silentLogger).child({ device: device.id });
    this.#link = {
      endpoint: device.endpoint, securityMode: device.security_mode, securityPolicy: device.security_policy,
      ...(device.username !== undefined ? { username: device.username } : {}),
      ...(device.password !== undefined ? { password: device.password } : {}),
      timeoutMs: device.timeout_ms, pkiDir: join(opts.dataDir, 'pki', 'opcua'), trustUnknown: opts.trustServers ?? false,
    };
    this.#tags = device.tags.map((cfg) => ({ cfg, path: tagPath(device.id, cfg.name), nodeId: cfg.node, last: undefined, queue: [], error: undefined }));
    this.#byName = new Map(this.#tags.map((t) => [t.cfg.name, t]));
  }

  get requestsPerScan(): number {
    return this.#dev.mode === 'poll' ? Math.ceil(this.#tags.length / READ_BATCH) : 0;
  }

  readPlan(): string[] {
    const n = this.#tags.length;
    const sec = this.#dev.security_mode === 'None' ? 'no security' : `${this.#dev.security_mode} ${this.#dev.security_policy ?? 'Basic256Sha256'}`;
    return this.#dev.mode === 'poll'
      ? [`${this.#dev.endpoint} (${sec}): Read of ${n} node(s) every ${this.#dev.poll_ms} ms in ${this.requestsPerScan} request(s)`]
      : [`${this.#dev.endpoint} (${sec}): 1 subscription publishing every ${this.#dev.poll_ms} ms, ${n} monitored item(s) sampled every ${this.#dev.sampling_ms ?? this.#dev.poll_ms} ms`];
  }

  async scan(signal: AbortSignal): Promise<ScanResult> {
    const now = this.#clock.now();
    const conn = this.#conn;
    if (conn && (!conn.link.alive || this.#lost !== undefined || (conn.monitor && now - conn.monitor.lastHeard() > conn.monitor.deadlineMs))) {
      await this.#drop(this.#lost ?? (conn.link.alive ? 'the server stopped publishing' : 'link lost'));
    }
    if (!this.#conn) {
      if (now < this.#nextConnectAt || signal.aborted) return this.#allBad(now, this.#lastError);
      try {
        await this.#connect();
      } catch (e) {
        const err = e instanceof CodedError ? e : new CodedError('CE_ERR_OPCUA_CONNECT', `${this.#dev.endpoint}: ${(e as Error).message}`);
        this.#nextConnectAt = this.#clock.now() + this.#backoff.next();
        if (this.#lastError?.message !== err.message) this.#log.warn({ code: err.code }, err.message);
        this.#lastError = err;
        return this.#allBad(now, err);
      }
    }
    return this.#dev.mode === 'poll' ? this.#poll() : this.#collect();
  }

  async #connect(): Promise<void> {
    this.#lost = undefined;
    const link = await OpcuaLink.open(this.#link, (why) => { this.#lost = why; }, this.#log);
    try {
      await this.#resolvePaths(link);
      let mon: MonitorResult | undefined;
      if (this.#dev.mode === 'subscribe') {
        const tags = this.#tags.flatMap((t, index) => t.nodeId === undefined || t.error ? [] : [{
          index, nodeId: t.nodeId, samplingMs: t.cfg.sampling_ms ?? this.#dev.sampling_ms ?? this.#dev.poll_ms,
          queueSize: t.cfg.queue_size ?? this.#dev.queue_size, deadband: t.cfg.deadband,
        }]);
        mon = await monitor(link, tags, this.#dev.poll_ms, (i, dv) => this.#onValue(i, dv), (why) => { this.#lost = why; }, () => this.#clock.now());
        for (const [i, status] of mon.failed) this.#tagFault(this.#tags[i]!, `node ${this.#tags[i]!.nodeId}: ${status}`);
        // The server sends every item's current value with its first publish: wait for it (a few
        // publishing intervals at most), so the first scan after a (re)connect is not a blank.
        const until = this.#clock.now() + 2 * this.#dev.poll_ms + 2000;
        while (this.#tags.some((t) => !t.error && t.nodeId !== undefined && t.last === undefined) && this.#clock.now() < until && this.#lost === undefined) {
          await this.#clock.sleep(20);
        }
      }
      this.#conn = { link, monitor: mon };
      this.#backoff.reset();
      if (this.#lastError) this.#log.info({ endpoint: this.#dev.endpoint }, 'OPC UA server answers again');
      this.#lastError = undefined;
      this.#log.info({ endpoint: this.#dev.endpoint, mode: this.#dev.mode, tags: this.#tags.length, bad: this.#tags.filter((t) => t.error).length }, 'OPC UA session open');
    } catch (e) {
      await link.close();
      throw e;
    }
  }

  async #drop(why: string): Promise<void> {
    const conn = this.#conn!;
    this.#conn = undefined;
    this.#lastError = new CodedError('CE_ERR_DEVICE_DISCONNECTED', `${this.#dev.endpoint}: ${why}`);
    this.#log.warn({ code: this.#lastError.code }, `${this.#lastError.message}; rebuilding the session and every monitored item`);
    for (const t of this.#tags) {
      // Nothing from the old session is passed on as current once it is gone.
      t.queue.length = 0;
      t.last = undefined;
      t.error = undefined;
      if (t.cfg.path !== undefined) t.nodeId = undefined;
    }
    await conn.link.close();
  }

  /** Browse paths to NodeIds, once per link: a server restart may renumber what it builds at start. */
  async #resolvePaths(link: OpcuaLink): Promise<void> {
    const pending = this.#tags.filter((t) => t.cfg.path !== undefined);
    if (pending.length === 0) return;
    const results = await link.session.translateBrowsePath(pending.map((t) => link.lib.makeBrowsePath('RootFolder', t.cfg.path!.startsWith('/Objects') ? t.cfg.path!.replace(/^\/Objects/, '/0:Objects') : t.cfg.path!)));
    results.forEach((r, i) => {
      const t = pending[i]!;
      const target = r.targets?.[0];
      if (r.statusCode.isGood() && target) t.nodeId = target.targetId.toString();
      else this.#tagFault(t, `browse path ${t.cfg.path}: ${r.statusCode.name}`);
    });
  }

  #tagFault(t: TagState, why: string): void {
    t.error = new CodedError('CE_ERR_OPCUA_NODE', `${t.path}: ${why}`);
    this.#log.warn({ code: t.error.code, tag: t.cfg.name }, t.error.message);
  }

  #sample(t: TagState, dv: DataValueLike, received: number): Sample {
    const quality = qualityOf(dv.statusCode?.value ?? 0);
    return { tag: t.path, value: quality === 'bad' ? null : valueOf(dv.value), quality, ts: timeOf(dv, this.#dev.timestamps, received) };
  }

  #onValue(index: number, dv: DataValueLike): void {
    const t = this.#tags[index]!;
    const s = this.#sample(t, dv, this.#clock.now());
    // A tag the scheduler has not collected for a while keeps its newest changes, like the server's queue.
    if (t.queue.length >= (t.cfg.queue_size ?? this.#dev.queue_size) * 10) t.queue.shift();
    t.queue.push(s);
    t.last = s;
  }

  #collect(): ScanResult {
    const now = this.#clock.now();
    const samples: Sample[] = [];
    const tagErrors = new Map<string, CodedError>();
    for (const t of this.#tags) {
      if (t.error) { tagErrors.set(t.cfg.name, t.error); samples.push({ tag: t.path, value: null, quality: 'bad', ts: now }); continue; }
      if (t.queue.length > 0) { samples.push(...t.queue); t.queue.length = 0; continue; }
      // Unchanged since the last publish: what the server last said still holds.
      samples.push(t.last ?? { tag: t.path, value: null, quality: 'uncertain', ts: now });
    }
    return { samples, requests: 0, ...(tagErrors.size ? { tagErrors } : {}) };
  }

  async #poll(): Promise<ScanResult> {
    const { link } = this.#conn!;
    const now = this.#clock.now();
    const out: Sample[] = new Array(this.#tags.length);
    const tagErrors = new Map<string, CodedError>();
    const readable = this.#tags.map((t, i) => ({ t, i })).filter(({ t }) => t.nodeId !== undefined && !t.error);
    let requests = 0;
    try {
      for (let k = 0; k < readable.length; k += READ_BATCH) {
        const batch = readable.slice(k, k + READ_BATCH);
        requests++;
        const dvs = await link.session.read(batch.map(({ t }) => ({ nodeId: t.nodeId!, attributeId: link.lib.AttributeIds.Value })), 0);
        batch.forEach(({ t, i }, j) => {
          const dv = dvs[j]! as DataValueLike;
          const code = dv.statusCode?.value ?? 0;
          // An unknown node is the tag's fault, not the device's: reported, and the others read on.
          if (code >>> 16 === 0x8034 || code >>> 16 === 0x8033) tagErrors.set(t.cfg.name, new CodedError('CE_ERR_OPCUA_NODE', `${t.path}: node ${t.nodeId} unknown or invalid`));
          out[i] = this.#sample(t, dv, now);
        });
      }
    } catch (e) {
      await this.#drop(`read failed: ${(e as Error).message}`);
      return this.#allBad(now, this.#lastError);
    }
    this.#tags.forEach((t, i) => {
      if (out[i]) return;
      tagErrors.set(t.cfg.name, t.error ?? new CodedError('CE_ERR_OPCUA_NODE', `${t.path}: no node`));
      out[i] = { tag: t.path, value: null, quality: 'bad', ts: now };
    });
    return { samples: out, requests, ...(tagErrors.size ? { tagErrors } : {}) };
  }

  #allBad(now: number, error: CodedError | undefined): ScanResult {
    return { samples: this.#tags.map((t) => ({ tag: t.path, value: null, quality: 'bad' as const, ts: now })), requests: 0, ...(error ? { error } : {}) };
  }

  /**
   * Writes a tag marked writable, within its min / max, as the node's own data type, and reads it
   * back: the value returned is the one the server holds afterwards.
   */
  async write(tagName: string, value: Value): Promise<Value | null> {
    const t = this.#byName.get(tagName);
    checkWrite(`${this.deviceId}.${tagName}`, t?.cfg, value);
    if (!t) return null;
    const conn = this.#conn;
    if (!conn || !conn.link.alive || t.nodeId === undefined) throw new CodedError('CE_ERR_DEVICE_DISCONNECTED', `${this.#dev.endpoint}: not connected`);
    const { session, lib } = conn.link;
    let dataType = this.#dataTypes.get(t.nodeId);
    if (dataType === undefined) {
      dataType = await session.getBuiltInDataType(lib.resolveNodeId(t.nodeId)) as number;
      this.#dataTypes.set(t.nodeId, dataType);
    }
    const variant = coerceWrite(t.path, dataType, value);
    const status = await session.write({ nodeId: t.nodeId, attributeId: lib.AttributeIds.Value, value: { value: variant } });
    if (status.isNotGood()) throw new CodedError('CE_ERR_WRITE_REFUSED', `${t.path}: the server answered ${status.name}`);
    const back = await session.read({ nodeId: t.nodeId, attributeId: lib.AttributeIds.Value });
    return valueOf((back as DataValueLike).value);
  }

  async close(): Promise<void> {
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.link.close();
  }
}
