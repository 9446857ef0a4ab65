// One door for every command, whichever way it came: parse, check who may do what, run the verb,
// write the audit log, answer. A bad command (malformed JSON, an unknown verb or rule, a value out
// of range, a sender without the right) is answered with a coded reason, counted, logged and
// audited, and changes nothing.
import type { AlarmEngine } from '../alarms/engine.ts';
import { CodedError, CommandVerbs, type Clock, type CommandHandler, type CommandReply, type CommandSource, type Logger } from '../model/index.ts';
import type { RecordLog } from '../store/files.ts';
import { VERBS, type Body, type Writer } from './verbs.ts';

export interface AuditEntry {
  t: number; user: string | null; source: string; verb: string; id: string | null; ok: boolean;
  rule?: string; old?: unknown; new?: unknown; version?: number; comment?: string;
  error?: { code: string; message: string };
}

export interface CommandStats { accepted: number; refused: number; duplicates: number }

/** Replies kept for repeated request ids: a platform that resends after a lost reply is not obeyed twice. */
const REMEMBERED = 256;
const MAX_PAYLOAD = 64 * 1024;

export function createCommandHandler(deps: {
  engine: AlarmEngine; audit: RecordLog<AuditEntry>; clock: Clock; logger: Logger; writers?: ReadonlyMap<string, Writer>;
}): { handle: CommandHandler; stats: () => CommandStats } {
  const writers = deps.writers ?? new Map<string, Writer>();
  const log = deps.logger.child({ part: 'commands' });
  const stats: CommandStats = { accepted: 0, refused: 0, duplicates: 0 };
  const seen = new Map<string, CommandReply>();

  const handle: CommandHandler = async (verb, payload, from) => {
    const t = deps.clock.now();
    let id: string | null = null;
    let user: string | null = from.user ?? null;
    let body: Body = {};
    try {
      body = parseBody(payload);
      if (body.id !== undefined) {
        if (typeof body.id !== 'string' || body.id.length === 0 || body.id.length > 128) throw new CodedError('CE_ERR_CMD_MALFORMED', 'id must be a string of 1 to 128 characters');
        id = body.id;
        const again = seen.get(keyOf(from, id));
        if (again) { stats.duplicates++; log.info({ verb, id, source: from.source }, 'a repeated command: answered again, not run again'); return again; }
      }
      user ??= userOf(body);
      if (!(CommandVerbs as readonly string[]).includes(verb)) throw new CodedError('CE_ERR_CMD_UNKNOWN', `"${verb}"; the verbs are ${CommandVerbs.join(', ')}`);
      if (!from.allowed.includes(verb)) throw new CodedError('CE_ERR_CMD_FORBIDDEN', `${from.source}${from.user ? ` (${from.user})` : ''} may not ${verb}`);
      if (body.comment !== undefined && (typeof body.comment !== 'string' || body.comment.length > 500)) throw new CodedError('CE_ERR_CMD_INVALID', 'comment must be text of at most 500 characters');
      const comment = body.comment as string | undefined;
      const { result, audit } = await VERBS[verb as keyof typeof VERBS](body, { engine: deps.engine, writers, actor: { user, source: from.source, ...(comment ? { comment } : {}) } });
      stats.accepted++;
      deps.audit.append({ t, user, source: from.source, verb, id, ok: true, ...audit, ...(comment ? { comment } : {}) });
      return remember(from, { id, verb, ok: true, t, result });
    } catch (e) {
      const err = e instanceof CodedError ? e : new CodedError('CE_ERR_CMD_INVALID', (e as Error).message);
      stats.refused++;
      const error = { code: err.code, message: err.message };
      log.warn({ code: err.code, verb, id, source: from.source, user }, `command refused: ${err.message}`);
      const what = typeof body.rule === 'string' ? body.rule : typeof body.device === 'string' && typeof body.tag === 'string' ? `${body.device}.${body.tag}` : undefined;
      deps.audit.append({ t, user, source: from.source, verb, id, ok: false, ...(what ? { rule: what } : {}), ...(verb === 'write' && body.value !== undefined ? { new: body.value } : {}), error });
      return remember(from, { id, verb, ok: false, t, error });
    }
  };

  // Ids are the sender's own: two engineers on the API may both send "1".
  const keyOf = (from: CommandSource, id: string) => `${from.source}|${from.user ?? ''}|${id}`;

  function remember(from: CommandSource, reply: CommandReply): CommandReply {
    if (reply.id === null) return reply;
    seen.set(keyOf(from, reply.id), reply);
    if (seen.size > REMEMBERED) seen.delete(seen.keys().next().value!);
    return reply;
  }

  return { handle, stats: () => ({ ...stats }) };
}

function parseBody(payload: string | Buffer): Body {
  if (payload.length > MAX_PAYLOAD) throw new CodedError('CE_ERR_CMD_MALFORMED', `${payload.length} bytes; at most ${MAX_PAYLOAD}`);
  let body: unknown;
  try {
    body = JSON.parse(payload.toString());
  } catch (e) {
    throw new CodedError('CE_ERR_CMD_MALFORMED', (e as Error).message);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CodedError('CE_ERR_CMD_MALFORMED', `got ${Array.isArray(body) ? 'a list' : typeof body}`);
  return body as Body;
}

/** Every command names who gives it: the audit log answers "who changed this limit". */
function userOf(body: Body): string {
  const u = body.user;
  if (typeof u !== 'string' || u.trim().length === 0 || u.length > 64) throw new CodedError('CE_ERR_CMD_INVALID', 'user (who gives the command, 1 to 64 characters) is required');
  return u;
}
