// The example pump-station configuration pointed at a test's own PLC and broker, so end-to-end
// tests run what a technician would, not a configuration written for the test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';

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
