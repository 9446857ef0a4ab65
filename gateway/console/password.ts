// Console passwords, kept as scrypt hashes in the configuration: `scrypt$N$r$p$salt$hash`, salt and
// hash in base64. scrypt is in Node's crypto, so the box needs no native module for it; the cost
// (N = 2^14, r = 8: 16 MiB and about 50 ms per check here) makes guessing slow without making a
// login wait.
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const N = 16_384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/** Shortest password `provision` and `passwd` accept: a box on a street is a public place. */
export const MIN_PASSWORD_LENGTH = 10;

function derive(password: string, salt: Buffer, bytes: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, bytes, { ...opts, maxmem: 256 * opts.N! * opts.r! }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, KEY_BYTES, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** False for a wrong password and for a hash this build cannot read; never throws on bad input. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = FORMAT.exec(stored);
  if (!m) return false;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // A hash edited by hand to absurd costs must not take the box's memory or minutes of CPU.
  if (!(n >= 1024 && n <= 1_048_576 && (n & (n - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
  const expected = Buffer.from(m[5]!, 'base64');
  if (expected.length < 16) return false;
  try {
    const key = await derive(password, Buffer.from(m[4]!, 'base64'), expected.length, { N: n, r, p });
    return timingSafeEqual(key, expected);
  } catch {
    return false;
  }
}

/** Why a new password is refused, or undefined when it will do. */
export function passwordProblem(password: string, user: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.toLowerCase().includes(user.toLowerCase())) return 'it must not contain the user name';
  if (/^(.)\1*$/.test(password)) return 'not one character repeated';
  return undefined;
}
