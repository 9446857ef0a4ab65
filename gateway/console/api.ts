// The HTTP API on the box (docs/api.md): what the console and an engineer's laptop use to see the
// alarms and to act on them. Every request carries a bearer token; the config keeps only its
// SHA-256, with a role: an engineer may give commands, a viewer only reads. Commands go through the
// same handler, checks and audit log as those from the platform.
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AlarmEngine, AlarmEvent } from '../alarms/engine.ts';
import type { AuditEntry } from '../commands/dispatch.ts';
import { Backoff, CodedError, CommandVerbs, type ApiConfig, type Clock, type CommandHandler, type Logger } from '../model/index.ts';
import type { RecordLog } from '../store/files.ts';

export interface ApiDeps {
  config: ApiConfig;
  engine: AlarmEngine;
  history: RecordLog<AlarmEvent>;
  audit: RecordLog<AuditEntry>;
  commands: CommandHandler;
  status: () => unknown;
  clock: Clock;
  logger: Logger;
}

type User = { name: string; role: 'engineer' | 'viewer' };

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

export function buildApi(d: ApiDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const tokens = d.config.users.map((u) => ({ user: { name: u.name, role: u.role } as User, hash: Buffer.from(u.token_sha256, 'hex') }));
  const users = new WeakMap<FastifyRequest, User>();

  // Commands are parsed by the command handler, so a malformed body gets the same coded reply
  // over HTTP as over MQTT.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const hash = m ? createHash('sha256').update(m[1]!).digest() : undefined;
    const found = hash && tokens.find((t) => timingSafeEqual(t.hash, hash));
    if (!found) {
      d.logger.warn({ url: req.url, ip: req.ip }, 'HTTP API request without a valid token refused');
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: { code: 'CE_ERR_CMD_FORBIDDEN', message: 'a valid bearer token is required' } });
    }
    users.set(req, found.user);
  });

  app.get('/api/status', async () => d.status());
  app.get('/api/alarms', async () => ({ version: d.engine.version, flood: d.engine.flooding, alarms: d.engine.states() }));
  app.get('/api/alarms/history', async (req) => {
    const rule = (req.query as { rule?: string }).rule;
    return { events: d.history.recent(limitOf(req.query, 1000), rule ? (e) => e.rule === rule : undefined) };
  });
  app.get('/api/audit', async (req) => ({ entries: d.audit.recent(limitOf(req.query, 1000)) }));
  app.post('/api/commands/:verb', async (req: FastifyRequest, reply: FastifyReply) => {
    const user = users.get(req)!;
    const body = typeof req.body === 'string' ? req.body : '';
    const out = await d.commands((req.params as { verb: string }).verb, body, {
      source: 'http', user: user.name, allowed: user.role === 'engineer' ? CommandVerbs : [],
    });
    return reply.code(out.ok ? 200 : STATUS[out.error!.code] ?? 400).send(out);
  });
  return app;
}

/** Listens, retrying with backoff while the port is taken; the gateway runs on meanwhile. */
export async function serveApi(app: FastifyInstance, d: Pick<ApiDeps, 'config' | 'clock' | 'logger'>, signal: AbortSignal): Promise<string | undefined> {
  const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
  signal.addEventListener('abort', () => { void app.close(); }, { once: true });
  for (let failures = 1; !signal.aborted; failures++) {
    try {
      const url = await app.listen({ host: d.config.host, port: d.config.port });
      d.logger.info({ url, users: d.config.users.length }, 'HTTP API listening');
      return url;
    } catch (e) {
      const err = new CodedError('CE_ERR_API_LISTEN', `${d.config.host}:${d.config.port}: ${(e as Error).message}`);
      if (failures === 1 || failures % 10 === 0) d.logger.error({ code: err.code, failures }, err.message);
      await d.clock.sleep(backoff.next(), signal).catch(() => {});
    }
  }
  return undefined;
}
