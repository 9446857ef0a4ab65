// Who is asking: a bearer token (scripts, Prometheus, `cityedge status`) or a console session
// (a browser, after a password login). Sessions live in memory: a restart of the box signs
// everyone out, which is what a technician expects after a restart anyway.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiConfig, ApiRole, Clock } from '../model/index.ts';
import { durationMs } from '../model/index.ts';
import { verifyPassword } from './password.ts';

export interface User { name: string; role: ApiRole }
export interface Session { id: string; user: User; csrf: string; createdAt: number; seenAt: number }

/** A stranger's login costs the same scrypt as a user's: the answer time does not tell who exists. */
const DECOY = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';
/** Failures (per address, per user) before a lock, and the first lock; each further failure doubles it. */
const FREE_FAILURES = 5;
const FIRST_LOCK_MS = 30_000;
const MAX_LOCK_MS = 15 * 60_000;
/** A box serves a handful of people: more sessions than this is a script logging in in a loop. */
const MAX_SESSIONS = 200;
/** Per user, so that one account logging in in a loop cannot sign the others out. */
const MAX_SESSIONS_PER_USER = 10;
/**
 * Password checks running at once. scrypt runs on libuv's four threads, which DNS lookups and file
 * reads share: a burst of logins must not stall the gateway's own work, nor buy guesses in parallel.
 */
const MAX_CHECKS = 2;

interface Failures { count: number; lockedUntil: number; lastAt: number }

export type LoginResult =
  | { ok: true; session: Session }
  | { ok: false; locked: false }
  | { ok: false; locked: true; retryAfterS: number; busy?: true };

export class Auth {
  readonly #tokens: { user: User; hash: Buffer }[];
  readonly #passwords = new Map<string, { user: User; hash: string }>();
  readonly #sessions = new Map<string, Session>();
  readonly #failures = new Map<string, Failures>();
  readonly #idleMs: number;
  readonly #maxMs: number;
  readonly #clock: Clock;
  #checking = 0;

  constructor(config: ApiConfig, clock: Clock) {
    this.#clock = clock;
    this.#idleMs = durationMs(config.session_idle);
    this.#maxMs = durationMs(config.session_max);
    this.#tokens = config.users.flatMap((u) => (u.token_sha256 ? [{ user: { name: u.name, role: u.role }, hash: Buffer.from(u.token_sha256, 'hex') }] : []));
    for (const u of config.users) if (u.password_hash) this.#passwords.set(u.name, { user: { name: u.name, role: u.role }, hash: u.password_hash });
  }

  byToken(header: string | undefined): User | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) return undefined;
    const hash = createHash('sha256').update(m[1]!).digest();
    return this.#tokens.find((t) => timingSafeEqual(t.hash, hash))?.user;
  }

  /** The live session of this id, its idle clock restarted; undefined when unknown or over. */
  bySession(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = this.#sessions.get(id);
    if (!s) return undefined;
    const now = this.#clock.now();
    if (now - s.seenAt > this.#idleMs || now - s.createdAt > this.#maxMs) {
      this.#sessions.delete(id);
      return undefined;
    }
    s.seenAt = now;
    return s;
  }

  expiresAt(s: Session): number { return Math.min(s.seenAt + this.#idleMs, s.createdAt + this.#maxMs); }

  /**
   * The lock is per address and per (user, address): a stranger's failures lock the stranger out,
   * not the technician at another laptop with the right password. Every try counts as a failure
   * before its password is checked, so tries sent at once meet the lock like tries in a row.
   */
  async login(name: string, password: string, address: string): Promise<LoginResult> {
    const now = this.#clock.now();
    const keys = [`ip:${address}`, `user:${name}@${address}`];
    const wait = Math.max(...keys.map((k) => (this.#failures.get(k)?.lockedUntil ?? 0) - now));
    if (wait > 0) return { ok: false, locked: true, retryAfterS: Math.ceil(wait / 1000) };
    if (this.#checking >= MAX_CHECKS) return { ok: false, locked: true, retryAfterS: 1, busy: true };
    for (const k of keys) this.#fail(k, now);
    const entry = this.#passwords.get(name);
    this.#checking++;
    let good: boolean;
    try {
      good = await verifyPassword(password, entry?.hash ?? DECOY);
    } finally {
      this.#checking--;
    }
    if (!good || !entry) return { ok: false, locked: false };
    for (const k of keys) this.#failures.delete(k);
    const session: Session = { id: randomBytes(32).toString('base64url'), user: entry.user, csrf: randomBytes(24).toString('base64url'), createdAt: now, seenAt: now };
    this.#prune(now, entry.user.name);
    this.#sessions.set(session.id, session);
    return { ok: true, session };
  }

  /** Still a session, without counting as activity (open streams check this; they are not a person). */
  isLive(id: string): boolean {
    const s = this.#sessions.get(id);
    const now = this.#clock.now();
    return s !== undefined && now - s.seenAt <= this.#idleMs && now - s.createdAt <= this.#maxMs;
  }

  logout(id: string | undefined): void { if (id) this.#sessions.delete(id); }

  get sessions(): number { return this.#sessions.size; }

  #fail(key: string, now: number): void {
    const f = this.#failures.get(key) ?? { count: 0, lockedUntil: 0, lastAt: now };
    // A failure long after the last one starts the count again: a typo a day is not an attack.
    if (now - f.lastAt > MAX_LOCK_MS) f.count = 0;
    f.count++;
    f.lastAt = now;
    if (f.count >= FREE_FAILURES) f.lockedUntil = now + Math.min(MAX_LOCK_MS, FIRST_LOCK_MS * 2 ** (f.count - FREE_FAILURES));
    this.#failures.set(key, f);
    if (this.#failures.size > 10_000) this.#forgetFailures(now);
  }

  /** Old entries first; then, if tries under ever new names still fill it, the oldest half goes. */
  #forgetFailures(now: number): void {
    for (const [k, f] of this.#failures) if (now - f.lastAt > MAX_LOCK_MS) this.#failures.delete(k);
    if (this.#failures.size <= 5_000) return;
    let drop = this.#failures.size - 5_000;
    for (const k of this.#failures.keys()) { if (drop-- <= 0) break; this.#failures.delete(k); }
  }

  /** Room for one more session of `user`: expired ones go, then that user's least recently used. */
  #prune(now: number, user: string): void {
    for (const [id, s] of this.#sessions) {
      if (now - s.seenAt > this.#idleMs || now - s.createdAt > this.#maxMs) this.#sessions.delete(id);
    }
    const evict = (pick: (s: Session) => boolean, max: number) => {
      for (;;) {
        let oldest: Session | undefined;
        let n = 0;
        for (const s of this.#sessions.values()) if (pick(s)) { n++; if (!oldest || s.seenAt < oldest.seenAt) oldest = s; }
        if (n < max || !oldest) return;
        this.#sessions.delete(oldest.id);
      }
    };
    evict((s) => s.user.name === user, MAX_SESSIONS_PER_USER);
    evict(() => true, MAX_SESSIONS);
  }
}

export const mayCommand = (role: ApiRole): boolean => role === 'admin' || role === 'engineer';
