// One JPEG from a camera, for an alarm that names it (`camera:` in the rule): what the operator
// sees of the pump station the moment the level went high. ffmpeg (Debian's) reads the RTSP stream
// over TCP and writes the first decoded frame; the file appears whole or not at all.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CodedError } from '../../gateway/model/index.ts';
import { redactorFor, redactUrl } from './redact.ts';

export interface SnapshotOptions {
  /** The whole budget, connection included; ffmpeg is killed when it runs out. */
  timeoutMs: number;
  /** Cancels the snapshot (the gateway stopping): ffmpeg is killed, no file is left. */
  signal?: AbortSignal;
  /** Default `ffmpeg` from PATH (Debian's package). */
  ffmpegPath?: string;
}

/**
 * The ffmpeg arguments for one frame of `url` into `out`. TCP for RTSP: a snapshot must not depend
 * on UDP getting through the box's NAT or 4G link. `-f image2 -update 1`: `out` is a temporary name,
 * so the format cannot come from its extension. `-q:v 4`: a sharp frame of 30–80 kB at 640×360.
 */
export function snapshotArgs(url: string, out: string): string[] {
  return ['-nostdin', '-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url,
    '-an', '-frames:v', '1', '-q:v', '4', '-f', 'image2', '-update', '1', '-y', out];
}

/** True if the file starts with a JPEG's SOI marker and ends with its EOI marker. */
async function isJpeg(file: string, size: number): Promise<boolean> {
  if (size < 4) return false;
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const tail = Buffer.alloc(2);
    await fh.read(head, 0, 2, 0);
    await fh.read(tail, 0, 2, size - 2);
    return head[0] === 0xff && head[1] === 0xd8 && tail[0] === 0xff && tail[1] === 0xd9;
  } finally {
    await fh.close();
  }
}

/**
 * Takes one JPEG from `url` into `file`. Rejects with CE_ERR_CAMERA_SNAPSHOT (camera unreachable,
 * refused, no picture within `timeoutMs`, cancelled); then no file is left behind, and the message
 * shows the URL without its password.
 */
export async function takeSnapshot(url: string, file: string, opts: SnapshotOptions): Promise<{ bytes: number }> {
  const redact = redactorFor(url);
  const fail = (why: string, cause?: unknown): CodedError =>
    new CodedError('CE_ERR_CAMERA_SNAPSHOT', `${redactUrl(url)}: ${redact(why)}`, { url: redactUrl(url), file }, cause === undefined ? undefined : { cause });
  if (opts.signal?.aborted) throw fail('cancelled');
  // Written next to the final name (same file system, so the rename is atomic) under a hidden name
  // that a listing of the snapshots does not show.
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.part`);
  const child = spawn(opts.ffmpegPath ?? 'ffmpeg', snapshotArgs(url, tmp), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => { stderr = (stderr + s).slice(-2000); });

  let why: string | undefined;
  const kill = (reason: string): void => {
    why ??= reason;
    // SIGKILL at once: there is nothing worth flushing, and the budget is spent.
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* exited meanwhile */ }
    }
  };
  const timer = setTimeout(() => kill(`no picture within ${opts.timeoutMs} ms`), opts.timeoutMs);
  const onAbort = (): void => kill('cancelled');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exit = await new Promise<{ code: number | null; spawnError?: Error }>((resolve) => {
      child.once('error', (err) => resolve({ code: null, spawnError: err }));
      child.once('close', (code) => resolve({ code }));
    });
    if (exit.spawnError) {
      const e = exit.spawnError as NodeJS.ErrnoException;
      throw fail(e.code === 'ENOENT' ? 'ffmpeg is not installed (Debian package ffmpeg)' : `cannot start ffmpeg: ${e.message}`, e);
    }
    if (why) throw fail(why);
    const last = stderr.trim().split('\n').pop();
    if (exit.code !== 0) throw fail(last || `ffmpeg exited with status ${exit.code}`);
    const size = await stat(tmp).then((s) => s.size, () => 0);
    if (!(await isJpeg(tmp, size).catch(() => false))) throw fail(last || 'the camera sent no picture');
    await rename(tmp, file);
    return { bytes: size };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    await rm(tmp, { force: true });
  }
}
