// Child processes for tests (brokers, Modbus peers, the gateway itself). Every process is started in
// its own process group (detached) so that stopping it also stops whatever it forked: a shell
// wrapper's children, a server's workers. A leftover peer holds its port and its temp dir and can
// make the *next* test fail, so groups are killed on kill(), on the test's teardown, and, as a last
// resort, when this test process exits or is signalled (tap's timeout sends SIGALRM).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { basename } from 'node:path';
import { deadline, delay, waitForValue } from './wait.ts';
import type { WaitOptions } from './wait.ts';

/** Anything with tap's `t.teardown`; structural so helpers work with any tap Test. */
export interface Teardownable {
  teardown(fn: () => unknown): void;
}

export interface SpawnOptions {
  cwd?: string;
  /** Added to (not replacing) this process's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Resolve only once a line of stdout or stderr matches; reject if the process exits first. */
  readyLine?: RegExp;
  readyTimeoutMs?: number;
  /** Name used in errors; defaults to the command's basename. */
  name?: string;
  /** 'pipe' lets a peer notice its parent died (EOF on stdin); default 'ignore' (/dev/null). */
  stdin?: 'ignore' | 'pipe';
  /** Output kept for output(), in characters; the oldest is dropped beyond it. */
  maxOutputChars?: number;
  /** How long kill() waits after its first signal before SIGKILL. */
  killGraceMs?: number;
  /** Registers `t.teardown(() => proc.kill())` before waiting for readiness. */
  t?: Teardownable;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Shell-style status: the exit code, or 128 + signal number when killed by a signal. */
  status: number;
}

export interface SpawnedProcess {
  readonly pid: number;
  readonly name: string;
  readonly child: ChildProcess;
  /** The match of `readyLine`, or null when none was asked for. */
  readonly ready: RegExpExecArray | null;
  /** Resolves when the group leader has exited (its children may outlive it; kill() waits for them). */
  readonly exited: Promise<ExitInfo>;
  /** Combined stdout and stderr seen so far (bounded; the oldest part is dropped first). */
  output(): string;
  /** True until the group leader has exited. */
  running(): boolean;
  /**
   * Signals the whole process group, escalates to SIGKILL after the grace period, and resolves with
   * the leader's shell-style exit status once no process of the group is left. Safe to call twice.
   */
  kill(signal?: NodeJS.Signals): Promise<number>;
  /** Waits for a line of output matching `re` (already seen or yet to come). */
  waitForOutput(re: RegExp, opts?: WaitOptions): Promise<RegExpExecArray>;
}

const DEFAULT_READY_TIMEOUT_MS = 30_000;
const DEFAULT_GRACE_MS = 5_000;
/** After SIGKILL a process is gone within milliseconds; this only bounds a pathological hang. */
const AFTER_SIGKILL_MS = 15_000;

/** Process groups started here and not yet seen empty. */
const liveGroups = new Set<number>();
let sweepInstalled = false;

/** Kills every group still alive, synchronously (usable from 'exit' and signal handlers). */
function sweep(): void {
  for (const pgid of liveGroups) {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* already gone */ }
  }
  liveGroups.clear();
}

const FATAL_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGALRM'];
const signalHandlers = new Map<NodeJS.Signals, () => void>();

function installSweep(): void {
  if (sweepInstalled) return;
  sweepInstalled = true;
  process.on('exit', sweep);
  // 'exit' does not run when a signal kills us (tap's timeout is SIGALRM, then SIGKILL). Sweep, step
  // out of the way, and re-raise so the signal has its usual effect: tap's own handler (signal-exit)
  // only acts once it is the last listener, so re-raising is what lets it act at all.
  for (const sig of FATAL_SIGNALS) {
    const handler = (): void => {
      sweep();
      for (const [s, h] of signalHandlers) process.removeListener(s, h);
      signalHandlers.clear();
      process.kill(process.pid, sig);
    };
    signalHandlers.set(sig, handler);
    process.on(sig, handler);
  }
}

/**
 * Live (non-zombie) members of a process group. Zombies count as gone: in a container whose PID 1
 * does not reap orphans, a killed grandchild stays a zombie for ever and `kill(-pgid, 0)` would
 * still succeed.
 */
