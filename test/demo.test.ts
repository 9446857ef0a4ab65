// `npm run demo`, the README's first command: simulator, broker and gateway come up on loopback
// and telemetry reaches the broker.
import t from 'tap';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { spawnProcess } from './helpers/proc.ts';
import { freePort } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

t.test('cityedge demo runs everything and shows data arriving', async (t) => {
  const brokerPort = await freePort();
  const plcPort = await freePort();
  const demo = await spawnProcess(process.execPath,
    [join(import.meta.dirname, '..', 'bin', 'cityedge.mjs'), 'demo', '--broker-port', String(brokerPort), '--plc-port', String(plcPort)],
    { t, readyLine: /Ctrl-C stops everything/, readyTimeoutMs: 90_000, name: 'demo' });
  t.match(demo.output(), `modbus-tcp://127.0.0.1:${plcPort}`);
  t.match(demo.output(), `npx mqtt sub -h 127.0.0.1 -p ${brokerPort} -t 'cityedge/v1/ps-gongshu-012/#' -v`, 'prints how to watch');

  // What the printed line would show: telemetry on the demo's broker.
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'demo-watcher-test' });
  t.teardown(() => sub.endAsync(true));
  let level: unknown;
  sub.on('message', (_topic, p) => {
    const m = JSON.parse(p.toString()) as { points?: { tag: string; v: unknown }[] };
    level = m.points?.find((x) => x.tag === 'wet_well_level')?.v ?? level;
  });
  await sub.subscribeAsync('cityedge/v1/ps-gongshu-012/telemetry/plc1');
  await waitFor(() => typeof level === 'number', { what: 'the wet-well level on the demo broker', timeoutMs: 90_000 });
  await waitFor(() => /\[demo\] online=true messages=[1-9]\d* wet_well_level=\d/.test(demo.output()), { what: 'the demo summary line', timeoutMs: 60_000 });
  t.equal(await demo.kill('SIGINT'), 0, 'Ctrl-C stops it cleanly');
});
