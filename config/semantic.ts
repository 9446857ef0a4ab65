// What the schema cannot say: addresses that fit their type, unique names, references that
// resolve, limits in order. Runs only on a file the schema accepted.
import { parseModbusAddress, registerSpan, isBitTable } from './modbus-address.ts';
import { durationMs, byteSize } from './units.ts';
import { checkExpr } from './expr.ts';
import { tagNamesOf } from './tag-names.ts';
import { tagGlob } from './rule-templates.ts';
import type { AlarmConfig, Config, RawConfig, LorawanDeviceConfig, ModbusTagConfig, OpcuaDeviceConfig, OpcuaTagConfig } from './schema.ts';
import type { KeyPath, RawIssue } from './loader.ts';

export function semanticIssues(c: RawConfig): RawIssue[] {
  const out: RawIssue[] = [];
  const add = (path: KeyPath, message: string, hint?: string) => out.push({ path, message, ...(hint ? { hint } : {}) });

  checkUnits(c, add);
  unique(c.upstreams.map((u) => u.id), (i, id) => add(['upstreams', i, 'id'], `upstream "${id}" is defined twice`, 'give each upstream its own id'));
  c.upstreams.forEach((u, i) => formatIssues(u, i, add));
  c.upstreams.forEach((u, i) => {
    if (u.tls === undefined) return;
    if (!/^(mqtts|tls|wss|https):\/\//.test(u.url)) add(['upstreams', i, 'tls'], `tls is set but the url ${u.url.split('://')[0]}:// is not encrypted`, 'use mqtts:// (port 8883 by convention), or remove tls');
    if ((u.tls.cert === undefined) !== (u.tls.key === undefined)) {
      const [given, missing] = u.tls.cert === undefined ? ['key', 'cert'] : ['cert', 'key'];
      add(['upstreams', i, 'tls', given], `tls.${given} is given without tls.${missing}: a client certificate needs both cert and key`, 'give tls.cert and tls.key together, or neither');
    }
  });
  unique(c.devices.map((d) => d.id), (i, id) => add(['devices', i, 'id'], `device "${id}" is defined twice`, 'give each device its own id'));

  rtuLineIssues(c, add);

  const tagsByDevice = new Map<string, Set<string>>();
  c.devices.forEach((d, di) => {
    if (d.driver === 'camera') return;
    if (d.driver === 'opcua') opcuaDeviceIssues(d, di, add);
    if (d.driver === 'mqtt' && d.source === 'local' && c.broker === undefined) add(['devices', di, 'source'], 'source local is the box\'s own broker, and the configuration has no broker section', 'add broker: { port: 1883, users: [...] }');
    if (d.driver === 'lorawan') {
      tagsByDevice.set(d.id, new Set(tagNamesOf(d)));
      lorawanIssues(d, di, add);
      if (d.source === 'local' && c.broker === undefined) add(['devices', di, 'source'], 'source local is the box\'s own broker, and the configuration has no broker section', 'add broker: { port: 1883, users: [...] }, or give the network server\'s broker url');
      return;
    }
    const names = new Set<string>();
    tagsByDevice.set(d.id, names);
    unique(d.tags.map((t) => t.name), (ti, name) =>
      add(['devices', di, 'tags', ti, 'name'], `tag "${name}" appears twice in device "${d.id}"`, 'tag names are unique within a device'));
    d.tags.forEach((t, ti) => {
      names.add(t.name);
      const issues = d.driver === 'opcua' ? opcuaTagIssues(t as OpcuaTagConfig) : d.driver === 'mqtt' ? [] : tagIssues(t as ModbusTagConfig);
      for (const [key, message, hint] of issues) add(['devices', di, 'tags', ti, key], message, hint);
    });
  });

  unique(c.alarms.map((a) => a.id), (i, id) => add(['alarms', i, 'id'], `alarm "${id}" is defined twice`, 'give each alarm rule its own id'));
  c.alarms.forEach((a, i) => alarmIssues(a, i, tagsByDevice, add));
  const cameras = c.devices.filter((d) => d.driver === 'camera').map((d) => d.id);
  c.alarms.forEach((a, i) => {
    if (a.camera !== undefined && !cameras.includes(a.camera)) {
      add(['alarms', i, 'camera'], `"${a.camera}" is not a camera of this box`, cameras.length > 0 ? `cameras: ${cameras.join(', ')}` : 'add a device with driver: camera and its url');
    }
  });
  if (c.api) apiIssues(c.api, add);
  return out;
}

function apiIssues(api: NonNullable<RawConfig['api']>, add: (p: KeyPath, m: string, h?: string) => void): void {
  unique(api.users.map((u) => u.name), (i, name) => add(['api', 'users', i, 'name'], `user "${name}" is defined twice`, 'one entry per person: give it a token_sha256, a password_hash, or both'));
  api.users.forEach((u, i) => {
    if (u.token_sha256 === undefined && u.password_hash === undefined) {
      add(['api', 'users', i], `user "${u.name}" has neither token_sha256 nor password_hash, so cannot sign in`, 'cityedge token makes a token; cityedge passwd a password hash');
    }
  });
  for (const key of ['session_idle', 'session_max', 'trends.step', 'trends.keep'] as const) {
    const [a, b] = key.split('.') as [string, string | undefined];
    const v = (b ? (api as unknown as Record<string, Record<string, unknown>>)[a]?.[b] : (api as unknown as Record<string, unknown>)[a]) as number | string | undefined;
    if (v === undefined) continue;
    try {
      if (durationMs(v) <= 0) add(['api', ...key.split('.')], `${key} must be longer than 0`);
    } catch (e) { add(['api', ...key.split('.')], (e as Error).message); }
  }
}

const ALARM_KINDS = ['above', 'below', 'equals', 'rise_per_min', 'fall_per_min', 'stale_s', 'comm_loss_s', 'when'] as const;

function alarmIssues(a: AlarmConfig, i: number, tagsByDevice: Map<string, Set<string>>, add: (p: KeyPath, m: string, h?: string) => void): void {
  const devices = () => `devices: ${[...tagsByDevice.keys()].join(', ')}`;
  const known = (path: string) => {
    const [d, t] = path.split('.');
    return tagsByDevice.get(d ?? '')?.has(t ?? '') ?? false;
  };
  const expr = (key: 'when' | 'suppress_when', src: string) => {
    const r = checkExpr(src, known);
    if (r.error) add(['alarms', i, key], r.error, 'tags are device.tag; operators: and or not < <= > >= == != + - * / ( )');
  };
  if (a.suppress_when !== undefined) expr('suppress_when', a.suppress_when);
  const kinds = ALARM_KINDS.filter((k) => k in a);
  if (kinds.length !== 1) {
    add(['alarms', i], kinds.length === 0 ? `an alarm rule needs one of ${ALARM_KINDS.join(', ')}` : `use one of ${kinds.join(' / ')} per rule`,
      'write HH, H, L and LL as separate rules');
  }
  if (a.rate_window_s !== undefined && a.rise_per_min === undefined && a.fall_per_min === undefined) {
    add(['alarms', i, 'rate_window_s'], 'rate_window_s applies to rise_per_min and fall_per_min rules only');
  }
  if (a.when !== undefined) {
    if (a.tag !== undefined) add(['alarms', i, 'tag'], 'a when rule names its tags in the expression', 'drop tag; name the device it belongs to with device');
    if (a.device !== undefined && !tagsByDevice.has(a.device)) add(['alarms', i, 'device'], `no device "${a.device}"`, devices());
    expr('when', a.when);
    return;
  }
  if (a.comm_loss_s !== undefined) {
    // A device-level rule: it names the device, not a tag.
    if (a.tag !== undefined) add(['alarms', i, 'tag'], 'a comm_loss_s rule watches a device, not a tag', 'write device: <id> instead of tag');
    if (a.device === undefined) add(['alarms', i], 'a comm_loss_s rule needs device', devices());
    else if (!tagsByDevice.has(a.device)) add(['alarms', i, 'device'], `no device "${a.device}"`, devices());
    return;
  }
  if (a.device !== undefined) add(['alarms', i, 'device'], 'only comm_loss_s and when rules name a device', 'name the tag as device.tag in tag');
  if (a.tag === undefined) { add(['alarms', i], 'an alarm rule needs tag (device.tag)'); return; }
  const [device, tag] = a.tag.split('.') as [string, string];
  const tags = tagsByDevice.get(device);
  if (!tags) add(['alarms', i, 'tag'], `no device "${device}"`, devices());
  else if (tag.includes('*')) {
    if (![...tags].some((x) => tagGlob(tag).test(x))) add(['alarms', i, 'tag'], `no tag of device "${device}" matches "${tag}"`, `its tags: ${[...tags].slice(0, 12).join(', ')}${tags.size > 12 ? ', …' : ''}`);
  } else if (!tags.has(tag)) add(['alarms', i, 'tag'], `device "${device}" has no tag "${tag}"`, `its tags: ${[...tags].join(', ')}`);
}

type TagIssue = [key: string, message: string, hint?: string];

/** RTU devices on one line: exactly one line each, one unit id each, and the same line settings. */
function rtuLineIssues(c: RawConfig, add: (p: KeyPath, m: string, h?: string) => void): void {
  const seen = new Map<string, { di: number; units: Map<number, string>; settings: string }>();
  c.devices.forEach((d, di) => {
    if (d.driver !== 'modbus-rtu') return;
    if ((d.serial === undefined) === (d.tcp === undefined)) {
      add(['devices', di], d.serial ? 'give serial or tcp, not both' : 'a modbus-rtu device needs serial (a port) or tcp (a serial-to-Ethernet converter)');
      return;
    }
    const key = d.serial ? `serial ${d.serial.path}` : `tcp ${d.tcp!.host}:${d.tcp!.port}`;
    const settings = d.serial ? `${d.serial.baud} ${d.serial.parity} ${d.serial.data_bits}${d.serial.stop_bits}` : '';
    const line = seen.get(key) ?? { di, units: new Map<number, string>(), settings };
    seen.set(key, line);
    const other = line.units.get(d.unit);
    if (other) add(['devices', di, 'unit'], `unit ${d.unit} on ${key} is also device "${other}"`, 'each device on one line needs its own unit id');
    line.units.set(d.unit, d.id);
    if (line.settings !== settings) add(['devices', di, 'serial'], `${key} is ${line.settings} for device ${c.devices[line.di]!.id}, ${settings} here`, 'devices on one line share its baud rate, parity, data and stop bits');
  });
}

function lorawanIssues(d: LorawanDeviceConfig, di: number, add: (p: KeyPath, m: string, h?: string) => void): void {
  unique(d.sensors.map((x) => x.name), (i, name) => add(['devices', di, 'sensors', i, 'name'], `sensor "${name}" appears twice in device "${d.id}"`));
  unique(d.sensors.map((x) => x.dev_eui.toLowerCase()), (i, eui) => add(['devices', di, 'sensors', i, 'dev_eui'], `DevEUI ${eui} appears twice in device "${d.id}"`));
  if (d.codec === 'object' && d.fields === undefined) add(['devices', di], 'codec object needs fields: the names to take from the network server\'s decoded object');
  if (d.codec !== 'object' && d.fields !== undefined) add(['devices', di, 'fields'], `fields applies to codec object; ${d.codec} has its own`);
}

function opcuaDeviceIssues(d: OpcuaDeviceConfig, di: number, add: (p: KeyPath, m: string, h?: string) => void): void {
  if (d.security_mode === 'None' && d.security_policy !== undefined && d.security_policy !== 'None') {
    add(['devices', di, 'security_policy'], `security_policy ${d.security_policy} needs security_mode Sign or SignAndEncrypt`);
  }
  if (d.security_mode !== 'None' && d.security_policy === 'None') add(['devices', di, 'security_policy'], `security_mode ${d.security_mode} needs a policy other than None`, 'Basic256Sha256 is what most servers offer');
  if (d.password !== undefined && d.username === undefined) add(['devices', di, 'password'], 'a password without a username', 'add username');
}

function opcuaTagIssues(t: OpcuaTagConfig): TagIssue[] {
  const out: TagIssue[] = [];
  if ((t.node === undefined) === (t.path === undefined)) out.push(['node', t.node === undefined ? 'an OPC UA tag needs node (a NodeId) or path (a browse path)' : 'give node or path, not both', 'cityedge browse opc.tcp://host:port prints both for each variable']);
  if (t.min !== undefined && t.max !== undefined && t.min > t.max) out.push(['min', `min ${t.min} is above max ${t.max}`]);
  if ((t.min !== undefined || t.max !== undefined) && !t.writable) out.push([t.min !== undefined ? 'min' : 'max', 'min and max limit writes; this tag is not writable', 'add writable: true, or drop the limits']);
  return out;
}

function tagIssues(t: ModbusTagConfig): TagIssue[] {
  const out: TagIssue[] = [];
  const a = parseModbusAddress(t.address);
  if ('error' in a) return [['address', a.error, 'addresses are 0-based: hr:N, ir:N, co:N, di:N, hr:N.B']];
  const span = registerSpan(t.type, t.length);
  if (isBitTable(a.table) && t.type !== 'bool') {
    out.push(['type', `a ${a.table === 'co' ? 'coil' : 'discrete input'} holds one bit, not a ${t.type}`, 'use type: bool, or an hr:/ir: address']);
  }
  if (a.bit !== undefined && t.type !== 'bool') out.push(['type', `a bit address (${t.address}) is read as bool, not ${t.type}`, 'use type: bool']);
  if (t.type === 'string' && t.length === undefined) out.push(['length', 'a string tag needs length (registers, 2 characters each)']);
  if (t.type !== 'string' && t.length !== undefined) out.push(['length', `length applies to string tags only, not ${t.type}`]);
  if (t.order !== undefined && span < 2 && t.type !== 'string') {
    out.push(['order', `order applies to 32- and 64-bit types, not ${t.type}`, 'drop order, or change the type']);
  }
  if (!isBitTable(a.table) && a.index + span - 1 > 65535) out.push(['address', `${t.type} at ${a.index} runs past register 65535`]);
  if ((t.type === 'bool' || t.type === 'string') && (t.scale !== undefined || t.offset !== undefined || t.deadband !== undefined)) {
    out.push([t.scale !== undefined ? 'scale' : t.offset !== undefined ? 'offset' : 'deadband', `scale, offset and deadband apply to numbers, not ${t.type}`]);
  }
  if (t.scale === 0) out.push(['scale', 'scale 0 would make every value 0']);
  if (t.min !== undefined && t.max !== undefined && t.min > t.max) out.push(['min', `min ${t.min} is above max ${t.max}`]);
  if ((t.min !== undefined || t.max !== undefined) && !t.writable) {
    out.push([t.min !== undefined ? 'min' : 'max', 'min and max limit writes; this tag is not writable', 'add writable: true, or drop the limits']);
  }
  if (t.writable && a.table !== 'hr' && a.table !== 'co') out.push(['writable', `${a.table}: is read-only in Modbus`, 'only hr: and co: can be written']);
  return out;
}

function checkUnits(c: RawConfig, add: (p: KeyPath, m: string, h?: string) => void): void {
  const tryParse = (path: KeyPath, fn: () => number) => {
    try { fn(); } catch (e) { add(path, (e as Error).message); }
  };
  if (c.buffer?.max_bytes !== undefined) tryParse(['buffer', 'max_bytes'], () => byteSize(c.buffer!.max_bytes!));
  if (c.buffer?.max_age !== undefined) tryParse(['buffer', 'max_age'], () => durationMs(c.buffer!.max_age!));
  const checkInterval = (path: KeyPath, value: number | string | undefined, pollMs: number) => {
    if (value === undefined) return;
    const ms = durationMs(value);
    if (ms < pollMs) add(path, `max_interval (${ms} ms) is shorter than poll_ms (${pollMs})`, 'integrity reports cannot come faster than polls');
  };
  c.devices.forEach((d, di) => {
    if (d.driver === 'camera') return;
    checkInterval(['devices', di, 'max_interval'], d.max_interval, d.poll_ms);
    if (d.driver === 'lorawan') return;
    d.tags.forEach((t, ti) => checkInterval(['devices', di, 'tags', ti, 'max_interval'], t.max_interval, d.poll_ms));
  });
}

function unique(values: readonly string[], onDuplicate: (index: number, value: string) => void): void {
  const seen = new Set<string>();
  values.forEach((v, i) => { if (seen.has(v)) onDuplicate(i, v); else seen.add(v); });
}

const ONLY_FOR: Record<string, 'sparkplug' | 'influx'> = {
  group_id: 'sparkplug', edge_node_id: 'sparkplug', primary_host_id: 'sparkplug', data_qos: 'sparkplug',
  org: 'influx', bucket: 'influx', token: 'influx', measurement: 'influx', batch_points: 'influx',
};

/** A key that belongs to another format is a mistake worth naming, not something to ignore. */
function formatIssues(u: Config['upstreams'][number], i: number, add: (path: KeyPath, message: string, hint?: string) => void): void {
  const http = /^https?:\/\//.test(u.url);
  if (u.format === 'influx') {
    if (!http) add(['upstreams', i, 'url'], `an influx upstream is written to over HTTP, not ${u.url.split('://')[0]}://`, 'give the server\'s URL, e.g. http://127.0.0.1:8086');
    if (u.bucket === undefined) add(['upstreams', i], 'an influx upstream needs a bucket', 'add bucket: telemetry (and org, token for InfluxDB 2)');
    if (u.commands.length > 0) add(['upstreams', i, 'commands'], 'an influx upstream sends no commands: the box only writes to it', 'remove commands');
    if (u.tls !== undefined) add(['upstreams', i, 'tls'], 'tls applies to MQTT upstreams; an influx upstream over https uses the system CAs', 'remove tls; for a private CA start the gateway with NODE_EXTRA_CA_CERTS=ca.pem');
  } else if (http) {
    add(['upstreams', i, 'url'], `format ${u.format} publishes to an MQTT broker; ${u.url.split('://')[0]}:// is for format influx`, 'use mqtt:// or mqtts://, or set format: influx');
  }
  for (const [key, format] of Object.entries(ONLY_FOR)) {
    if ((u as Record<string, unknown>)[key] !== undefined && u.format !== format) add(['upstreams', i, key], `${key} applies to format ${format} only`, `remove it, or set format: ${format}`);
  }
}
