// The one schema of a box's configuration. From it come the TypeScript types (Static), the runtime
// validation (Ajv, in loader.ts) and the JSON Schema that editors use (write-json-schema.ts).
// Keys with a `default` are filled in by the loader, so the types below show them as present.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  ApiRoles, CommandVerbs, ModbusTables, OpcuaSecurityModes, OpcuaSecurityPolicies, SensorCodecs, Severities, TagTypes, UpstreamFormats, WordOrders,
} from './vocabulary.ts';

/** A string enum as plain JSON Schema `enum`, so a wrong value gets one error listing the choices. */
const Enum = <T extends string | number>(values: readonly T[], opts: Record<string, unknown> = {}) =>
  Type.Unsafe<T>({ enum: [...values], ...opts });

const Id = (description: string) =>
  Type.String({ pattern: '^[a-z0-9_-]+$', minLength: 1, maxLength: 64, description });

/** A duration: seconds as a number, or a string with a unit (`250ms`, `30s`, `5m`, `2h`, `7d`). */
export const Duration = Type.Union([
  Type.Number({ minimum: 0 }),
  Type.String({ pattern: '^\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)$' }),
], { description: 'seconds, or a string with a unit: 250ms, 30s, 5m, 2h, 7d' });

/** A size in bytes: a number, or a string with a unit (`512MiB`, `1GiB`, `100MB`). */
export const ByteSize = Type.Union([
  Type.Integer({ minimum: 0 }),
  Type.String({ pattern: '^\\d+(\\.\\d+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$' }),
], { description: 'bytes, or a string with a unit: 512MiB, 1GiB, 100MB' });

export const ComponentCode = Type.String({
  pattern: '^\\d{16}$',
  description: '部件标识码: 6-digit district + 2-digit major class + 2-digit minor class + 6-digit serial',
});

export const SiteSchema = Type.Object({
  id: Id('site id, used in every MQTT topic'),
  name: Type.Optional(Type.String({ description: 'human name of the site' })),
  district: Type.Optional(Type.String({ pattern: '^\\d{6}$', description: 'GB/T 2260 district code, 6 digits' })),
  grid: Type.Optional(Type.String({ pattern: '^\\d{14,15}$', description: '万米单元网格 code, 14–15 digits' })),
}, { additionalProperties: false });

export const BufferSchema = Type.Object({
  path: Type.String({ default: './data', description: 'folder for the journal and state files' }),
  journal: Enum(['disk', 'memory'] as const, { default: 'disk', description: 'disk: the durable SQLite journal in path; memory: lost on restart (tests, boxes without storage)' }),
  max_bytes: Type.Optional(ByteSize),
  max_age: Type.Optional(Duration),
  commit_ms: Type.Integer({ minimum: 10, maximum: 10_000, default: 250, description: 'appends are committed to disk at least this often (ms); a sample is durable within this window' }),
  fsync: Enum(['full', 'normal', 'off'] as const, { default: 'full', description: 'full: a commit survives power loss; normal: a process crash only; off: neither' }),
}, { additionalProperties: false });

