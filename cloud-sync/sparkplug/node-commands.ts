// NCMD and DCMD from the host. NCMD `Node Control/Rebirth` = true asks for the births again; each
// DCMD metric becomes a `write` command through the gateway's one command door (the allow-list of
// the upstream's `commands`, the tag's writable flag and limits are checked there, and audited).
// What cannot be read is counted and logged at most once a minute: a host sending garbage in a
// loop must not fill the disk, nor stop anything.
import type { Clock, CommandHandler, Logger } from '../../gateway/model/index.ts';
import { NODE_METRICS, type Metric, type MetricCatalogue } from './metrics.ts';
import { decodePayload, type SpPayload, type SpValue } from './payload.ts';

const GARBAGE_LOG_MS = 60_000;

export interface NodeCommandsOptions {
  upstreamId: string;
  /** The upstream's `commands`: the verbs this host may give (`write` for DCMD). */
  allowed: readonly string[];
  catalogue: MetricCatalogue;
  clock: Clock;
  logger: Logger;
  onCommand?: CommandHandler | undefined;
}

export interface NodeCommandStats {
  /** Rebirth requests obeyed. */
  rebirths: number;
  /** Writes handed to the command handler, and how many of those it refused. */
  writes: number;
  refused: number;
  /** NCMD, DCMD or STATE messages (or metrics in them) that could not be used. */
  garbage: number;
}

export class NodeCommands {
  readonly #o: NodeCommandsOptions;
  readonly #log: Logger;
  readonly #s: NodeCommandStats = { rebirths: 0, writes: 0, refused: 0, garbage: 0 };
  #garbageLoggedAt = -Infinity;
  #garbageSinceLog = 0;
  #unique = 0;
  #saidNoHandler = false;

  constructor(opts: NodeCommandsOptions) {
    this.#o = opts;
    this.#log = opts.logger;
  }

  stats(): NodeCommandStats { return { ...this.#s }; }

  /**
   * A message on NCMD or DCMD/{device}. `rebirth` is called for a rebirth request; the edge node
   * sends the births before any more data.
   */
  handle(kind: 'NCMD' | 'DCMD', device: string | undefined, payload: Uint8Array, retained: boolean, rebirth: () => void): void {
    // A retained command would be obeyed again at every reconnect; hosts send them unretained
    // [tck-id-payloads-ncmd-retain] [tck-id-payloads-dcmd-retain].
    if (retained) return this.garbage(kind, 'a retained command (ignored)');
    let p: SpPayload;
    try {
      p = decodePayload(payload);
    } catch (e) {
      return this.garbage(kind, (e as Error).message);
    }
    if (kind === 'NCMD') this.#ncmd(p, rebirth);
    else this.#dcmd(device!, p);
  }

  /** Counts what cannot be used; logs the first, then at most one line a minute with the count since. */
  garbage(what: string, why: string): void {
    this.#s.garbage++;
    this.#garbageSinceLog++;
    const now = this.#o.clock.now();
    if (now - this.#garbageLoggedAt < GARBAGE_LOG_MS) return;
    this.#log.warn({ what, count: this.#garbageSinceLog, total: this.#s.garbage }, `sparkplug: unusable ${what}: ${why}${this.#garbageSinceLog > 1 ? ` (and ${this.#garbageSinceLog - 1} more since the last report)` : ''}`);
    this.#garbageLoggedAt = now;
    this.#garbageSinceLog = 0;
  }

  #ncmd(p: SpPayload, rebirth: () => void): void {
    for (const m of p.metrics) {
      const name = m.name ?? (m.alias !== undefined ? this.#o.catalogue.byAlias(m.alias)?.name : undefined);
      // [tck-id-operational-behavior-data-commands-ncmd-rebirth-name] [tck-id-operational-behavior-data-commands-ncmd-rebirth-value]
      if (name === NODE_METRICS.rebirth) {
        if (m.value !== true) continue; // false asks for nothing
        this.#s.rebirths++;
        this.#log.info({}, 'sparkplug: rebirth requested by the host (NCMD)');
        rebirth();
      } else {
        this.garbage('NCMD', `no node metric ${name === undefined ? `with alias ${m.alias}` : `"${name}"`} takes commands`);
      }
    }
  }

  #dcmd(device: string, p: SpPayload): void {
    const cat = this.#o.catalogue;
    if (!cat.has(device)) return this.garbage('DCMD', `no device "${device}" on this edge node`);
    for (const m of p.metrics) {
      // [tck-id-operational-behavior-data-commands-dcmd-metric-name]: by name, or by the alias of its birth.
      const metric = m.name !== undefined ? cat.metric(device, m.name)
        : m.alias !== undefined ? cat.byAlias(m.alias) : undefined;
      if (!metric || metric.device !== device) {
        this.garbage('DCMD', `device "${device}" has no metric ${m.name !== undefined ? `"${m.name}"` : `with alias ${m.alias}`}`);
        continue;
      }
      const value = plain(m.value);
      if (value === undefined) {
        this.garbage('DCMD', `${device}.${metric.name}: a value of ${m.value === null ? 'null' : typeof m.value} cannot be written`);
        continue;
      }
      this.#write(device, metric, value, p.timestamp);
    }
  }

  #write(device: string, metric: Metric, value: number | boolean | string, sent: number | undefined): void {
    const handler = this.#o.onCommand;
    if (!handler) {
      if (!this.#saidNoHandler) this.#log.warn({ device, tag: metric.name }, 'sparkplug: DCMD ignored: this gateway takes no commands');
      this.#saidNoHandler = true;
      return;
    }
    // The same DCMD delivered twice (QoS 1) carries the same timestamp: the same id, so the command
    // handler answers it again without writing twice. Without a timestamp, each one is new.
    const id = sent !== undefined ? `sp-${metric.alias}@${sent}` : `sp-${metric.alias}#${this.#o.clock.now()}-${++this.#unique}`;
    const payload = JSON.stringify({ id, device, tag: metric.name, value, user: 'sparkplug' });
    this.#s.writes++;
    // Through a promise: a handler that throws at once must not throw into the MQTT client's reader.
    Promise.resolve().then(() => handler('write', payload, { source: `sparkplug:${this.#o.upstreamId}`, allowed: this.#o.allowed })).then((reply) => {
      if (reply.ok) return; // the value read back reaches the host as DDATA, like any change
      this.#s.refused++;
      this.#log.warn({ code: reply.error?.code, device, tag: metric.name, id }, `sparkplug: DCMD write refused: ${reply.error?.message ?? 'no reason given'}`);
    }, (e: unknown) => {
      this.#s.refused++;
      this.#log.error({ device, tag: metric.name, id }, `sparkplug: DCMD write failed: ${(e as Error).message}`);
    });
  }
}

/** A value the write command takes: number, boolean or text (64-bit integers when they fit a number). */
function plain(v: SpValue): number | boolean | string | undefined {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint' && Number.isSafeInteger(Number(v))) return Number(v);
  return undefined;
}

/** The primary host's STATE payload `{"online": bool, "timestamp": ms}` [tck-id-host-topic-phid-birth-payload]; undefined if it is not one. */
export function parseState(payload: Uint8Array): { online: boolean; timestamp: number } | undefined {
  try {
    const s = JSON.parse(Buffer.from(payload).toString('utf8')) as { online?: unknown; timestamp?: unknown } | null;
    return typeof s?.online === 'boolean' && typeof s.timestamp === 'number' ? { online: s.online, timestamp: s.timestamp } : undefined;
  } catch {
    return undefined;
  }
}
