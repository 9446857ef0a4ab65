// A stand-in for a LoRaWAN network server's MQTT integration (ChirpStack v4 or v3): it connects to
// a broker as an ordinary MQTT client and publishes the uplink events of the world's sensors, with
// per-device frame counters, radio metadata, and the duplicates and malformed events a real
// network delivers now and then. Either the world runs on a timer (scaled), or the caller steps it
// (tickMs 0), or `rate` mode replays every sensor's state on a fixed period for benchmarks.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { duplicateOf, malformed, type Published } from './faults.ts';
import { eventBody, MALFORMED_REASONS, Radio, topicFor, transmission, type BuildOptions, type Format, type MalformedReason, type NetworkIdentity, type Uplink } from './message.ts';
import { hash32, hex64, Random, uuidFrom } from './random.ts';
import type { SensorInfo, SensorKind, WorldUplink } from './types.ts';
import { LorawanWorld, type SensorSpec, type WorldOptions } from './world.ts';

export interface LorawanNsOptions extends SensorSpec {
  /** Broker URL, e.g. `mqtt://127.0.0.1:1883` (the gateway's embedded broker or any other). */
  url: string;
  username?: string;
  password?: string;
  clientId?: string;
  /** ChirpStack v4 (default) or v3 topics and JSON. */
  format?: Format;
  /** Also send what a codec on the network server decodes: `object` (v4) or `objectJSON` (v3). Default false. */
  decoded?: boolean;
  /** Application id in the topics. Default: a UUID from the seed (v4), `1` (v3, whose ids were numbers). */
  applicationId?: string;
  applicationName?: string;
  /** Seeds the world, the DevEUIs and the faults. Default 1. */
  seed?: number;
  /** World tick in real ms; 0: no timer, the caller advances time with step(). Default 200. */
  tickMs?: number;
  /** Simulated seconds per real second. Default 1. */
  timeScale?: number;
  /** Everything else the world takes (heartbeats, rates of arrivals, openings, rain). */
  world?: Omit<WorldOptions, keyof SensorSpec | 'seed'>;
  /** Probability that an uplink is published twice (failed deduplication). Default 0.01. */
  duplicateRate?: number;
  /** Probability that an uplink is followed by a malformed event. Default 0.005. */
  malformedRate?: number;
  /** The kinds of malformed event to draw from. Default all. */
  malformedReasons?: readonly MalformedReason[];
  /** MQTT QoS of the publishes. Default 0, as ChirpStack's integration uses. */
  qos?: 0 | 1;
  /** Benchmark mode: every sensor sends its current state every `periodS` real seconds (0: flat out). No world timer. */
  rate?: { periodS: number };
  signal?: AbortSignal;
}

export interface NsStats {
  /** Well-formed transmissions by sensor kind (each counted once, duplicates apart). */
  uplinks: Record<SensorKind, number>;
  duplicates: number;
  malformed: Record<MalformedReason, number>;
  /** MQTT messages handed to the broker, everything included. */
  published: number;
  /** Failed publishes and MQTT client errors (a refused reconnection, a dropped socket). */
  errors: number;
  /** Connected to the broker now (mqtt.js reconnects every 2 s after a loss, queueing meanwhile). */
  connected: boolean;
  /** Rate mode: transmissions owed by the schedule but not yet sent (the broker is the bottleneck). */
  behind: number;
}

export interface LorawanNs {
  readonly format: Format;
  readonly applicationId: string;
  readonly world: LorawanWorld;
  sensors(): SensorInfo[];
  /** The topic an uplink of this device is published on. */
  topic(devEui: string): string;
  /** Advances the world by `seconds` of simulated time and publishes what the sensors sent. */
  step(seconds: number): Promise<number>;
  /** Publishes what the world's setters queued (a forced change, an opened cover). */
  flush(): Promise<number>;
  /** The device sends its current state now (heartbeat port; waterlogging: a measurement). */
  publishNow(devEui: string): Promise<Uplink>;
  setOccupied(devEui: string, occupied: boolean): Promise<number>;
  setInterference(devEui: string, on: boolean): Promise<number>;
  openCover(devEui: string, open?: boolean): Promise<number>;
  startRain(intensityMmH: number, durationMin?: number): void;
  /** One malformed event now, from `devEui` (default: the first sensor). */
  publishMalformed(reason: MalformedReason, devEui?: string): Promise<void>;
  stats(): NsStats;
  close(): Promise<void>;
}

