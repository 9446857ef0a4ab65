// Waiting on conditions instead of sleeping: tests run on loaded 2-core CI machines, where any fixed
// sleep is either too short (flaky) or too long (slow). Poll a condition, give it a generous deadline,
// and when it does expire say *what* never happened.

export interface WaitOptions {
  /** Give up after this long. Generous by default: CI machines are slow, a pass costs nothing extra. */
  timeoutMs?: number;
  /** Poll period. */
  intervalMs?: number;
  /** Names the condition in the timeout error ("mosquitto accepting on 127.0.0.1:1883"). */
  what?: string;
  /** Stops waiting early (the error is the signal's reason). */
  signal?: AbortSignal;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** Resolves after `ms` (rejects on abort). Only for pacing a poll loop, never as a wait for a condition. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = (): void => { clearTimeout(timer); reject(abortReason(signal!)); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? 'aborted'));
}

/**
 * Polls `cond` until it returns a value other than `undefined`/`false`/`null` and returns that value.
 * A throwing `cond` counts as "not yet"; its last error is quoted if the deadline passes, because
 * "timed out" alone hides the ECONNREFUSED that explains it.
 */
export async function waitForValue<T>(
  cond: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = 50, what = 'condition', signal } = opts;
  const end = deadline(timeoutMs);
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    if (signal?.aborted) throw abortReason(signal);
    attempts++;
    try {
      const v = await cond();
      if (v !== undefined && v !== null && v !== false) return v;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    // Check after the attempt so a condition is always tried at least once, even with timeoutMs 0.
    if (end.expired()) {
      const why = lastError === undefined ? '' : `; last error: ${errorText(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms (${attempts} checks) waiting for ${what}${why}`);
    }
    await delay(Math.min(intervalMs, Math.max(1, end.remaining())), signal);
  }
}

/** Polls `cond` until it is true; throws an Error naming `what` when `timeoutMs` passes. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  opts: WaitOptions = {},
): Promise<void> {
  await waitForValue(async () => (await cond()) || undefined, opts);
}

export interface Deadline {
  /** Epoch ms at which it expires. */
  readonly at: number;
  remaining(): number;
  expired(): boolean;
}

/** A point in time `ms` from now, for sharing one budget across several steps. */
export function deadline(ms: number): Deadline {
  const at = Date.now() + ms;
  return {
    at,
    remaining: () => Math.max(0, at - Date.now()),
    expired: () => Date.now() >= at,
  };
}

/**
 * Races `p` against a timer; rejects with an Error naming `what` if the timer wins. The timer is
 * cleared either way so it never keeps the test process alive.
 */
export async function withTimeout<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
