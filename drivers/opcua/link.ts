// One connection to an OPC UA server: client, secure channel and session, built whole and torn
// down whole. node-opcua's own reconnection is switched off (maxRetry 0): after a server restart it
// can come back with a session whose subscriptions the server no longer has, and data silently
// stops, the fault users of other gateways report most. Here any loss ends the link, and the driver
// builds a new one, with every subscription and monitored item, after a backoff with jitter.
//
// node-opcua is loaded on first use: a box without OPC UA devices does not carry it in memory.
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type * as OpcuaLib from 'node-opcua';
import { CodedError, type Logger } from '../../gateway/model/index.ts';

export type Lib = typeof OpcuaLib;
let lib: Promise<Lib> | undefined;

/**
 * node-opcua writes its warnings straight to the console; they go to the gateway's log instead, as
 * JSON lines like every other. Two are noise here and go to debug: W27 (Node 20 refuses RSA PKCS#1
 * v1.5 decryption, which only the Basic128Rsa15 policy needs; the driver does not offer it) and the
 * operation limits a server does not publish.
 */
const NOISE = /NODE-OPCUA-W27|security-revert|read_operational_limits|BadNodeIdUnknown/;
const NOTICE = /Creating default certificate/;

export function loadOpcua(logger?: Logger): Promise<Lib> {
  lib ??= import('node-opcua').then((l) => {
    if (logger) {
      const log = logger.child({ part: 'node-opcua' });
      const line = (args: unknown[]) => args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ').replace(/\s+/g, ' ').trim();
      const route = (level: 'warn' | 'error') => (_ctx: unknown, ...args: unknown[]) => {
        const msg = line(args);
        if (NOISE.test(msg)) log.debug(msg);
        else if (NOTICE.test(msg)) log.info(msg);
        else log[level](msg);
      };
      l.setWarningLogger(route('warn'));
      l.setErrorLogger(route('error'));
    }
    return l;
  });
  return lib;
}

export interface LinkOptions {
  endpoint: string;
  securityMode: 'None' | 'Sign' | 'SignAndEncrypt';
  securityPolicy: string | undefined;
  username?: string;
  password?: string;
  timeoutMs: number;
  /** The client's own certificate and the trusted / rejected server certificates live here. */
  pkiDir: string;
  /** Trust a server certificate seen for the first time (`--trust` on first connect). */
  trustUnknown: boolean;
}

/** One certificate manager per PKI folder and process: they lock their folder. */
const managers = new Map<string, Promise<OpcuaLib.OPCUACertificateManager>>();

async function certificateManager(o: LinkOptions, l: Lib): Promise<OpcuaLib.OPCUACertificateManager> {
  let m = managers.get(o.pkiDir);
  if (!m) {
    m = (async () => {
      mkdirSync(o.pkiDir, { recursive: true });
      const cm = new l.OPCUACertificateManager({ rootFolder: o.pkiDir, automaticallyAcceptUnknownCertificate: false });
      await cm.initialize();
      return cm;
    })();
    managers.set(o.pkiDir, m);
  }
  const cm = await m;
  // A flag per connect: `--trust` accepts the server seen now, and the folder remembers it after.
  (cm as unknown as { automaticallyAcceptUnknownCertificate: boolean }).automaticallyAcceptUnknownCertificate = o.trustUnknown;
  return cm;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]);
}

export class OpcuaLink {
  readonly lib: Lib;
  readonly client: OpcuaLib.OPCUAClient;
  readonly session: OpcuaLib.ClientSession;
  #closed = false;

  private constructor(l: Lib, client: OpcuaLib.OPCUAClient, session: OpcuaLib.ClientSession) {
    this.lib = l;
    this.client = client;
    this.session = session;
  }

  get alive(): boolean { return !this.#closed; }

  /** Connects and opens a session; `onLost` is called once if the link dies afterwards. */
  static async open(o: LinkOptions, onLost: (why: string) => void, logger?: Logger): Promise<OpcuaLink> {
    const l = await loadOpcua(logger);
    const secure = o.securityMode !== 'None';
    const client = l.OPCUAClient.create({
      applicationName: 'cityedge',
      applicationUri: `urn:${hostname()}:cityedge`,
      clientCertificateManager: await certificateManager(o, l),
      securityMode: l.MessageSecurityMode[o.securityMode],
      securityPolicy: secure ? (l.SecurityPolicy as Record<string, string>)[o.securityPolicy ?? 'Basic256Sha256'] as OpcuaLib.SecurityPolicy : l.SecurityPolicy.None,
      endpointMustExist: false,
      connectionStrategy: { maxRetry: 0, initialDelay: 1000, maxDelay: 1000 },
      requestedSessionTimeout: 60_000,
      transportTimeout: o.timeoutMs,
      defaultTransactionTimeout: o.timeoutMs,
      keepSessionAlive: true,
    });
    let link: OpcuaLink | undefined;
    const lost = (why: string) => { if (link && !link.#closed) { link.#closed = true; onLost(why); } };
    try {
      await withTimeout(client.connect(o.endpoint), o.timeoutMs, `connect to ${o.endpoint}`);
      const identity = o.username !== undefined
        ? { type: l.UserTokenType.UserName, userName: o.username, password: o.password ?? '' } as const
        : { type: l.UserTokenType.Anonymous } as const;
      const session = await withTimeout(client.createSession(identity), o.timeoutMs, 'create session');
      link = new OpcuaLink(l, client, session);
    } catch (e) {
      await client.disconnect().catch(() => {});
      throw classify(e as Error, o);
    }
    client.on('connection_lost', () => lost('connection lost'));
    client.on('close', () => lost('connection closed'));
    client.on('timed_out_request', () => lost('a request timed out'));
    link.session.on('session_closed', () => lost('session closed by the server'));
    link.session.on('keepalive_failure', () => lost('session keep-alive failed'));
    return link;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const quiet = <T>(p: Promise<T>) => withTimeout(p, 2000, 'close').catch(() => undefined);
    await quiet(this.session.close(true));
    await quiet(this.client.disconnect());
  }
}

/** Errors a technician can act on: an untrusted certificate and a refused login say so. */
function classify(e: Error, o: LinkOptions): CodedError {
  // node-opcua's messages run over several lines with advice of their own; one line for the log.
  const m = e.message.replace(/\s+/g, ' ').replace(/ Please check that the server is up and running or your network configuration\./, '').trim();
  if (/certificate|BadSecurityChecksFailed|BadCertificate/i.test(m)) {
    return new CodedError('CE_ERR_OPCUA_SECURITY', `${o.endpoint}: ${m}; the server certificate may need trusting: move it from ${join(o.pkiDir, 'rejected')} to ${join(o.pkiDir, 'trusted', 'certs')}, or run once with --trust`);
  }
  if (/BadUserAccessDenied|BadIdentityToken|user/i.test(m)) return new CodedError('CE_ERR_OPCUA_SECURITY', `${o.endpoint}: login refused for "${o.username ?? 'anonymous'}": ${m}`);
  return new CodedError('CE_ERR_OPCUA_CONNECT', `${o.endpoint}: ${m}`);
}
