// An injectable clock, so alarm delays, backoff and integrity intervals are tested in fake time.
export interface Clock {
  now(): number;
  /** Resolves after ms, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  }),
};

/** A clock that moves only when told to. `advance` runs due sleepers in time order. */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: { at: number; resolve: () => void }[] = [];
  constructor(start = 1_700_000_000_000) { this.#now = start; }
  now(): number { return this.#now; }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      // The listener goes when the sleep ends either way: a loop sleeping on one long-lived signal
      // would otherwise pile up a listener per sleep (and Node's MaxListeners warning with them).
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== entry);
        reject(signal!.reason);
      };
      const entry = { at: this.#now + ms, resolve: () => { signal?.removeEventListener('abort', onAbort); resolve(); } };
      this.#sleepers.push(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  /** Moves time forward by ms, waking sleepers as their time comes and letting their code run. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      this.#sleepers.sort((a, b) => a.at - b.at);
      const next = this.#sleepers[0];
      if (!next || next.at > end) break;
      this.#sleepers.shift();
      this.#now = Math.max(this.#now, next.at);
      next.resolve();
      await flushMicrotasks();
    }
    this.#now = end;
    await flushMicrotasks();
  }
  get pendingSleepers(): number { return this.#sleepers.length; }
}

async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise<void>((r) => setImmediate(r));
}
