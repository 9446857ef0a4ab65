// What the console reads: the overview, the devices and their tags, live values (a snapshot, then
// server-sent events), "read now", trends, and alarm snapshots.
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SNAPSHOT_FILE, type Value } from '../model/index.ts';
import type { LiveChange, LivePoint, LiveValues } from '../store/live.ts';
import type { TrendStore } from '../store/trends.ts';
import type { Overview } from './overview.ts';
import { refuse, type StillAllowed } from './request.ts';

export interface TagView { name: string; unit?: string; description?: string; type?: string; writable: boolean; allowed?: Value[]; min?: number; max?: number }
export interface DevicesView {
  devices: { id: string; driver: string; description?: string; poll_ms: number | null; lot?: string; tags: TagView[] }[];
  cameras: { id: string; name?: string; description?: string; width: number; height: number }[];
}

export type ReadNow = (device: string) => Promise<{ points: LivePoint[]; error?: { code: string; message: string } } | 'unknown' | 'not-polled'>;

export interface ConsoleDeps {
  overview: () => Overview;
  devices: DevicesView;
  live: LiveValues;
  trends: TrendStore | undefined;
  readNow: ReadNow;
  /** Where alarm snapshots are written (data folder / snapshots). */
  snapshotsDir: string;
}

/** A client that reads slower than values change is cut off; its EventSource reconnects and starts afresh. */
const SSE_MAX_BUFFERED = 1 << 20;
const SSE_HEARTBEAT_MS = 15_000;
const MAX_STREAMS = 32;

/** Every SSE client is handed the same change object: it is encoded once, however many listen. */
const encoded = new WeakMap<LiveChange, string>();
function sseEvent(c: LiveChange): string {
  let text = encoded.get(c);
  if (text === undefined) encoded.set(c, (text = `event: values\ndata: ${JSON.stringify(c)}\n\n`));
  return text;
}

export function consoleRoutes(app: FastifyInstance, d: ConsoleDeps, allowed: StillAllowed): void {
  app.get('/api/overview', async () => d.overview());
  app.get('/api/devices', async () => d.devices);
  app.get('/api/values', async () => ({ values: d.live.snapshot() }));

  let streams = 0;
  app.get('/api/live', (req, reply) => {
    // Each stream costs a socket write per change: a handful of people watch a box, not a crowd.
    if (streams >= MAX_STREAMS) return refuse(reply.header('retry-after', '10'), 503, 'CE_ERR_CMD_INVALID', `${MAX_STREAMS} live streams are open already`);
    streams++;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    const send = (c: LiveChange) => {
      if (res.writableLength > SSE_MAX_BUFFERED) { res.destroy(); return; }
      res.write(sseEvent(c));
    };
    const unsubscribe = d.live.subscribe(send);
    // Proxies and NAT boxes drop quiet connections; a comment line keeps this one warm. The
    // stream also ends when its session does: a logout must stop the values, not only new requests.
    const beat = setInterval(() => { if (allowed(req)) res.write(': beat\n\n'); else res.end(); }, SSE_HEARTBEAT_MS);
    let ended = false;
    const end = () => { if (ended) return; ended = true; streams--; clearInterval(beat); unsubscribe(); };
    req.raw.on('close', end);
    res.on('close', end);
  });

  app.post('/api/devices/:id/read', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const r = await d.readNow(id);
    if (r === 'unknown') return refuse(reply, 404, 'CE_ERR_CMD_INVALID', `no device "${id}"`);
    if (r === 'not-polled') return refuse(reply, 409, 'CE_ERR_CMD_INVALID', `device "${id}" is a sensor: it speaks when it has something to say, and cannot be read on demand`);
    return { device: id, ...r };
  });

  app.get('/api/trend', async (req, reply) => {
    const q = req.query as { tag?: string; hours?: string };
    const hours = Number(q.hours ?? 6);
    if (!q.tag || !/^[a-z0-9_-]+\.[A-Za-z0-9_.-]+$/.test(q.tag)) return refuse(reply, 400, 'CE_ERR_CMD_INVALID', 'give tag=DEVICE.TAG');
    if (!(hours > 0 && hours <= 24 * 31)) return refuse(reply, 400, 'CE_ERR_CMD_INVALID', 'hours is a number above 0');
    if (!d.trends) return { tag: q.tag, step_ms: 0, points: [] };
    const { stepMs, points } = d.trends.query(q.tag, hours * 3_600_000);
    return { tag: q.tag, step_ms: stepMs, points };
  });

  app.get('/api/snapshots/:file', async (req, reply) => {
    const file = (req.params as { file: string }).file;
    // The name is checked against the pattern the gateway writes, so no path can leave the folder.
    if (!SNAPSHOT_FILE.test(file)) return refuse(reply, 400, 'CE_ERR_CMD_INVALID', 'not a snapshot name');
    const path = join(d.snapshotsDir, file);
    if (!existsSync(path)) return refuse(reply, 404, 'CE_ERR_CMD_INVALID', 'no such snapshot (not taken yet, or the camera did not answer)');
    return reply.header('content-type', 'image/jpeg').header('cache-control', 'private, max-age=86400').send(createReadStream(path));
  });
}
