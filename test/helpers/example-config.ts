// The example pump-station configuration pointed at a test's own PLC and broker, so end-to-end
// tests run what a technician would, not a configuration written for the test.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { parseDocument, type Document } from 'yaml';
import { parseConfig } from '../../config/loader.ts';
import type { Config } from '../../config/schema.ts';
import { startPumpStation, type PumpStation } from '../../simulators/pump-station/index.ts';
import { startMosquitto, type Mosquitto } from './mosquitto.ts';

export const EXAMPLE_CONFIG = join(import.meta.dirname, '..', '..', 'config', 'examples', 'pump-station.yaml');

export interface ExampleOptions { plcPort: number; brokerUrl: string; pollMs?: number; bufferPath?: string }

/** The example's YAML text with the test's ports, and the names of the PLC's tags. */
export function exampleConfig(o: ExampleOptions): { yaml: string; tagNames: string[] } {
  const doc = parseDocument(readFileSync(EXAMPLE_CONFIG, 'utf8'));
  doc.setIn(['devices', 0, 'port'], o.plcPort);
  doc.setIn(['upstreams', 0, 'url'], o.brokerUrl);
  if (o.pollMs !== undefined) doc.setIn(['devices', 0, 'poll_ms'], o.pollMs);
  if (o.bufferPath !== undefined) doc.setIn(['buffer', 'path'], o.bufferPath);
  const tagNames = (doc.toJS() as { devices: { tags: { name: string }[] }[] }).devices[0]!.tags.map((x) => x.name);
  return { yaml: doc.toString(), tagNames };
}

export interface StationOptions {
  pollMs: number;
  /** Mosquitto keeps sessions across its restarts, so a subscriber misses nothing the gateway sent. */
  persistence?: boolean;
  /** Changes to the example before it is loaded (a second upstream, a quota). */
  edit?: (doc: Document) => void;
  /** Lines for mosquitto.conf, given a folder of the test's own for files they name (an ACL). */
  brokerConf?: (dir: string) => string[];
}

/**
 * What the in-process end-to-end tests share: Debian's Mosquitto as the platform broker, the
 * pump-station simulator running 20× fast, and the example configuration pointed at both with its
 * journal in a temp dir. Everything is stopped and removed by the test's teardown.
 */
export async function startExampleStation(t: Test, o: StationOptions): Promise<{ broker: Mosquitto; plc: PumpStation; config: Config }> {
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-station-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startMosquitto({ t, persistence: o.persistence ?? false, extraConf: o.brokerConf?.(dir) ?? [] });
  const plc = await startPumpStation({ port: 0, tickMs: 100, timeScale: 20 });
  t.teardown(() => plc.close());
  const doc = parseDocument(exampleConfig({ plcPort: plc.port, brokerUrl: broker.url, pollMs: o.pollMs, bufferPath: join(dir, 'data') }).yaml);
  o.edit?.(doc);
  return { broker, plc, config: parseConfig(doc.toString(), 'station.yaml') };
}
