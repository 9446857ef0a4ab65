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

export async function startMosquitto(dir: string): Promise<Broker> {
  const bin = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
  if (!bin) throw new Error('mosquitto not found in /usr/sbin: install the Debian package "mosquitto"');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    await writeFile(conf, [
      `listener ${port} ${LOOPBACK}`,
      'allow_anonymous true',
      'persistence false',
      // As root, mosquitto would drop to user "mosquitto", which cannot read our 0700 temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      // stderr: its stdout is block-buffered into a pipe and the "running" line would come late.
      'log_dest stderr',
      // "running" is an information-level line: it is how we know the listener is open.
      'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
      '',
    ].join('\n'));
    const child = startChild('mosquitto', bin, ['-c', conf]);
    try {
      await child.waitForLine(/mosquitto version \S+ running/, 15_000);
      return { url: `mqtt://${LOOPBACK}:${port}`, child };
    } catch (e) {
      await child.stop();
      if (attempt >= 3 || !/Address already in use/.test(String(e))) throw e;
    }
  }
}
