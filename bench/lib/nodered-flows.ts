// Node-RED configured "at its best" for `npm run bench:nodered`: what a careful integrator would build
// by hand for N PLCs × M holding registers, generated instead of drawn.
//
// Per PLC: one modbus-client config node (node-red-contrib-modbus, TCP, unit 1, its defaults: command
// queue on, 1 ms between commands, 1 s timeout) and one modbus-read node per 125 registers, the most
// one read may carry (Modbus Application Protocol §6.3), each polling every poll period. The registers
// are grouped by hand: Node-RED has no planner. One function node, shared by all the reads, turns each
// answer into one JSON batch in the shape of cityedge's telemetry (docs/mqtt.md, JSON flavour: the
// shape is ours, chosen so that one subscriber counts both) and one mqtt out node publishes it at
// QoS 1 through one broker connection, as cityedge holds one.
//
// Runtime settings: headless (httpAdminRoot and httpNodeRoot false: no editor, no HTTP server, no
// port), no projects, no telemetry or update check, no palette installs, its own userDir in the run's
// temp dir, credentials unencrypted (there are none).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startChild, type Child } from './children.ts';

/** Site id of Node-RED's batches: `cityedge/v1/nodered/telemetry/plcNN`, apart from cityedge's `bench`. */
export const NODE_RED_SITE = 'nodered';
const MAX_REGISTERS = 125;

export interface FlowOptions { ports: number[]; tags: number; pollMs: number; brokerPort: number }

const deviceId = (i: number) => `plc${String(i + 1).padStart(2, '0')}`;

// The function node's body. msg.payload is the array of register values, msg.topic the read node's
// topic (the device id), msg.input.payload.address the first register of the read. A seq per device,
// counted in the node's context, lets the subscriber tell a redelivery from a new batch. A fresh msg
// goes out: the read node's msg carries the response buffer and the request, which mqtt out needs not.
const FUNCTION_BODY = `
const device = msg.topic;
const start = Number(msg.input.payload.address);
const seqs = context.get('seqs') || {};
const seq = (seqs[device] || 0) + 1;
seqs[device] = seq;
context.set('seqs', seqs);
const t = Date.now();
const values = msg.payload;
const points = new Array(values.length);
for (let i = 0; i < values.length; i++) points[i] = { tag: 'r' + (start + i), v: values[i], q: 'good', t };
return {
  topic: 'cityedge/v1/${NODE_RED_SITE}/telemetry/' + device,
  payload: JSON.stringify({ site: '${NODE_RED_SITE}', device, seq, historical: false, points }),
};
`.trim();

