// The box of `npm run bench:box`: what it holds, how many tags that makes, and its configuration file,
// generated from the example sites a technician would start from (config/examples/pump-station.yaml,
// streetlight-cabinet.yaml) and the sensor blocks the LoRaWAN simulator prints
// (`cityedge sim lorawan --print-config`), with only the addresses, ports and sizes changed.
//
// "10,000 tags at 1 s" is counted as reads per second, honestly: a Modbus tag polled every second is
// one sample a second; a sensor reporting every `sensorPeriodS` with k values per uplink is k samples
// per period, not k tags at 1 s. The bulk PLC registers make up what the pump station, the cabinets
// and the sensors leave of the total.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * Samples one uplink gives in rate mode (the simulator sends heartbeats: parking fPort 2 and manhole
 * fPort 2, water-logging its measurement; docs/drivers/lorawan-codecs.md), plus `_rssi` and `_snr`.
 * `_online` is sent once, when a sensor is first heard.
 */
export const SAMPLES_PER_UPLINK: Record<string, number> = {
  'cityedge-parking-v1': 8 + 2, // occupied interference battery mag_x mag_y mag_z temperature heartbeat_min
  'cityedge-manhole-v1': 10 + 2, // four flags, tilt_deg water_level_cm methane_ppm battery temperature rssi_dbm
  'cityedge-waterlog-v1': 5 + 2, // depth_cm fault wet battery interval_min
};
/** A lot's `bays_free`, `bays_occupied`, `bays_unknown`, computed at every scan (1 s). */
export const LOT_SUMMARY_TAGS = 3;

/** The sensors: 60 % parking bays in lots of at most 600, 30 % manhole covers, the rest water-logging points. */
export interface SensorSplit { lots: number; bays: number; manholes: number; waterlogging: number }

export function splitSensors(n: number): SensorSplit {
  const parking = Math.round(n * 0.6);
  const lots = Math.max(1, Math.ceil(parking / 600));
  const bays = Math.round(parking / lots);
  const manholes = Math.round(n * 0.3);
  return { lots, bays, manholes, waterlogging: Math.max(0, n - lots * bays - manholes) };
}

export interface BoxPlan {
  pumpTags: number;
  cabinetTags: number;
  cabinets: number;
  plcs: number;
  /** Registers per bulk PLC. */
  bulkTags: number;
  sensors: SensorSplit;
  sensorPeriodS: number;
  /** Sensor samples per second: uplinks × samples per uplink, and the lots' summaries. */
  sensorSamplesPerS: number;
  /** Modbus tags (one sample a second each) + sensor samples per second. */
  samplesPerS: number;
}

interface Example { site: Record<string, unknown>; buffer: Record<string, unknown>; upstreams: Record<string, unknown>[]; devices: Record<string, unknown>[]; alarms: Record<string, unknown>[] }

function example(root: string, name: string): Example {
  return parse(readFileSync(join(root, 'config', 'examples', name), 'utf8')) as Example;
}

const tagsOf = (d: Record<string, unknown>) => (d.tags as unknown[]).length;

/** Sizes the bulk PLCs so that the whole box reads or receives `total` samples a second. */
export function planBox(root: string, o: { total: number; cabinets: number; plcs: number; sensors: number; sensorPeriodS: number }): BoxPlan {
  const pumpTags = tagsOf(example(root, 'pump-station.yaml').devices[0]!);
  const cabinetTags = tagsOf(example(root, 'streetlight-cabinet.yaml').devices[0]!);
  const sensors = splitSensors(o.sensors);
  const perPeriod = sensors.lots * sensors.bays * SAMPLES_PER_UPLINK['cityedge-parking-v1']!
    + sensors.manholes * SAMPLES_PER_UPLINK['cityedge-manhole-v1']! + sensors.waterlogging * SAMPLES_PER_UPLINK['cityedge-waterlog-v1']!;
  const sensorSamplesPerS = perPeriod / o.sensorPeriodS + sensors.lots * LOT_SUMMARY_TAGS;
  const rest = o.total - pumpTags - cabinetTags * o.cabinets - sensorSamplesPerS;
  const bulkTags = Math.max(1, Math.ceil(rest / o.plcs));
  return {
    pumpTags, cabinetTags, cabinets: o.cabinets, plcs: o.plcs, bulkTags, sensors, sensorPeriodS: o.sensorPeriodS, sensorSamplesPerS,
    samplesPerS: pumpTags + cabinetTags * o.cabinets + o.plcs * bulkTags + sensorSamplesPerS,
  };
}

export interface BoxEndpoints {
  upstreamUrl: string;
  nsUrl: string;
  pumpPort: number;
  cabinetPort: number;
  bulkPorts: number[];
  /** The devices block `cityedge sim lorawan --print-config` printed. */
  sensorYaml: string;
  tokenSha256: string;
}

/** Device ids by the part of the box they are. */
export interface BoxGroups { pump: string[]; cabinets: string[]; bulk: string[]; sensors: string[] }

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Cabinet `i`'s copy of the example's cab1 rules: ids, tags, devices and expressions renamed. */
function cabinetAlarms(rules: Record<string, unknown>[], i: number): Record<string, unknown>[] {
  const id = `cab${i}`;
  return rules.map((r) => ({
    ...r,
    id: String(r.id).startsWith('cab1_') ? `${id}_${String(r.id).slice(5)}` : `${id}_${String(r.id)}`,
    ...(r.tag ? { tag: String(r.tag).replace(/^cab1\./, `${id}.`) } : {}),
    ...(r.device ? { device: id } : {}),
    ...(r.when ? { when: String(r.when).replace(/\bcab1\./g, `${id}.`) } : {}),
  }));
}

