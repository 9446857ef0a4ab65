// The console's one way to the box's HTTP API (docs/api.md). The session cookie is HttpOnly, so
// the page never sees it; what the page holds is the session's CSRF token, sent on every request
// that changes something. A 401 on any call means the session ended (idle, too old, box
// restarted): the app goes back to the login form and says so.
import { commandId } from './format.js';

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    Object.assign(this, extra);
  }
}

let csrf = null;
let expired = () => {};
let commanded = () => {};

/** The session's CSRF token (from the login or /api/session reply); null after logout. */
export function setCsrf(token) { csrf = token ?? null; }
/** Called once per 401 from a call that needed the session. */
export function onExpired(fn) { expired = fn; }
/** Called after every accepted command: what it changed shows everywhere at once, not at the next poll. */
export function onCommanded(fn) { commanded = fn; }

export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', signal, cache: 'no-store' });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError(0, 'NETWORK', e.message, { network: true });
  }
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch { /* an empty or non-JSON body: the status says enough */ }
  // The page was left while the body was read: the reading failed for that, not for the box.
  if (signal?.aborted) throw signal.reason ?? new DOMException('aborted', 'AbortError');
  if (res.status === 401 && path !== '/api/login' && path !== '/api/session') expired();
  const err = data?.error;
  if (!res.ok || (data && data.ok === false)) {
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? res.statusText, {
      hint: err?.hint, retryAfterS: err?.retry_after_s ?? data?.retry_after_s, body: data,
    });
  }
  return data;
}

export const get = (path, signal) => api(path, { signal });

/**
 * A command through the same handler, checks and audit log as the platform's (docs/commands.md).
 * One id per click; the user is the session's, the server fills it in.
 */
export async function command(verb, body) {
  const reply = await api(`/api/commands/${encodeURIComponent(verb)}`, { method: 'POST', body: { id: commandId(verb), ...body } });
  commanded(verb);
  return reply;
}

/** "CODE: message" for a refusal an operator reads. */
export const errorText = (e) => (e instanceof ApiError && e.code && !e.network ? `${e.code}: ${e.message}` : e.message);
