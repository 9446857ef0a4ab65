// The box's own MQTT broker (aedes), for the site's LoRaWAN network server and for sensors that
// speak MQTT directly. Clients log in with a username and password (the config keeps the password's
// SHA-256) and may publish and subscribe only within their topic filters; anonymous clients are
// refused unless the configuration allows them. The gateway's own drivers subscribe in process.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { AedesPublishPacket, Client } from 'aedes';
import {
  Backoff, CodedError, filterCovers, topicMatches,
  type BrokerConfig, type Clock, type Logger, type MessageHandler, type MessageSource,
} from '../model/index.ts';

export interface BrokerStats { clients: number; connects: number; refusedLogins: number; refusedPublishes: number; refusedSubscribes: number; published: number }

interface User { name: string; hash: Buffer; publish: string[]; subscribe: string[] }

export interface EmbeddedBroker {
  source: MessageSource;
  /** Resolves with the port once listening (0 in the config picks one). */
  ready: Promise<number | undefined>;
  stats(): BrokerStats;
  close(): Promise<void>;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest();

export function startBroker(cfg: BrokerConfig, deps: { clock: Clock; logger: Logger; signal: AbortSignal }): EmbeddedBroker {
  const log = deps.logger.child({ part: 'broker' });
  const users = new Map<string, User>(cfg.users.map((u) => [u.username, { name: u.username, hash: Buffer.from(u.password_sha256, 'hex'), publish: u.publish, subscribe: u.subscribe }]));
  const s: BrokerStats = { clients: 0, connects: 0, refusedLogins: 0, refusedPublishes: 0, refusedSubscribes: 0, published: 0 };
  const who = new WeakMap<Client, User | 'anonymous'>();
  // A refused client is logged once a minute at most: a misconfigured sensor retries for ever.
  const lastRefusal = new Map<string, number>();
  const refuse = (key: string, msg: string) => {
    const now = deps.clock.now();
    if ((lastRefusal.get(key) ?? -Infinity) + 60_000 <= now) { lastRefusal.set(key, now); log.warn({ code: 'CE_ERR_BROKER_REFUSED' }, msg); }
  };

  // Loaded only by a box that runs a broker: aedes and its persistence modules are ~5 MB of RSS.
  const broker = import('aedes').then(({ Aedes }) => Aedes.createBroker({
    authenticate(client, username, password, done) {
      if (username === undefined || username === '') {
        if (cfg.allow_anonymous) { who.set(client, 'anonymous'); return done(null, true); }
        s.refusedLogins++;
        refuse(`anon:${client.id}`, `client "${client.id}" refused: anonymous clients are not allowed (broker.allow_anonymous)`);
        return done(Object.assign(new Error('not authorized'), { returnCode: 5 }), false);
      }
      const u = users.get(username);
      if (!u || !password || !timingSafeEqual(u.hash, sha256(password))) {
        s.refusedLogins++;
        refuse(`login:${username}`, `client "${client.id}" refused: wrong username or password for "${username}"`);
        return done(Object.assign(new Error('bad username or password'), { returnCode: 4 }), false);
      }
      who.set(client, u);
      done(null, true);
    },
    authorizePublish(client, packet, done) {
      if (!client) return done(null); // the gateway's own publishes
      const u = who.get(client);
      if (u === 'anonymous' || (u && u.publish.some((f) => topicMatches(f, packet.topic)))) { s.published++; return done(null); }
      s.refusedPublishes++;
      refuse(`pub:${client.id}`, `client "${client.id}" may not publish to ${packet.topic}`);
      done(new Error('not authorized'));
    },
    authorizeSubscribe(client, sub, done) {
      const u = who.get(client);
      if (u === 'anonymous' || (u && u.subscribe.some((f) => filterCovers(f, sub.topic)))) return done(null, sub);
      s.refusedSubscribes++;
      refuse(`sub:${client.id}`, `client "${client.id}" may not subscribe to ${sub.topic}`);
      done(null, null); // MQTT 3.1.1 §3.9.3: SUBACK 0x80 for this filter, the connection stays
    },
  }));

  let server: Server | undefined;
  const ready = broker.then(async (b) => {
    b.on('client', () => { s.clients++; s.connects++; });
    b.on('clientDisconnect', () => { s.clients--; });
    server = createServer(b.handle);
    const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });
    for (let failures = 1; !deps.signal.aborted; failures++) {
      const port = await new Promise<number | undefined>((resolve) => {
        server!.once('error', (e) => {
          const err = new CodedError('CE_ERR_BROKER_LISTEN', `${cfg.host}:${cfg.port}: ${e.message}`);
          if (failures === 1 || failures % 10 === 0) log.error({ code: err.code, failures }, err.message);
          resolve(undefined);
        });
        server!.listen(cfg.port, cfg.host, () => resolve((server!.address() as { port: number }).port));
      });
      if (port !== undefined) {
        log.info({ host: cfg.host, port, users: users.size, anonymous: cfg.allow_anonymous }, 'broker listening');
        return port;
      }
      await deps.clock.sleep(backoff.next(), deps.signal).catch(() => {});
    }
    return undefined;
  });

  const source: MessageSource = {
    subscribe(filter: string, handler: MessageHandler) {
      const deliver = (packet: AedesPublishPacket, cb: () => void) => {
        try { handler(packet.topic, packet.payload as Buffer); } finally { cb(); }
      };
      let closed = false;
      void broker.then((b) => { if (!closed) b.subscribe(filter, deliver, () => {}); });
      return () => { closed = true; void broker.then((b) => b.unsubscribe(filter, deliver, () => {})); };
    },
  };

  return {
    source, ready, stats: () => ({ ...s }),
    async close() {
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      const b = await broker;
      await new Promise<void>((r) => b.close(() => r()));
    },
  };
}
