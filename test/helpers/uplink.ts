// What the MQTT uplink tests share: a logger that keeps its lines (to assert what was said, and
// how often), a JSON uplink on a memory journal stopped by the test's teardown, and a "broker"
// that answers CONNECT and then nothing, to test what a stop does when nobody acknowledges.
import { createServer } from 'node:net';
import { MqttJsonUplink } from '../../cloud-sync/mqtt-uplink.ts';
import { MemoryJournal } from '../../gateway/journal/memory.ts';
import { systemClock } from '../../gateway/model/clock.ts';
import type { CommandHandler, Logger, UpstreamConfig } from '../../gateway/model/index.ts';
import type { Teardownable } from './proc.ts';

export interface Line { level: string; obj: Record<string, unknown>; msg: string }

export function keepingLogger(lines: Line[]): Logger {
  const rec = (level: string) => (a: object | string, b?: string) => lines.push(typeof a === 'string' ? { level, obj: {}, msg: a } : { level, obj: a as Record<string, unknown>, msg: b ?? '' });
  const l: Logger = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'), child: () => l };
  return l;
}

export function startUplink(t: Teardownable, upstream: Partial<UpstreamConfig> & { url: string }, lines: Line[], onCommand?: CommandHandler) {
  const journal = new MemoryJournal();
  const uplink = new MqttJsonUplink({
    upstream: { id: 'city', format: 'json', protocol_version: 5, keepalive_s: 30, inflight: 8, commands: [], session_expiry_s: 0, ...upstream },
    site: { id: 'ps1' }, journal, clock: systemClock, logger: keepingLogger(lines), version: '0.0.0', ...(onCommand ? { onCommand } : {}),
  });
  const ac = new AbortController();
  const running = uplink.run(ac.signal);
  const stop = async () => { ac.abort(); await running; };
  t.teardown(stop);
  return { journal, uplink, stop };
}

/** Accepts the connection, answers CONNECT with an MQTT 3.1.1 CONNACK, then ignores everything. */
export async function silentBroker(t: Teardownable): Promise<{ url: string; openSockets: () => number }> {
  let open = 0;
  const server = createServer((sock) => {
    open++;
    sock.once('data', () => sock.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
    sock.on('close', () => open--);
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => { server.close(); });
  return { url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`, openSockets: () => open };
}
