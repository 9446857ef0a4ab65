// The plant's OPC UA server: node-opcua's OPCUAServer with the plant's address space, a physics
// timer, its own PKI folder, and a close() that frees the port at once so a test can restart it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MessageSecurityMode, OPCUACertificateManager, OPCUAServer, SecurityPolicy } from 'node-opcua';
import { buildAddressSpace } from './address-space.ts';
import { SewagePlantPhysics, type PhysicsOptions } from './physics.ts';
import type { SignalName } from './signals.ts';

export type SecurityModeName = 'None' | 'Sign' | 'SignAndEncrypt';
export type SecurityPolicyName = 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss';

export interface OpcuaPlantOptions {
  /** Address to listen on, and the host name in the endpoint URLs. Default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 (the default) picks a free one, reported as `port`. */
  port?: number;
  /**
   * The server's PKI folder (own/certs/certificate.pem, own/private, trusted/, rejected/…):
   * created on first start and reused later, so a client that trusted the server keeps trusting it
   * after a restart. Default: a temp folder removed by close(). One server per folder at a time.
   */
  pkiDir?: string;
  /** Accounts for username/password login. */
  users?: readonly { username: string; password: string }[];
  /** Default true. */
  allowAnonymous?: boolean;
  /** Security modes offered. Default all three; the secured ones with `policies`. */
  security?: readonly SecurityModeName[];
  /** Policies for Sign and SignAndEncrypt. Default ['Basic256Sha256']. */
  policies?: readonly SecurityPolicyName[];
  /** Physics period in real ms. 0: no timer; the caller advances time with step(). Default 100. */
  tickMs?: number;
  /** Simulated seconds per real second. Default 1. */
  timeScale?: number;
  /** Extra Double variables `ns=1;s=Bulk.V0000`… for load tests, each counting up once a second. */
  bulk?: number;
  physics?: PhysicsOptions;
  /** Aborting it closes the server. */
  signal?: AbortSignal;
}

export interface OpcuaPlant {
  host: string;
  port: number;
  /** `opc.tcp://HOST:PORT`, the URL every endpoint of the server has. */
  endpointUrl: string;
  physics: SewagePlantPhysics;
  /** Signal name (signals.ts) → node id string, e.g. 'Aeration.DO' → 'ns=1;s=Plant.Aeration.DO'. */
  nodeIds: Readonly<Record<SignalName, string>>;
  /** Node ids of the bulk variables, in order. */
  bulkNodeIds: readonly string[];
  pkiDir: string;
  /** The server's certificate (PEM), for a client that wants to trust it up front. */
  certificateFile: string;
  /** Advances the physics by `seconds` of simulated time and publishes the new values. */
  step(seconds: number): void;
  close(): Promise<void>;
}

const MODES: Record<SecurityModeName, MessageSecurityMode> = {
  None: MessageSecurityMode.None, Sign: MessageSecurityMode.Sign, SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
};

/**
 * node-opcua-pki serialises changes to a PKI folder with lock directories (`…mutex.lock`) that a
 * process killed at the wrong moment leaves behind. Until they go stale (2 min) every new client's
 * first secure connection stalls 5 s (warning W39) and its trust is not recorded. The folder
 * belongs to this one simulator, so a lock found at start is a leftover.
 */
async function removeStaleLocks(pkiDir: string, userPkiDir: string): Promise<void> {
  await Promise.all([join(pkiDir, 'mutex.lock'), join(pkiDir, 'own', 'certs', 'certificate.pem.mutex.lock'), join(userPkiDir, 'mutex.lock')]
    .map((p) => rm(p, { recursive: true, force: true })));
}

