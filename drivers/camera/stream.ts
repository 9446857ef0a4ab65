// Live video of one camera for the console (智能视频): ffmpeg (Debian's) reads the camera's RTSP
// stream and re-encodes it as MPEG-1 video in MPEG-TS, what JSMpeg decodes in any browser without
// plugins. node-rtsp-stream's Mpeg1Muxer runs ffmpeg; its VideoStream is not used, because its
// websocket server listens on every interface without authentication: the console relays the chunks
// over its own authenticated websocket instead.
//
// One ffmpeg per camera however many watch: the first viewer starts it, later ones share it, and it
// stops IDLE_STOP_MS after the last one leaves (a viewer who reloads the page finds it running).
// While watched, a dying ffmpeg (camera rebooted, network cut) is restarted with backoff.
import type { ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { Backoff, type CameraDeviceConfig, type Clock, type Logger } from '../../gateway/model/index.ts';
import { redactorFor, redactUrl } from './redact.ts';

export { redactUrl } from './redact.ts';

interface Mpeg1MuxerOptions { url: string; ffmpegPath: string; ffmpegOptions?: Record<string, string> }
/** What node-rtsp-stream's Mpeg1Muxer is: it spawns ffmpeg in its constructor. */
interface Mpeg1Muxer extends EventEmitter { stream: ChildProcess; spawnOptions: string[] }
const require = createRequire(import.meta.url);
// CommonJS without type declarations: loaded through require and described by the interfaces above.
const Mpeg1Muxer = require('node-rtsp-stream/mpeg1muxer.js') as new (o: Mpeg1MuxerOptions) => Mpeg1Muxer;

/** MPEG-TS packet size (ISO/IEC 13818-1 §2.4.3.2): chunks handed to watchers are whole packets. */
export const TS_PACKET_BYTES = 188;
export const IDLE_STOP_MS = 10_000;
/** ffmpeg producing nothing this long while running is taken for a hung connection and restarted. */
export const STALL_MS = 30_000;
const KILL_GRACE_MS = 3_000;

/**
 * ffmpeg's options after Mpeg1Muxer's fixed `-i URL -f mpegts -codec:v mpeg1video` (it appends these
 * after the codec, before the output `-`, so only output and global options can go here).
 */
export function ffmpegOptions(cam: Pick<CameraDeviceConfig, 'width' | 'height' | 'bitrate_kbps'>): Record<string, string> {
  return {
    // Global options are read anywhere on the line. Errors only: no progress line every half
    // second for as long as someone watches.
    '-loglevel': 'error',
    '-nostdin': '',
    // Video only: JSMpeg would play MP2 audio, but nobody listens to a pump station.
    '-an': '',
    // The camera's own picture may be 4 K. 4:2:0 needs even sizes: an odd one is rounded down
    // rather than making ffmpeg refuse to start.
    '-s': `${cam.width & ~1}x${cam.height & ~1}`,
    '-b:v': `${cam.bitrate_kbps}k`,
    // MPEG-1 knows only 23.976–60 frames/s (ISO/IEC 11172-2 §2.4.3.2, frame_rate_code): a 10 fps
    // camera is re-timed to 25, frames repeated, or ffmpeg refuses to start.
    '-r': '25',
    // No B-frames: JSMpeg decodes none, and each costs a frame of delay.
    '-bf': '0',
  };
}

export interface CameraStreamStats {
  viewers: number;
  /** ffmpeg is running (it may still be connecting). */
  running: boolean;
  /** ffmpeg's process id while it runs. */
  pid?: number;
  /** ffmpeg processes started since this stream was made. */
  starts: number;
  /** MPEG-TS bytes received from ffmpeg in all. */
  bytes: number;
  /** ffmpeg's last error line or why it stopped, credentials masked. */
  lastError?: string;
}

export interface CameraStreamDeps {
  clock: Clock;
  logger: Logger;
  /** Default `ffmpeg` from PATH. */
  ffmpegPath?: string;
  idleStopMs?: number;
  stallMs?: number;
  /** Restart delays; default 1 s doubling to 30 s, with jitter. */
  backoff?: Backoff;
}

/** One supervised ffmpeg lifetime: from the first viewer until idle stop or close. */
interface Run {
  abort: AbortController;
  child?: ChildProcess;
  /** A warning was logged for the current failure streak. */
  failing: boolean;
  backoff: Backoff;
  done?: Promise<void>;
}

export class CameraStream {
  readonly #cam: CameraDeviceConfig;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #ffmpeg: string;
  readonly #idleStopMs: number;
  readonly #stallMs: number;
  readonly #backoff?: Backoff;
  readonly #redact: (text: string) => string;
  readonly #url: string;
  readonly #watchers = new Set<(chunk: Buffer) => void>();
  /** Runs being stopped (ffmpeg still exiting); close() waits for them. */
  readonly #stopping = new Set<Promise<void>>();
  #run?: Run;
  #idle?: AbortController;
  #starts = 0;
  #bytes = 0;
  #lastError?: string;
  #closed = false;

  constructor(cam: CameraDeviceConfig, deps: CameraStreamDeps) {
    this.#cam = cam;
    this.#clock = deps.clock;
    this.#url = redactUrl(cam.url);
    this.#log = deps.logger;
    this.#ffmpeg = deps.ffmpegPath ?? 'ffmpeg';
    this.#idleStopMs = deps.idleStopMs ?? IDLE_STOP_MS;
    this.#stallMs = deps.stallMs ?? STALL_MS;
    this.#backoff = deps.backoff;
    this.#redact = redactorFor(cam.url);
  }

  /**
   * Starts receiving MPEG-TS chunks (whole 188-byte packets; a late viewer starts mid-stream, and
   * the decoder waits for the next sequence header, sent with every group of pictures). Returns
   * the function that stops them.
   */
  watch(onChunk: (chunk: Buffer) => void): () => void {
    if (this.#closed) throw new Error(`camera ${this.#cam.id}: stream closed`);
    const watcher = (chunk: Buffer): void => onChunk(chunk); // own identity: one function may watch twice
    this.#watchers.add(watcher);
    this.#idle?.abort();
    this.#idle = undefined;
    if (!this.#run) this.#start();
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      this.#watchers.delete(watcher);
      if (this.#watchers.size === 0) this.#scheduleIdleStop();
    };
  }

  stats(): CameraStreamStats {
    const child = this.#run?.child;
    const running = child !== undefined && child.exitCode === null && child.signalCode === null;
    return {
      viewers: this.#watchers.size,
      running,
      ...(running && child.pid !== undefined ? { pid: child.pid } : {}),
      starts: this.#starts,
      bytes: this.#bytes,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
    };
  }

  /** Stops ffmpeg (SIGTERM by PID, SIGKILL after 3 s) and resolves once it has exited. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#watchers.clear();
    this.#idle?.abort();
    this.#idle = undefined;
    this.#stop();
    await Promise.all(this.#stopping);
  }

  #scheduleIdleStop(): void {
    if (!this.#run || this.#closed) return;
    const idle = new AbortController();
    this.#idle = idle;
    this.#clock.sleep(this.#idleStopMs, idle.signal).then(() => {
      if (this.#idle !== idle || this.#watchers.size > 0) return;
      this.#idle = undefined;
      this.#log.debug({ camera: this.#cam.id }, 'no viewer left: camera stream stopped');
      this.#stop();
    }, () => { /* a viewer came back, or close() */ });
  }

  #start(): void {
    const run: Run = {
      abort: new AbortController(), failing: false,
      backoff: this.#backoff ?? new Backoff({ initialMs: 1000, maxMs: 30_000 }),
    };
    this.#run = run;
    run.done = this.#supervise(run).catch((err: Error) => {
      this.#log.error({ camera: this.#cam.id, err: this.#redact(err.message) }, 'camera stream supervisor failed');
    });
  }

  /** Ends the current run at once; a viewer arriving meanwhile starts a fresh one. */
  #stop(): void {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    run.abort.abort();
    const done = run.done!.finally(() => this.#stopping.delete(done));
    this.#stopping.add(done);
  }

  async #supervise(run: Run): Promise<void> {
    const { signal } = run.abort;
    while (!signal.aborted) {
      const why = await this.#runFfmpeg(run);
      if (signal.aborted) break;
      // It ended while watched: camera rebooted, network cut, credentials changed, or a hang.
      this.#lastError = why;
      const delayMs = run.backoff.next();
      const fields = { camera: this.#cam.id, url: this.#url, err: why, retryInMs: delayMs };
      if (!run.failing) {
        run.failing = true; // one warning per failure streak: a camera down all night is one line
        this.#log.warn(fields, 'camera stream interrupted; restarting ffmpeg with backoff');
      } else {
        this.#log.debug(fields, 'camera stream still failing');
      }
      try { await this.#clock.sleep(delayMs, signal); } catch { break; }
    }
  }

  /** Runs one ffmpeg until it exits (or the run is aborted); resolves with why it ended. */
  async #runFfmpeg(run: Run): Promise<string> {
    const { signal } = run.abort;
    const muxer = new Mpeg1Muxer({ url: this.#cam.url, ffmpegPath: this.#ffmpeg, ffmpegOptions: ffmpegOptions(this.#cam) });
    const child = muxer.stream;
    // Mpeg1Muxer's own exit handler prints to the console; exits are handled (and logged) here.
    child.removeAllListeners('exit');
    run.child = child;
    this.#starts++;
    let lastLine: string | undefined;
    let lastDataAt = this.#clock.now();
    let rest = Buffer.alloc(0);
    muxer.on('ffmpegStderr', (data: Buffer) => {
      const line = data.toString('utf8').trim().split('\n').pop()?.trim();
      if (line) lastLine = this.#redact(line);
    });
    muxer.on('mpeg1data', (data: Buffer) => {
      if (signal.aborted) return;
      lastDataAt = this.#clock.now();
      this.#bytes += data.length;
      if (run.failing) {
        run.failing = false;
        run.backoff.reset();
        this.#log.info({ camera: this.#cam.id, url: this.#url }, 'camera stream back');
      }
      // ffmpeg's pipe writes do not follow packet boundaries; watchers get whole packets.
      const buf = rest.length ? Buffer.concat([rest, data]) : data;
      const whole = buf.length - (buf.length % TS_PACKET_BYTES);
      rest = Buffer.from(buf.subarray(whole));
      if (whole === 0) return;
      const chunk = buf.subarray(0, whole);
      for (const w of this.#watchers) {
        try { w(chunk); } catch (err) {
          this.#log.warn({ camera: this.#cam.id, err: (err as Error).message }, 'a camera viewer failed on a chunk');
        }
      }
    });

    const ended = new Promise<string>((resolve) => {
      child.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ENOENT'
        ? `ffmpeg is not installed (Debian package ffmpeg): ${this.#ffmpeg}`
        : `cannot start ffmpeg: ${err.message}`));
      child.once('exit', (code, sig) => resolve(lastLine ?? (code === 0
        ? 'the camera ended the stream'
        : `ffmpeg ${code === null ? `killed by ${sig}` : `exited with status ${code}`}`)));
    });
    // Stops when the run is aborted (idle, close) or ffmpeg went quiet for too long.
    const watchdog = new AbortController();
    const kill = (why: string): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      if (why) lastLine = why;
      try { process.kill(child.pid, 'SIGTERM'); } catch { /* exited meanwhile */ }
      this.#clock.sleep(KILL_GRACE_MS, watchdog.signal).then(() => {
        try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ }
      }, () => {});
    };
    const onAbort = (): void => kill('');
    signal.addEventListener('abort', onAbort, { once: true });
    void (async () => {
      const every = Math.max(100, Math.min(5_000, this.#stallMs / 4));
      for (;;) {
        try { await this.#clock.sleep(every, watchdog.signal); } catch { return; }
        if (this.#clock.now() - lastDataAt > this.#stallMs) {
          kill(`no video from the camera for ${Math.round(this.#stallMs / 1000)} s`);
          return;
        }
      }
    })();
    try {
      return await ended;
    } finally {
      watchdog.abort();
      signal.removeEventListener('abort', onAbort);
    }
  }
}
