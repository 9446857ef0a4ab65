// A synthetic RTSP camera (智能视频) for demos and tests: GStreamer's RTSP server, run from Debian's
// python3 (rtsp_camera.py next to this file), serving a live test picture with a clock as H.264.
// Several clients can watch at once and share one encoder, as with a real camera; ffmpeg alone
// serves one client at best. This file only starts the Python server, waits until its port
// answers and hands back its URL; `cityedge sim camera` forwards signals to it.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

/** Debian's interpreter: the python3 first on PATH may be another one that cannot see python3-gi. */
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const CAMERA_SCRIPT = fileURLToPath(new URL('./rtsp_camera.py', import.meta.url));
export const CAMERA_PACKAGES = 'python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-x';

export interface CameraSimOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** RTSP port; 0 picks a free one (returned as `port`). Default 8554. */
  port?: number;
  /** Mount path of the stream; default `/cam1`. */
  path?: string;
  /** Picture size; even numbers (the encoder works on 2×2 chroma blocks). Default 640×360. */
  width?: number;
  height?: number;
  /** Frames per second, 1–60; default 10, what city cameras typically send for monitoring. */
  fps?: number;
  /** H.264 bit rate; default 800 kbit/s. */
  bitrateKbps?: number;
  /** Text shown in the picture next to the clock (Latin script: Debian's base fonts have no CJK). */
  label?: string;
  /** The Python with python3-gi; default Debian's /usr/bin/python3. */
  python?: string;
  /** Longest wait for the port to answer; default 20 s (the first start loads GStreamer's registry). */
  readyTimeoutMs?: number;
  /** Every line the server prints (clients connecting and leaving, warnings). */
  onLine?: (line: string, stream: 'out' | 'err') => void;
}

export interface CameraSim {
  /** `rtsp://host:port/path`, with the port actually bound. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly path: string;
  /** PID of the Python server. */
  readonly pid: number;
  /** Resolves with the server's shell-style exit status (128 + signal number when killed). */
  readonly exited: Promise<number>;
  /** Sends a signal to the server (SIGTERM or SIGINT stop it cleanly). */
  kill(signal?: NodeJS.Signals): void;
  /** Stops the server (SIGTERM, SIGKILL after 5 s) and resolves with its exit status. */
  close(): Promise<number>;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

function intIn(value: number | undefined, name: string, fallback: number, min: number, max: number): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`camera simulator: ${name} ${n}: expected an integer ${min}–${max}`);
  return n;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean): void => { clearTimeout(timer); sock.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), 1000);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Starts the camera; resolves once its RTSP port accepts connections. */
export async function startCameraSim(opts: CameraSimOptions = {}): Promise<CameraSim> {
  const host = opts.host ?? '127.0.0.1';
  const path = opts.path ?? '/cam1';
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(path)) throw new RangeError(`camera simulator: path ${path}: expected /name (letters, digits, . _ ~ - /)`);
  const width = intIn(opts.width, 'width', 640, 16, 4096);
  const height = intIn(opts.height, 'height', 360, 16, 4096);
  if (width % 2 || height % 2) throw new RangeError(`camera simulator: ${width}x${height}: width and height must be even`);
  const python = opts.python ?? DEBIAN_PYTHON;
  const args = [
    '-u', CAMERA_SCRIPT, '--host', host, '--port', String(intIn(opts.port, 'port', 8554, 0, 65535)), '--path', path,
    '--width', String(width), '--height', String(height), '--fps', String(intIn(opts.fps, 'fps', 10, 1, 60)),
    '--bitrate-kbps', String(intIn(opts.bitrateKbps, 'bitrate', 800, 50, 50_000)), `--label=${opts.label ?? ''}`, // '=': a label may start with '-'
    // stdin is a pipe from this process: the server exits by itself when we die, even by SIGKILL.
    '--exit-on-stdin-eof',
  ];
  const child = spawn(python, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`camera simulator: cannot start ${python} (${err.message}); ` +
      `it needs Debian's python3 with ${CAMERA_PACKAGES}: sudo apt-get install -y ${CAMERA_PACKAGES}`)));
  });
  child.on('error', () => { /* reported through 'exit' */ });

  let errText = '';
  let bound: ((port: number) => void) | undefined;
  const boundPort = new Promise<number>((resolve) => { bound = resolve; });
  const lines = (stream: NodeJS.ReadableStream, name: 'out' | 'err'): void => {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const all = (partial + chunk).split('\n');
      partial = all.pop() ?? '';
      for (const line of all) {
        const m = name === 'out' ? /^listening (\d+)$/.exec(line) : null;
        if (m) { bound?.(Number(m[1])); continue; }
        if (name === 'err') errText = (errText + line + '\n').slice(-4000);
        opts.onLine?.(line, name);
      }
    });
  };
  lines(child.stdout!, 'out');
  lines(child.stderr!, 'err');
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? SIGNAL_NUMBERS[signal] ?? 0 : 0)));
  });
  const kill = (signal: NodeJS.Signals = 'SIGTERM'): void => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
  };
  const close = async (): Promise<number> => {
    kill('SIGTERM');
    const timer = setTimeout(() => kill('SIGKILL'), 5000);
    try { return await exited; } finally { clearTimeout(timer); }
  };

  // Ready once the Python side says which port it bound and a TCP connection to it succeeds.
  const readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
  const connectHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const ready = (async () => {
    const port = await boundPort;
    while (!(await canConnect(connectHost, port))) await new Promise((r) => setTimeout(r, 50));
    return port;
  })();
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await Promise.race([
      ready,
      exited.then(async (status) => {
        await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]); // the last stderr lines
        throw new Error(errText.trim() || `camera simulator: ${python} exited with status ${status} before listening`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`camera simulator: no RTSP port answering within ${readyTimeoutMs} ms${errText ? `: ${errText.trim()}` : ''}`)), readyTimeoutMs);
      }),
    ]);
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return { url: `rtsp://${shownHost}:${port}${path}`, host, port, path, pid: child.pid!, exited, kill, close };
  } catch (err) {
    await close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
