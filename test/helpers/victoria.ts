// A real VictoriaMetrics (Debian's `victoria-metrics`) for one test: its own data dir and log in a
// temp dir, its own free port on loopback, stopped by PID in the test's teardown. It accepts
// InfluxDB line protocol on /api/v2/write (Debian's influxdb is 1.6, which has no v2 API) and
// stores field F of measurement M as metric `M_F`. Tests read with exportSeries(): it asks for
// /internal/force_flush first (without it, freshly written rows of a new store showed up in
// /api/v1/export only after ~10 s), then /api/v1/export; instant queries lag ~30 s
// (-search.latencyOffset). `npm run bench:fleet` starts its store with launchOnFreePort() too
// (bench/lib/fleet-victoria.ts): the flags, the port and the wait for /health are shared; each
// caller runs the process under its own process control.
import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canBind, freePort, LOOPBACK } from './ports.ts';
import { spawnProcess, type SpawnedProcess, type Teardownable } from './proc.ts';
import { deadline, delay, errorText, waitFor } from './wait.ts';

export const VICTORIA_BIN = '/usr/bin/victoria-metrics';

/** One series of /api/v1/export: labels (with `__name__`), values and their timestamps (epoch ms). */
export interface Series {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export interface Victoria {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** The temp dir holding the data dir and `victoria.log`. */
  readonly dir: string;
  /** Every series whose labels match the selector, e.g. `{__name__=~"cityedge_.*"}`, including what was written just now. */
  exportSeries(match: string): Promise<Series[]>;
  /** SIGTERM (VictoriaMetrics flushes what it holds), then waits until the process group is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data dir. */
  start(): Promise<void>;
  /** The log so far, all runs. */
  log(): Promise<string>;
}

export interface VictoriaOptions {
  /** Stops the server and removes its temp dir in `t.teardown`; prints its log when the test failed. */
  t: Teardownable & { passing?: () => boolean };
  /** More flags, e.g. `-influx.maxLineSize=…`. */
  args?: readonly string[];
  readyTimeoutMs?: number;
}

/** Throws, saying what to install, when VICTORIA_BIN is missing. */
export function requireVictoria(): void {
  if (!existsSync(VICTORIA_BIN)) {
    throw new Error(`${VICTORIA_BIN} not found: install the Debian package "victoria-metrics" ` +
      '(`npm test` does this in its pretest step: bash test/setup/install-debian-deps.sh)');
  }
}

/** A VictoriaMetrics process as its starter runs it (test/helpers/proc.ts here, bench/lib/children.ts in a bench). */
export interface VictoriaProcess {
  running(): boolean;
  /** What it printed, for the error when it did not come up. */
  output(): string;
  /** Ends it at once: one that never answered holds nothing to flush. */
  kill(signal: 'SIGKILL'): Promise<unknown>;
}

export interface VictoriaLaunch<P extends VictoriaProcess> {
  /** Its data dir (`-storageDataPath`). */
  dataDir: string;
  /** More flags, e.g. `-dedup.minScrapeInterval=1ms`. */
  args?: readonly string[];
  readyTimeoutMs?: number;
  /** Starts VICTORIA_BIN with these flags; `port` is the one they name. */
  spawn(args: string[], port: number): Promise<P> | P;
}

/**
 * Runs VictoriaMetrics on LOOPBACK:`port` with its data in `o.dataDir`, retention 100 years (tests
 * and the bench write samples dated in the past); resolves once GET /health answers. If it exits or
 * does not answer in time it is killed, and the error quotes its output.
 */
export async function launchVictoria<P extends VictoriaProcess>(port: number, o: VictoriaLaunch<P>): Promise<P> {
  const url = `http://${LOOPBACK}:${port}`;
  const readyTimeoutMs = o.readyTimeoutMs ?? 60_000;
  const p = await o.spawn([
    `-httpListenAddr=${LOOPBACK}:${port}`,
    `-storageDataPath=${o.dataDir}`,
    '-retentionPeriod=100y',
    ...(o.args ?? []),
  ], port);
  const until = deadline(readyTimeoutMs);
  let lastError = '';
  while (p.running() && !until.expired()) {
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      await res.text();
      if (res.ok) return p;
      lastError = `answered ${res.status}`;
    } catch (err) {
      lastError = errorText(err); // not listening yet
    }
    await delay(100);
  }
  const why = p.running() ? `did not answer GET ${url}/health within ${readyTimeoutMs} ms (last: ${lastError})` : 'exited before answering GET /health';
  await p.kill('SIGKILL').catch(() => {});
  throw new Error(`victoria-metrics ${why}\nvictoria-metrics output:\n${p.output().slice(-4000)}`);
}

