// Live video in the console: the camera's picture as MPEG-TS over a websocket for the JSMpeg
// player. node-rtsp-stream's own websocket server listens on every interface with no
// authentication, so the console relays its muxer's output here instead, behind the login.
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../model/index.ts';
import type { StillAllowed } from './request.ts';

export interface CameraFeed {
  /** Starts the camera's stream on the first watcher; the returned function stops watching. */
  watch(onChunk: (chunk: Buffer) => void): () => void;
}
export interface VideoDeps { cameras: ReadonlyMap<string, CameraFeed> }

/** A viewer on a link slower than the picture falls behind for ever: cut off, its player reconnects. */
const MAX_BUFFERED = 4 << 20;
const SESSION_CHECK_MS = 5_000;

export function videoRoutes(app: FastifyInstance, d: VideoDeps, logger: Logger, allowed: StillAllowed): void {
  if (d.cameras.size === 0) return;
  void app.register(websocket, { options: { maxPayload: 1024 } });
  void app.register(async (scope) => {
    scope.get('/api/video/:id', { websocket: true }, (socket, req) => {
      const id = (req.params as { id: string }).id;
      const feed = d.cameras.get(id);
      if (!feed) { socket.close(4404, 'no such camera'); return; }
      logger.info({ camera: id, ip: req.ip }, 'video viewer joined');
      const stop = feed.watch((chunk) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > MAX_BUFFERED) { socket.terminate(); return; }
        socket.send(chunk);
      });
      // The picture stops when the session that opened it ends (logout, expiry).
      const check = setInterval(() => { if (!allowed(req)) socket.close(4401, 'session ended'); }, SESSION_CHECK_MS);
      socket.on('close', () => { clearInterval(check); stop(); logger.info({ camera: id }, 'video viewer left'); });
    });
  });
}
