// The latency child of `npm run bench:alarms` (bench/alarms.ts starts it, with a Mosquitto of its own):
//
//   node bin/run-ts.mjs bench/lib/alarms-latency.ts --url mqtt://127.0.0.1:PORT --dir DIR [--changes 100]
//                                                   [--commit-ms N] [--seed 7] [--warmup 3]
//
// In this one process: the pump-station simulator (simulators/pump-station, timeScale 1), the real
// gateway (startGateway from gateway/main.ts) with the shipped example configuration
// (config/examples/pump-station.yaml) pointed at the simulator and the broker, its journal on disk in
// DIR as shipped (fsync full; `commit_ms` as shipped unless --commit-ms), and a platform subscriber on
// `cityedge/v1/{site}/alarms`. The watched signal is the mains supply (di:6 `mains_ok`, rule
// `mains_failure`: equals false, critical), which only the physics setter moves; its `delay_on_s: 3`
// is set to 0 here, so the figure is the path and not the delay. Critical on purpose: raising one
// alarm 100 times in a few minutes is a flood by ISA-18.2 (more than 10 new alarms in 10 minutes),
// and during a flood the engine holds back all but critical alarms for the flood's summary. With no
// pump running at the levels of this run (1.5–2 m, the lead pump starts at 2.5 m), a mains failure
// changes nothing else the alarms watch.
//
// Each change: wait a random time in [0, poll) (so the change falls at a random phase of the poll),
// fail (or restore) the mains with the physics setter and scan the physics into the registers at
// once (`step(0)`), so the input changes at a known instant; then wait for the alarm message at the
// subscriber: `active` for a failure, `rtn_unack` for the return (ISA-18.2: active → rtn_unack →
// active, no acknowledgement needed). Everything is timed with performance.now() in this process:
//
//   flip ─► PLC read of di:6 ─► engine: event to the journal ─► end of the scan callback ─► journal commit ─► subscriber
//          (the poll's phase)  (rest of the scan, decoding,     (the rule's state          (setImmediate,     (uplink, Mosquitto,
//                               rules, alarm-history.jsonl)       queued for the commit)     SQLite + fsync)    subscriber)
//
// The PLC read is seen by wrapping the simulator's register bank; the transition by the gateway's
// logger (the engine logs it right after handing the event to the history and the journal); the end
// of the scan callback by a microtask queued then; the commit by the journal's onAppend (the journal
// is built with createJournal from gateway/main.ts and passed in, as the composition root would).
// A rule that goes active more than 3 times a minute is logged as chattering: those warnings are expected.
//
// Prints progress on stderr and `RESULT {json}` (LatencyResult) on stdout.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { parseDocument, isMap, isSeq } from 'yaml';
import { parseConfig } from '../../config/loader.ts';
import { createJournal, startGateway } from '../../gateway/main.ts';
import { systemClock, type Logger } from '../../gateway/model/index.ts';
import { startPumpStation } from '../../simulators/pump-station/index.ts';
import { prng } from './alarms-rules.ts';

export const RULE = 'mains_failure';
const MAINS_INPUT = 6; // di:6 mains_ok (register-map.ts)

export interface Edge {
  kind: 'raise' | 'clear';
  /** Time since the previous read of di:6 when the input changed: the phase in the poll. */
  phaseMs: number;
  pollWaitMs: number; scanToEngineMs: number; engineToEndOfScanMs: number; endOfScanToCommitMs: number; commitToSubscriberMs: number;
  totalMs: number;
}
export interface LatencyResult {
  pollMs: number; commitMs: number; fsync: string; commitMsShipped: boolean; rule: string; ruleDelayOnS: number; ruleEdited: boolean;
  edges: Edge[];
  gateway: { scans: number; overruns: number; failedScans: number; requestsPerScan: number };
  /** Warnings and errors the gateway logged, by message. */
  log: { warn: number; error: number; byMessage: Record<string, number> };
  /** Other alarm messages seen at the subscriber, rule → count. */
  others: Record<string, number>;
  seconds: number;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXAMPLE = join(ROOT, 'config', 'examples', 'pump-station.yaml');

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' },
    dir: { type: 'string' },
    changes: { type: 'string', default: '100' },
    'commit-ms': { type: 'string' },
    seed: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '3' },
  },
});
if (!flags.url || !flags.dir) { console.error('alarms-latency: --url and --dir are required'); process.exit(2); }
const url = flags.url;
const dir = flags.dir;
const changes = Number(flags.changes);
const rnd = prng(Number(flags.seed));

const progress = (msg: string) => process.stderr.write(`· ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Pending {
  kind: 'raise' | 'clear'; expect: string; flipAt: number; lastReadBefore: number;
  plcReadAt?: number; transitionAt?: number; endOfScanAt?: number; committedAt?: number; arrivedAt?: number;
  arrived?: () => void;
}
let cur: Pending | undefined;
let lastInputRead = NaN;

// --- the gateway's logger: the watched rule's transitions are timed, warnings and errors kept ---
const log = { warn: 0, error: 0, byMessage: {} as Record<string, number> };
const keep = (level: string, a: object | string, b?: string) => {
  const key = `${level}: ${typeof a === 'string' ? a : b ?? JSON.stringify(a)}`;
  log.byMessage[key] = (log.byMessage[key] ?? 0) + 1;
};
const logger: Logger = {
  debug: () => {},
  info: (a: object | string, b?: string) => {
    if (typeof a !== 'object' || (a as { rule?: unknown }).rule !== RULE || !b?.startsWith('alarm ')) return;
    const p = cur;
    if (!p || p.transitionAt !== undefined) return;
    p.transitionAt = performance.now();
    // Runs when the scan callback (engine, its state save, report by exception, the journal append) is done.
    queueMicrotask(() => { p.endOfScanAt = performance.now(); });
  },
  warn: (a: object | string, b?: string) => { log.warn++; keep('warn', a, b); },
  error: (a: object | string, b?: string) => { log.error++; keep('error', a, b); },
  child: () => logger,
};

// --- the configuration: the shipped example, pointed at this run's PLC, broker and temp dir ---
const plc = await startPumpStation({ port: 0, timeScale: 1 });
{
  // The input changes when the bank does; its read by the gateway is timed here. The PLC's own
  // scan reads the bank too (read-modify-write of status bits, setpoints, command coils): a read is
  // the gateway's when the Modbus server counted a request since the bank's previous read, as it
  // does just before it answers one (every request of the gateway's plan reads mapped addresses).
  const bank = plc.bank;
  const readRegisters = bank.readRegisters.bind(bank);
  const readBits = bank.readBits.bind(bank);
  let seen = plc.server.stats.requests;
  const fromModbus = (): boolean => {
    const n = plc.server.stats.requests;
    const yes = n !== seen;
    seen = n;
    return yes;
  };
  bank.readRegisters = (table, address, count) => { fromModbus(); return readRegisters(table, address, count); };
  bank.readBits = (table, address, count) => {
    if (fromModbus() && table === 'di' && address <= MAINS_INPUT && address + count > MAINS_INPUT) {
      const t = performance.now();
      lastInputRead = t;
      if (cur && cur.plcReadAt === undefined) cur.plcReadAt = t;
    }
    return readBits(table, address, count);
  };
}
const doc = parseDocument(readFileSync(EXAMPLE, 'utf8'));
doc.setIn(['devices', 0, 'port'], plc.port);
doc.setIn(['upstreams', 0, 'url'], url);
doc.setIn(['buffer', 'path'], join(dir, 'data'));
const commitMsShipped = flags['commit-ms'] === undefined;
if (!commitMsShipped) doc.setIn(['buffer', 'commit_ms'], Number(flags['commit-ms']));
const alarms = doc.get('alarms');
if (!isSeq(alarms)) throw new Error(`${EXAMPLE}: no alarms list`);
const ruleIndex = alarms.items.findIndex((n) => isMap(n) && n.get('id') === RULE);
if (ruleIndex < 0) throw new Error(`${EXAMPLE}: no alarm rule "${RULE}"`);
// The figure is the path, not a delay: a rule given a delay_on_s since would be set back to none.
const shippedDelay = Number(doc.getIn(['alarms', ruleIndex, 'delay_on_s']) ?? 0);
if (shippedDelay !== 0) doc.setIn(['alarms', ruleIndex, 'delay_on_s'], 0);
const config = parseConfig(doc.toString(), join(dir, 'pump-station.yaml'));
const rule = config.alarms.find((a) => a.id === RULE)!;
if (rule.tag !== 'plc1.mains_ok' || rule.equals !== false || rule.severity !== 'critical') {
  throw new Error(`rule ${RULE} is no longer a critical alarm on plc1.mains_ok = false: ${JSON.stringify(rule)}`);
}
const device = config.devices[0]!;
const pollMs = device.poll_ms;

// --- the platform's subscriber ---
const others: Record<string, number> = {};
const sub = await mqtt.connectAsync(url, { clientId: `cityedge-bench-alarms-${process.pid}`, protocolVersion: 5, reconnectPeriod: 0 });
sub.on('message', (_topic, payload) => {
  const at = performance.now();
  let ev: { rule?: string; state?: string };
  try { ev = JSON.parse(payload.toString()) as typeof ev; } catch { others['(not JSON)'] = (others['(not JSON)'] ?? 0) + 1; return; }
  const p = cur;
  if (ev.rule === RULE && p && p.arrivedAt === undefined && ev.state === p.expect) {
    p.arrivedAt = at;
    p.arrived?.();
    return;
  }
  const key = `${ev.rule ?? '?'} ${ev.state ?? '?'}`;
  others[key] = (others[key] ?? 0) + 1;
});
await sub.subscribeAsync(`cityedge/v1/${config.site.id}/alarms`, { qos: 1 });

// --- the gateway ---
const journal = createJournal(config, { clock: systemClock, logger });
journal.onAppend(() => {
  const p = cur;
  if (p?.transitionAt !== undefined && p.committedAt === undefined) p.committedAt = performance.now();
});
const started = performance.now();
const gw = startGateway(config, { logger, journal });
const status = () => gw.status();
try {
  const until = performance.now() + 60_000;
  while (!(status().upstreams[config.upstreams[0]!.id]?.connected && (status().devices[device.id]?.scans ?? 0) >= 2)) {
    if (performance.now() > until) throw new Error(`the gateway did not connect and scan within 60 s: ${JSON.stringify(status().upstreams)} ${JSON.stringify(status().devices)}; log: ${JSON.stringify(log.byMessage)}`);
    await sleep(50);
  }
  const warm = Number(flags.warmup) * 1000;
  progress(`gateway connected and polling every ${pollMs} ms (commit_ms ${config.buffer.commit_ms}); ${warm / 1000} s of warm-up`);
  await sleep(warm);
  const initial = status().alarms.find((a) => a.rule === RULE);
  if (initial?.state !== 'normal') throw new Error(`${RULE} is ${initial?.state} before the first change`);

  const edges: Edge[] = [];
  const deadlineMs = 3 * pollMs + 5000;
  for (let i = 0; i < changes; i++) {
    for (const kind of ['raise', 'clear'] as const) {
      await sleep(rnd.uniform() * pollMs);
      const p: Pending = { kind, expect: kind === 'raise' ? 'active' : 'rtn_unack', flipAt: NaN, lastReadBefore: lastInputRead };
      const arrived = new Promise<void>((resolve) => { p.arrived = resolve; });
      cur = p;
      plc.physics.setMainsFailure(kind === 'raise');
      plc.step(0); // the PLC's scan publishes it into di:6 now, not at its next 200 ms tick
      p.flipAt = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no "${p.expect}" for ${RULE} at the subscriber within ${deadlineMs} ms of change ${i + 1} (${kind}); ` +
          `PLC read ${p.plcReadAt !== undefined}, transition ${p.transitionAt !== undefined}, commit ${p.committedAt !== undefined}; log: ${JSON.stringify(log.byMessage)}`)), deadlineMs);
      });
      try { await Promise.race([arrived, timeout]); } finally { clearTimeout(timer); }
      const d = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? b - a : NaN);
      edges.push({
        kind, phaseMs: p.flipAt - p.lastReadBefore,
        pollWaitMs: d(p.flipAt, p.plcReadAt), scanToEngineMs: d(p.plcReadAt, p.transitionAt), engineToEndOfScanMs: d(p.transitionAt, p.endOfScanAt),
        endOfScanToCommitMs: d(p.endOfScanAt, p.committedAt), commitToSubscriberMs: d(p.committedAt, p.arrivedAt), totalMs: p.arrivedAt! - p.flipAt,
      });
    }
    if ((i + 1) % 10 === 0) progress(`${i + 1} of ${changes} changes (each raised and cleared)`);
  }
  cur = undefined;
  const st = status().devices[device.id]!;
  const result: LatencyResult = {
    pollMs, commitMs: config.buffer.commit_ms, fsync: config.buffer.fsync, commitMsShipped, rule: RULE, ruleDelayOnS: shippedDelay, ruleEdited: shippedDelay !== 0,
    edges, gateway: { scans: st.scans, overruns: st.overruns, failedScans: st.failedScans, requestsPerScan: st.requestsPerScan },
    log, others, seconds: (performance.now() - started) / 1000,
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
} finally {
  await gw.stop();
  await sub.endAsync(true).catch(() => {});
  await plc.close();
}