export function flows(o: FlowOptions): object[] {
  const nodes: object[] = [
    { id: 'tab', type: 'tab', label: 'cityedge bench', disabled: false, info: '' },
    {
      id: 'broker', type: 'mqtt-broker', name: 'platform', broker: '127.0.0.1', port: String(o.brokerPort),
      clientid: '', autoConnect: true, usetls: false, protocolVersion: 4, keepalive: 60, cleansession: true,
      autoUnsubscribe: true, birthTopic: '', birthQos: '0', birthPayload: '', closeTopic: '', closePayload: '', willTopic: '', willPayload: '',
    },
    { id: 'batch', type: 'function', z: 'tab', name: 'one JSON batch per read', func: FUNCTION_BODY, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 400, y: 100, wires: [['publish']] },
    { id: 'publish', type: 'mqtt out', z: 'tab', name: '', topic: '', qos: '1', retain: 'false', respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker: 'broker', x: 600, y: 100, wires: [] },
  ];
  const rateS = o.pollMs / 1000;
  o.ports.forEach((port, i) => {
    const dev = deviceId(i);
    nodes.push({
      id: `client-${dev}`, type: 'modbus-client', name: dev, clienttype: 'tcp', bufferCommands: true,
      stateLogEnabled: false, queueLogEnabled: false, failureLogEnabled: true,
      tcpHost: '127.0.0.1', tcpPort: String(port), tcpType: 'DEFAULT',
      serialPort: '/dev/ttyUSB', serialType: 'RTU-BUFFERD', serialBaudrate: '9600', serialDatabits: '8', serialStopbits: '1',
      serialParity: 'none', serialConnectionDelay: '100', serialAsciiResponseStartDelimiter: '0x3A',
      unit_id: 1, commandDelay: 1, clientTimeout: 1000, reconnectOnTimeout: true, reconnectTimeout: 2000, parallelUnitIdsAllowed: true,
    });
    for (let start = 0, k = 0; start < o.tags; start += MAX_REGISTERS, k++) {
      nodes.push({
        id: `read-${dev}-${k}`, type: 'modbus-read', z: 'tab', name: `${dev} hr ${start}`, topic: dev,
        showStatusActivities: false, logIOActivities: false, showErrors: false, unitid: '',
        dataType: 'HoldingRegister', adr: String(start), quantity: String(Math.min(MAX_REGISTERS, o.tags - start)),
        // A rate in seconds when it is whole, as an integrator would type it; ms otherwise.
        rate: Number.isInteger(rateS) ? String(rateS) : String(o.pollMs), rateUnit: Number.isInteger(rateS) ? 's' : 'ms',
        delayOnStart: false, startDelayTime: '', server: `client-${dev}`, useIOFile: false, ioFile: '', useIOForPayload: false,
        emptyMsgOnFail: false, x: 150, y: 100 + 40 * (4 * i + k), wires: [['batch'], []],
      });
    }
  });
  return nodes;
}

const SETTINGS = `// Written by cityedge's bench/lib/nodered-flows.ts for one benchmark run.
module.exports = {
  flowFile: 'flows.json',
  credentialSecret: false,
  uiHost: '127.0.0.1',
  httpAdminRoot: false,
  httpNodeRoot: false,
  logging: { console: { level: 'info', metrics: false, audit: false } },
  telemetry: { enabled: false, updateNotification: false },
  diagnostics: { enabled: false },
  runtimeState: { enabled: false },
  editorTheme: { projects: { enabled: false } },
  externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
  functionExternalModules: false,
};
`;

/** Writes settings.js and flows.json into `userDir` and starts `node red.js` on them. */
export function startNodeRed(redJs: string, userDir: string, o: FlowOptions): Child {
  mkdirSync(userDir, { recursive: true });
  writeFileSync(join(userDir, 'settings.js'), SETTINGS);
  writeFileSync(join(userDir, 'flows.json'), `${JSON.stringify(flows(o), null, 1)}\n`);
  return startChild('node-red', process.execPath, [redJs, '--userDir', userDir, '--settings', join(userDir, 'settings.js'), join(userDir, 'flows.json')], {
    env: { NODE_RED_DISABLE_TELEMETRY: '1' },
  });
}

/** Node-RED's log lines above info (its console format: `23 Nov 21:58:25 - [warn] …`), and lines in no such format. */
export interface NodeRedLog { warn: number; error: number; other: number; byMessage: Map<string, number> }

export function watchNodeRedLog(nr: Child): NodeRedLog {
  const log: NodeRedLog = { warn: 0, error: 0, other: 0, byMessage: new Map() };
  nr.onLine((line) => {
    if (/^\s*$|^Welcome to Node-RED$|^=+$/.test(line)) return; // the start-up banner
    const m = /^\d+ \w+ [\d:]+ - \[(\w+)\] (.*)$/.exec(line);
    const level = m?.[1];
    if (level === 'info' || level === 'debug' || level === 'trace') return;
    if (level === 'warn') log.warn++; else if (level) log.error++; else log.other++;
    const key = `[${level ?? 'stdout'}] ${(m?.[2] ?? line).slice(0, 160)}`;
    log.byMessage.set(key, (log.byMessage.get(key) ?? 0) + 1);
  });
  return log;
}