export async function startOpcuaPlant(options: OpcuaPlantOptions = {}): Promise<OpcuaPlant> {
  const { host = '127.0.0.1', port = 0, tickMs = 100, timeScale = 1, bulk = 0, allowAnonymous = true, signal } = options;
  const security = options.security ?? ['None', 'Sign', 'SignAndEncrypt'];
  const policies = options.policies ?? ['Basic256Sha256'];
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port ${port} is not a TCP port (0–65535)`);
  if (!Number.isInteger(bulk) || bulk < 0 || bulk > 100_000) throw new RangeError(`bulk ${bulk}: expected an integer 0–100000`);
  if (!(timeScale > 0)) throw new RangeError(`timeScale ${timeScale} must be positive`);
  if (security.length === 0) throw new RangeError('security: offer at least one mode');
  signal?.throwIfAborted();

  const ownPki = options.pkiDir === undefined;
  const pkiDir = options.pkiDir ?? await mkdtemp(join(tmpdir(), 'cityedge-opcua-pki-'));
  const userPkiDir = join(pkiDir, 'user-tokens');
  let server: OPCUAServer | undefined;
  try {
    await removeStaleLocks(pkiDir, userPkiDir);
    // Both managers get folders of our own: node-opcua's defaults write under $HOME/.config.
    // File watchers off: nobody edits the folder during a run, and tests start servers by the dozen
    // (node-opcua's own advice: piled-up fs.watch handles exhaust libuv's thread pool).
    const serverCertificateManager = new OPCUACertificateManager({
      rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: true, disableFileWatchers: true,
    });
    const userCertificateManager = new OPCUACertificateManager({
      rootFolder: userPkiDir, automaticallyAcceptUnknownCertificate: true, disableFileWatchers: true,
    });
    const users = options.users ?? [];
    const wildcard = host === '0.0.0.0' || host === '::';
    server = new OPCUAServer({
      host,
      port,
      // Endpoint URLs carry the address we listen on, not the machine's FQDN, which a client may not resolve.
      ...(wildcard ? {} : { hostname: host }),
      serverCertificateManager,
      userCertificateManager,
      allowAnonymous,
      securityModes: security.map((m) => MODES[m]),
      securityPolicies: [
        ...(security.includes('None') ? [SecurityPolicy.None] : []),
        ...(security.some((m) => m !== 'None') ? policies.map((p) => SecurityPolicy[p]) : []),
      ],
      userManager: {
        isValidUser: (username: string, password: string) => users.some((u) => u.username === username && u.password === password),
      },
      // A fixed URI, so the certificate made on the first start matches on every later one.
      serverInfo: {
        applicationUri: 'urn:cityedge:simulator:sewage-plant',
        productUri: 'urn:cityedge:simulator',
        applicationName: { text: 'cityedge sewage plant simulator', locale: 'en' },
      },
      buildInfo: { productName: 'cityedge sewage plant simulator', manufacturerName: 'cityedge' },
      serverCapabilities: { maxSessions: 100 },
      maxConnectionsPerEndpoint: 100,
      isAuditing: false,
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace!;
    const physics = new SewagePlantPhysics(options.physics);
    const space = buildAddressSpace(addressSpace.getOwnNamespace(), addressSpace.rootFolder.objects, physics, bulk);
    await server.start();
    const actualPort = server.endpoints[0]!.port;
    const endpointUrl = server.getEndpointUrl();

    const step = (seconds: number): void => {
      physics.step(seconds);
      space.publish(new Date());
    };

    let timer: NodeJS.Timeout | undefined;
    if (tickMs > 0) {
      // Advance by the time that really passed, so a busy event loop slows the scan, not the clock.
      let last = performance.now();
      let bulkDue = 0;
      timer = setInterval(() => {
        const now = performance.now();
        const elapsed = Math.min(now - last, 5000);
        last = now;
        step((elapsed / 1000) * timeScale);
        // Bulk values change once a real second each, spread over the ticks so no tick stalls the loop.
        bulkDue += (bulk * elapsed) / 1000;
        const count = Math.min(bulk, Math.floor(bulkDue));
        if (count > 0) { space.publishBulk(count, new Date()); bulkDue -= count; }
      }, tickMs);
    }

    const running = server;
    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        clearInterval(timer);
        signal?.removeEventListener('abort', onAbort);
        // No grace period: sessions are closed at once and the listening socket with them.
        await running.shutdown(0);
        if (ownPki) await rm(pkiDir, { recursive: true, force: true });
      })();
      return closing;
    };
    const onAbort = (): void => { void close(); };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) { await close(); signal.throwIfAborted(); }

    return {
      host, port: actualPort, endpointUrl, physics, nodeIds: space.nodeIds, bulkNodeIds: space.bulkNodeIds,
      pkiDir, certificateFile: join(pkiDir, 'own', 'certs', 'certificate.pem'), step, close,
    };
  } catch (err) {
    await server?.shutdown(0).catch(() => {});
    if (ownPki) await rm(pkiDir, { recursive: true, force: true });
    throw err;
  }
}
