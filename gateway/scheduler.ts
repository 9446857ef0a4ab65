// Polls every device on its own interval. Devices start staggered across their interval so fifty
// of them do not fire in the same millisecond; a scan never overlaps the previous one of its
// device: one that runs past its slot is counted as an overrun and the missed slots are skipped.
// A pushed driver may ask for a scan before its slot (it holds many samples); that scan leaves the
// schedule where it was.
import type { Clock } from './model/clock.ts';
import type { DeviceDriver, ScanResult } from './model/driver.ts';
import type { Logger } from './model/logger.ts';

/** The reason a nap ends early: given, so no DOMException is built for each of hundreds a second. */
const WOKEN = Symbol('woken');

export interface ScheduledDevice { driver: DeviceDriver; pollMs: number }

export interface DeviceScanStats {
  scans: number;
  overruns: number;
  failedScans: number;
  requests: number;
  lastScanMs: number;
  lastScanAt: number;
  online: boolean | undefined;
}

interface Waiter { after: number; resolve: (r: ScanResult | undefined) => void }

export type ScanListener = (deviceId: string, result: ScanResult, at: number) => void;

export class Scheduler {
  readonly #devices: readonly ScheduledDevice[];
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #onScan: ScanListener;
  readonly #stats = new Map<string, DeviceScanStats>();
  /** Per running loop: cut its sleep short, and who waits for a scan started after asking. */
  readonly #control = new Map<string, { wake: () => void; waiters: Waiter[] }>();
  #loops: Promise<void>[] = [];

  constructor(devices: readonly ScheduledDevice[], opts: { clock: Clock; logger: Logger; onScan: ScanListener }) {
    this.#devices = devices;
    this.#clock = opts.clock;
    this.#log = opts.logger;
    this.#onScan = opts.onScan;
    for (const d of devices) {
      this.#stats.set(d.driver.deviceId, { scans: 0, overruns: 0, failedScans: 0, requests: 0, lastScanMs: 0, lastScanAt: 0, online: undefined });
    }
  }

  /** Starts every device loop; they run until the signal aborts. */
  start(signal: AbortSignal): void {
    const n = this.#devices.length;
    const t0 = this.#clock.now();
    this.#loops = this.#devices.map((d, i) => this.#loop(d, t0 + Math.floor((i * d.pollMs) / n), signal));
  }

  /** Resolves when every loop has ended (after the signal aborted). */
  async stopped(): Promise<void> { await Promise.allSettled(this.#loops); }

  stats(): ReadonlyMap<string, Readonly<DeviceScanStats>> { return this.#stats; }

  /**
   * A scan now, by the device's own loop (its requests stay serialized on its one connection): the
   * result of the first scan that starts after this call; undefined if the loop is not running or
   * stops first. The loop's timetable is not moved, as with a driver's wake.
   */
  readNow(deviceId: string): Promise<ScanResult | undefined> {
    const c = this.#control.get(deviceId);
    if (!c) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      c.waiters.push({ after: this.#clock.now(), resolve });
      c.wake();
    });
  }

  async #loop(d: ScheduledDevice, firstAt: number, signal: AbortSignal): Promise<void> {
    const id = d.driver.deviceId;
    const st = this.#stats.get(id)!;
    let next = firstAt;
    let woken = false;
    let interrupt: (() => void) | undefined;
    const wake = () => { woken = true; interrupt?.(); };
    d.driver.wakeWith?.(wake);
    const waiters: Waiter[] = [];
    this.#control.set(id, { wake, waiters });
    while (!signal.aborted) {
      const wait = next - this.#clock.now();
      if (wait > 0 && !woken) {
        // Its own controller per sleep, so a wake ends this sleep only, not the gateway's signal.
        const nap = new AbortController();
        const stop = () => nap.abort(WOKEN);
        signal.addEventListener('abort', stop, { once: true });
        interrupt = stop;
        await this.#clock.sleep(wait, nap.signal).catch(() => {});
        interrupt = undefined;
        signal.removeEventListener('abort', stop);
        if (signal.aborted) break;
      }
      // Early means asked for (read now, a pushed driver's wake) before its slot. Not "the clock is
      // short of next": a timer may end a millisecond before Date.now() reaches its deadline (11 % of
      // wakes here), and that scan is the scheduled one; taking it for an early one scanned twice.
      const asked = woken;
      woken = false;
      const started = this.#clock.now();
      const early = asked && started < next;
      const ended = await this.#scanOnce(d, st, waiters, started, signal);
      if (signal.aborted) break;
      if (early) continue;
      next += d.pollMs;
      if (ended > next) {
        const missed = Math.ceil((ended - next) / d.pollMs);
        st.overruns++;
        // Log the first overrun and then one in a hundred, so a slow device cannot flood the log.
        if (st.overruns === 1 || st.overruns % 100 === 0) {
          this.#log.warn({ device: id, code: 'CE_ERR_SCAN_OVERRUN', scanMs: st.lastScanMs, pollMs: d.pollMs, overruns: st.overruns }, 'scan took longer than its poll interval');
        }
        next += missed * d.pollMs;
      }
    }
    this.#control.delete(id);
    for (const w of waiters.splice(0)) w.resolve(undefined);
  }

  /**
   * One scan, recorded and handed to the waiters; when it ended. A function of its own, not a block
   * of the loop: an async function keeps its registers across an await, and a scan's result left in
   * the loop's would stay reachable through the sleep until the next scan, long enough for V8 to
   * promote every sample of it to the old generation (measured: a third of the old generation's
   * garbage at 10,000 points/s).
   */
  async #scanOnce(d: ScheduledDevice, st: DeviceScanStats, waiters: Waiter[], started: number, signal: AbortSignal): Promise<number> {
    const id = d.driver.deviceId;
    let result: ScanResult | undefined;
    try {
      result = await d.driver.scan(signal);
    } catch (e) {
      // A driver must report faults in its result; one that throws is a bug, but it must not
      // end the loop of its device, let alone others.
      this.#log.error({ device: id, err: e }, 'driver scan threw; continuing');
    }
    const ended = this.#clock.now();
    if (signal.aborted) return ended;
    st.lastScanMs = ended - started;
    if (result) this.#record(id, st, result, ended);
    // Only a scan that began after the request answers it: one already under way read before.
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.after <= started) waiters.splice(i, 1)[0]!.resolve(result);
    }
    return ended;
  }

  #record(id: string, st: DeviceScanStats, result: ScanResult, at: number): void {
    st.scans++;
    st.requests += result.requests;
    st.lastScanAt = at;
    if (result.error) st.failedScans++;
    const online = !result.error;
    if (st.online !== online) {
      if (online) this.#log.info({ device: id }, 'device online');
      else this.#log.warn({ device: id, code: result.error?.code }, 'device offline: its tags are now quality bad');
      st.online = online;
    }
    this.#onScan(id, result, at);
  }
}
