// The camera driver against the camera simulator (GStreamer's RTSP server from Debian) with real
// ffmpeg: the live MPEG-1 stream the console relays, shared by its viewers, stopped when nobody
// watches, back by itself after the camera restarts; JPEG snapshots for alarms; and the camera's
// password never in a log line or an error.
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { CameraStream, TS_PACKET_BYTES, type CameraStreamDeps } from '../drivers/camera/stream.ts';
import { takeSnapshot } from '../drivers/camera/snapshot.ts';
import { SNAPSHOT_FILE, snapshotName } from '../gateway/model/index.ts';
import { redactUrl } from '../drivers/camera/redact.ts';
import { isCoded, systemClock, type CameraDeviceConfig, type Logger } from '../gateway/model/index.ts';
import { freePort } from './helpers/ports.ts';
import { spawnProcess, type SpawnedProcess } from './helpers/proc.ts';
import { tempDir } from './helpers/temp.ts';
import { waitFor } from './helpers/wait.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const PASSWORD = 'Kx9-pump-s3cret';
interface Test { teardown(fn: () => unknown): void }

async function simulator(tt: Test, port: number): Promise<SpawnedProcess> {
  return spawnProcess(process.execPath, ['bin/cityedge.mjs', 'sim', 'camera', '--port', String(port), '--width', '640', '--height', '360'], {
    t: tt, cwd: ROOT, name: 'cityedge sim camera', readyLine: /camera simulator serving rtsp:\/\//, readyTimeoutMs: 120_000,
  });
}

/** A logger that keeps every line, as pino would write it. */
function collectingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string, bindings: object) => (a: object | string, msg?: string): void => {
    lines.push(JSON.stringify({ level, ...bindings, ...(typeof a === 'string' ? { msg: a } : { ...a, msg }) }));
  };
  const make = (bindings: object): Logger => ({
    debug: at('debug', bindings), info: at('info', bindings), warn: at('warn', bindings), error: at('error', bindings),
    child: (b) => make({ ...bindings, ...b }),
  });
  return { logger: make({}), lines };
}

function cameraConfig(port: number, over: Partial<CameraDeviceConfig> = {}): CameraDeviceConfig {
  return {
    id: 'wet-well-cam', driver: 'camera', enabled: true, url: `rtsp://operator:${PASSWORD}@127.0.0.1:${port}/cam1`,
    width: 320, height: 240, bitrate_kbps: 300, snapshot_timeout_s: 15, ...over,
  };
}

function stream(tt: Test, cam: CameraDeviceConfig, logger: Logger, over: Partial<CameraStreamDeps> = {}): CameraStream {
  const s = new CameraStream(cam, { clock: systemClock, logger, idleStopMs: 2000, ...over });
  tt.teardown(() => s.close());
  return s;
}

const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

/** Every chunk is whole MPEG-TS packets: a sync byte 0x47 every 188 bytes (ISO/IEC 13818-1 §2.4.3.3). */
const wholePackets = (chunks: Buffer[]): boolean =>
  chunks.every((c) => c.length % TS_PACKET_BYTES === 0 && c.every((b, i) => i % TS_PACKET_BYTES !== 0 || b === 0x47));

/**
 * The MPEG-1 sequence headers (00 00 01 B3, ISO/IEC 11172-2 §2.4.2.3) in the video elementary stream
 * carried by the TS packets: picture sizes, in order.
 */
function sequenceHeaders(chunks: Buffer[]): { width: number; height: number }[] {
  const ts = Buffer.concat(chunks);
  const payloads = new Map<number, Buffer[]>();
  for (let i = 0; i + TS_PACKET_BYTES <= ts.length; i += TS_PACKET_BYTES) {
    const p = ts.subarray(i, i + TS_PACKET_BYTES);
    const pid = ((p[1]! & 0x1f) << 8) | p[2]!;
    const control = (p[3]! >> 4) & 3;
    if (!(control & 1)) continue; // no payload
    const start = control & 2 ? 5 + p[4]! : 4; // skip the adaptation field
    if (!payloads.has(pid)) payloads.set(pid, []);
    payloads.get(pid)!.push(p.subarray(start));
  }
  const found: { width: number; height: number }[] = [];
  for (const parts of payloads.values()) {
    const es = Buffer.concat(parts);
    for (let i = es.indexOf(Buffer.from([0, 0, 1, 0xb3])); i >= 0 && i + 7 <= es.length; i = es.indexOf(Buffer.from([0, 0, 1, 0xb3]), i + 4)) {
      found.push({ width: (es[i + 4]! << 4) | (es[i + 5]! >> 4), height: ((es[i + 5]! & 0x0f) << 8) | es[i + 6]! });
    }
  }
  return found;
}

