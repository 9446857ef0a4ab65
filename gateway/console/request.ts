// What every route module shares: the coded refusal and the user the auth hook found.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { User } from './auth.ts';

export const refuse = (reply: FastifyReply, status: number, code: string, message: string, extra: Record<string, unknown> = {}) =>
  reply.code(status).send({ error: { code, message, ...extra } });

const users = new WeakMap<FastifyRequest, User>();
const sessions = new WeakMap<FastifyRequest, string>();
export const setUser = (req: FastifyRequest, user: User, session?: string): void => {
  users.set(req, user);
  if (session !== undefined) sessions.set(req, session);
};
/** The console session a request came with; undefined for a bearer token. */
export const sessionIdOf = (req: FastifyRequest): string | undefined => sessions.get(req);
/** For streams that outlive their request (SSE, video): is who opened it still signed in? */
export type StillAllowed = (req: FastifyRequest) => boolean;
/** The request's user: set by the onRequest hook on every path that is not public. */
export const userOf = (req: FastifyRequest): User => users.get(req)!;

/**
 * Routes anyone may call carry this: the login page and its files, the login itself, the
 * supervisor's probe. The auth hook decides by the route the router matched, never by the raw URL,
 * which can spell one path many ways (`/%61pi/status`).
 */
export const PUBLIC = { config: { public: true } } as const;

/** No Origin header (not a browser's cross-site request), or this box's own: the CSRF and login checks. */
export const sameOrigin = (req: FastifyRequest): boolean => {
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${req.headers.host}` || origin === `https://${req.headers.host}`;
};
