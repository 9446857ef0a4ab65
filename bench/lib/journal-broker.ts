// The brokers of `npm run bench:journal`: Debian's Mosquitto as bench/lib/mosquitto.ts starts it, plus
// what the journal runs need: a Receive Maximum large enough for the windows measured, a queue per
// subscriber without a bound (so a subscriber that falls behind counts late, not short), and a fixed
// port for the gateway run, whose configuration names the broker's port before the broker exists.
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { startChild } from './children.ts';
import { freePort, LOOPBACK, type Broker } from './mosquitto.ts';

export interface JournalBrokerOptions {
  /** A fixed port (no retry on another one); otherwise a free one. */
  port?: number;
  /** max_inflight_messages: also the Receive Maximum Mosquitto announces to MQTT 5 clients. Undefined: Mosquitto's default, 20. */
  receiveMax?: number;
  /** max_queued_messages 0: no bound on the QoS 1 messages queued for a subscriber (Mosquitto's default drops past 1,000). */
  unboundedQueue?: boolean;
  /** Config file name, so two brokers of one run do not share one. */
  name?: string;
}

export async function startJournalBroker(dir: string, o: JournalBrokerOptions = {}): Promise<Broker> {
  const bin = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
  if (!bin) throw new Error('mosquitto not found in /usr/sbin: install the Debian package "mosquitto"');
  for (let attempt = 1; ; attempt++) {
    const port = o.port ?? await freePort();
    const conf = join(dir, `${o.name ?? 'mosquitto-journal'}.conf`);
    await writeFile(conf, [
      `listener ${port} ${LOOPBACK}`,
      'allow_anonymous true',
      'persistence false',
      // Mosquitto's default (20) is also the Receive Maximum it announces to MQTT 5 clients, and the
      // uplink keeps its window under it: with it, "window 256" would be window 20.
      ...(o.receiveMax !== undefined ? [`max_inflight_messages ${o.receiveMax}`] : []),
      ...(o.unboundedQueue ? ['max_queued_messages 0'] : []),
      // As root, mosquitto would drop to user "mosquitto", which cannot read our 0700 temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'log_dest stderr',
      // "running" and "New client connected" are information-level lines.
      'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
      '',
    ].join('\n'));
    const child = startChild('mosquitto', bin, ['-c', conf]);
    try {
      await child.waitForLine(/mosquitto version \S+ running/, 15_000);
      return { url: `mqtt://${LOOPBACK}:${port}`, child };
    } catch (e) {
      await child.stop();
      if (o.port !== undefined || attempt >= 3 || !/Address already in use/.test(String(e))) throw e;
    }
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host: LOOPBACK, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port that is free now and that the kernel will not hand out as the local port of an outgoing
 * connection meanwhile: below the ephemeral range (ip_local_port_range). The gateway's config names
 * it minutes before Mosquitto listens on it; a port from `freePort()` could be taken by any of the
 * run's own connections in between.
 */
export async function reservePort(): Promise<number> {
  let low = 32768;
  try { low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low; } catch { /* not Linux */ }
  const from = Math.max(10_000, low - 12_000);
  for (let i = 0; i < 50; i++) {
    const port = from + Math.floor(Math.random() * Math.max(1, low - from));
    if (await bindable(port)) return port;
  }
  return freePort();
}