/** A Sparkplug B id: a topic level, so no '/', '+' or '#' (Sparkplug B 3.0 §4.1.1). */
const SparkplugId = (description: string) => Type.String({ pattern: '^[^/+#\\s]+$', maxLength: 128, description });
export const UpstreamSchema = Type.Object({
  id: Id('upstream id'),
  url: Type.String({ pattern: '^(mqtt|mqtts|tcp|tls|ws|wss|http|https)://', description: 'broker URL, e.g. mqtt://127.0.0.1:1883; for format influx the server\'s http(s) URL' }),
  format: Enum(UpstreamFormats, { default: 'json', description: 'json: the topics of docs/mqtt.md; sparkplug: a Sparkplug B 3.0 edge node; influx: InfluxDB v2 write API' }),
  group_id: Type.Optional(SparkplugId('sparkplug: the group id; default: the site district, else cityedge')),
  edge_node_id: Type.Optional(SparkplugId('sparkplug: the edge node id; default: the site id')),
  primary_host_id: Type.Optional(SparkplugId('sparkplug: publish only while this primary host application says it is online (STATE)')),
  data_qos: Type.Optional(Enum([0, 1] as const, { description: 'sparkplug: QoS of births and data; default 1, so the journal deletes only what the broker acknowledged (the specification says 0)' })),
  org: Type.Optional(Type.String({ minLength: 1, description: 'influx: the organisation' })),
  bucket: Type.Optional(Type.String({ minLength: 1, description: 'influx: the bucket (required for influx)' })),
  token: Type.Optional(Type.String({ minLength: 1, description: 'influx: the API token; never logged' })),
  measurement: Type.Optional(Type.String({ minLength: 1, description: 'influx: the measurement name; default cityedge' })),
  batch_points: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'influx: points per write request at most; default 5000' })),
  topic_prefix: Type.Optional(Type.String({
    pattern: '^[^+#/\\s]+(/[^+#/\\s]+)*$',
    description: 'topic levels without wildcards (+ #), spaces or empty levels; {site} is replaced; default cityedge/v1/{site}',
  })),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  username: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
  protocol_version: Enum([4, 5] as const, { default: 5, description: '5 = MQTT 5, 4 = MQTT 3.1.1' }),
  keepalive_s: Type.Integer({ minimum: 5, maximum: 65535, default: 30 }),
  inflight: Type.Integer({ minimum: 1, maximum: 1000, default: 32, description: 'QoS 1 messages awaiting PUBACK at once (lowered to the broker Receive Maximum)' }),
  commands: Type.Array(Enum(CommandVerbs), {
    default: [], uniqueItems: true,
    description: 'command verbs this platform may send on …/cmd/{verb}; none by default',
  }),
  tls: Type.Optional(Type.Object({
    ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA that signed the broker certificate (relative to this file); default: the system CAs' })),
    cert: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the box\'s client certificate, for mutual TLS; needs key' })),
    key: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the client certificate\'s private key; needs cert' })),
    servername: Type.Optional(Type.String({ minLength: 1, description: 'the name the broker certificate must carry (and SNI); default: the URL host' })),
    verify: Type.Boolean({ default: true, description: 'check the broker certificate; false only in a lab, never on a city network' }),
  }, { additionalProperties: false, description: 'TLS for mqtts:// (tls://, wss://) upstreams' })),
  session_expiry_s: Type.Integer({
    minimum: 0, maximum: 4294967295, default: 0,
    description: 'MQTT 5 session expiry: how long the broker keeps the command subscription, and commands sent meanwhile, across a disconnect; 0: a new session at each connect',
  }),
}, { additionalProperties: false });


export const ModbusTagSchema = Type.Object({
  name: Id('tag name, unique within its device'),
  address: Type.String({
    pattern: '^(hr|ir|co|di):\\d+(\\.\\d+)?$',
    description: 'hr:N holding register, ir:N input register, co:N coil, di:N discrete input (0-based); hr:N.B is bit B of a register',
  }),
  type: Enum(TagTypes, { description: 'how the registers are decoded' }),
  order: Type.Optional(Enum(WordOrders, { description: 'byte order of multi-register types; default ABCD' })),
  length: Type.Optional(Type.Integer({ minimum: 1, maximum: 125, description: 'registers of a string tag (2 characters each)' })),
  scale: Type.Optional(Type.Number({ description: 'value = raw × scale + offset' })),
  offset: Type.Optional(Type.Number()),
  unit: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  deadband: Type.Optional(Type.Number({ minimum: 0, description: 'publish only when the value moves by more than this' })),
  max_interval: Type.Optional(Duration),
  writable: Type.Optional(Type.Boolean()),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  allowed: Type.Optional(Type.Array(Type.Union([Type.Number(), Type.Boolean(), Type.String()]), { minItems: 1, description: 'the only values a write may set (a dim step list, a mode)' })),
}, { additionalProperties: false });

