// The fault campaign's PLCs, in a process of their own: Modbus TCP servers (simulators/modbus) whose
// register 0–1 is a read counter (uint32, high word first) that the PLC advances for every read it
// answers, so every answer carries a value no other answer carries. The PLC remembers each value
// and when it left on the wire; at the end the campaign holds that list against what reached the
// platform, which is how "lost" can mean something for a polled device.
//
//   hr:0–1   read counter (uint32 ABCD)           hr:2   alarm contact: 1 for 8 s in every 20 s
//   hr:3…    process values, a random walk moved every 250 ms
//
// Talks to the campaign over stdio, JSON lines:
//   stdout  READY {"ports":[…]}
//   stdin   {"op":"stop"|"start","plc":i}  {"op":"fault","plc":i,"fault":{delayMs?,exception?}}  {"op":"report"}
//   stdout  OK <op> / REPORT {"plcs":[{"port","served":[[counter, atMs]…],"alarmEdges":[[value, atMs]…]}]}
//   stdin   EOF   close and exit
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { RegisterBank, startModbusTcpServer, type FaultOptions, type ModbusTcpServer } from '../../simulators/modbus/tcp-server.ts';

const { values: flags } = parseArgs({ options: { plcs: { type: 'string', default: '4' }, tags: { type: 'string', default: '40' } } });
const PLCS = Number(flags.plcs);
const REGISTERS = Math.max(4, Number(flags.tags) + 2); // the counter takes two registers
const ALARM_PERIOD_MS = 20_000;
const ALARM_ON_MS = 8_000;

interface Plc {
  port: number;
  bank: RegisterBank;
  server: ModbusTcpServer | undefined;
  counter: number;
  served: [number, number][];
  alarmEdges: [number, number][];
  fault: FaultOptions;
}

function listen(p: Plc): Promise<ModbusTcpServer> {
  return startModbusTcpServer({
    port: p.port, banks: new Map([[1, p.bank]]),
    onRequest: (_unit, pdu) => {
      // Only a read that covers the counter advances it: writes and other blocks leave it alone.
      if (pdu[0] !== 0x03 || pdu.readUInt16BE(1) !== 0) return;
      p.counter++;
      p.bank.writeRegisters('hr', 0, [p.counter >>> 16, p.counter & 0xffff]);
    },
    onAnswer: (_unit, request, response) => {
      if (request[0] !== 0x03 || request.readUInt16BE(1) !== 0 || response[0] !== 0x03) return;
      p.served.push([response.readUInt32BE(2), Date.now()]);
    },
  });
}

const plcs: Plc[] = [];
for (let i = 0; i < PLCS; i++) {
  const bank = new RegisterBank({ hr: [{ start: 0, count: REGISTERS }] });
  const p: Plc = { port: 0, bank, server: undefined, counter: 0, served: [], alarmEdges: [], fault: {} };
  p.server = await listen(p);
  p.port = p.server.port;
  plcs.push(p);
}

// The process values move every 250 ms so report-by-exception has something to report; the alarm
// contact follows the wall clock (phase-shifted per PLC), so it moves whether anyone reads or not.
let walk = 1;
const tick = setInterval(() => {
  const now = Date.now();
  for (const [i, p] of plcs.entries()) {
    const alarm = (now + i * 5000) % ALARM_PERIOD_MS < ALARM_ON_MS ? 1 : 0;
    const was = p.bank.readRegisters('hr', 2, 1)[0];
    if (was !== alarm) { p.bank.writeRegisters('hr', 2, [alarm]); p.alarmEdges.push([alarm, now]); }
    const values: number[] = [];
    for (let r = 3; r < REGISTERS; r++) { walk = (walk * 1103515245 + 12345) >>> 0; values.push((walk >>> 8) & 0x3ff); }
    p.bank.writeRegisters('hr', 3, values);
  }
}, 250);

const say = (line: string): void => { process.stdout.write(`${line}\n`); };
say(`READY ${JSON.stringify({ ports: plcs.map((p) => p.port) })}`);

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const m = JSON.parse(line) as { op: string; plc?: number; fault?: FaultOptions };
  const p = m.plc === undefined ? undefined : plcs[m.plc];
  if (m.op === 'stop' && p) {
    const s = p.server;
    p.server = undefined;
    await s?.close();
  } else if (m.op === 'start' && p && !p.server) {
    p.server = await listen(p);
    p.server.setFault(p.fault);
  } else if (m.op === 'fault' && p) {
    p.fault = m.fault ?? {};
    p.server?.setFault(p.fault);
  } else if (m.op === 'report') {
    say(`REPORT ${JSON.stringify({ plcs: plcs.map((q) => ({ port: q.port, served: q.served, alarmEdges: q.alarmEdges })) })}`);
    continue;
  }
  say(`OK ${m.op}`);
}
clearInterval(tick);
await Promise.all(plcs.map((p) => p.server?.close()));
process.exit(0);
