// The console's static front end (gateway/console/public) and the two libraries it uses from
// node_modules, served from a list made at start: only files that exist there can be asked for,
// so no request path ever reaches the file system.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { PUBLIC } from './request.ts';

const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'public');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json; charset=utf-8',
};
// The box is offline: the player and the chart come from node_modules, never from a CDN.
const require = createRequire(import.meta.url);
const VENDOR: Record<string, string> = {
  '/vendor/jsmpeg.min.js': join(dirname(require.resolve('@cycjimmy/jsmpeg-player')), 'jsmpeg-player.umd.min.js'),
  '/vendor/uPlot.iife.min.js': join(dirname(require.resolve('uplot')), 'uPlot.iife.min.js'),
  '/vendor/uPlot.min.css': join(dirname(require.resolve('uplot')), 'uPlot.min.css'),
};
/** Scripts and styles from this origin only; the video websocket and SSE to it too. */
const CSP = "default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

export function staticRoutes(app: FastifyInstance): void {
  const files = new Map<string, { path: string; type: string }>();
  for (const path of walk(PUBLIC_DIR)) {
    const type = TYPES[extname(path)];
    if (type) files.set(`/${relative(PUBLIC_DIR, path).split(sep).join('/')}`, { path, type });
  }
  for (const [url, path] of Object.entries(VENDOR)) files.set(url, { path, type: TYPES[extname(path)]! });
  const index = files.get('/index.html');
  if (index) files.set('/', index);
  // Read on each request: small files, few requests, and an edited page shows without a restart.
  app.get('/*', PUBLIC, async (req, reply) => {
    const f = files.get(req.url.split('?')[0]!);
    if (!f) return reply.code(404).type('text/plain').send('not found');
    reply.header('content-type', f.type).header('cache-control', 'no-cache');
    if (f.type.startsWith('text/html')) reply.header('content-security-policy', CSP);
    return reply.send(readFileSync(f.path));
  });
}