const deviceCommon = {
  id: Id('device id, used in topics and tag paths'),
  component: Type.Optional(ComponentCode),
  grid: Type.Optional(Type.String({ pattern: '^\\d{14,15}$', description: 'unit grid of this device; default the site grid' })),
  description: Type.Optional(Type.String()),
  enabled: Type.Boolean({ default: true }),
  poll_ms: Type.Integer({ minimum: 50, maximum: 86_400_000, default: 1000 }),
  max_interval: Type.Optional(Duration),
};

export const ModbusTcpDeviceSchema = Type.Object({
  ...deviceCommon,
  driver: Type.Literal('modbus-tcp'),
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 1, maximum: 65535, default: 502 }),
  unit: Type.Integer({ minimum: 0, maximum: 255, default: 1, description: 'Modbus unit id (slave id)' }),
  timeout_ms: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
  max_gap: Type.Integer({ minimum: 0, maximum: 124, default: 0, description: 'unused registers a request may bridge to save a request' }),
  max_registers: Type.Integer({ minimum: 1, maximum: 125, default: 125, description: 'registers per read request (some PLCs accept fewer)' }),
  max_bits: Type.Integer({ minimum: 1, maximum: 2000, default: 2000, description: 'coils or inputs per read request' }),
  tags: Type.Array(ModbusTagSchema, { minItems: 1 }),
}, { additionalProperties: false });

/**
 * Modbus RTU: on a serial line (RS-485 through a USB adapter or the box's own port), or RTU frames
 * over TCP (the serial-to-Ethernet converter in a streetlight cabinet). Devices naming the same
 * serial path or TCP address share one bus: one request at a time, in one queue.
 */
export const SerialSchema = Type.Object({
  path: Type.String({ minLength: 1, description: 'serial device, e.g. /dev/ttyS1 or /dev/ttyUSB0' }),
  baud: Type.Integer({ minimum: 300, maximum: 921_600, default: 9600 }),
  parity: Enum(['none', 'even', 'odd'] as const, { default: 'none' }),
  data_bits: Enum([7, 8] as const, { default: 8 }),
  stop_bits: Enum([1, 2] as const, { default: 1 }),
}, { additionalProperties: false });

export const RtuTcpSchema = Type.Object({
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 1, maximum: 65535, description: 'the converter\'s TCP port (often 502, 4001 or 8899)' }),
}, { additionalProperties: false });

export const ModbusRtuDeviceSchema = Type.Object({
  ...deviceCommon,
  driver: Type.Literal('modbus-rtu'),
  serial: Type.Optional(SerialSchema),
  tcp: Type.Optional(RtuTcpSchema),
  unit: Type.Integer({ minimum: 1, maximum: 247, description: 'Modbus unit id on the bus (1–247)' }),
  timeout_ms: Type.Integer({ minimum: 50, maximum: 60_000, default: 500 }),
  max_gap: Type.Integer({ minimum: 0, maximum: 124, default: 0, description: 'unused registers a request may bridge to save a request' }),
  max_registers: Type.Integer({ minimum: 1, maximum: 125, default: 125 }),
  max_bits: Type.Integer({ minimum: 1, maximum: 2000, default: 2000 }),
  tags: Type.Array(ModbusTagSchema, { minItems: 1 }),
}, { additionalProperties: false });


export const SensorSchema = Type.Object({
  name: Id('sensor name: its tags are {name}_{field}'),
  dev_eui: Type.String({ pattern: '^[0-9a-fA-F]{16}$', description: 'the sensor\'s DevEUI, 16 hex digits' }),
  heartbeat_s: Type.Optional(Type.Integer({ minimum: 10, maximum: 7 * 86_400, description: 'this sensor\'s heartbeat, over the device\'s' })),
  description: Type.Optional(Type.String()),
}, { additionalProperties: false });

export const MqttSourceSchema = Type.Object({
  url: Type.String({ pattern: '^(mqtt|mqtts|tcp|tls|ws|wss)://', description: 'the network server\'s broker' }),
  username: Type.Optional(Type.String()),
  password: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  // Optional rather than defaulted: inside the `source` union the validator fills in no defaults.
  session: Type.Optional(Enum(['persistent', 'clean'] as const, { description: 'persistent (default): the broker queues QoS 1 messages for the box while it is away (restart, kill, link down) and hands them over when it is back; clean: what arrives meanwhile is not kept' })),
}, { additionalProperties: false });

