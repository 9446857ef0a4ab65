// The HTTP API and web console on the box (docs/api.md, docs/console.md). Two ways in: a bearer
// token (scripts, Prometheus, `cityedge status`; the config keeps only its SHA-256) or a console
// session after a password login (a cookie, with a CSRF token on every request that changes
// something). Commands go through the same handler, checks and audit log as those from the platform.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AlarmEngine, AlarmEvent } from '../alarms/engine.ts';
import type { AuditEntry } from '../commands/dispatch.ts';
import { Backoff, CodedError, CommandVerbs, type ApiConfig, type Clock, type CommandHandler, type Logger } from '../model/index.ts';
import type { RecordLog } from '../store/files.ts';
import { Auth, mayCommand } from './auth.ts';
import { PUBLIC, refuse, sameOrigin, sessionIdOf, setUser, userOf } from './request.ts';
import { consoleRoutes, type ConsoleDeps } from './routes-console.ts';
import { sessionRoutes, SESSION_COOKIE, cookieValue } from './routes-session.ts';
import { staticRoutes } from './static.ts';
import { videoRoutes, type VideoDeps } from './video.ts';

export interface ApiDeps {
  config: ApiConfig;
  engine: AlarmEngine;
  history: RecordLog<AlarmEvent>;
  audit: RecordLog<AuditEntry>;
  commands: CommandHandler;
  status: () => unknown;
  clock: Clock;
  logger: Logger;
  /** What the console shows beyond the alarms; absent in a bare API (tests of the alarm API). */
  console?: ConsoleDeps & VideoDeps;
  metrics?: { contentType: string; render(): Promise<string> };
  /** False while the gateway stops: /healthz answers 503 so a supervisor does not route to it. */
  healthy?: () => boolean;
}

/** Reply status by error code: what an HTTP client expects for each refusal. */
const STATUS: Record<string, number> = {
  CE_ERR_CMD_MALFORMED: 400, CE_ERR_CMD_INVALID: 400, CE_ERR_CMD_FORBIDDEN: 403,
  CE_ERR_CMD_UNKNOWN: 404, CE_ERR_CMD_NO_RULE: 404, CE_ERR_CMD_CONFLICT: 409, CE_ERR_ALARM_OVERRIDES: 500,
  CE_ERR_WRITE_FORBIDDEN: 403, CE_ERR_WRITE_RANGE: 400,
  // The box is a gateway: the device's refusal or silence is a bad or missing answer upstream of it.
  CE_ERR_WRITE_REFUSED: 502, CE_ERR_DEVICE_DISCONNECTED: 503, CE_ERR_MODBUS_TIMEOUT: 504,
};

const limitOf = (q: unknown, max: number) => {
  const n = Number((q as { limit?: string }).limit ?? 100);
  return Number.isInteger(n) && n > 0 ? Math.min(n, max) : 100;
};

const isPublic = (req: FastifyRequest): boolean => (req.routeOptions.config as { public?: boolean } | undefined)?.public === true;

export function buildApi(d: ApiDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const auth = new Auth(d.config, d.clock);
  let refusedTokens = 0;

  // Commands are parsed by the command handler, so a malformed body gets the same coded reply
  // over HTTP as over MQTT.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    if (isPublic(req)) return;
    const byToken = auth.byToken(req.headers.authorization);
    if (byToken) { setUser(req, byToken); return; }
    const session = auth.bySession(cookieValue(req.headers.cookie, SESSION_COOKIE));
    if (!session) {
      // The first and then one in a hundred: a script with a stale token must not fill the log.
      if (req.headers.authorization && refusedTokens++ % 100 === 0) d.logger.warn({ url: req.url, ip: req.ip, refused: refusedTokens }, 'HTTP API request without a valid token refused');
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: { code: 'CE_ERR_CMD_FORBIDDEN', message: 'log in, or give a valid bearer token' } });
    }
    // A cookie goes along with any request the browser makes to this host, whoever's page asked:
    // what changes something must prove it comes from the console (its session's CSRF token) and
    // from this origin.
    if (!sameOrigin(req)) {
      d.logger.warn({ url: req.url, origin: req.headers.origin }, 'console request from another origin refused');
      return refuse(reply, 403, 'CE_ERR_CSRF', 'request from another origin');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.headers['x-csrf-token'] !== session.csrf) {
      d.logger.warn({ url: req.url, user: session.user.name }, 'console request without its CSRF token refused');
      return refuse(reply, 403, 'CE_ERR_CSRF', 'the x-csrf-token header is missing or wrong; reload the console');
    }
    setUser(req, session.user, session.id);
  });

  // The console's pages are same-origin only: no framing (clickjacking), no inline script.
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    return payload;
  });

  app.get('/healthz', PUBLIC, async (_req, reply) => {
    const ok = d.healthy?.() ?? true;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'stopping', time: d.clock.now() });
  });
  if (d.metrics) {
    const m = d.metrics;
    app.get('/metrics', d.config.metrics === 'public' ? PUBLIC : {}, async (_req, reply) => reply.header('content-type', m.contentType).send(await m.render()));
  }

  app.get('/api/status', async () => d.status());
  app.get('/api/alarms', async () => ({ version: d.engine.version, flood: d.engine.flooding, alarms: d.engine.states() }));
  app.get('/api/alarms/history', async (req) => {
    const rule = (req.query as { rule?: string }).rule;
    return { events: d.history.recent(limitOf(req.query, 1000), rule ? (e) => e.rule === rule : undefined) };
  });
  app.get('/api/audit', async (req) => ({ entries: d.audit.recent(limitOf(req.query, 1000)) }));
  app.post('/api/commands/:verb', async (req: FastifyRequest, reply: FastifyReply) => {
    const user = userOf(req);
    const body = typeof req.body === 'string' ? req.body : '';
    const out = await d.commands((req.params as { verb: string }).verb, body, {
      source: 'http', user: user.name, allowed: mayCommand(user.role) ? CommandVerbs : [],
    });
    return reply.code(out.ok ? 200 : STATUS[out.error!.code] ?? 400).send(out);
  });

  sessionRoutes(app, { auth, clock: d.clock, logger: d.logger });
  if (d.console && d.config.console) {
    // A stream opened by a session ends soon after the session does (logout, expiry).
    const allowed = (req: FastifyRequest) => { const id = sessionIdOf(req); return id === undefined || auth.isLive(id); };
    consoleRoutes(app, d.console, allowed);
    videoRoutes(app, d.console, d.logger, allowed);
    staticRoutes(app);
  }
  return app;
}

/** Listens, retrying with backoff while the port is taken; the gateway runs on meanwhile. */
export async function serveApi(app: FastifyInstance, d: Pick<ApiDeps, 'config' | 'clock' | 'logger'>, signal: AbortSignal): Promise<string | undefined> {
  const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  signal.addEventListener('abort', () => { void app.close(); }, { once: true });
  for (let failures = 1; !signal.aborted; failures++) {
    try {
      const url = await app.listen({ host: d.config.host, port: d.config.port });
      d.logger.info({ url, users: d.config.users.length, console: d.config.console }, 'HTTP API listening');
      return url;
    } catch (e) {
      const err = new CodedError('CE_ERR_API_LISTEN', `${d.config.host}:${d.config.port}: ${(e as Error).message}`);
      if (failures === 1 || failures % 10 === 0) d.logger.error({ code: err.code, failures }, err.message);
      await d.clock.sleep(backoff.next(), signal).catch(() => {});
    }
  }
  return undefined;
}
