// The gateway-config entries for the simulated sensors (`cityedge sim lorawan --print-config`): one
// device block per parking lot and one per other sensor kind, each sensor by name and DevEUI, so a
// technician pastes them instead of copying 16-hex-digit EUIs by hand. Only the keys the gateway's
// lorawan devices are known to take: id, driver, codec, sensors (name, dev_eui).
import type { SensorInfo } from './types.ts';

const GROUP_ID: Record<Exclude<SensorInfo['kind'], 'parking'>, string> = { manhole: 'manholes', waterlogging: 'waterlogging' };

/** Device blocks in the order of the sensor list, each sensor once. */
export function deviceBlocks(sensors: readonly SensorInfo[]): { id: string; codec: string; sensors: SensorInfo[] }[] {
  const blocks = new Map<string, { id: string; codec: string; sensors: SensorInfo[] }>();
  for (const s of sensors) {
    const id = s.kind === 'parking' ? s.lot! : GROUP_ID[s.kind];
    let block = blocks.get(id);
    if (!block) { block = { id, codec: s.codec, sensors: [] }; blocks.set(id, block); }
    block.sensors.push(s);
  }
  return [...blocks.values()];
}

/** YAML text: `devices:` and its blocks. DevEUIs are quoted, so `0012e400…` stays a string. */
export function sensorConfigYaml(sensors: readonly SensorInfo[]): string {
  const lines = ['# LoRaWAN sensors of the cityedge network-server simulator (same --seed gives the same DevEUIs)', 'devices:'];
  for (const b of deviceBlocks(sensors)) {
    lines.push(`  - id: ${b.id}`, '    driver: lorawan', `    codec: ${b.codec}`, '    sensors:');
    for (const s of b.sensors) lines.push(`      - { name: ${s.name}, dev_eui: "${s.devEui}" }`);
  }
  return `${lines.join('\n')}\n`;
}