export const LorawanDeviceSchema = Type.Object({
  ...deviceCommon,
  driver: Type.Literal('lorawan'),
  source: Type.Union([Type.Literal('local'), MqttSourceSchema], { default: 'local', description: 'local: the box\'s own broker (broker:), or the network server\'s broker' }),
  topic: Type.String({ minLength: 1, default: 'application/+/device/+/event/up', description: 'uplink topic filter; ChirpStack v4 by default, v3: application/+/device/+/rx' }),
  codec: Enum(SensorCodecs, { description: 'how the frames are decoded; object: the network server decoded them' }),
  fields: Type.Optional(Type.Array(Id('field of the decoded object'), { minItems: 1, description: 'codec object: the fields to take from the object' })),
  heartbeat_s: Type.Optional(Type.Integer({ minimum: 10, maximum: 7 * 86_400, description: 'how often the sensors report at least; default 86400 for manhole monitors, 3600 for the others' })),
  missed_heartbeats: Type.Integer({ minimum: 1, maximum: 100, default: 3, description: 'silent for heartbeat_s × this: the sensor is offline and its values bad' }),
  debounce_s: Type.Optional(Type.Number({ minimum: 0, maximum: 3600, description: 'parking: a new occupancy counts after two readings agree or it held this long; default 60 for parking codecs, 0 otherwise' })),
  lot: Type.Optional(Type.String({ description: 'parking lot name: the device also reports free / occupied / unknown bays' })),
  sensors: Type.Array(SensorSchema, { minItems: 1 }),
}, { additionalProperties: false });

export const JsonTagSchema = Type.Object({
  name: Id('tag name, unique within its device'),
  path: Type.String({ pattern: '^(/[^/]*)+$', description: 'JSON pointer (RFC 6901) into the message: /t, /data/level, /values/0' }),
  scale: Type.Optional(Type.Number({ description: 'value = raw × scale + offset (numbers only)' })),
  offset: Type.Optional(Type.Number()),
  unit: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  deadband: Type.Optional(Type.Number({ minimum: 0, description: 'publish only when the value moves by more than this' })),
  max_interval: Type.Optional(Duration),
}, { additionalProperties: false });

export const MqttDeviceSchema = Type.Object({
  ...deviceCommon,
  driver: Type.Literal('mqtt'),
  source: Type.Union([Type.Literal('local'), MqttSourceSchema], { default: 'local', description: 'local: the box\'s own broker (broker:), or another broker' }),
  topic: Type.String({ minLength: 1, description: 'the topic (or filter) the sensor publishes its JSON on' }),
  time_path: Type.Optional(Type.String({ pattern: '^(/[^/]*)+$', description: 'JSON pointer to the reading\'s time (epoch ms, epoch s or ISO 8601); default: time of receipt' })),
  heartbeat_s: Type.Integer({ minimum: 10, maximum: 7 * 86_400, default: 3600 }),
  missed_heartbeats: Type.Integer({ minimum: 1, maximum: 100, default: 3 }),
  tags: Type.Array(JsonTagSchema, { minItems: 1 }),
}, { additionalProperties: false });

export const BrokerUserSchema = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 64 }),
  password_sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 (hex) of the password; the password itself is never stored' }),
  publish: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'topic filters this client may publish to' }),
  subscribe: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'topic filters this client may subscribe to' }),
}, { additionalProperties: false });

export const BrokerSchema = Type.Object({
  host: Type.String({ default: '127.0.0.1', description: 'address to listen on; 0.0.0.0 for the site LAN' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883, description: '0 picks a free port' }),
  allow_anonymous: Type.Boolean({ default: false, description: 'clients without a username may connect (and publish anywhere)' }),
  users: Type.Array(BrokerUserSchema, { default: [] }),
}, { additionalProperties: false });


