// The OPC UA sewage-plant simulator, checked with node-opcua's own client (never a cityedge
// driver, so a driver bug cannot hide behind the simulator): the physics in fake time first,
// then the server over real sockets, then `cityedge sim opcua` as a process killed and restarted.
import t from 'tap';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AttributeIds, DataType, MessageSecurityMode, OPCUACertificateManager, OPCUAClient, SecurityPolicy, StatusCodes,
  TimestampsToReturn, UserTokenType, makeBrowsePath,
  type ClientSession, type DataValue, type UserIdentityInfo,
} from 'node-opcua';
import { SewagePlantPhysics } from '../simulators/opcua/physics.ts';
import { PLANT_SIGNALS, startOpcuaPlant, type OpcuaPlant, type OpcuaPlantOptions, type SignalName } from '../simulators/opcua/index.ts';
import { freePort, waitForPortClosed } from './helpers/ports.ts';
import { spawnProcess } from './helpers/proc.ts';
import { waitFor, waitForValue } from './helpers/wait.ts';

interface Test { teardown(fn: () => unknown): void }
const ROOT = new URL('..', import.meta.url).pathname;

async function tempDir(tt: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `cityedge-${prefix}-`));
  tt.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function plant(tt: Test, options: OpcuaPlantOptions = {}): Promise<OpcuaPlant> {
  const p = await startOpcuaPlant(options);
  tt.teardown(() => p.close());
  return p;
}

interface ConnectOptions {
  /** The client's own PKI folder (never $HOME). */
  pki: string;
  mode?: 'None' | 'Sign' | 'SignAndEncrypt';
  identity?: UserIdentityInfo;
  /** Refuse a server certificate that is not in the client's trusted folder. */
  strict?: boolean;
}

async function connect(tt: Test, endpointUrl: string, o: ConnectOptions): Promise<ClientSession> {
  const mode = o.mode ?? 'None';
  const client = OPCUAClient.create({
    applicationName: 'cityedge-sim-opcua-test',
    endpointMustExist: false,
    securityMode: MessageSecurityMode[mode],
    securityPolicy: mode === 'None' ? SecurityPolicy.None : SecurityPolicy.Basic256Sha256,
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: o.pki, automaticallyAcceptUnknownCertificate: !o.strict, disableFileWatchers: true,
    }),
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 500 },
  });
  let session: ClientSession | undefined;
  tt.teardown(async () => {
    await session?.close().catch(() => {});
    await client.disconnect();
  });
  await client.connect(endpointUrl);
  session = await client.createSession(o.identity);
  return session;
}

const readValue = (s: ClientSession, nodeId: string): Promise<DataValue> => s.read({ nodeId, attributeId: AttributeIds.Value });
const write = (s: ClientSession, nodeId: string, dataType: DataType, value: unknown) =>
  s.write({ nodeId, attributeId: AttributeIds.Value, value: { value: { dataType, value } } });

/** Steps the physics one second at a time until `done`, at most `limitS` simulated seconds. */
function runUntil(p: SewagePlantPhysics, done: () => boolean, limitS = 7200): number {
  for (let s = 0; s < limitS; s++) { if (done()) return s; p.step(1); }
  throw new Error(`condition not reached in ${limitS} simulated seconds`);
}

// ---- physics, in fake time ----

t.test('physics: lead and lag pumps start at their levels, ramp, and stop at the stop level', async (tt) => {
  const p = new SewagePlantPhysics({ seed: 3, initialLevel: 1.8 });
  p.setInflow(400);
  const starts = p.pump(1).starts;
  runUntil(p, () => p.pump(1).running);
  tt.ok(p.level >= 2.0 && p.level < 2.01, `pump 1 started at ${p.level.toFixed(3)} m (lead start 2.0 m)`);
  tt.equal(p.pump(1).starts, starts + 1);
  tt.equal(p.pump(2).running, false);
  p.step(30); // the VFD ramps at 2.5 Hz/s
  const s = p.signals();
  tt.ok((s['InletPS.Pump1.Speed'] as number) >= 38, `speed ${s['InletPS.Pump1.Speed']} Hz`);
  tt.ok((s['InletPS.Pump1.Current'] as number) > 15 && (s['InletPS.Pump1.Current'] as number) < 45, `current ${s['InletPS.Pump1.Current']} A`);
  tt.ok(p.pumped > 250 && p.pumped < 460, `pumping ${p.pumped.toFixed(0)} m³/h`);

  // The PLC compares the level at the start of a 1 s scan and the well fills on during it, so a
  // pump is seen running up to one scan's rise (about 7 mm here) above its start level.
  p.setInflow(1100); // more than one pump delivers
  runUntil(p, () => p.pump(2).running);
  tt.ok(p.level >= 2.6 && p.level < 2.615, `pump 2 started at ${p.level.toFixed(3)} m (lag start 2.6 m)`);
  p.setInflow(1500); // more than two
  runUntil(p, () => p.pump(3).running);
  tt.ok(p.level >= 3.2 && p.level < 3.215, `pump 3 started at ${p.level.toFixed(3)} m`);
  p.setInflow(0);
  runUntil(p, () => !p.pump(1).running && !p.pump(2).running && !p.pump(3).running);
  tt.ok(p.level <= 1.0 && p.level > 0.95, `all stopped at ${p.level.toFixed(3)} m (stop level 1.0 m)`);
  p.step(20);
  tt.same([1, 2, 3].map((n) => p.signals()[`InletPS.Pump${n}.Current` as SignalName]), [0, 0, 0], 'no current once the drives are down');
});

t.test('physics: a tripped or local pump hands its duty on; the lead pump is writable', async (tt) => {
  const p = new SewagePlantPhysics({ seed: 4, initialLevel: 2.2 });
  p.setInflow(500);
  p.step(30);
  tt.equal(p.pump(1).running, true);
  p.setPumpFault(1, true);
  p.step(1);
  tt.same([p.pump(1).running, p.pump(1).hz, p.signals()['InletPS.Pump1.Fault']], [false, 0, true], 'the tripped pump stops at once');
  tt.equal(p.pump(2).running, true, 'pump 2 takes the lead duty');
  p.setPumpFault(1, false);
  p.write('InletPS.Pump2.Remote', false);
  p.write('InletPS.LeadPump', 3);
  p.setLevel(2.05);
  p.step(1);
  tt.same([p.pump(3).running, p.pump(2).running], [true, false], 'pump 3 leads; pump 2 is out of the rotation');
  tt.equal(p.signals()['InletPS.LeadPump'], 3);
});

t.test('physics: the blowers hold DO at its setpoint; a heavy load brings in the second blower', async (tt) => {
  const p = new SewagePlantPhysics({ noise: false });
  p.setInflow(620);
  p.step(4 * 3600);
  tt.ok(Math.abs(p.dissolvedOxygen - 2) < 0.1, `DO ${p.dissolvedOxygen.toFixed(2)} mg/L at setpoint 2.0`);
  const air2 = p.airflow;
  p.write('Aeration.DOSetpoint', 3);
  p.step(2 * 3600);
  tt.ok(Math.abs(p.dissolvedOxygen - 3) < 0.1, `DO ${p.dissolvedOxygen.toFixed(2)} mg/L at setpoint 3.0`);
  tt.ok(p.airflow > air2 * 1.2, `more air for more oxygen (${air2.toFixed(0)} → ${p.airflow.toFixed(0)} m³/h)`);
  p.write('Aeration.DOSetpoint', 1);
  p.step(2 * 3600);
  tt.ok(Math.abs(p.dissolvedOxygen - 1) < 0.1, `DO ${p.dissolvedOxygen.toFixed(2)} mg/L at setpoint 1.0`);
  tt.equal(p.blower(2).running, false);
  p.write('Aeration.DOSetpoint', 2);
  p.setInflow(1300); // double load: more than one blower delivers
  runUntil(p, () => p.blower(2).running, 4 * 3600);
  p.step(3 * 3600);
  const s = p.signals();
  tt.ok(Math.abs(p.dissolvedOxygen - 2) < 0.15, `DO ${p.dissolvedOxygen.toFixed(2)} mg/L with two blowers`);
  tt.ok((s['Aeration.Blower2.Airflow'] as number) > 1000 && (s['Aeration.Blower2.Power'] as number) > 30, 'blower 2 delivers air and draws power');
});

t.test('physics: energy grows with the pumps and blowers; effluent stays plausible over a day', async (tt) => {
  const p = new SewagePlantPhysics({ seed: 9 });
  const e0 = p.energy;
  p.step(3600);
  const kwh = p.energy - e0;
  tt.ok(kwh > 80 && kwh < 250, `${kwh.toFixed(1)} kWh in an hour`);
  tt.equal(p.signals()['Energy.Total'], p.energy);
  const seen = { nh3: [Infinity, -Infinity], cod: [Infinity, -Infinity], flow: [Infinity, -Infinity], blanket: [Infinity, -Infinity] };
  const widen = (r: number[], v: unknown): void => { r[0] = Math.min(r[0]!, v as number); r[1] = Math.max(r[1]!, v as number); };
  let desludged = 0;
  for (let m = 0; m < 24 * 60; m++) {
    p.step(60);
    const s = p.signals();
    widen(seen.nh3, s['Effluent.NH3N']); widen(seen.cod, s['Effluent.COD']);
    widen(seen.flow, s['Effluent.Flow']); widen(seen.blanket, s['Clarifier.SludgeBlanket']);
    if (s['Clarifier.SludgePump.Running']) desludged++;
  }
  const within = (r: number[], lo: number, hi: number): boolean => r[0]! >= lo && r[1]! <= hi && r[1]! > r[0]!;
  tt.ok(within(seen.nh3, 0.05, 8), `NH3-N ${seen.nh3.map((x) => x.toFixed(2))} mg/L`);
  tt.ok(within(seen.cod, 10, 60), `COD ${seen.cod.map((x) => x.toFixed(1))} mg/L`);
  tt.ok(within(seen.flow, 250, 1200), `effluent ${seen.flow.map((x) => x.toFixed(0))} m³/h`);
  tt.ok(within(seen.blanket, 0.3, 3), `sludge blanket ${seen.blanket.map((x) => x.toFixed(2))} m`);
  tt.ok(desludged > 200 && desludged < 300, `sludge pump ran ${desludged} of 1440 minutes (10 min an hour)`);
});

t.test('physics: a seed repeats the run, reads never change it, a failed sensor holds its value', async (tt) => {
  const a = new SewagePlantPhysics({ seed: 5 }), b = new SewagePlantPhysics({ seed: 5 });
  for (let i = 0; i < 3000; i++) { a.step(0.2); b.step(0.2); if (i % 7 === 0) b.signals(); }
  tt.same(a.signals(), b.signals());
  tt.same(a.signals(), a.signals(), 'two reads in one step agree');
  const before = a.signals()['Aeration.DO'];
  a.setSensorFault('Aeration.DO', 'bad');
  a.write('Aeration.DOSetpoint', 3.5);
  a.step(1800);
  tt.equal(a.signals()['Aeration.DO'], before, 'frozen while failed');
  tt.equal(a.sensorFault('Aeration.DO'), 'bad');
  a.setSensorFault('Aeration.DO', undefined);
  tt.ok((a.signals()['Aeration.DO'] as number) > (before as number) + 0.5, 'live again once repaired');
});

t.test('docs/simulators.md lists every signal with its type', async (tt) => {
  const docs = await readFile(new URL('../docs/simulators.md', import.meta.url), 'utf8');
  for (const sig of PLANT_SIGNALS) {
    const row = `| \`ns=1;s=Plant.${sig.name.replace(/(Pump|Blower)\d/, '$1N')}\` | ${sig.type} |`;
    tt.ok(docs.includes(row), row);
  }
});

// ---- the server ----

t.test('server', async (tt) => {
  const clientPki = await tempDir(tt, 'opcua-client');
  const p = await plant(tt);
  tt.match(p.endpointUrl, new RegExp(`^opc\\.tcp://127\\.0\\.0\\.1:${p.port}$`), 'the real port, not 0');
  const s = await connect(tt, p.endpointUrl, { pki: clientPki });

  tt.test('reads: plausible values of the declared types', async (t2) => {
    const expect: [SignalName, DataType, number, number][] = [
      ['InletPS.WetWell.Level', DataType.Double, 0, 6],
      ['InletPS.Inflow', DataType.Double, 100, 2000],
      ['Aeration.DO', DataType.Double, 0.5, 4],
      ['Aeration.Blower1.Airflow', DataType.Double, 1000, 3700],
      ['Effluent.NH3N', DataType.Double, 0, 10],
      ['Effluent.COD', DataType.Double, 5, 80],
      ['Energy.Total', DataType.Double, 1e6, 1e8],
      ['InletPS.LeadPump', DataType.Int32, 1, 3],
      ['Clarifier.DesludgeInterval', DataType.UInt16, 10, 240],
      ['InletPS.Pump1.Starts', DataType.UInt32, 1, 1e6],
    ];
    for (const [name, type, lo, hi] of expect) {
      const dv = await readValue(s, p.nodeIds[name]);
      t2.equal(dv.statusCode, StatusCodes.Good, `${name} good`);
      t2.equal(dv.value.dataType, type, `${name} is ${DataType[type]}`);
      t2.ok(dv.value.value >= lo && dv.value.value <= hi, `${name} = ${dv.value.value}`);
      t2.ok(dv.sourceTimestamp instanceof Date, `${name} has a source timestamp`);
    }
    t2.equal((await readValue(s, p.nodeIds['InletPS.Pump1.Remote'])).value.dataType, DataType.Boolean);
    t2.match((await readValue(s, 'ns=1;s=Plant.Name')).value.value, /污水处理厂/);
    t2.same(Object.keys(p.nodeIds).sort(), PLANT_SIGNALS.map((x) => x.name).sort(), 'a node id for every signal');
  });

  tt.test('browse: a tree of objects with BrowseNames in namespace 1', async (t2) => {
    const plantNode = await s.translateBrowsePath(makeBrowsePath('RootFolder', '/Objects/1:Plant'));
    t2.equal(plantNode.targets?.[0]?.targetId.toString(), 'ns=1;s=Plant');
    const children = await s.browse('ns=1;s=Plant');
    const names = (children.references ?? []).map((r) => `${r.browseName.namespaceIndex}:${r.browseName.name}`);
    for (const n of ['1:InletPS', '1:Aeration', '1:Clarifier', '1:Effluent', '1:Energy', '1:Name']) t2.ok(names.includes(n), `Plant has ${n}`);
    for (const [path, id] of [
      ['/Objects/1:Plant/1:Aeration/1:DO', p.nodeIds['Aeration.DO']],
      ['/Objects/1:Plant/1:InletPS/1:WetWell/1:Level', p.nodeIds['InletPS.WetWell.Level']],
      ['/Objects/1:Plant/1:InletPS/1:Pump2/1:Speed', p.nodeIds['InletPS.Pump2.Speed']],
    ] as const) {
      const r = await s.translateBrowsePath(makeBrowsePath('RootFolder', path));
      t2.equal(r.targets?.[0]?.targetId.toString(), id, path);
    }
    const eu = await s.translateBrowsePath(makeBrowsePath(p.nodeIds['Aeration.DO'], '.EngineeringUnits'));
    const unit = await readValue(s, eu.targets![0]!.targetId.toString());
    t2.equal(unit.value.value.displayName.text, 'mg/L', 'engineering units');
  });

  tt.test('subscription: the wet well level arrives at the sampling interval', async (t2) => {
    const sub = await s.createSubscription2({ requestedPublishingInterval: 100, requestedMaxKeepAliveCount: 20, requestedLifetimeCount: 200, publishingEnabled: true });
    t2.teardown(() => sub.terminate());
    const item = await sub.monitor({ nodeId: p.nodeIds['InletPS.WetWell.Level'], attributeId: AttributeIds.Value },
      { samplingInterval: 100, queueSize: 10, discardOldest: true }, TimestampsToReturn.Both);
    t2.equal(item.result?.revisedSamplingInterval, 100, 'sampled every 100 ms, not once a second');
    const seen: DataValue[] = [];
    item.on('changed', (dv: DataValue) => seen.push(dv));
    await waitFor(() => seen.length >= 6, { timeoutMs: 30_000, what: '6 notifications of the wet well level' });
    const values = seen.map((dv) => dv.value.value as number);
    t2.ok(new Set(values).size >= 5, `changing values ${values.map((v) => v.toFixed(4)).join(' ')}`);
    const times = seen.map((dv) => dv.sourceTimestamp!.getTime());
    t2.ok(times.every((x, i) => i === 0 || x > times[i - 1]!), 'source timestamps increase');
  });

  tt.test('writes: in range accepted, out of range, wrong type and read-only refused', async (t2) => {
    const sp = p.nodeIds['Aeration.DOSetpoint'];
    t2.equal(await write(s, sp, DataType.Double, 3.2), StatusCodes.Good);
    t2.equal((await readValue(s, sp)).value.value, 3.2, 'read back');
    t2.equal(p.physics.signals()['Aeration.DOSetpoint'], 3.2, 'the controller uses it');
    t2.equal(await write(s, sp, DataType.Double, 4.5), StatusCodes.BadOutOfRange);
    t2.equal(await write(s, sp, DataType.Double, 0.1), StatusCodes.BadOutOfRange);
    t2.equal(await write(s, sp, DataType.Double, Number.NaN), StatusCodes.BadOutOfRange);
    t2.equal((await readValue(s, sp)).value.value, 3.2, 'a refused write changes nothing');
    t2.equal(await write(s, sp, DataType.Double, 2.0), StatusCodes.Good);
    const lead = p.nodeIds['InletPS.LeadPump'];
    t2.equal(await write(s, lead, DataType.Int32, 2), StatusCodes.Good);
    t2.equal(await write(s, lead, DataType.Int32, 4), StatusCodes.BadOutOfRange);
    t2.equal(await write(s, lead, DataType.Double, 1), StatusCodes.BadTypeMismatch);
    t2.equal((await readValue(s, lead)).value.value, 2);
    t2.equal(await write(s, lead, DataType.Int32, 1), StatusCodes.Good);
    t2.equal(await write(s, p.nodeIds['Clarifier.DesludgeInterval'], DataType.UInt16, 30), StatusCodes.Good);
    t2.equal((await readValue(s, p.nodeIds['Clarifier.DesludgeInterval'])).value.value, 30);
    t2.equal(await write(s, p.nodeIds['InletPS.Pump3.Remote'], DataType.Boolean, false), StatusCodes.Good);
    t2.equal(p.physics.pump(3).remote, false);
    t2.equal(await write(s, p.nodeIds['InletPS.Pump3.Remote'], DataType.Boolean, true), StatusCodes.Good);
    t2.equal(await write(s, p.nodeIds['Effluent.COD'], DataType.Double, 1), StatusCodes.BadNotWritable, 'a measurement is read-only');
  });

  tt.test('sensor faults: BadSensorFailure or UncertainLastUsableValue, holding the last value', async (t2) => {
    const id = p.nodeIds['Effluent.NH3N'];
    p.physics.setSensorFault('Effluent.NH3N', 'bad');
    const bad = await waitForValue(async () => { const dv = await readValue(s, id); return dv.statusCode === StatusCodes.BadSensorFailure && dv; },
      { what: 'NH3-N to read BadSensorFailure' });
    const t0 = p.physics.time;
    await waitFor(() => p.physics.time > t0 + 0.5, { what: 'half a simulated second to pass' });
    const later = await readValue(s, id);
    t2.equal(later.statusCode, StatusCodes.BadSensorFailure);
    t2.equal(later.value.value, bad.value.value, 'the last value is kept');
    p.physics.setSensorFault('Effluent.NH3N', 'uncertain');
    await waitFor(async () => (await readValue(s, id)).statusCode === StatusCodes.UncertainLastUsableValue, { what: 'NH3-N uncertain' });
    p.physics.setSensorFault('Effluent.NH3N', undefined);
    await waitFor(async () => (await readValue(s, id)).statusCode === StatusCodes.Good, { what: 'NH3-N good again' });
  });
});

t.test('security: username/password over SignAndEncrypt Basic256Sha256; wrong password refused', async (tt) => {
  const dir = await tempDir(tt, 'opcua-sec');
  const p = await plant(tt, { pkiDir: join(dir, 'server'), users: [{ username: 'operator', password: 'pa55-word' }], allowAnonymous: false });
  const pki = join(dir, 'client');
  const user = (password: string): UserIdentityInfo => ({ type: UserTokenType.UserName, userName: 'operator', password });
  const s = await connect(tt, p.endpointUrl, { pki, mode: 'SignAndEncrypt', identity: user('pa55-word') });
  tt.equal((await readValue(s, p.nodeIds['Aeration.DO'])).statusCode, StatusCodes.Good, 'logged in and reading');
  await tt.rejects(connect(tt, p.endpointUrl, { pki, mode: 'SignAndEncrypt', identity: user('wrong') }), /BadUserAccessDenied|BadIdentityTokenRejected/, 'wrong password');
  // node-opcua's client already refuses, as no endpoint offers an anonymous token policy.
  await tt.rejects(connect(tt, p.endpointUrl, { pki, mode: 'None' }), /ANONYMOUS user token policy|BadIdentityToken/, 'no anonymous login when allowAnonymous is false');
  const signed = await connect(tt, p.endpointUrl, { pki, mode: 'Sign', identity: user('pa55-word') });
  tt.equal((await readValue(signed, p.nodeIds['Energy.Total'])).statusCode, StatusCodes.Good, 'Sign works too');
});

t.test('restarts: the same port at once, the same certificate from the same PKI folder, 5,000 bulk items', async (tt) => {
  const dir = await tempDir(tt, 'opcua-restart');
  const pkiDir = join(dir, 'server');
  const first = await startOpcuaPlant({ pkiDir, bulk: 5000 });
  const port = first.port;
  const cert = await readFile(first.certificateFile);
  try {
    tt.equal(first.bulkNodeIds.length, 5000);
    tt.equal(first.bulkNodeIds[4999], 'ns=1;s=Bulk.V4999');
    const s = await connect(tt, first.endpointUrl, { pki: join(dir, 'client') });
    const all = await waitForValue(async () => {
      const dvs = await s.read(first.bulkNodeIds.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value })));
      return dvs.every((dv) => dv.statusCode === StatusCodes.Good && dv.value.value >= 1) && dvs;
    }, { what: 'every bulk variable to have counted at least once' });
    tt.equal(all.length, 5000, 'one read of 5,000 items');
  } finally {
    await first.close();
  }
  for (let i = 0; i < 4; i++) {
    const again = await startOpcuaPlant({ pkiDir, port });
    try {
      tt.equal(again.port, port, `restart ${i + 1} on port ${port}`);
      tt.same(await readFile(again.certificateFile), cert, 'the same certificate');
    } finally {
      await again.close();
    }
  }
  const ac = new AbortController();
  const aborted = await startOpcuaPlant({ port, signal: ac.signal });
  tt.teardown(() => aborted.close());
  ac.abort();
  await waitForPortClosed(port);
  tt.pass('an aborted server stops listening');
});

t.test('cityedge sim opcua: ready line, kill -9, restart on the same port and PKI, trusted again', async (tt) => {
  const dir = await tempDir(tt, 'opcua-cli');
  const pki = join(dir, 'server-pki');
  const clientPki = join(dir, 'client-pki');
  const port = await freePort();
  const start = () => spawnProcess(process.execPath, ['bin/cityedge.mjs', 'sim', 'opcua', '--port', String(port), '--pki', pki, '--user', 'op:s3cret', '--bulk', '10'], {
    cwd: ROOT, t: tt, name: 'cityedge sim opcua', readyLine: /listening on (opc\.tcp:\/\/\S+)/, readyTimeoutMs: 90_000,
  });
  const op: UserIdentityInfo = { type: UserTokenType.UserName, userName: 'op', password: 's3cret' };

  const first = await start();
  const url = first.ready![1]!;
  tt.equal(url, `opc.tcp://127.0.0.1:${port}`);
  tt.notMatch(first.output(), /s3cret/, 'the password is not printed');
  // The client trusts exactly this server certificate and no other.
  const pem = await readFile(join(pki, 'own', 'certs', 'certificate.pem'), 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const trust = new OPCUACertificateManager({ rootFolder: clientPki, automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true });
  await trust.initialize();
  await trust.trustCertificate(der);
  const s1 = await connect(tt, url, { pki: clientPki, mode: 'SignAndEncrypt', identity: op, strict: true });
  tt.equal((await readValue(s1, 'ns=1;s=Plant.Aeration.DO')).statusCode, StatusCodes.Good);

  tt.equal(await first.kill('SIGKILL'), 137, 'killed with -9');
  const second = await start();
  tt.equal(second.ready![1], url, 'the same endpoint');
  const s2 = await connect(tt, url, { pki: clientPki, mode: 'SignAndEncrypt', identity: op, strict: true });
  tt.equal((await readValue(s2, 'ns=1;s=Bulk.V0009')).statusCode, StatusCodes.Good, 'connected again, trusting the same certificate');
  tt.equal(await second.kill('SIGTERM'), 0, 'SIGTERM: a clean exit');
});
