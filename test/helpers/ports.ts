// Ports for test peers. Tests run two files at a time (tap `jobs: 2`) and others may run beside
// them, so never hard-code a port: ask the kernel for a free one, and wait for a peer's port by
// connecting to it rather than by sleeping.
import net from 'node:net';
import { DEFAULT_TIMEOUT_MS, waitFor } from './wait.ts';

export const LOOPBACK = '127.0.0.1';

/**
 * A port that was free a moment ago: bind port 0, read what the kernel chose, close.
 * Another process can grab it before the peer binds it; helpers that start peers retry on a bind
 * failure (or let the peer bind port 0 itself and report the port, as the pymodbus peer does).
 */
export function freePort(host: string = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

export interface PortWaitOptions {
  host?: string;
  timeoutMs?: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

/** One connection attempt: true if something accepted, false if refused/unreachable/slow. */
export function canConnect(port: number, host: string = LOOPBACK, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on('error', () => {}); // a late RST after destroy() must not become an uncaught error
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Resolves once `host:port` accepts a TCP connection; throws naming the address after `timeoutMs`. */
export async function waitForPort(port: number, opts: PortWaitOptions = {}): Promise<void> {
  const { host = LOOPBACK, timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = 50, signal } = opts;
  await waitFor(() => canConnect(port, host), {
    timeoutMs, intervalMs, signal, what: `a listener on ${host}:${port}`,
  });
}

/** Resolves once nothing accepts connections on `host:port` any more (a peer really stopped). */
export async function waitForPortClosed(port: number, opts: PortWaitOptions = {}): Promise<void> {
  const { host = LOOPBACK, timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = 50, signal } = opts;
  await waitFor(async () => !(await canConnect(port, host)), {
    timeoutMs, intervalMs, signal, what: `${host}:${port} to stop accepting connections`,
  });
}

/** True if this process could bind `host:port` right now (so a restarted peer could too). */
export function canBind(port: number, host: string = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}
