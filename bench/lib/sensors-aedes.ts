// The raw ceiling of `npm run bench:sensors`: aedes alone, in a process of its own, on a free
// loopback port, with one in-process subscriber on the uplink topic that counts what it is handed,
// the way the gateway's embedded broker hands uplinks to its LoRaWAN router (gateway/broker/embedded.ts:
// `broker.subscribe(filter, deliver)`), but with no login check, no JSON, no decoding, no journal and
// no uplink.
//
//   node bin/run-ts.mjs bench/lib/sensors-aedes.ts
//
// Prints `LISTENING {port}`, then `STATS {json}` (AedesLine) every second; exits on SIGTERM.
import { createServer } from 'node:net';
import { Aedes, type AedesPublishPacket } from 'aedes';
import { UPLINK_FILTER, wallNow, type AedesLine } from './sensors-common.ts';

const broker = await Aedes.createBroker();
let received = 0;
let bytes = 0;
let clients = 0;
broker.on('client', () => { clients++; });
broker.on('clientDisconnect', () => { clients--; });
broker.subscribe(UPLINK_FILTER, (packet: AedesPublishPacket, cb: () => void) => {
  received++;
  bytes += (packet.payload as Buffer).length;
  cb();
}, () => {});

const server = createServer(broker.handle);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
console.log(`LISTENING ${(server.address() as { port: number }).port}`);

const timer = setInterval(() => {
  const line: AedesLine = { at: wallNow(), received, bytes, clients };
  console.log(`STATS ${JSON.stringify(line)}`);
}, 1000);

process.once('SIGTERM', () => {
  clearInterval(timer);
  server.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
