// The brokers of `npm run bench:journal`: Debian's Mosquitto as bench/lib/mosquitto.ts starts it, plus
// what the journal runs need: a Receive Maximum large enough for the windows measured, a queue per
// subscriber without a bound (so a subscriber that falls behind counts late, not short), and a fixed
// port for the gateway run, whose configuration names the broker's port before the broker exists.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { freePort, LOOPBACK, startMosquitto, type Broker, type MosquittoOptions } from './mosquitto.ts';

export type JournalBrokerOptions = MosquittoOptions;

/** Mosquitto as bench/lib/mosquitto.ts starts it, with the journal runs' settings. */
export const startJournalBroker = (dir: string, o: JournalBrokerOptions = {}): Promise<Broker> =>
  startMosquitto(dir, { name: 'mosquitto-journal', ...o });

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
