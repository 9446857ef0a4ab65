// End to end, as on a box: the PLC simulator and the gateway as separate processes started through
// the CLI, Debian's Mosquitto as the platform broker, and a subscriber that checks what the
// platform would see: topics, payload shape, values, quality through a PLC outage, and the will.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { exampleConfig } from './helpers/example-config.ts';
import { startMosquitto } from './helpers/mosquitto.ts';
import { spawnProcess } from './helpers/proc.ts';
import { freePort } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'cityedge.mjs');
const SITE = 'ps-gongshu-012';

interface Point { tag: string; v: unknown; q: string; t: number }
interface Telemetry { site: string; device: string; seq: number; historical: boolean; points: Point[] }

t.test('simulator → gateway → Mosquitto → platform subscriber', async (t) => {
  const broker = await startMosquitto({ t });
  const plcPort = await freePort();
  const startSim = () => spawnProcess(process.execPath, [CLI, 'sim', 'pump-station', '--port', String(plcPort)],
    { t, readyLine: /listening on modbus-tcp/, readyTimeoutMs: 60_000, name: 'pump-station' });
  let sim = await startSim();

  const dir = mkdtempSync(join(tmpdir(), 'cityedge-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { yaml, tagNames } = exampleConfig({ plcPort, brokerUrl: broker.url, pollMs: 500, bufferPath: join(dir, 'data') });
  const configFile = join(dir, 'box.yaml');
  writeFileSync(configFile, yaml);

  const telemetry: Telemetry[] = [];
  const status: { online: boolean; version?: string; ts?: number }[] = [];
  const others: string[] = [];
  const alarms: { rule: string; state: string }[] = [];
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'platform-test', protocolVersion: 5 });
  t.teardown(() => sub.endAsync());
  sub.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString());
    if (topic === `cityedge/v1/${SITE}/telemetry/plc1`) telemetry.push(body);
    else if (topic === `cityedge/v1/${SITE}/status`) status.push(body);
    else if (topic === `cityedge/v1/${SITE}/alarms`) alarms.push(body);
    else others.push(topic);
  });
  await sub.subscribeAsync(`cityedge/v1/${SITE}/#`, { qos: 1 });

  const startGateway = () => spawnProcess(process.execPath, [CLI, 'run', '--config', configFile],
    { t, readyLine: /gateway started/, readyTimeoutMs: 60_000, name: 'gateway' });
  let gw = await startGateway();

  await t.test('status is online, retained, with the version', async (t) => {
    await waitFor(() => status.some((s) => s.online), { what: 'status online', timeoutMs: 60_000 });
    const online = status.find((s) => s.online)!;
    t.match(online.version, /^\d+\.\d+\.\d+/);
    t.type(online.ts, 'number');
    // A platform that connects later still learns the box is up: the status is retained.
    const late = await mqtt.connectAsync(broker.url, { clientId: 'late-joiner' });
    const retained = new Promise<{ online: boolean }>((r) => late.on('message', (_tp, p, pkt) => { if (pkt.retain) r(JSON.parse(p.toString())); }));
    await late.subscribeAsync(`cityedge/v1/${SITE}/status`);
    t.equal((await retained).online, true, 'retained status seen by a late subscriber');
    await late.endAsync();
  });

  await t.test('telemetry batches carry every tag with good values', async (t) => {
    await waitFor(() => telemetry.length >= 3, { what: 'three telemetry batches', timeoutMs: 60_000 });
    const first = telemetry[0]!;
    t.equal(first.site, SITE);
    t.equal(first.device, 'plc1');
    t.equal(first.historical, false);
    t.type(first.seq, 'number');
    t.same(first.points.map((p) => p.tag).sort(), [...tagNames].sort(), 'the first batch reports every tag once');
    for (const p of first.points) {
      t.equal(p.q, 'good', `${p.tag} good`);
      t.ok(Math.abs(p.t - Date.now()) < 60_000, `${p.tag} has a read time`);
    }
    const level = first.points.find((p) => p.tag === 'wet_well_level')!;
    t.ok(typeof level.v === 'number' && level.v >= 0 && level.v <= 8, `wet-well level ${String(level.v)} m is plausible`);
    const seqs = telemetry.map((m) => m.seq);
    t.same(seqs, [...seqs].sort((a, b) => a - b), 'seq increases');
    t.equal(new Set(seqs).size, seqs.length, 'no seq repeats');
    t.ok(telemetry.slice(1).every((m) => m.points.length < first.points.length), 'later batches carry only what changed');
  });

  await t.test('PLC stopped: every tag turns bad; restarted: good again, without a gateway restart', async (t) => {
    const before = telemetry.length;
    await sim.kill('SIGKILL');
    await waitFor(() => telemetry.slice(before).some((m) => m.points.length === tagNames.length && m.points.every((p) => p.q === 'bad')),
      { what: 'a batch with every tag bad', timeoutMs: 60_000 });
    const badAt = telemetry.findIndex((m, i) => i >= before && m.points.every((p) => p.q === 'bad'));
    t.ok(telemetry[badAt]!.points.every((p) => p.v === null), 'bad tags carry no stale value');
    t.ok(status.at(-1)?.online, 'the box itself stays online');

    sim = await startSim();
    await waitFor(() => telemetry.slice(badAt + 1).some((m) => m.points.some((p) => p.q === 'good')),
      { what: 'good values after the PLC came back', timeoutMs: 90_000 });
    const during = telemetry.slice(badAt + 1).findIndex((m) => m.points.some((p) => p.q === 'good'));
    const between = telemetry.slice(badAt + 1, badAt + 1 + during);
    t.ok(between.every((m) => m.points.every((p) => p.q === 'bad')), 'no good value reported while the PLC was down');
    t.same(others, [], 'nothing published on other topics');
    // An outage this short stays under the 15 s of the communication-loss rule; on a slow machine it
    // may not, and then that rule, and only that one, may speak.
    // (Rules suppressed by design say so once at start: that is no alarm.)
    t.same(alarms.filter((a) => a.rule !== 'plc1_comm_loss' && a.state !== 'suppressed'), [], 'no alarm raised by the outage, its bad readings or the heartbeat');
  });

  await t.test('a clean stop says offline; a kill -9 leaves the will to say it', async (t) => {
    const n = status.length;
    const code = await gw.kill('SIGTERM');
    t.equal(code, 0, 'the gateway exits 0 on SIGTERM');
    await waitFor(() => status.slice(n).some((s) => s.online === false), { what: 'offline status after SIGTERM', timeoutMs: 30_000 });
    t.type(status.slice(n).find((s) => !s.online)?.ts, 'number', 'the goodbye carries a time');

    gw = await startGateway();
    await waitFor(() => status.slice(n).some((s) => s.online), { what: 'online again', timeoutMs: 60_000 });
    const m = status.length;
    await gw.kill('SIGKILL');
    await waitFor(() => status.slice(m).some((s) => s.online === false), { what: 'the will after kill -9', timeoutMs: 60_000 });
    t.same(status.slice(m).find((s) => !s.online), { online: false }, 'the will payload');
  });
});
