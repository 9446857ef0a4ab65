// The sink of the benchmark: Debian's Mosquitto on a free loopback port, with its own config in the
// run's temp dir. A real broker, so "delivered" means what a platform subscriber would really get.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { startChild, type Child } from './children.ts';

export const LOOPBACK = '127.0.0.1';

/** A port free a moment ago (bind 0, read, close); callers retry if something takes it meanwhile. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Broker { url: string; child: Child }

export interface MosquittoOptions {
  /** A fixed port (no retry on another one); otherwise a free one. */
  port?: number;
  /** max_inflight_messages: also the Receive Maximum Mosquitto announces to MQTT 5 clients. Undefined: Mosquitto's default, 20. */
  receiveMax?: number;
  /** max_queued_messages 0: no bound on the QoS 1 messages queued for a subscriber (Mosquitto's default drops past 1,000). */
  unboundedQueue?: boolean;
  /** Config file name, so two brokers of one run do not share one. */
  name?: string;
  /**
   * Keep sessions and queued messages in this folder, written on a clean exit (SIGTERM): a broker started
   * again with the same options and port comes back with them. Undefined: persistence off.
   */
  persistDir?: string;
}

export async function startMosquitto(dir: string, o: MosquittoOptions = {}): Promise<Broker> {
  const bin = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
  if (!bin) throw new Error('mosquitto not found in /usr/sbin: install the Debian package "mosquitto"');
  for (let attempt = 1; ; attempt++) {
    const port = o.port ?? await freePort();
    const conf = join(dir, `${o.name ?? 'mosquitto'}.conf`);
    await writeFile(conf, [
      `listener ${port} ${LOOPBACK}`,
      'allow_anonymous true',
      // Saved only on exit when on: a periodic save would add its own CPU to the phases measured.
      ...(o.persistDir ? ['persistence true', `persistence_location ${o.persistDir}/`, 'autosave_interval 0'] : ['persistence false']),
      ...(o.receiveMax !== undefined ? [`max_inflight_messages ${o.receiveMax}`] : []),
      ...(o.unboundedQueue ? ['max_queued_messages 0'] : []),
      // As root, mosquitto would drop to user "mosquitto", which cannot read our 0700 temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      // stderr: its stdout is block-buffered into a pipe and the "running" line would come late.
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
