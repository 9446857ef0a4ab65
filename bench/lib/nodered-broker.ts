// The platform's broker of `npm run bench:nodered`: Debian's Mosquitto, as bench/lib/mosquitto.ts starts
// it, but one that can go away for a minute and come back on the same port with what it held.
//
// The outage phases stop it (SIGTERM: Mosquitto writes its in-memory state to its persistence file on
// a clean exit) and start it again on the same port from that file. So the platform's subscriber, which
// holds a persistent session (clean start off, a session expiry), finds its subscription in place the
// moment the broker is back: whatever a gateway publishes after the restart is queued for it even if
// the gateway reconnects before the subscriber does. Without persistence the broker would forget the
// subscription, and the count would depend on who reconnects first.
//
// bench/lib/mosquitto.ts writes `persistence false` and offers no way to change it, hence this file.
// The port comes from below the ephemeral range (bench/lib/journal-broker.ts, reservePort): during the
// outage nothing listens on it, and the gateways' reconnect attempts must not be handed it as the local
// port of an outgoing connection.
import { existsSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startChild, type Child } from './children.ts';
import { reservePort } from './journal-broker.ts';
import { LOOPBACK } from './mosquitto.ts';

export interface OutageBroker {
  readonly url: string;
  readonly port: number;
  /** The Mosquitto process running now (a new one after each restart). */
  child(): Child;
  running(): boolean;
  /** SIGTERM and wait for the exit: the persistence file is written on the way out. */
  stop(): Promise<string>;
  /** Starts Mosquitto again on the same port, from the persistence file; resolves once it listens. */
  start(): Promise<void>;
}

function mosquittoBin(): string {
  const bin = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
  if (!bin) throw new Error('mosquitto not found in /usr/sbin: install the Debian package "mosquitto"');
  return bin;
}

async function launch(bin: string, conf: string): Promise<Child> {
  const child = startChild('mosquitto', bin, ['-c', conf]);
  try {
    await child.waitForLine(/mosquitto version \S+ running/, 15_000);
    return child;
  } catch (e) {
    await child.stop();
    throw e;
  }
}

export async function startOutageBroker(dir: string): Promise<OutageBroker> {
  const bin = mosquittoBin();
  const data = join(dir, 'mosquitto-data');
  mkdirSync(data, { recursive: true });
  const conf = join(dir, 'mosquitto-outage.conf');
  const write = (port: number) => writeFile(conf, [
    `listener ${port} ${LOOPBACK}`,
    'allow_anonymous true',
    'persistence true',
    `persistence_location ${data}/`,
    // Saved only on exit: a periodic save would add its own CPU to the phases measured.
    'autosave_interval 0',
    // No bound on the QoS 1 messages queued for a subscriber: one that falls behind during a drain
    // counts late, not short (Mosquitto's default drops past 1,000).
    'max_queued_messages 0',
    ...(process.getuid?.() === 0 ? ['user root'] : []), // as root it would drop to "mosquitto", who cannot read our temp dir
    'log_dest stderr',
    'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
    '',
  ].join('\n'));

  let port = 0;
  let child: Child | undefined;
  // A free port can be taken between the probe and Mosquitto's bind: try another, a few times.
  for (let attempt = 1; !child; attempt++) {
    port = await reservePort();
    await write(port);
    try {
      child = await launch(bin, conf);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(String(e))) throw e;
    }
  }
  let current: Child = child;
  return {
    url: `mqtt://${LOOPBACK}:${port}`,
    port,
    child: () => current,
    running: () => current.running(),
    stop: () => current.stop(10_000),
    async start() {
      if (current.running()) return;
      current = await launch(bin, conf); // same conf: same port, same persistence file
    },
  };
}
