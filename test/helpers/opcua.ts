// What the OPC UA tests share: the plant device pointed at a simulator, a scan loop that waits for
// a condition, and the newest sample of a tag in a scan.
import { parseConfig } from '../../config/loader.ts';
import type { OpcuaDriver } from '../../drivers/opcua/driver.ts';
import type { OpcuaDeviceConfig, Sample, ScanResult } from '../../gateway/model/index.ts';
import { waitFor } from './wait.ts';

export function plantDevice(endpoint: string, extra = '', tags?: string, pollMs = 200): OpcuaDeviceConfig {
  return parseConfig(`
site: { id: wwtp }
buffer: { journal: memory }
devices:
  - id: plant
    driver: opcua
    endpoint: ${endpoint}
    poll_ms: ${pollMs}
${extra}    tags:
${tags ?? `      - { name: level, node: "ns=1;s=Plant.InletPS.WetWell.Level" }
      - { name: do1, path: "/Objects/1:Plant/1:Aeration/1:DO" }
      - { name: no_such, node: "ns=1;s=Plant.NoSuchThing" }
      - { name: energy, node: "ns=1;s=Plant.Energy.Total" }
      - { name: name, node: "ns=1;s=Plant.Name" }
      - { name: lead_pump, node: "ns=1;s=Plant.InletPS.LeadPump", writable: true, min: 1, max: 3 }
      - { name: do_sp, node: "ns=1;s=Plant.Aeration.DOSetpoint", writable: true, min: 0, max: 10 }
`}`, 'plant.yaml').devices[0] as OpcuaDeviceConfig;
}

/** Scans every 200 ms until `ok` holds for a scan; returns every scan seen. */
export async function scanUntil(driver: OpcuaDriver, ok: (r: ScanResult) => boolean, what: string, timeoutMs = 60_000): Promise<ScanResult[]> {
  const seen: ScanResult[] = [];
  const ac = new AbortController();
  await waitFor(async () => {
    const r = await driver.scan(ac.signal);
    seen.push(r);
    return ok(r);
  }, { what, timeoutMs, intervalMs: 200 });
  return seen;
}

export const latest = (r: ScanResult, tag: string): Sample | undefined => r.samples.filter((s) => s.tag === `plant.${tag}`).at(-1);
export const good = (r: ScanResult, ...tags: string[]) => tags.every((x) => latest(r, x)?.quality === 'good');