const rangeCheck = (name: string, v: number): number => {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} ${v}: expected a probability 0–1`);
  return v;
};

export async function startLorawanNs(options: LorawanNsOptions): Promise<LorawanNs> {
  const { url, format = 'v4', decoded = false, seed = 1, tickMs = 200, timeScale = 1, qos = 0, signal } = options;
  const duplicateRate = rangeCheck('duplicateRate', options.duplicateRate ?? 0.01);
  const malformedRate = rangeCheck('malformedRate', options.malformedRate ?? 0.005);
  const reasons = options.malformedReasons ?? MALFORMED_REASONS;
  if (reasons.length === 0) throw new RangeError('malformedReasons: give at least one');
  if (!(timeScale > 0)) throw new RangeError(`timeScale ${timeScale} must be positive`);
  if (format !== 'v4' && format !== 'v3') throw new RangeError(`format ${String(format)}: expected v4 or v3`);
  if (options.rate && !(options.rate.periodS >= 0)) throw new RangeError(`rate.periodS ${options.rate.periodS}: expected seconds ≥ 0`);
  signal?.throwIfAborted();

  const world = new LorawanWorld({ ...options.world, parking: options.parking, manholes: options.manholes, waterlogging: options.waterlogging, seed, start: options.world?.start ?? Date.now() });
  const applicationId = options.applicationId ?? (format === 'v4' ? uuidFrom(`application/${seed}`) : '1');
  const net: NetworkIdentity = {
    tenantId: uuidFrom(`tenant/${seed}`), tenantName: 'cityedge',
    applicationId, applicationName: options.applicationName ?? 'cityedge-sim',
    gateways: [0, 1, 2].map((i) => hex64(`gateway/${seed}/${i}`)),
  };
  // Faults and radio fading draw from their own stream, so turning faults on does not change the world.
  const rng = new Random(seed ^ hash32('network'));
  const build: BuildOptions = { format, decoded, net, rng };
  const radios = new Map<string, Radio>();
  const fCnts = new Map<string, number>();
  // Devices registered in the network server's application but not in the gateway's config.
  const strangers: SensorInfo[] = [0, 1, 2].map((i) => ({ devEui: hex64(`stranger/${seed}/${i}`), kind: 'parking', codec: 'cityedge-parking-v1', name: `stranger${i + 1}` }));
  const stats: NsStats = {
    uplinks: { parking: 0, manhole: 0, waterlogging: 0 }, duplicates: 0,
    malformed: Object.fromEntries(MALFORMED_REASONS.map((r) => [r, 0])) as Record<MalformedReason, number>,
    published: 0, errors: 0, connected: false, behind: 0,
  };

  const client: MqttClient = await mqtt.connectAsync(url, {
    clientId: options.clientId ?? `cityedge-lorawan-sim-${hex64(`${seed}/${Date.now()}/${Math.random()}`).slice(0, 8)}`,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    protocolVersion: 4, // MQTT 3.1.1: what every broker (aedes included) speaks
    reconnectPeriod: 2000,
    connectTimeout: 10_000,
  }, false); // fail fast on a wrong URL or refused credentials instead of retrying for ever
  stats.connected = true;
  client.on('error', () => { stats.errors++; });
  client.on('connect', () => { stats.connected = true; });
  client.on('offline', () => { stats.connected = false; });

  /** A transmission of `sensor` with its next frame counter, heard by its gateways now. */
  const transmit = (sensor: SensorInfo, fPort: number, frame: Buffer, object: Uplink['object']): Uplink => {
    let radio = radios.get(sensor.devEui);
    if (!radio) { radio = new Radio(sensor, net, rng); radios.set(sensor.devEui, radio); }
    // Sensors in service for a while: counters start anywhere below 1000, not at 0.
    const fCnt = fCnts.get(sensor.devEui) ?? rng.int(0, 999);
    fCnts.set(sensor.devEui, fCnt + 1);
    return {
      sensor, fCnt, fPort, data: frame.toString('base64'), ...(object ? { object } : {}),
      devAddr: radio.devAddr, dr: radio.dr, channel: rng.int(0, 7), rx: radio.hear(), ...transmission(),
    };
  };

  const message = (u: Uplink): Published => ({ topic: topicFor(format, applicationId, u.sensor.devEui), payload: JSON.stringify(eventBody(u, build)) });

  const malformedFrom = (reason: MalformedReason, w: WorldUplink, sensor: SensorInfo): Published => {
    const who = reason === 'unknown-dev-eui' ? rng.pick(strangers) : sensor;
    stats.malformed[reason]++;
    return malformed(reason, transmit(who, w.fPort, w.frame, w.object), w.frame, build);
  };

  /** The MQTT messages for the world's uplinks, faults included, and the well-formed uplinks among them. */
  const render = (uplinks: readonly WorldUplink[]): { out: Published[]; sent: Uplink[] } => {
    const out: Published[] = [], sent: Uplink[] = [];
    for (const w of uplinks) {
      const sensor = world.sensor(w.devEui)!;
      const u = transmit(sensor, w.fPort, w.frame, w.object);
      out.push(message(u));
      sent.push(u);
      stats.uplinks[sensor.kind]++;
      if (duplicateRate > 0 && rng.chance(duplicateRate)) {
        out.push(message(duplicateOf(u, net.gateways, transmission())));
        stats.duplicates++;
      }
      if (malformedRate > 0 && rng.chance(malformedRate)) out.push(malformedFrom(rng.pick(reasons), w, sensor));
    }
    return { out, sent };
  };

  // One publisher at a time, so events leave in the order the sensors sent them.
  let chain: Promise<unknown> = Promise.resolve();
  const publish = (messages: readonly Published[]): Promise<void> => {
    const run = chain.then(async () => {
      await Promise.all(messages.map(async (m) => {
        try { await client.publishAsync(m.topic, m.payload, { qos }); stats.published++; } catch { stats.errors++; }
      }));
    });
    chain = run;
    return run;
  };
  const publishUplinks = async (uplinks: readonly WorldUplink[]): Promise<number> => {
    const { out, sent } = render(uplinks);
    await publish(out);
    return sent.length;
  };

  const step = (seconds: number): Promise<number> => publishUplinks(world.step(seconds));
  const flush = (): Promise<number> => publishUplinks(world.drain());

  let timer: NodeJS.Timeout | undefined;
  const stopRate = new AbortController();
  let rateLoop: Promise<void> = Promise.resolve();
  if (options.rate) {
    rateLoop = runRate(options.rate.periodS);
  } else if (tickMs > 0) {
    // Advance by the time that really passed; while a batch is still being published the tick is
    // skipped and the next one covers the time, so a slow broker slows the sensors, not the clock.
    let last = performance.now();
    let busy = false;
    timer = setInterval(() => {
      if (busy) return;
      const now = performance.now();
      const seconds = (Math.min(now - last, 5000) / 1000) * timeScale;
      last = now;
      busy = true;
      void step(seconds).finally(() => { busy = false; });
    }, tickMs);
  }

  async function runRate(periodS: number): Promise<void> {
    const euis = world.sensors().map((s) => s.devEui);
    if (euis.length === 0) return;
    const start = performance.now();
    let sent = 0;
    while (!stopRate.signal.aborted) {
      // Sensors take turns, spread evenly over the period; flat out, batches of 500 back to back.
      const due = periodS > 0 ? Math.floor((((performance.now() - start) / 1000) * euis.length) / periodS) : sent + 500;
      stats.behind = periodS > 0 ? Math.max(0, due - sent) : 0;
      if (due <= sent) {
        const wait = Math.max(1, ((sent + 1) * periodS * 1000) / euis.length - (performance.now() - start));
        await sleep(wait, undefined, { signal: stopRate.signal }).catch(() => {});
        continue;
      }
      const batch: WorldUplink[] = [];
      for (let n = Math.min(due - sent, 500); n > 0; n--) batch.push(world.snapshot(euis[sent++ % euis.length]!));
      await publishUplinks(batch);
    }
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(timer);
      stopRate.abort();
      signal?.removeEventListener('abort', onAbort);
      // Connected: let what is being published leave (up to 5 s). Disconnected, mqtt.js holds QoS 0
      // messages until a reconnection that may never come: drop them instead of waiting for ever.
      const connected = client.connected;
      if (connected) {
        const timeout = new AbortController();
        await Promise.race([Promise.all([rateLoop, chain]).catch(() => {}), sleep(5000, undefined, { signal: timeout.signal }).catch(() => {})]);
        timeout.abort();
      }
      await client.endAsync(!connected);
    })();
    return closing;
  };
  const onAbort = (): void => { void close(); };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) { await close(); signal.throwIfAborted(); }

  return {
    format, applicationId, world,
    sensors: () => world.sensors(),
    topic: (devEui) => topicFor(format, applicationId, devEui),
    step, flush,
    async publishNow(devEui) {
      const w = world.snapshot(devEui);
      const u = transmit(world.sensor(devEui)!, w.fPort, w.frame, w.object);
      stats.uplinks[u.sensor.kind]++;
      await publish([message(u)]);
      return u;
    },
    setOccupied: (devEui, occupied) => { world.setOccupied(devEui, occupied); return flush(); },
    setInterference: (devEui, on) => { world.setInterference(devEui, on); return flush(); },
    openCover: (devEui, open = true) => { world.openCover(devEui, open); return flush(); },
    startRain: (intensity, durationMin) => world.startRain(intensity, durationMin),
    async publishMalformed(reason, devEui) {
      const sensor = devEui === undefined ? world.sensors()[0] : world.sensor(devEui);
      if (!sensor) throw new RangeError(devEui === undefined ? 'no sensors' : `no sensor with DevEUI ${devEui}`);
      await publish([malformedFrom(reason, world.snapshot(sensor.devEui), sensor)]);
    },
    stats: () => structuredClone(stats),
    close,
  };
}