export async function groupMembers(pgid: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    // No /proc (not Linux): fall back to "does the group accept signals".
    try { process.kill(-pgid, 0); return [pgid]; } catch { return []; }
  }
  const members = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map(async (e) => {
    try {
      const stat = await readFile(`/proc/${e}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp …": comm may contain spaces and parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const state = fields[0];
      return Number(fields[2]) === pgid && state !== 'Z' && state !== 'X' ? Number(e) : undefined;
    } catch {
      return undefined; // exited while we looked
    }
  }));
  return members.filter((m): m is number => m !== undefined);
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
}

/** Spawns `cmd args` in a new process group; with `readyLine`, resolves only once it matched. */
export async function spawnProcess(cmd: string, args: readonly string[] = [], opts: SpawnOptions = {}): Promise<SpawnedProcess> {
  const name = opts.name ?? basename(cmd);
  const maxChars = opts.maxOutputChars ?? 256 * 1024;
  const graceMs = opts.killGraceMs ?? DEFAULT_GRACE_MS;
  const echo = process.env.CITYEDGE_TEST_ECHO === '1';

  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k]; else env[k] = v;
  }

  installSweep();
  const child = spawn(cmd, [...args], {
    cwd: opts.cwd,
    env,
    detached: true, // its own process group, so kill(-pid) reaches everything it starts
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });

  // Wait for 'spawn' or 'error' so a missing binary is a clear rejection, not a later crash.
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`cannot start ${name} (${cmd}): ${err.message}`)));
  });
  child.on('error', () => { /* reported through exit/kill; keep it from becoming uncaught */ });
  const pid = child.pid!;
  liveGroups.add(pid);

  let out = '';
  let dropped = 0;
  const lineListeners = new Set<(line: string) => void>();
  const append = (text: string): void => {
    out += text;
    if (out.length > maxChars) {
      dropped += out.length - maxChars;
      out = out.slice(out.length - maxChars);
    }
  };
  // Lines are assembled per stream so that interleaved stdout/stderr chunks never split a ready line.
  const attach = (stream: NodeJS.ReadableStream | null, label: string): void => {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      append(chunk);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (echo) process.stderr.write(`[${name} ${label}] ${line}\n`);
        for (const l of lineListeners) l(line);
      }
    });
    stream.on('end', () => {
      if (partial) for (const l of lineListeners) l(partial);
      partial = '';
    });
  };
  attach(child.stdout, 'out');
  attach(child.stderr, 'err');
  const output = (): string => (dropped ? `[… ${dropped} earlier characters dropped …]\n` : '') + out;

  let exitInfo: ExitInfo | undefined;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal, status: exitStatus(code, signal) };
      resolve(exitInfo);
      // The leader is gone; if nothing of its group is left either, forget the group so the exit
      // sweep can never signal a recycled pid.
      void groupMembers(pid).then((m) => { if (m.length === 0) liveGroups.delete(pid); });
    });
  });

  const signalGroup = (sig: NodeJS.Signals): void => {
    try { process.kill(-pid, sig); } catch { /* ESRCH: group already empty */ }
  };
  let killing: Promise<number> | undefined;
  const kill = (signal: NodeJS.Signals = 'SIGTERM'): Promise<number> => {
    // A second call (say SIGKILL while a SIGTERM is still in its grace period) delivers its signal
    // too, then shares the first call's wait.
    if (killing && liveGroups.has(pid)) signalGroup(signal);
    killing ??= (async () => {
      const gone = async (): Promise<boolean> => exitInfo !== undefined && (await groupMembers(pid)).length === 0;
      if (liveGroups.has(pid)) signalGroup(signal);
      const grace = deadline(graceMs);
      while (!(await gone()) && !grace.expired()) await delay(Math.min(50, grace.remaining() + 1));
      if (!(await gone())) {
        signalGroup('SIGKILL');
        const hard = deadline(AFTER_SIGKILL_MS);
        while (!(await gone())) {
          if (hard.expired()) {
            throw new Error(`${name} (pgid ${pid}) still has processes ${(await groupMembers(pid)).join(', ')} after SIGKILL`);
          }
          await delay(20);
        }
      }
      liveGroups.delete(pid);
      return (await exited).status;
    })();
    return killing;
  };

  const waitForOutput = (re: RegExp, wopts: WaitOptions = {}): Promise<RegExpExecArray> =>
    // Multiline so ^ and $ mean a line, as with readyLine; no g/y so exec() has no state.
    waitForValue(() => new RegExp(re.source, [...new Set(re.flags.replace(/[gy]/g, '') + 'm')].join('')).exec(out) ?? undefined, {
      what: `${name} to print ${re}`, ...wopts,
    });

  const proc: SpawnedProcess = {
    pid, name, child, ready: null, exited, output, kill, waitForOutput,
    running: () => exitInfo === undefined,
  };
  opts.t?.teardown(() => kill());
  if (!opts.readyLine) return proc;

  // Ready: a matching line, unless the process exits or the deadline passes first.
  const readyLine = new RegExp(opts.readyLine.source, opts.readyLine.flags.replace(/[gy]/g, '')); // stateless exec()
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  let onLine: ((line: string) => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      onLine = (line: string): void => {
        const m = readyLine.exec(line);
        if (m) resolve(m);
      };
      lineListeners.add(onLine);
      // Output that arrived before the listener (same tick as 'spawn') is checked too.
      for (const line of out.split('\n')) onLine(line);
      timer = setTimeout(() => reject(new Error(
        `${name} did not print ${readyLine} within ${readyTimeoutMs} ms; output:\n${output()}`)), readyTimeoutMs);
      void exited.then(async (e) => {
        // 'exit' can come before the last output; wait for the pipes to close (bounded: a
        // grandchild may hold them open) before deciding the line never came.
        await Promise.race([closed, delay(2000)]);
        const m = out.split('\n').map((l) => readyLine.exec(l)).find((x) => x);
        if (m) resolve(m);
        else reject(new Error(`${name} exited (status ${e.status}) before printing ${readyLine}; output:\n${output()}`));
      });
    });
    return { ...proc, ready: match };
  } catch (err) {
    await kill().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
    if (onLine) lineListeners.delete(onLine);
  }
}

/** Registers `proc.kill()` as a teardown of `t`: the process is stopped even when the test fails. */
export function registerCleanup(t: Teardownable, proc: Pick<SpawnedProcess, 'kill'>): void {
  t.teardown(() => proc.kill());
}
