// The process logger: pino, one JSON object per line on stdout (what journald, Docker and a log
// shipper want), or pino-pretty's human text on a terminal (docs/metrics.md, "Logs").
//
// Secrets are not put into log objects in the first place; what is below is the second line of
// defence: pino's redaction of fields by name, and a rewrite of credentials written inside URLs
// (mqtt://user:pass@host), which redaction by path cannot reach.
//
// Both outputs write synchronously. pino's default stdout stream and pino-pretty's worker-thread
// transport buffer lines and flush them from exit handlers; a watchdog's SIGKILL, the kernel's
// OOM killer or a native abort run no handler, and the lines that explain the crash are the ones
// lost (measured: 1 of 2,000 buffered lines survived a SIGKILL, none through the transport). A
// gateway logs a few lines a minute, so a write(2) per line costs nothing worth that.
import { pino, stdSerializers, type DestinationStream, type LoggerOptions } from 'pino';
import { createRequire } from 'node:module';
import type pinoPretty from 'pino-pretty';
import type { Logger } from './model/logger.ts';

export type LogFormat = 'json' | 'pretty';

export interface LoggerOpts {
  /** Overrides CITYEDGE_LOG_FORMAT and the terminal check. */
  format?: LogFormat;
  /** File descriptor written to; stdout by default. */
  fd?: number;
}

const CENSOR = '[redacted]';

/**
 * Field names never logged, at the top level and one level down. Hashes too: an unsalted
 * SHA-256 of a broker password (password_sha256) falls to a dictionary, and a token's hash, while
 * not a secret, identifies a credential and helps nobody reading a log.
 */
const SECRET_KEYS = ['password', 'passwd', 'password_hash', 'password_sha256', 'token', 'token_sha256', 'secret', 'key', 'authorization', 'cookie'];
export const REDACT_PATHS = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`]),
  // HTTP request headers, as fastify or a hand-built object carries them.
  'headers.authorization', 'headers.cookie', 'headers["set-cookie"]', '*.headers.authorization', '*.headers.cookie', '*.headers["set-cookie"]',
  'req.headers.authorization', 'req.headers.cookie',
];

// scheme://user:password@ or //token@: RFC 3986 userinfo, which ends at the last "@" before the
// path. The user name stays (it says which account failed); the password, or a lone userinfo that
// may be a token, does not.
const USERINFO = /((?:[a-z][a-z0-9+.-]*:)?\/\/)([^\s/?#@:]*)(?::[^\s/?#]*)?@/gi;

/** A string with the credentials of any URL in it masked. */
export function maskUrlCredentials(s: string): string {
  if (!s.includes('@') || !s.includes('//')) return s;
  return s.replace(USERINFO, (m, scheme: string, user: string) => (m.slice(scheme.length + user.length).startsWith(':') ? `${scheme}${user}:${CENSOR}@` : `${scheme}${CENSOR}@`));
}

/** Masks strings in a value and, one level down, in an object's or array's members: a copy, never the caller's object. */
function maskValue(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return maskUrlCredentials(v);
  if (v === null || typeof v !== 'object' || depth > 1) return v;
  // An error is serialized here, while its message and stack can still be rewritten.
  if (v instanceof Error) return maskValue(stdSerializers.err(v), depth);
  if (Array.isArray(v)) {
    const m = v.map((x) => maskValue(x, depth + 1));
    return m.some((x, i) => x !== v[i]) ? m : v;
  }
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v)) {
    const m = maskValue(x, depth + 1);
    if (m !== x) (out ??= { ...(v as Record<string, unknown>) })[k] = m;
  }
  return out ?? v;
}

const maskObject = (o: Record<string, unknown>): Record<string, unknown> => maskValue(o, 0) as Record<string, unknown>;

/** JSON unless asked, or unless a person is watching: CITYEDGE_LOG_FORMAT=json|pretty, else a terminal gets text. */
export function logFormat(env: NodeJS.ProcessEnv = process.env, isTTY = process.stdout.isTTY === true): LogFormat {
  const asked = env.CITYEDGE_LOG_FORMAT?.toLowerCase();
  if (asked === 'json' || asked === 'pretty') return asked;
  return isTTY ? 'pretty' : 'json';
}

export function createLogger(level = process.env.CITYEDGE_LOG_LEVEL ?? 'info', opts: LoggerOpts = {}): Logger {
  const format = opts.format ?? logFormat();
  const fd = opts.fd ?? 1;
  const options: LoggerOptions = {
    level,
    base: { app: 'cityedge' },
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    formatters: { log: maskObject },
    // An error arrives here already serialized by maskObject; serializing it again would name it "Object".
    serializers: { err: (e: unknown) => (e instanceof Error ? stdSerializers.err(e) : e) },
    hooks: {
      // The message and printf arguments: an error's text often quotes the URL it failed on.
      logMethod(args, method) {
        const first = args[0] as unknown;
        // logger.error(err) alone: pino takes the message from the error, past formatters.log.
        const masked = first instanceof Error && args.length === 1 ? [first, maskUrlCredentials(first.message)] : args.map((a) => (typeof a === 'string' ? maskUrlCredentials(a) : a));
        return method.apply(this, masked as Parameters<typeof method>);
      },
    },
  };
  const destination: DestinationStream = format === 'pretty'
    // In-process and sync: pino-pretty's own stream, not its worker transport (see the top).
    // Loaded only for a terminal: a box logging JSON to journald never pays for it (~2.5 MB of RSS).
    ? (createRequire(import.meta.url)('pino-pretty') as typeof pinoPretty)({ destination: fd, sync: true, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'pid,hostname,app', singleLine: true })
    : pino.destination({ dest: fd, sync: true });
  const root = pino(options, destination);
  // Child bindings (logger.child({ url })) skip formatters.log, and pino resets a bindings
  // formatter for children: mask them on the way in. Children inherit this from their parent.
  const child = root.child;
  root.child = function (this: typeof root, bindings, childOpts) {
    return child.call(this, maskObject(bindings), childOpts);
  } as typeof root.child;
  return root;
}
