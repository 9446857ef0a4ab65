// The process logger: pino, JSON lines on stdout. Passwords and keys never reach it: the
// redaction list is a second line of defence behind not logging them at all.
import { pino } from 'pino';
import type { Logger } from './model/logger.ts';

export function createLogger(level = process.env.CITYEDGE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { app: 'cityedge' },
    redact: { paths: ['password', '*.password', 'key', '*.key', 'upstream.password'], censor: '[redacted]' },
  });
}
