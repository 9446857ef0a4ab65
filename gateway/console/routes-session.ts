// Console login and logout. The session id travels in an HttpOnly, SameSite=Strict cookie (page
// scripts cannot read it, other sites' pages cannot send it); the CSRF token comes back in the
// body, for the page to put in the x-csrf-token header of every request that changes something.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Clock, Logger } from '../model/index.ts';
import type { Auth, Session } from './auth.ts';
import { PUBLIC, refuse, sameOrigin } from './request.ts';

export const SESSION_COOKIE = 'cityedge_session';

/** One cookie's value from a Cookie header (RFC 6265 §5.4 pairs), or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const cookie = (req: FastifyRequest, value: string, maxAgeS: number) =>
  `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${req.protocol === 'https' ? '; Secure' : ''}`;

export function sessionRoutes(app: FastifyInstance, d: { auth: Auth; clock: Clock; logger: Logger }): void {
  const view = (s: Session) => ({ user: s.user.name, role: s.user.role, csrf: s.csrf, expires_at: d.auth.expiresAt(s) });

  app.post('/api/login', PUBLIC, async (req, reply) => {
    // Another site's page must not log a visitor in to an account of its choosing (login CSRF).
    if (!sameOrigin(req)) {
      return refuse(reply, 403, 'CE_ERR_CSRF', 'login from another origin');
    }
    let body: { user?: unknown; password?: unknown } = {};
    try {
      // `null` or a number parse fine and are no login; reading `.user` of null was a 500.
      const parsed: unknown = JSON.parse(typeof req.body === 'string' ? req.body : '');
      if (parsed !== null && typeof parsed === 'object') body = parsed as typeof body;
    } catch { /* not JSON: refused below like any other wrong shape */ }
    if (typeof body.user !== 'string' || typeof body.password !== 'string' || body.user.length > 64 || body.password.length > 1024) {
      return refuse(reply, 400, 'CE_ERR_LOGIN', 'give {"user": "…", "password": "…"} as JSON');
    }
    const r = await d.auth.login(body.user, body.password, req.ip);
    if (!r.ok) {
      if (r.locked) {
        const why = r.busy ? 'other logins are being checked: try again in a second' : 'too many failed logins: wait before trying again';
        d.logger.warn({ user: body.user, ip: req.ip, retryAfterS: r.retryAfterS }, `console login refused: ${why}`);
        return refuse(reply.header('retry-after', String(r.retryAfterS)), 429, 'CE_ERR_LOGIN_LOCKED', why, { retry_after_s: r.retryAfterS });
      }
      d.logger.warn({ user: body.user, ip: req.ip }, 'console login failed');
      return refuse(reply, 401, 'CE_ERR_LOGIN', 'unknown user or wrong password');
    }
    d.logger.info({ user: r.session.user.name, role: r.session.user.role, ip: req.ip }, 'console login');
    const maxAgeS = Math.ceil((d.auth.expiresAt(r.session) - d.clock.now()) / 1000);
    // Max-Age is the session's first idle limit; the server decides the real end on each request.
    return reply.header('set-cookie', cookie(req, r.session.id, maxAgeS)).header('cache-control', 'no-store').send(view(r.session));
  });

  app.post('/api/logout', async (req, reply) => {
    d.auth.logout(cookieValue(req.headers.cookie, SESSION_COOKIE));
    return reply.code(204).header('set-cookie', cookie(req, '', 0)).send();
  });

  app.get('/api/session', async (req, reply) => {
    const s = d.auth.bySession(cookieValue(req.headers.cookie, SESSION_COOKIE));
    // A bearer token is a user too, but it has no CSRF token: the console needs a session.
    if (!s) return refuse(reply, 401, 'CE_ERR_CMD_FORBIDDEN', 'no console session');
    return reply.header('cache-control', 'no-store').send(view(s));
  });
}
