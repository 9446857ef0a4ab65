// A real Mosquitto broker (Debian's package) for one test: its own config in a temp dir, its own
// free port on loopback, stopped by the test's teardown. Debian also starts a system mosquitto on
// 1883 after install; we never use that one.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canBind, freePort, LOOPBACK, waitForPort } from './ports.ts';
import { spawnProcess } from './proc.ts';
import type { SpawnedProcess, Teardownable } from './proc.ts';
import { waitFor } from './wait.ts';

export interface MosquittoOptions {
  /** Stops the broker and removes its temp dir in `t.teardown`. */
  t?: Teardownable;
  /** Fixed port; default a free one (retried on a bind race). */
  port?: number;
  /** Lines appended to mosquitto.conf (after ours; later lines win for most options). */
  extraConf?: string | readonly string[];
  /** Keep a persistence file in the temp dir, so retained messages and sessions survive restart(). */
  persistence?: boolean;
  readyTimeoutMs?: number;
}

export interface Mosquitto {
  readonly host: string;
  readonly port: number;
  /** `mqtt://127.0.0.1:PORT` */
  readonly url: string;
  /** The temp dir holding mosquitto.conf (and the persistence file); put password/ACL files here. */
  readonly dir: string;
  readonly confPath: string;
  /** The broker's log so far (current run). */
  output(): string;
  /** The running broker process (changes on restart). */
  process(): SpawnedProcess | undefined;
  /** SIGTERM (then SIGKILL) the broker; resolves when it is gone and the port is closed. */
  stop(): Promise<void>;
  /** Hard crash: SIGKILL, no persistence save. */
  kill9(): Promise<void>;
  /** Starts it again on the same port with the same config (stopping it first if running). */
  restart(): Promise<void>;
}

let binaryPath: string | undefined;

/** Finds the mosquitto binary, or throws saying which Debian package provides it. */
export function mosquittoBinary(): string {
  if (binaryPath) return binaryPath;
  // /usr/sbin is often not on a non-root PATH, so check it directly as well.
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' }).trim());
  } catch { /* not on PATH */ }
  candidates.push('/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto');
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) {
    throw new Error('mosquitto not found (looked on PATH and in /usr/sbin): install the Debian package ' +
      '"mosquitto" (`npm test` does this in its pretest step: bash test/setup/install-debian-deps.sh)');
  }
  return (binaryPath = found);
}

function confText(port: number, dir: string, opts: MosquittoOptions): string {
  const lines = [
    `listener ${port} ${LOOPBACK}`,
    'allow_anonymous true',
    // Run as root (CI), mosquitto drops to user "mosquitto", which cannot write our 0700 temp dir
    // (persistence, or read password files put there). Stay root in that case; no effect otherwise.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    ...(opts.persistence ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1'] : ['persistence false']),
    // stderr, not stdout: mosquitto's stdout is block-buffered into a pipe, so its "running" line
    // would arrive only when the buffer fills or the broker exits.
    'log_dest stderr',
    'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
    'log_timestamp_format %Y-%m-%dT%H:%M:%S',
  ];
  const extra = opts.extraConf === undefined ? [] : typeof opts.extraConf === 'string' ? [opts.extraConf] : [...opts.extraConf];
  return [...lines, ...extra, ''].join('\n');
}

/** Starts a private Mosquitto on 127.0.0.1; resolves once it accepts TCP connections. */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const bin = mosquittoBinary();
  const dir = await mkdtemp(join(tmpdir(), 'cityedge-mosquitto-'));
  const confPath = join(dir, 'mosquitto.conf');
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  let proc: SpawnedProcess | undefined;
  let port = opts.port ?? 0;

  const launch = async (): Promise<void> => {
    await writeFile(confPath, confText(port, dir, opts));
    proc = await spawnProcess(bin, ['-c', confPath], {
      name: `mosquitto:${port}`,
      readyLine: /mosquitto version \S+ running/,
      readyTimeoutMs,
    });
    // "running" is printed after the listeners are open; connecting proves it.
    await waitForPort(port, { timeoutMs: readyTimeoutMs });
  };

  const stop = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (p) await p.kill('SIGTERM');
  };

  const cleanup = async (): Promise<void> => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  };
  opts.t?.teardown(cleanup);

  try {
    if (opts.port !== undefined) {
      await launch();
    } else {
      // freePort() can race with another process taking the port before mosquitto binds it.
      for (let attempt = 1; ; attempt++) {
        port = await freePort();
        try {
          await launch();
          break;
        } catch (err) {
          if (attempt >= 5 || !/Address already in use/.test(String(err))) throw err;
        }
      }
    }
  } catch (err) {
    if (!opts.t) await cleanup();
    throw err;
  }

  return {
    host: LOOPBACK,
    port,
    url: `mqtt://${LOOPBACK}:${port}`,
    dir,
    confPath,
    output: () => proc?.output() ?? '',
    process: () => proc,
    stop,
    kill9: async () => {
      const p = proc;
      proc = undefined;
      if (p) await p.kill('SIGKILL');
    },
    restart: async () => {
      await stop();
      // The old listener is closed once the process is gone; wait until the port can really be
      // bound again (it could have been taken meanwhile: then say so rather than start elsewhere).
      await waitFor(() => canBind(port), { timeoutMs: readyTimeoutMs, what: `port ${port} to be bindable for the restart` });
      await launch();
    },
  };
}