export const OpcuaTagSchema = Type.Object({
  name: Id('tag name, unique within its device'),
  node: Type.Optional(Type.String({
    pattern: '^(ns=\\d+;)?(i=\\d+|s=.+|g=[0-9a-fA-F-]{36}|b=[A-Za-z0-9+/=]+)$',
    description: 'NodeId: ns=2;s=Tank1.Level, ns=2;i=1001, ns=3;g=GUID, ns=4;b=base64',
  })),
  path: Type.Optional(Type.String({
    pattern: '^(/\\d+:[^/]+)+$|^/Objects(/\\d+:[^/]+)+$',
    description: 'browse path from the root, each step ns:BrowseName: /Objects/2:Plant/2:Tank1/2:Level',
  })),
  unit: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  deadband: Type.Optional(Type.Number({ minimum: 0, description: 'publish only when the value moves by more than this; also asked of the server as an absolute data-change filter' })),
  max_interval: Type.Optional(Duration),
  sampling_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000, description: 'sampling interval asked of the server; default the device\'s' })),
  queue_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'changes the server keeps between two publishes; default the device\'s' })),
  writable: Type.Optional(Type.Boolean()),
  min: Type.Optional(Type.Number()),
  max: Type.Optional(Type.Number()),
  allowed: Type.Optional(Type.Array(Type.Union([Type.Number(), Type.Boolean(), Type.String()]), { minItems: 1, description: 'the only values a write may set' })),
}, { additionalProperties: false });

export const OpcuaDeviceSchema = Type.Object({
  ...deviceCommon,
  driver: Type.Literal('opcua'),
  endpoint: Type.String({ pattern: '^opc\\.tcp://[^\\s/]+(:\\d+)?(/\\S*)?$', description: 'opc.tcp://host:port[/path]' }),
  mode: Enum(['subscribe', 'poll'] as const, { default: 'subscribe', description: 'subscribe: monitored items, published every poll_ms; poll: a Read of every tag every poll_ms (for servers that handle subscriptions badly)' }),
  security_mode: Enum(OpcuaSecurityModes, { default: 'None' }),
  security_policy: Type.Optional(Enum(OpcuaSecurityPolicies, { description: 'default Basic256Sha256 when security_mode is Sign or SignAndEncrypt' })),
  username: Type.Optional(Type.String({ minLength: 1 })),
  password: Type.Optional(Type.String()),
  timestamps: Enum(['source', 'server'] as const, { default: 'source', description: 'which OPC UA timestamp becomes the sample time' }),
  sampling_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000, description: 'sampling interval of monitored items; default poll_ms' })),
  queue_size: Type.Integer({ minimum: 1, maximum: 10_000, default: 10 }),
  timeout_ms: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000, description: 'connect and request timeout' }),
  tags: Type.Array(OpcuaTagSchema, { minItems: 1 }),
}, { additionalProperties: false });

/**
 * A camera at a hot spot (智能视频): not polled; the console shows it live (node-rtsp-stream +
 * JSMpeg) and alarms that name it (`camera:`) take a JPEG snapshot with ffmpeg.
 */
export const CameraDeviceSchema = Type.Object({
  id: Id('device id'),
  driver: Type.Literal('camera'),
  name: Type.Optional(Type.String({ description: 'what the camera looks at, shown in the console' })),
  description: Type.Optional(Type.String()),
  enabled: Type.Boolean({ default: true }),
  url: Type.String({ pattern: '^rtsps?://\\S+$', description: 'the camera\'s RTSP URL; credentials in it are never logged' }),
  width: Type.Integer({ minimum: 16, maximum: 4096, multipleOf: 2, default: 640, description: 'width of the live picture in the console (pixels, even)' }),
  height: Type.Integer({ minimum: 16, maximum: 4096, multipleOf: 2, default: 360, description: 'height of the live picture in the console (pixels, even)' }),
  bitrate_kbps: Type.Integer({ minimum: 50, maximum: 20_000, default: 800, description: 'MPEG-1 bit rate of the live picture' }),
  snapshot_timeout_s: Type.Number({ exclusiveMinimum: 0, maximum: 120, default: 15, description: 'longest wait for a snapshot frame' }),
}, { additionalProperties: false });

