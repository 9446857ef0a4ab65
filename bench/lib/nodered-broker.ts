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
// The port comes from below the ephemeral range (bench/lib/journal-broker.ts, reservePort): during the
// outage nothing listens on it, and the gateways' reconnect attempts must not be handed it as the local
// port of an outgoing connection.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Child } from './children.ts';
import { reservePort } from './journal-broker.ts';
import { startMosquitto, type MosquittoOptions } from './mosquitto.ts';

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

export async function startOutageBroker(dir: string): Promise<OutageBroker> {
  const persistDir = join(dir, 'mosquitto-data');
  mkdirSync(persistDir, { recursive: true });
  // No bound on the QoS 1 messages queued for a subscriber: one that falls behind during a drain
  // counts late, not short (Mosquitto's default drops past 1,000).
  const base: MosquittoOptions = { name: 'mosquitto-outage', persistDir, unboundedQueue: true };
  let port = 0;
  let broker: Awaited<ReturnType<typeof startMosquitto>> | undefined;
  // A free port can be taken between the probe and Mosquitto's bind: try another, a few times.
  for (let attempt = 1; !broker; attempt++) {
    port = await reservePort();
    try {
      broker = await startMosquitto(dir, { ...base, port });
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(String(e))) throw e;
    }
  }
  let current: Child = broker.child;
  return {
    url: broker.url,
    port,
    child: () => current,
    running: () => current.running(),
    stop: () => current.stop(10_000),
    async start() {
      if (current.running()) return;
      current = (await startMosquitto(dir, { ...base, port })).child; // same port, same persistence file
    },
  };
}
