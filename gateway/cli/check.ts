// `cityedge check --config FILE`: validates the file and prints the read plan, so a technician
// sees before going live how many requests each device costs per scan.
import { loadConfig, ConfigError } from '../../config/loader.ts';
import { createDriver } from '../main.ts';
import { tagNamesOf } from '../../config/tag-names.ts';
import { silentLogger, systemClock } from '../model/index.ts';
import { parse } from './args.ts';
import { redactUrl } from '../../drivers/camera/redact.ts';

export async function main(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } });
  if (!values.config) {
    process.stderr.write('usage: cityedge check --config FILE\n');
    return 2;
  }
  let config;
  try {
    config = loadConfig(values.config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n\n${values.config}: refused (${e.issues.length} problem${e.issues.length === 1 ? '' : 's'}, ${e.code})\n`);
    return 1;
  }
  const out: string[] = [];
  const s = config.site;
  out.push(`${values.config}: OK`);
  out.push(`site ${s.id}${s.name ? ` (${s.name})` : ''}${s.grid ? ` grid ${s.grid}` : ''}: ` +
    `${config.devices.length} device(s), ${config.upstreams.length} upstream(s), ${config.alarms.length} alarm rule(s)${config.cameras.length > 0 ? `, ${config.cameras.length} camera(s)` : ""}`);
  for (const u of config.upstreams) out.push(`upstream ${u.id}: ${u.url} (${u.format}, MQTT ${u.protocol_version === 5 ? '5' : '3.1.1'})`);
  const b = config.buffer;
  out.push(b.journal === 'memory'
    ? 'journal: in memory (lost on restart)'
    : `journal: ${b.path}/journal.db, committed every ${b.commit_ms} ms, fsync ${b.fsync}` +
      `${b.max_bytes !== undefined ? `, quota ${b.max_bytes}` : ', no quota'}${b.max_age !== undefined ? `, max age ${b.max_age}` : ''}`);
  out.push('');
  for (const d of config.devices) {
    const driver = createDriver(d, { clock: systemClock, logger: silentLogger, dataDir: config.buffer.path });
    if (d.driver === 'lorawan') {
      out.push(`device ${d.id} (lorawan, ${d.codec}, ${typeof d.source === 'string' ? 'the box\'s broker' : d.source.url} ${d.topic}): ` +
        `${d.sensors.length} sensor(s), ${tagNamesOf(d).length} tags${d.lot !== undefined ? `, lot ${d.lot}` : ''}`);
    } else if (d.driver === 'mqtt') {
      out.push(`device ${d.id} (mqtt JSON, ${typeof d.source === 'string' ? 'the box\'s broker' : d.source.url} ${d.topic}): ${d.tags.length} tags`);
    } else if (d.driver === 'opcua') {
      out.push(`device ${d.id} (opcua, ${d.mode}), every ${d.poll_ms} ms${d.enabled ? '' : ' [disabled]'}: ${d.tags.length} tags`);
    } else {
      const where = d.driver === 'modbus-rtu'
        ? d.serial ? `${d.serial.path} ${d.serial.baud} ${d.serial.parity}` : `rtu over tcp ${d.tcp!.host}:${d.tcp!.port}`
        : `${d.host}:${d.port}`;
      out.push(`device ${d.id} (${d.driver} ${where} unit ${d.unit}), every ${d.poll_ms} ms${d.enabled ? '' : ' [disabled]'}: ` +
        `${d.tags.length} tags in ${driver.requestsPerScan} request(s) per scan (one per tag would be ${d.tags.length})`);
    }
    for (const line of driver.readPlan()) out.push(`  ${line}`);
    await driver.close();
  }
  for (const c of config.cameras) {
    const tied = config.alarms.filter((a) => a.camera === c.id).map((a) => a.id);
    out.push(`camera ${c.id}${c.name ? ` (${c.name})` : ''}: ${redactUrl(c.url)}, live ${c.width}x${c.height} at ${c.bitrate_kbps} kbit/s${c.enabled ? '' : ' [disabled]'}` +
      `${tied.length > 0 ? `; snapshots for ${tied.join(', ')}` : ''}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