/** Every driver this build knows, with the schema of its device entry. */
export const DeviceSchemas = {
  'modbus-tcp': ModbusTcpDeviceSchema,
  'modbus-rtu': ModbusRtuDeviceSchema,
  'opcua': OpcuaDeviceSchema,
  'lorawan': LorawanDeviceSchema,
  'mqtt': MqttDeviceSchema,
  'camera': CameraDeviceSchema,
} as const satisfies Record<string, TSchema>;
export const DriverNames = Object.keys(DeviceSchemas) as (keyof typeof DeviceSchemas)[];

const DeviceUnion = Type.Union(Object.values(DeviceSchemas));
// The device entry dispatches on `driver` with if/then, so an error names the driver's own keys
// instead of the noise an anyOf over every driver would give.
export const DeviceSchema = Type.Unsafe<Static<typeof DeviceUnion>>({
  type: 'object',
  required: ['id', 'driver'],
  properties: { driver: { enum: DriverNames, description: 'which driver reads this device' } },
  allOf: DriverNames.map((d) => ({
    if: { properties: { driver: { const: d } }, required: ['driver'] },
    then: DeviceSchemas[d],
  })),
});

export const AlarmSchema = Type.Object({
  id: Id('alarm rule id'),
  tag: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]+\\.[a-z0-9_*-]+$', description: 'device.tag; a * in the tag makes one rule per matching tag (lot-a.*_online)' })),
  device: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]+$', description: 'device id: the device of a comm_loss_s rule, or the one a when rule is reported under' })),
  comm_loss_s: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'active when the device has not answered for this long (s)' })),
  stale_s: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'active when the tag has not changed for this long (s): a heartbeat register' })),
  above: Type.Optional(Type.Number()),
  below: Type.Optional(Type.Number()),
  equals: Type.Optional(Type.Union([Type.Number(), Type.Boolean(), Type.String()])),
  rise_per_min: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'active when the tag rises at least this fast (units per minute)' })),
  fall_per_min: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'active when the tag falls at least this fast (units per minute)' })),
  rate_window_s: Type.Optional(Type.Number({ minimum: 1, maximum: 3600, description: 'the rate is measured over this window (s); default 60' })),
  when: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'condition over several tags, e.g. "plc1.pump1_run and plc1.flow < 5"' })),
  suppress_when: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'suppression by design: while this holds the alarm is suppressed' })),
  shelve_max_s: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 2_592_000, description: 'longest an operator may shelve this alarm (s); default 8 h' })),
  deadband: Type.Optional(Type.Number({ minimum: 0 })),
  delay_on_s: Type.Optional(Type.Number({ minimum: 0 })),
  delay_off_s: Type.Optional(Type.Number({ minimum: 0 })),
  severity: Enum(Severities, { default: 'major' }),
  message: Type.Optional(Type.String()),
  message_en: Type.Optional(Type.String()),
  event_type: Type.Optional(Type.String({ pattern: '^\\d{4}$', description: 'city-management event type, 4 digits' })),
  component: Type.Optional({ ...ComponentCode, description: '部件标识码 for the case; default the device\'s' }),
  grid: Type.Optional(Type.String({ pattern: '^\\d{14,15}$', description: '万米单元网格 code for the case; default the device\'s, then the site\'s' })),
  camera: Type.Optional(Type.String({ pattern: '^[a-z0-9_-]+$', description: 'id of a camera device: a JPEG snapshot is taken when this alarm becomes active' })),
}, { additionalProperties: false });

export const ApiUserSchema = Type.Object({
  name: Id('user name, written to the audit log'),
  role: Enum(ApiRoles, { default: 'viewer', description: 'admin and engineer: may send commands; viewer: reads only' }),
  token_sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 (hex) of the bearer token; the token itself is never stored' })),
  password_hash: Type.Optional(Type.String({ pattern: '^scrypt\\$\\d+\\$\\d+\\$\\d+\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+$', description: 'console login: scrypt$N$r$p$salt$hash, as cityedge provision or cityedge passwd writes it' })),
}, { additionalProperties: false });

