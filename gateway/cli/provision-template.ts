// The templates of config/templates/ and how `provision` fills them. A template is a valid
// configuration in itself (a test loads each), with example values where the site's own go. They
// are filled through the `yaml` Document API, not by replacing text, so a value is always quoted
// as YAML needs and the template's comments and layout carry over to the box's file.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';

export const KINDS = ['pump-station', 'streetlight-cabinet', 'parking-lot', 'street-sensors'] as const;
export type Kind = (typeof KINDS)[number];

export const KIND_TITLES: Record<Kind, string> = {
  'pump-station': '排水泵站, a PLC on Modbus TCP',
  'streetlight-cabinet': '路灯控制柜, Modbus RTU behind a serial-to-Ethernet converter',
  'parking-lot': '智慧停车, bay sensors through a LoRaWAN network server',
  'street-sensors': '井盖 and 积水点 sensors through a LoRaWAN network server',
};

export interface ApiUserEntry { name: string; role: 'admin' | 'engineer' | 'viewer'; password_hash?: string; token_sha256?: string }

/** What the provisioner puts into a template. */
export interface Filling {
  site: { id: string; name?: string; district: string; grid: string };
  upstream: { url: string; username?: string; password?: string };
  device: { host: string; port: number };
  api: { host: string; users: ApiUserEntry[] };
  /** First line of the file's header comment. */
  header: string;
}

export async function loadTemplate(kind: Kind): Promise<Document> {
  const text = await readFile(new URL(`../../config/templates/${kind}.yaml`, import.meta.url), 'utf8');
  return parseDocument(text);
}

/** How the box reaches the template's device(s): what `--device-host` and `--device-port` replace. */
export function deviceAddress(doc: Document): { host: string; port: number; what: string } {
  const d = (doc.toJS() as { devices: Record<string, unknown>[] }).devices[0]!;
  if (d.driver === 'modbus-tcp') return { host: String(d.host), port: Number(d.port ?? 502), what: 'the PLC (Modbus TCP)' };
  if (d.driver === 'modbus-rtu') {
    const tcp = d.tcp as { host: string; port: number };
    return { host: tcp.host, port: tcp.port, what: 'the serial-to-Ethernet converter (RTU over TCP)' };
  }
  const url = new URL((d.source as { url: string }).url);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 1883), what: 'the LoRaWAN network server\'s MQTT broker' };
}

/** The template with the site's values in; the caller validates the text before writing it. */
export function fillTemplate(doc: Document, f: Filling): string {
  doc.setIn(['site', 'id'], f.site.id);
  if (f.site.name) doc.setIn(['site', 'name'], f.site.name); else doc.deleteIn(['site', 'name']);
  doc.setIn(['site', 'district'], f.site.district);
  doc.setIn(['site', 'grid'], f.site.grid);

  doc.setIn(['upstreams', 0, 'url'], f.upstream.url);
  for (const key of ['username', 'password'] as const) {
    const v = f.upstream[key];
    if (v !== undefined) doc.setIn(['upstreams', 0, key], v); else doc.deleteIn(['upstreams', 0, key]);
  }

  // Every device of a template sits behind the one address: the PLC, the converter, or the
  // network server that all the street's sensors report through.
  const devices = doc.get('devices');
  const n = isSeq(devices) ? devices.items.length : 0;
  const host = isIP(f.device.host) === 6 ? `[${f.device.host}]` : f.device.host;
  for (let i = 0; i < n; i++) {
    const driver = doc.getIn(['devices', i, 'driver']);
    if (driver === 'modbus-tcp') {
      doc.setIn(['devices', i, 'host'], f.device.host);
      doc.setIn(['devices', i, 'port'], f.device.port);
    } else if (driver === 'modbus-rtu') {
      doc.setIn(['devices', i, 'tcp', 'host'], f.device.host);
      doc.setIn(['devices', i, 'tcp', 'port'], f.device.port);
    } else if (isMap(doc.getIn(['devices', i, 'source']))) {
      doc.setIn(['devices', i, 'source', 'url'], `mqtt://${host}:${f.device.port}`);
    }
  }

  doc.setIn(['api', 'host'], f.api.host);
  const users = doc.createNode(f.api.users.map((u) => ({ ...u })));
  for (const item of users.items) if (isMap(item)) item.flow = true;
  doc.setIn(['api', 'users'], users);

  doc.commentBefore = ` ${f.header}\n${doc.commentBefore ?? ''}`;
  // lineWidth 0: one line per flow mapping, as in the template, however long.
  return doc.toString({ lineWidth: 0 });
}
