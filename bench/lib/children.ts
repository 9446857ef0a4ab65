// Child processes of a benchmark run (broker, simulators, gateway, raw client). Each starts in its own
// process group, so stopping it stops whatever it forked too, and every one is tracked here so that
// an error, Ctrl-C or the run's own deadline leaves nothing behind holding a port or a CPU.
import { spawn, type ChildProcess } from 'node:child_process';

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Every complete line of stdout and stderr so far (bounded: the oldest are dropped). */
  readonly lines: string[];
  /**
   * Resolves with the first line matching `re`, among those seen already unless `onlyNew`, or yet to
   * come; rejects if the process exits first or after `timeoutMs`.
   */
  waitForLine(re: RegExp, timeoutMs: number, onlyNew?: boolean): Promise<string>;
  /** Calls `fn` for every new line (stdout and stderr). */
  onLine(fn: (line: string, stream: 'out' | 'err') => void): void;
  running(): boolean;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves with the exit status of the leader. */
  stop(graceMs?: number): Promise<string>;
}

const MAX_LINES = 5000;
const live = new Set<Child>();

export function startChild(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' } = {}): Child {
  const proc = spawn(cmd, args, {
    env: { ...process.env, ...opts.env },
    detached: true, // own process group: kill(-pid) reaches its children too
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`cannot start ${name} (${cmd})`);
  const pid = proc.pid;
  const lines: string[] = [];
  const listeners: ((line: string, stream: 'out' | 'err') => void)[] = [];
  let exit: string | undefined;
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => { exit = signal ? `signal ${signal}` : `code ${code}`; resolve(exit); });
  });
  proc.on('error', () => { /* surfaces as exit or as a missing ready line */ });
  for (const [stream, label] of [[proc.stdout, 'out'], [proc.stderr, 'err']] as const) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > MAX_LINES) lines.shift();
        for (const l of listeners) l(line, label);
      }
    });
  }

  let stopping: Promise<string> | undefined;
  const child: Child = {
    name, pid, proc, lines,
    running: () => exit === undefined,
    onLine: (fn) => { listeners.push(fn); },
    waitForLine(re, timeoutMs, onlyNew = false) {
      const seen = onlyNew ? undefined : lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        let done = false;
        const timer = setTimeout(() => { done = true; reject(new Error(`${name} printed nothing matching ${re} within ${timeoutMs} ms; last lines:\n${lines.slice(-20).join('\n')}`)); }, timeoutMs);
        listeners.push((line) => { if (!done && re.test(line)) { done = true; clearTimeout(timer); resolve(line); } });
        void exited.then((how) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          reject(new Error(`${name} exited (${how}) before printing ${re}; last lines:\n${lines.slice(-20).join('\n')}`));
        });
      });
    },
    stop(graceMs = 5000) {
      stopping ??= (async () => {
        const signal = (sig: NodeJS.Signals) => { try { process.kill(-pid, sig); } catch { /* group gone */ } };
        signal('SIGTERM');
        const timer = setTimeout(() => signal('SIGKILL'), graceMs);
        const how = await exited;
        clearTimeout(timer);
        signal('SIGKILL'); // the leader is gone; anything it left in its group goes too
        live.delete(child);
        return how;
      })();
      return stopping;
    },
  };
  live.add(child);
  return child;
}

/** Stops every child still running, in parallel. */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...live].map((c) => c.stop()));
}

/** Last resort from a synchronous 'exit' handler: SIGKILL every group still tracked. */
export function killAllNow(): void {
  for (const c of live) { try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ } }
  live.clear();
}
