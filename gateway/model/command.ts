// A command from outside (a platform on `…/cmd/{verb}`, an engineer through the HTTP API) and the
// reply it gets. Transports hand the raw payload to a CommandHandler and send back what it returns;
// they know nothing of what the verbs do.

export interface CommandSource {
  /** Where it came from, for the audit log: `mqtt:city`, `http`. */
  source: string;
  /** The verbs this sender may give. */
  allowed: readonly string[];
  /** Set by a transport that authenticated the sender itself (the HTTP API); else the payload's `user`. */
  user?: string;
}

export interface CommandReply {
  /** The request's own id, echoed so the platform can match the reply; null when unreadable. */
  id: string | null;
  verb: string;
  ok: boolean;
  t: number;
  result?: unknown;
  error?: { code: string; message: string };
}

/** Async: a write waits for the device to confirm it. */
export type CommandHandler = (verb: string, payload: string | Buffer, from: CommandSource) => Promise<CommandReply>;
