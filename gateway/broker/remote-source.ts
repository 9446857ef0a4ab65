// A network server's broker as a message source: the box subscribes there with mqtt.js, and
// reconnects itself with exponential backoff and jitter (mqtt.js's fixed-interval reconnect is
// off), subscribing again after each connect. The session is persistent by default: with a clean
// one, every uplink sent while the box restarts (or is killed, or the link is down) is gone for
// good, which the fault campaign measured (docs/reliability.md).
import mqtt, { type MqttClient } from 'mqtt';
import { Backoff, type Clock, type Logger, type MessageHandler, type MessageSource, type MqttSourceConfig, topicMatches } from '../model/index.ts';

export function remoteSource(cfg: MqttSourceConfig, deps: { clock: Clock; logger: Logger; signal: AbortSignal; clientId: string }): MessageSource & { done: Promise<void> } {
  const log = deps.logger.child({ part: 'ns-broker', url: cfg.url });
  const subs = new Map<string, Set<MessageHandler>>();
  let client: MqttClient | undefined;
  const backoff = new Backoff({ initialMs: 1000, maxMs: 60_000 });

  const done = (async () => {
    let failures = 0;
    while (!deps.signal.aborted) {
      const c = mqtt.connect(cfg.url, {
        clientId: cfg.client_id ?? deps.clientId, reconnectPeriod: 0, connectTimeout: 15_000, clean: cfg.session === 'clean',
        ...(cfg.username !== undefined ? { username: cfg.username } : {}), ...(cfg.password !== undefined ? { password: cfg.password } : {}),
      });
      const closed = new Promise<boolean>((resolve) => {
        c.once('connect', () => {
          failures = 0;
          backoff.reset();
          client = c;
          log.info('subscribed to the network server');
          for (const f of subs.keys()) c.subscribe(f, { qos: 1 });
        });
        c.on('message', (topic, payload) => {
          for (const [f, hs] of subs) if (topicMatches(f, topic)) for (const h of hs) h(topic, payload);
        });
        c.on('error', (e) => { if (++failures === 1 || failures % 10 === 0) log.warn({ code: 'CE_ERR_UPSTREAM_CONNECT', failures }, e.message); });
        c.once('close', () => resolve(true));
        deps.signal.addEventListener('abort', () => { c.end(true); resolve(false); }, { once: true });
      });
      await closed;
      client = undefined;
      if (deps.signal.aborted) break;
      await deps.clock.sleep(backoff.next(), deps.signal).catch(() => {});
    }
  })();

  return {
    done,
    subscribe(filter, handler) {
      let set = subs.get(filter);
      if (!set) { set = new Set(); subs.set(filter, set); client?.subscribe(filter, { qos: 1 }); }
      set.add(handler);
      return () => { set.delete(handler); };
    },
  };
}