const totalBytes = (chunks: Buffer[]): number => chunks.reduce((n, c) => n + c.length, 0);

t.test('two viewers share one ffmpeg and get MPEG-1 in MPEG-TS; it stops when they leave', async (tt) => {
  const port = await freePort();
  await simulator(tt, port);
  const { logger, lines } = collectingLogger();
  const cam = stream(tt, cameraConfig(port), logger);
  const a: Buffer[] = [];
  const b: Buffer[] = [];
  const stopA = cam.watch((c) => a.push(c));
  await waitFor(() => totalBytes(a) > 20_000, { timeoutMs: 60_000, what: 'the first viewer to receive video' });
  const stopB = cam.watch((c) => b.push(c));
  await waitFor(() => sequenceHeaders(a).length >= 2 && sequenceHeaders(b).length >= 2, {
    timeoutMs: 60_000, what: 'both viewers to receive MPEG-1 sequence headers',
  });
  const st = cam.stats();
  tt.match(st, { viewers: 2, running: true, starts: 1 }, 'one ffmpeg for both viewers');
  tt.ok(st.bytes >= totalBytes(a), 'bytes counts what ffmpeg sent');
  for (const [name, chunks] of [['first', a], ['second', b]] as const) {
    tt.ok(wholePackets(chunks), `${name} viewer: whole 188-byte TS packets, each starting with 0x47`);
    tt.same(new Set(sequenceHeaders(chunks).map((h) => `${h.width}x${h.height}`)), new Set(['320x240']), `${name} viewer: MPEG-1 at the configured 320x240`);
  }

  const pid = st.pid!;
  tt.ok(alive(pid), 'ffmpeg runs');
  stopA();
  stopA(); // twice is harmless
  tt.equal(cam.stats().viewers, 1, 'one viewer left');
  stopB();
  await waitFor(() => !cam.stats().running && !alive(pid), { timeoutMs: 30_000, what: 'ffmpeg to stop after the last viewer left' });
  tt.equal(cam.stats().viewers, 0, 'no viewer');

  // A viewer coming back starts a fresh ffmpeg.
  const c: Buffer[] = [];
  const stopC = cam.watch((x) => c.push(x));
  await waitFor(() => sequenceHeaders(c).length >= 1, { timeoutMs: 60_000, what: 'video for a viewer who came back' });
  tt.equal(cam.stats().starts, 2, 'a second ffmpeg for the returning viewer');
  const pid2 = cam.stats().pid!;
  await cam.close();
  tt.notOk(alive(pid2), 'close() returns once ffmpeg has exited');
  tt.equal(cam.stats().running, false, 'stats say it is stopped');
  stopC(); // after close: harmless
  tt.throws(() => cam.watch(() => {}), /closed/, 'a closed stream takes no viewer');
  tt.notOk(lines.some((l) => l.includes(PASSWORD)), 'no log line shows the camera password');
});

t.test('the camera restarting (kill -9, back on the same port) brings the stream back by itself', async (tt) => {
  const port = await freePort();
  const first = await simulator(tt, port);
  const { logger, lines } = collectingLogger();
  const cam = stream(tt, cameraConfig(port), logger);
  const chunks: Buffer[] = [];
  cam.watch((c) => chunks.push(c));
  await waitFor(() => sequenceHeaders(chunks).length >= 1, { timeoutMs: 60_000, what: 'video before the camera restarts' });

  await first.kill('SIGKILL');
  await waitFor(() => cam.stats().starts >= 2 || !cam.stats().running, { timeoutMs: 60_000, what: 'the driver to notice the camera is gone' });
  const lost = chunks.length;
  await simulator(tt, port);
  await waitFor(() => sequenceHeaders(chunks.slice(lost)).length >= 2, { timeoutMs: 90_000, what: 'video again after the camera came back' });
  tt.ok(cam.stats().running, 'ffmpeg runs again');
  tt.ok(wholePackets(chunks.slice(lost)), 'whole TS packets after the restart too');

  const warnings = lines.filter((l) => l.includes('"level":"warn"'));
  tt.equal(warnings.length, 1, 'one warning for the whole outage, however many retries');
  tt.match(warnings[0], /operator:\*\*\*@127\.0\.0\.1/, 'the warning names the camera URL with its password masked');
  tt.ok(lines.some((l) => l.includes('"level":"info"') && l.includes('camera stream back')), 'recovery is logged');
  tt.notOk(lines.some((l) => l.includes(PASSWORD)), 'no log line shows the camera password');
  tt.notOk(cam.stats().lastError?.includes(PASSWORD), 'nor does lastError');
});

