// The logging surface the model, drivers and uplinks use. pino's logger satisfies it; tests can
// pass a silent one. Secrets (passwords, keys) are never put into log objects.
export interface LogFn { (obj: object, msg?: string): void; (msg: string): void }
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

const noop: LogFn = () => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };
