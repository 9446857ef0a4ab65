// A broker that refuses our telemetry (ACL) must not make the box drop it: the refusal is counted
// and logged, the batch stays in the journal, the link stays up.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto } from './helpers/mosquitto.ts';
import { waitFor } from './helpers/wait.ts';
import { MqttJsonUplink } from '../cloud-sync/mqtt-uplink.ts';
import { MemoryJournal } from '../gateway/journal/memory.ts';
import { systemClock } from '../gateway/model/clock.ts';
import { silentLogger } from '../gateway/model/logger.ts';

t.test('MQTT 5 PUBACK "not authorized": counted, kept, not acknowledged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cityedge-acl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The ACL lets the box write its status but not its telemetry.
  writeFileSync(join(dir, 'acl'), 'topic write cityedge/v1/ps1/status\n');
  const broker = await startMosquitto({ t, extraConf: [`acl_file ${join(dir, 'acl')}`] });

  const journal = new MemoryJournal();
  const uplink = new MqttJsonUplink({
    upstream: { id: 'city', url: broker.url, format: 'json', protocol_version: 5, keepalive_s: 30, inflight: 8 },
    site: { id: 'ps1' }, journal, clock: systemClock, logger: silentLogger, version: '0.0.0',
  });
  const ac = new AbortController();
  const running = uplink.run(ac.signal);
  t.teardown(async () => { ac.abort(); await running; });
  journal.append('plc1', [{ tag: 'plc1.level', value: 1, quality: 'good', ts: Date.now() }]);
  await waitFor(() => uplink.stats().refused >= 1, { what: 'the refusal counted', timeoutMs: 30_000 });
  t.equal(uplink.stats().acked, 0, 'nothing counted as delivered');
  t.equal(journal.backlog('city'), 1, 'the batch is still in the journal');
  t.equal(uplink.stats().connected, true, 'the link stays up');
});
