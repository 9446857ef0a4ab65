// "Nothing measured is lost", tested the hard way: the gateway is killed with SIGKILL at random
// moments under load, ten times, and restarted each time. A platform subscriber with a persistent
// session on Debian's Mosquitto records everything. At the end every seq the journal ever committed
// (its own seq table, read from the file) is either at the subscriber or still in the journal, and
// duplicates stay within the in-flight window (1 here) per kill.
import t from 'tap';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { startMosquitto } from './helpers/mosquitto.ts';
import { spawnProcess, type SpawnedProcess } from './helpers/proc.ts';
import { delay, waitFor } from './helpers/wait.ts';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'cityedge.mjs');
const SITE = 'crash-site';
const KILLS = 10;
const DEVICES = 4;

t.test(`kill -9 the gateway ${KILLS} times under load: no committed sample lost`, async (t) => {
  const broker = await startMosquitto({ t });
  // PLCs whose every register changes every scan: every scan of every device is a batch to keep.
  const sims = await spawnProcess(process.execPath, [join(ROOT, 'bin', 'run-ts.mjs'), join(ROOT, 'bench', 'modbus-sims.ts'),
    '--plcs', String(DEVICES), '--tags', '50', '--poll-ms', '100'], { t, stdin: 'pipe', readyLine: /READY (\{.*\})/, readyTimeoutMs: 60_000, name: 'plcs' });
  const ports = (JSON.parse(sims.ready![1]!) as { ports: number[] }).ports;

  const dir = mkdtempSync(join(tmpdir(), 'cityedge-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'box.yaml');
  writeFileSync(configFile, stringify({
    site: { id: SITE },
    buffer: { path: dataDir, commit_ms: 100 },
    // One message in flight: a kill can then duplicate at most the one the broker has and we
    // have not heard acknowledged.
    upstreams: [{ id: 'city', url: broker.url, format: 'json', inflight: 1 }],
    devices: ports.map((port, i) => ({
      id: `plc${i + 1}`, driver: 'modbus-tcp', host: '127.0.0.1', port, poll_ms: 100,
      tags: Array.from({ length: 50 }, (_, r) => ({ name: `r${r}`, address: `hr:${r}`, type: 'uint16' })),
    })),
  }));

  const got = new Map<string, number[]>();
  let messages = 0;
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'platform-crash', clean: false, protocolVersion: 4 });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, payload) => {
    if (!topic.includes('/telemetry/')) return;
    const b = JSON.parse(payload.toString()) as { device: string; seq: number };
    const list = got.get(b.device) ?? [];
    list.push(b.seq);
    got.set(b.device, list);
    messages++;
  });
  await sub.subscribeAsync(`cityedge/v1/${SITE}/#`, { qos: 1 });

  const start = () => spawnProcess(process.execPath, [CLI, 'run', '--config', configFile],
    { t, readyLine: /gateway started/, readyTimeoutMs: 60_000, name: 'gateway' });
  const progress = async (n: number, what: string) => {
    const from = messages;
    await waitFor(() => messages >= from + n, { what, timeoutMs: 60_000 });
  };

  let gw: SpawnedProcess;
  for (let k = 1; k <= KILLS; k++) {
    gw = await start();
    await progress(10, `telemetry flowing before kill ${k}`);
    await delay(Math.floor(Math.random() * 700)); // a random moment: mid-commit, mid-publish, mid-ack
    process.kill(-gw.pid, 'SIGKILL');
    const exit = await gw.exited;
    t.equal(exit.signal, 'SIGKILL', `kill ${k}: killed, not exited`);
  }
  gw = await start();
  await progress(40, 'telemetry flowing after the last restart');
  t.notMatch(gw.output(), /CE_ERR_JOURNAL_DAMAGED/, 'no kill damaged the journal file');
  t.equal(await gw.kill(), 0, 'a clean stop at the end');

  // The journal's own account: the last seq it committed per device, and what it still holds.
  const db = new Database(join(dataDir, 'journal.db'), { readonly: true });
  const committed = new Map((db.prepare("SELECT key, seq FROM seqs WHERE key LIKE 'telemetry/%'").all() as { key: string; seq: number }[])
    .map((r) => [r.key.slice('telemetry/'.length), r.seq]));
  const held = db.prepare("SELECT device, seq FROM records WHERE channel = 'telemetry'").all() as { device: string; seq: number }[];
  db.close();

  t.equal(committed.size, DEVICES, 'every device committed telemetry');
  let missing = 0;
  let delivered = 0;
  let duplicates = 0;
  for (const [device, last] of committed) {
    const seen = new Set<number>();
    for (const s of got.get(device) ?? []) { if (seen.has(s)) duplicates++; else seen.add(s); }
    for (const r of held) if (r.device === device) seen.add(r.seq);
    for (let s = 1; s <= last; s++) if (!seen.has(s)) missing++;
    delivered += got.get(device)?.length ?? 0;
  }
  const total = [...committed.values()].reduce((a, b) => a + b, 0);
  t.comment(`${total} batches committed, ${delivered} messages received, ${held.length} still in the journal, ${duplicates} duplicates over ${KILLS} kills`);
  t.equal(missing, 0, 'every committed batch reached the subscriber or is still in the journal');
  t.ok(duplicates <= KILLS, `duplicates (${duplicates}) within one batch per kill (${KILLS})`);
  t.ok(delivered > total * 0.8, 'most of it was delivered during the run, not left behind');
});
