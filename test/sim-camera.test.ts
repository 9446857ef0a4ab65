// The camera simulator (GStreamer's RTSP server from Debian) as a camera is used: several ffmpeg
// clients watching at once, and JPEG snapshots as the gateway takes them for alarms. Real
// processes on loopback; the simulator is started through the CLI, as a technician would.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './helpers/ports.ts';
import { spawnProcess, type SpawnedProcess } from './helpers/proc.ts';
import { tempDir } from './helpers/temp.ts';
import { waitFor } from './helpers/wait.ts';

const ROOT = new URL('..', import.meta.url).pathname;
interface Test { teardown(fn: () => unknown): void }

async function camera(tt: Test, args: string[]): Promise<{ proc: SpawnedProcess; url: string }> {
  const proc = await spawnProcess(process.execPath, ['bin/cityedge.mjs', 'sim', 'camera', ...args], {
    t: tt, cwd: ROOT, name: 'cityedge sim camera', readyLine: /camera simulator serving (rtsp:\/\/\S+)/, readyTimeoutMs: 120_000,
  });
  return { proc, url: proc.ready![1]! };
}

/** Width and height from a baseline JPEG's SOF0 segment (ITU T.81 §B.2.2), or undefined. */
function jpegSize(jpg: Buffer): { width: number; height: number } | undefined {
  let i = 2; // after SOI
  while (i + 4 <= jpg.length && jpg[i] === 0xff) {
    const marker = jpg[i + 1]!;
    const len = jpg.readUInt16BE(i + 2);
    if (marker === 0xc0) return { height: jpg.readUInt16BE(i + 5), width: jpg.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  return undefined;
}

/** One frame with ffmpeg, as the gateway's alarm snapshots do. */
async function snapshot(tt: Test, url: string, file: string): Promise<Buffer> {
  const ff = await spawnProcess('ffmpeg', ['-nostdin', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url,
    '-frames:v', '1', '-q:v', '4', '-update', '1', '-y', file], { t: tt });
  const status = (await ff.exited).status;
  if (status !== 0) throw new Error(`ffmpeg snapshot failed (status ${status}): ${ff.output()}`);
  return readFile(file);
}

t.test('two clients watch at once and both get frames of the size asked for', async (tt) => {
  const port = await freePort();
  const { proc, url } = await camera(tt, ['--port', String(port), '--path', '/pump1', '--width', '320', '--height', '240', '--fps', '10', '--label', 'PS-012']);
  tt.equal(url, `rtsp://127.0.0.1:${port}/pump1`, 'the ready line names the URL');

  // framecrc prints one line per decoded frame: "stream, dts, pts, duration, size, crc".
  const client = () => spawnProcess('ffmpeg', ['-nostdin', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url,
    '-an', '-pix_fmt', 'yuv420p', '-f', 'framecrc', '-'], { t: tt, name: 'ffmpeg client' });
  const [a, b] = await Promise.all([client(), client()]);
  const frames = (p: SpawnedProcess): string[][] =>
    p.output().split('\n').filter((l) => /^0,/.test(l)).map((l) => l.split(',').map((f) => f.trim()));
  await waitFor(() => frames(a).length >= 20 && frames(b).length >= 20 && a.running() && b.running(), {
    timeoutMs: 90_000, what: 'both clients to decode 20 frames while both stay connected',
  });
  await proc.waitForOutput(/\(2 connected\)/, { timeoutMs: 10_000 });
  const yuvBytes = 320 * 240 * 1.5;
  for (const [name, p] of [['first', a], ['second', b]] as const) {
    tt.ok(frames(p).every((f) => Number(f[4]) === yuvBytes), `${name} client: every frame is 320x240`);
    tt.ok(new Set(frames(p).map((f) => f[5])).size > 10, `${name} client: the picture changes from frame to frame`);
  }
  await Promise.all([a.kill(), b.kill()]);
  await proc.waitForOutput(/\(0 connected\)/, { timeoutMs: 30_000 });
  tt.equal(await proc.kill('SIGTERM'), 0, 'SIGTERM stops the simulator with status 0');
});

t.test('snapshots a moment apart are whole JPEGs of the size asked for, and differ', async (tt) => {
  const dir = tempDir(tt as never, 'cityedge-sim-camera-');
  const { url } = await camera(tt, ['--port', String(await freePort()), '--width', '480', '--height', '272']);
  // A viewer keeps the stream running, as in the field; the snapshots join it mid-stream.
  const viewer = await spawnProcess('ffmpeg', ['-nostdin', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url, '-f', 'null', '-'], { t: tt });
  const one = await snapshot(tt, url, join(dir, 'one.jpg'));
  const two = await snapshot(tt, url, join(dir, 'two.jpg'));
  for (const [name, jpg] of [['first', one], ['second', two]] as const) {
    tt.same([...jpg.subarray(0, 2)], [0xff, 0xd8], `${name}: starts with a JPEG SOI marker`);
    tt.same([...jpg.subarray(-2)], [0xff, 0xd9], `${name}: ends with an EOI marker (not cut short)`);
    tt.ok(jpg.length > 5_000 && jpg.length < 500_000, `${name}: a plausible size (${jpg.length} bytes)`);
    tt.same(jpegSize(jpg), { width: 480, height: 272 }, `${name}: 480x272 as asked`);
  }
  tt.not(Buffer.compare(one, two), 0, 'the second snapshot shows a later picture (the clock runs)');
  tt.ok(viewer.running(), 'the viewer kept watching while the snapshots were taken');
});

t.test('a missing Python or a taken port is a clear error', async (tt) => {
  const { startCameraSim } = await import('../simulators/camera/index.ts');
  await tt.rejects(startCameraSim({ port: 0, python: '/nonexistent/python3' }), /apt-get install -y .*gir1\.2-gst-rtsp-server-1\.0/,
    'names the Debian packages to install');
  const first = await startCameraSim({ port: 0 });
  tt.teardown(() => first.close());
  await tt.rejects(startCameraSim({ port: first.port }), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}`), 'names the address it cannot listen on');
  await tt.rejects(startCameraSim({ width: 321 }), /even/, 'refuses an odd width (the encoder needs even sizes)');
});