export const ApiSchema = Type.Object({
  host: Type.String({ default: '127.0.0.1', description: 'address the HTTP API listens on' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: '0 picks a free port' }),
  users: Type.Array(ApiUserSchema, { default: [], description: 'who may use the API; with none, every request is refused' }),
  console: Type.Boolean({ default: true, description: 'serve the web console at / (login with a password_hash user)' }),
  session_idle: { ...Duration, default: '30m', description: 'a console session ends after this long without a request' },
  session_max: { ...Duration, default: '12h', description: 'a console session ends this long after login, however busy' },
  metrics: Enum(['token', 'public'] as const, { default: 'token', description: 'GET /metrics: token: a valid bearer token (any role); public: no authentication' }),
  trends: Type.Object({
    step: { ...Duration, default: '10s', description: 'trend resolution: min, max and mean per step' },
    keep: { ...Duration, default: '24h', description: 'how far back trends reach (kept in trends.db in the buffer path)' },
  }, { additionalProperties: false, default: {} }),
}, { additionalProperties: false });

export const ConfigSchema = Type.Object({
  site: SiteSchema,
  buffer: Type.Optional({ ...BufferSchema, default: {} }),
  upstreams: Type.Array(UpstreamSchema, { default: [] }),
  devices: Type.Array(DeviceSchema, { minItems: 1 }),
  alarms: Type.Array(AlarmSchema, { default: [] }),
  api: Type.Optional(ApiSchema),
  broker: Type.Optional(BrokerSchema),
}, { additionalProperties: false, $id: 'https://cityedge.dev/schema/config.json', title: 'cityedge box configuration' });

export type SiteConfig = Static<typeof SiteSchema>;
export type UpstreamConfig = Static<typeof UpstreamSchema>;
export type ModbusTagConfig = Static<typeof ModbusTagSchema>;
export type ModbusTcpDeviceConfig = Static<typeof ModbusTcpDeviceSchema>;
export type ModbusRtuDeviceConfig = Static<typeof ModbusRtuDeviceSchema>;
export type LorawanDeviceConfig = Static<typeof LorawanDeviceSchema>;
export type MqttSourceConfig = Static<typeof MqttSourceSchema>;
export type MqttDeviceConfig = Static<typeof MqttDeviceSchema>;
export type BrokerConfig = Static<typeof BrokerSchema>;
export type OpcuaTagConfig = Static<typeof OpcuaTagSchema>;
export type OpcuaDeviceConfig = Static<typeof OpcuaDeviceSchema>;
/** Any entry of `devices:` as written, cameras included. */
export type AnyDeviceConfig = Static<typeof DeviceSchema>;
/** A device the gateway reads: every driver but camera (cameras are `Config.cameras`). */
export type DeviceConfig = Exclude<AnyDeviceConfig, { driver: 'camera' }>;
export type AlarmConfig = Static<typeof AlarmSchema>;
export type ApiConfig = Static<typeof ApiSchema>;
export type ApiRole = (typeof ApiRoles)[number];
export type CameraDeviceConfig = Static<typeof CameraDeviceSchema>;
export type CommandVerb = (typeof CommandVerbs)[number];
export type TagType = (typeof TagTypes)[number];
export type WordOrder = (typeof WordOrders)[number];
export type ModbusTable = (typeof ModbusTables)[number];
export type Severity = (typeof Severities)[number];

/** The file as validated, before the loader sets cameras apart. */
export type RawConfig = Static<typeof ConfigSchema>;

/** The validated, defaulted, frozen configuration the gateway runs with. */
export type Config = Omit<RawConfig, 'devices'> & {
  /** The devices it reads, in file order. */
  devices: DeviceConfig[];
  /** The `driver: camera` entries of `devices:`, in file order. */
  cameras: CameraDeviceConfig[];
  buffer: { path: string; journal: 'disk' | 'memory'; max_bytes?: number | string; max_age?: number | string; commit_ms: number; fsync: 'full' | 'normal' | 'off' };
  /** Absolute path of the file this came from. */
  readonly source: string;
};