export function writeBoxConfig(root: string, dir: string, plan: BoxPlan, e: BoxEndpoints): { file: string; groups: BoxGroups; alarmRules: number } {
  const pump = example(root, 'pump-station.yaml');
  const light = example(root, 'streetlight-cabinet.yaml');
  const plc1: Record<string, unknown> = { ...pump.devices[0]!, host: '127.0.0.1', port: e.pumpPort };
  const cab1 = light.devices[0]!;
  const cabinets = Array.from({ length: plan.cabinets }, (_, k) => {
    const i = k + 1;
    return {
      ...cab1, id: `cab${i}`, description: `余杭塘路 ${i} 号路灯控制柜`, unit: i,
      tcp: { host: '127.0.0.1', port: e.cabinetPort },
      // The example polls its one cabinet every 5 s; this box reads everything every second.
      poll_ms: 1000,
      component: `${String(cab1.component).slice(0, -2)}${pad2(i)}`,
    };
  });
  const bulk = e.bulkPorts.map((port, k) => ({
    id: `bulk${pad2(k + 1)}`, description: '站控 PLC, bulk registers', driver: 'modbus-tcp', host: '127.0.0.1', port, unit: 1, poll_ms: 1000,
    tags: Array.from({ length: plan.bulkTags }, (_, r) => ({ name: `r${r}`, address: `hr:${r}`, type: 'uint16' })),
  }));
  const printed = parse(e.sensorYaml) as { devices: Record<string, unknown>[] };
  const sensors = printed.devices.map((d): Record<string, unknown> => ({
    ...d,
    // The network server's broker, as on a real site (the box's own broker is the other way).
    source: { url: e.nsUrl },
    ...(d.codec === 'cityedge-parking-v1' ? { lot: d.id } : {}),
  }));
  const lots = sensors.filter((d) => d.codec === 'cityedge-parking-v1').map((d) => String(d.id));
  const alarms = [
    ...pump.alarms,
    ...cabinets.flatMap((_, k) => cabinetAlarms(light.alarms, k + 1)),
    // Templates: one rule per matching tag (docs/alarms.md).
    ...lots.map((lot) => ({ id: `${lot}_bay_silent`, tag: `${lot}.*_online`, equals: false, severity: 'minor', message: '车位检测器离线', message_en: 'bay sensor offline' })),
    ...(plan.sensors.manholes > 0 ? [{ id: 'cover_open', tag: 'manholes.*_cover_open', equals: true, severity: 'major', message: '井盖打开', message_en: 'manhole cover open' }] : []),
    ...(plan.sensors.waterlogging > 0 ? [{ id: 'road_waterlogging', tag: 'waterlogging.*_depth_cm', above: 15, deadband: 2, severity: 'major', event_type: '0111', message: '道路积水', message_en: 'road water-logging' }] : []),
  ];
  const config = {
    site: { ...pump.site, id: 'bench-box', name: '拱墅区某排水泵站及周边街道 (bench:box)' },
    // The example's journal: on disk, fsync full, commit every 250 ms (the defaults), 1 GiB quota.
    buffer: { ...pump.buffer, path: join(dir, 'data') },
    upstreams: [{ ...pump.upstreams[0]!, url: e.upstreamUrl }],
    api: {
      host: '127.0.0.1', port: 0,
      users: [{ name: 'bench', role: 'viewer', token_sha256: e.tokenSha256 }],
      // docs/config.md: "10,000 tags would want step: 60s"; 12 h keeps the estimate under the 1 GB warning.
      trends: { step: '60s', keep: '12h' },
    },
    devices: [plc1, ...cabinets, ...bulk, ...sensors],
    alarms,
  };
  const file = join(dir, 'box.yaml');
  writeFileSync(file, stringify(config, { flow: false }));
  return {
    file,
    groups: { pump: [String(plc1.id)], cabinets: cabinets.map((c) => c.id), bulk: bulk.map((b) => b.id), sensors: sensors.map((s) => String(s.id)) },
    alarmRules: alarms.length,
  };
}

/** A device as `cityedge check` describes it: the product's own count of its tags and requests. */
export interface CheckedDevice { id: string; driver: string; codec?: string; tags: number; requests: number; sensors: number }

/** Parses `cityedge check`'s device lines (gateway/cli/check.ts) and its alarm-rule count. */
export function parseCheck(stdout: string): { devices: CheckedDevice[]; alarmRules: number } {
  const devices: CheckedDevice[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^device (\S+) \(([a-z-]+)[ ,]/.exec(line);
    if (!m) continue;
    const codec = m[2] === 'lorawan' ? /^device \S+ \(lorawan, ([a-z0-9-]+)/.exec(line)?.[1] : undefined;
    devices.push({
      id: m[1]!, driver: m[2]!, ...(codec ? { codec } : {}),
      tags: Number(/(\d+) tags/.exec(line)?.[1] ?? NaN),
      requests: Number(/(\d+) request\(s\) per scan/.exec(line)?.[1] ?? 0),
      sensors: Number(/(\d+) sensor\(s\)/.exec(line)?.[1] ?? 0),
    });
  }
  return { devices, alarmRules: Number(/(\d+) alarm rule\(s\)/.exec(stdout)?.[1] ?? NaN) };
}