/**
 * launchVictoria() on a free port; on another one when something took the port between freePort()
 * and victoria-metrics binding it.
 */
export async function launchOnFreePort<P extends VictoriaProcess>(o: VictoriaLaunch<P>): Promise<{ proc: P; port: number; url: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return { proc: await launchVictoria(port, o), port, url: `http://${LOOPBACK}:${port}` };
    } catch (err) {
      if (attempt >= 5 || !/address already in use/i.test(String(err))) throw err;
    }
  }
}

/** Starts a private VictoriaMetrics on 127.0.0.1; resolves once GET /health answers. */
export async function startVictoria(opts: VictoriaOptions): Promise<Victoria> {
  requireVictoria();
  const { t } = opts;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const dir = await mkdtemp(join(tmpdir(), 'cityedge-victoria-'));
  const dataDir = join(dir, 'data');
  const logPath = join(dir, 'victoria.log');
  await mkdir(dataDir);
  let proc: SpawnedProcess | undefined;
  let port = 0;
  let url = '';

  const launch: VictoriaLaunch<SpawnedProcess> = {
    dataDir, args: opts.args, readyTimeoutMs,
    spawn: async (args, on) => {
      await appendFile(logPath, `--- starting on ${LOOPBACK}:${on} ---\n`);
      const p = await spawnProcess(VICTORIA_BIN, args, {
        name: `victoria-metrics:${on}`,
        // A clean stop flushes in-memory rows to disk; give it time before SIGKILL would lose them.
        killGraceMs: 30_000,
      });
      proc = p; // from now on, stop() (and the teardown) reaches it
      // Its log goes to the temp dir as it comes (and stays in memory in p.output()).
      const toFile = (chunk: string) => { void appendFile(logPath, chunk).catch(() => {}); };
      p.child.stdout?.on('data', toFile);
      p.child.stderr?.on('data', toFile);
      return p;
    },
  };

  const stop = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (p) await p.kill('SIGTERM');
  };

  const log = async (): Promise<string> => readFile(logPath, 'utf8').catch(() => '');

  t.teardown(async () => {
    await stop();
    if (opts.t.passing && !opts.t.passing()) {
      process.stderr.write(`\n--- victoria-metrics log (${logPath}) ---\n${await log()}\n--- end of victoria-metrics log ---\n`);
    }
    await rm(dir, { recursive: true, force: true });
  });

  ({ port, url } = await launchOnFreePort(launch));

  return {
    get url() { return url; },
    get port() { return port; },
    dir,
    log,
    stop,
    start: async () => {
      await stop();
      await waitFor(() => canBind(port), { timeoutMs: readyTimeoutMs, what: `port ${port} to be bindable for the restart` });
      await launchVictoria(port, launch);
    },
    exportSeries: async (match: string): Promise<Series[]> => {
      const flushed = await fetch(`${url}/internal/force_flush`);
      await flushed.text();
      if (!flushed.ok) throw new Error(`GET /internal/force_flush answered ${flushed.status}`);
      const res = await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`);
      const text = await res.text();
      if (!res.ok) throw new Error(`GET /api/v1/export answered ${res.status}: ${text.slice(0, 500)}`);
      return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Series);
    },
  };
}