t.test('snapshots: a whole JPEG from the camera, a coded error and no file when it cannot be had', async (tt) => {
  const dir = tempDir(tt as never, 'cityedge-camera-');
  const port = await freePort();
  await simulator(tt, port);
  const url = cameraConfig(port).url;

  const file = join(dir, snapshotName('wet_well_hh', Date.now()));
  const { bytes } = await takeSnapshot(url, file, { timeoutMs: 60_000 });
  const jpg = await readFile(file);
  tt.equal(bytes, jpg.length, 'reports the size written');
  tt.same([...jpg.subarray(0, 2), ...jpg.subarray(-2)], [0xff, 0xd8, 0xff, 0xd9], 'a whole JPEG (SOI … EOI)');
  tt.same(readdirSync(dir), [file.slice(dir.length + 1)], 'only the snapshot is left, no temporary file');

  // Nothing listening: ffmpeg is refused at once.
  const closed = await freePort();
  const refused = join(dir, 'refused.jpg');
  const t0 = Date.now();
  const err1 = await takeSnapshot(`rtsp://operator:${PASSWORD}@127.0.0.1:${closed}/cam1`, refused, { timeoutMs: 20_000 }).then(() => undefined, (e: unknown) => e);
  tt.ok(isCoded(err1, 'CE_ERR_CAMERA_SNAPSHOT'), 'a closed port is CE_ERR_CAMERA_SNAPSHOT');
  tt.ok(Date.now() - t0 < 20_000, 'within its timeout');
  tt.match((err1 as Error).message, /operator:\*\*\*@127\.0\.0\.1/, 'the message names the URL, password masked');
  tt.notOk((err1 as Error).message.includes(PASSWORD), 'the message does not show the password');
  tt.notOk(existsSync(refused), 'no file');

  // A camera that accepts the connection and then says nothing: killed when the time is up.
  const held = new Set<net.Socket>();
  const silent = net.createServer((s) => { held.add(s); s.on('error', () => {}); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  tt.teardown(() => new Promise<void>((r) => { for (const s of held) s.destroy(); silent.close(() => r()); }));
  const silentPort = (silent.address() as net.AddressInfo).port;
  const hung = join(dir, 'hung.jpg');
  const t1 = Date.now();
  const err2 = await takeSnapshot(`rtsp://127.0.0.1:${silentPort}/cam1`, hung, { timeoutMs: 2000 }).then(() => undefined, (e: unknown) => e);
  tt.ok(isCoded(err2, 'CE_ERR_CAMERA_SNAPSHOT'), 'a silent camera is CE_ERR_CAMERA_SNAPSHOT');
  tt.match((err2 as Error).message, /no picture within 2000 ms/, 'says it ran out of time');
  tt.ok(Date.now() - t1 < 2000 + 15_000, 'ffmpeg is killed at the timeout, not left waiting');
  tt.same(readdirSync(dir).sort(), [file.slice(dir.length + 1)], 'no file, no temporary file');

  // Cancelled (the gateway stopping).
  const ac = new AbortController();
  const pending = takeSnapshot(`rtsp://127.0.0.1:${silentPort}/cam1`, join(dir, 'cancelled.jpg'), { timeoutMs: 60_000, signal: ac.signal });
  ac.abort();
  await tt.rejects(pending, { code: 'CE_ERR_CAMERA_SNAPSHOT', message: /cancelled/ }, 'an aborted snapshot is refused');
  tt.same(readdirSync(dir).sort(), [file.slice(dir.length + 1)], 'and leaves nothing behind');
});

t.test('snapshot names and URL redaction', async (tt) => {
  tt.equal(snapshotName('wet_well_hh', Date.UTC(2026, 10, 23, 19, 15, 0, 123)), 'wet_well_hh-20261123T191500123Z.jpg', 'rule id and UTC time to the millisecond');
  tt.equal(snapshotName('../../etc/Pass wd', 0), 'etc_pass_wd-19700101T000000000Z.jpg', 'nothing but [a-z0-9_-] from the rule id');
  tt.equal(snapshotName('--x', 0), 'x-19700101T000000000Z.jpg', 'never a leading dash');
  for (const rule of ['wet_well_hh', '../../etc/Pass wd', '--x', '井盖', 'a'.repeat(200)]) {
    tt.match(snapshotName(rule, Date.now()), SNAPSHOT_FILE, `the console serves what the driver names (${rule.slice(0, 20)})`);
  }
  tt.equal(redactUrl('rtsp://admin:p@ss@192.168.1.64:554/Streaming/Channels/101'), 'rtsp://admin:***@192.168.1.64:554/Streaming/Channels/101',
    'a raw @ in the password is masked too');
  tt.equal(redactUrl('rtsp://192.168.1.64/live'), 'rtsp://192.168.1.64/live', 'a URL without credentials is unchanged');
  tt.equal(redactUrl('rtsp://viewer@cam/live'), 'rtsp://viewer@cam/live', 'a user without password is kept');
});
