// The upstream over mutual TLS, against Mosquitto with a TLS listener that wants a client
// certificate from our CA: telemetry flows when the box has its certificate; a box without one, a
// certificate from another CA, a broker the box cannot verify, and a missing certificate file are
// each refused with CE_ERR_UPSTREAM_TLS, and the data stays in the journal meanwhile.
import t from 'tap';
import mqtt from 'mqtt';
import { readFileSync } from 'node:fs';
import { startMosquitto } from './helpers/mosquitto.ts';
import { freePort, waitForPort } from './helpers/ports.ts';
import type { Teardownable } from './helpers/proc.ts';
import { makeCerts, tlsListener, type TestCerts } from './helpers/tls-certs.ts';
import { waitFor } from './helpers/wait.ts';
import { MqttJsonUplink } from '../cloud-sync/mqtt-uplink.ts';
import { MemoryJournal } from '../gateway/journal/memory.ts';
import { systemClock } from '../gateway/model/clock.ts';
import type { Logger, UpstreamConfig } from '../gateway/model/index.ts';

interface Line { level: string; obj: Record<string, unknown>; msg: string }
function keepingLogger(lines: Line[]): Logger {
  const rec = (level: string) => (a: object | string, b?: string) => lines.push(typeof a === 'string' ? { level, obj: {}, msg: a } : { level, obj: a as Record<string, unknown>, msg: b ?? '' });
  const l: Logger = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error'), child: () => l };
  return l;
}

async function tlsBroker(t: Teardownable, certs: TestCerts) {
  const tlsPort = await freePort();
  const broker = await startMosquitto({ t, extraConf: tlsListener(tlsPort, certs) });
  await waitForPort(tlsPort, { timeoutMs: 30_000 });
  return { broker, url: `mqtts://127.0.0.1:${tlsPort}`, tlsPort };
}

function startUplink(t: Teardownable, url: string, tls: UpstreamConfig['tls'], lines: Line[] = []) {
  const journal = new MemoryJournal();
  const uplink = new MqttJsonUplink({
    upstream: { id: 'city', url, format: 'json', protocol_version: 5, keepalive_s: 30, inflight: 8, commands: [], session_expiry_s: 0, ...(tls ? { tls } : {}) },
    site: { id: 'ps1' }, journal, clock: systemClock, logger: keepingLogger(lines), version: '0.0.0',
  });
  const ac = new AbortController();
  const running = uplink.run(ac.signal);
  t.teardown(async () => { ac.abort(); await running; });
  return { journal, uplink };
}

const tlsCodes = (lines: Line[]) => lines.filter((l) => l.obj.code === 'CE_ERR_UPSTREAM_TLS');

t.test('mutual TLS: the box with its certificate delivers; the platform reads it over TLS too', async (t) => {
  const certs = makeCerts(t);
  const { url } = await tlsBroker(t, certs);
  const sub = await mqtt.connectAsync(url, { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), clientId: 'platform', reconnectPeriod: 0 });
  t.teardown(() => sub.endAsync(true));
  const got: { seq: number; points: { v: number }[] }[] = [];
  sub.on('message', (_t, p) => got.push(JSON.parse(p.toString())));
  await sub.subscribeAsync('cityedge/v1/ps1/telemetry/plc1', { qos: 1 });

  const { journal, uplink } = startUplink(t, url, { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, verify: true });
  for (let i = 0; i < 20; i++) journal.append('plc1', [{ tag: 'plc1.level', value: i, quality: 'good', ts: Date.now() }]);
  await waitFor(() => got.length === 20, { what: '20 batches at the platform over TLS', timeoutMs: 60_000 });
  t.same(got.map((m) => m.points[0]!.v), Array.from({ length: 20 }, (_, i) => i), 'every value, in order');
  // The platform may see a batch before the box has its PUBACK: wait for the acknowledgements.
  await waitFor(() => journal.backlog('city') === 0, { what: 'all acknowledged by the broker', timeoutMs: 60_000 });
  t.equal(journal.backlog('city'), 0, 'all acknowledged');
  t.equal(uplink.stats().protocol, 5, 'MQTT 5 over TLS');
});

t.test('refused: no client certificate, a stranger\'s certificate, a broker the box cannot verify, a missing file', async (t) => {
  const certs = makeCerts(t);
  const { url } = await tlsBroker(t, certs);
  const cases: [string, UpstreamConfig['tls']][] = [
    ['no client certificate', { ca: certs.ca, verify: true }],
    ['a certificate from another CA', { ca: certs.ca, cert: certs.strangerCert, key: certs.strangerKey, verify: true }],
    ['the broker signed by a CA the box does not trust', { ca: certs.strangerCa, cert: certs.clientCert, key: certs.clientKey, verify: true }],
    ['a certificate file that is not there', { ca: `${certs.dir}/missing-ca.crt`, cert: certs.clientCert, key: certs.clientKey, verify: true }],
  ];
  for (const [what, tls] of cases) {
    const lines: Line[] = [];
    const { journal, uplink } = startUplink(t, url, tls, lines);
    journal.append('plc1', [{ tag: 'plc1.level', value: 1, quality: 'good', ts: Date.now() }]);
    await waitFor(() => tlsCodes(lines).length > 0, { what: `${what}: CE_ERR_UPSTREAM_TLS logged`, timeoutMs: 60_000 });
    t.equal(uplink.stats().connected, false, `${what}: not connected`);
    t.equal(journal.backlog('city'), 1, `${what}: the batch waits in the journal`);
    if (what.includes('not there')) t.match(tlsCodes(lines)[0]!.msg, /tls\.ca .*missing-ca\.crt: no such file/, 'the message names the key and the file');
    t.notOk(lines.some((l) => JSON.stringify(l).includes('BEGIN')), `${what}: no key material in the log`);
  }
});
