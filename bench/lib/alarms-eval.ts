// The rule-evaluation child of `npm run bench:alarms` (bench/alarms.ts starts it, so the figures come
// from a heap of their own):
//
//   node bin/run-ts.mjs bench/lib/alarms-eval.ts --dir DIR [--seconds 3] [--runs 3] [--warmup 1.5] [--crossings 1]
//
// AlarmEngine (gateway/alarms/engine.ts) as gateway/main.ts builds it for a box with
// `buffer.journal: memory` (MemoryJournal, MemoryAlarmStore, MemoryOverrideStore, MemoryRecordLog), over the 10,000 rules of
// bench/lib/alarms-rules.ts: per round, onSamples() for each of the 20 devices' scans, then tick(),
// with simulated time advancing 1 s per round (so delay_on_s and stale_s run as on a box polled
// every second, only faster). Variants: the realistic scans; quiet scans (nothing crosses: the
// evaluation alone); the realistic scans with the disk box's FileAlarmStore; and the raw ceiling.
// Each: a warm-up, then `runs` timed runs of whole 60-round cycles (60 simulated seconds each) for at
// least `seconds` of wall time; the report takes the median.
//
// Prints progress on stderr and `RESULT {json}` (EvalResult) on stdout.
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../config/loader.ts';
import { AlarmEngine, type AlarmEvent } from '../../gateway/alarms/engine.ts';
import { MemoryOverrideStore } from '../../gateway/alarms/overrides.ts';
import { JournalAlarmStore, MemoryAlarmStore, type AlarmStateStore, type SavedAlarm, type SavedAlarms } from '../../gateway/alarms/state-store.ts';
import { SqliteJournal } from '../../gateway/journal/sqlite.ts';
import type { Journal } from '../../gateway/journal/journal.ts';
import { MemoryJournal } from '../../gateway/journal/memory.ts';
import { MemoryRecordLog } from '../../gateway/store/files.ts';
import { silentLogger, systemClock, type Clock, type Config } from '../../gateway/model/index.ts';
import { DEVICES, EVALS_PER_SCAN, POLL_MS, RawCeiling, ROUNDS, RULES, STAGGER_MS, buildScans, rulesConfigYaml, type Scans } from './alarms-rules.ts';

export interface EvalRun {
  wallMs: number; cpuMs: number; rounds: number; evals: number;
  /** Transitions (every one goes to the alarm history); for the raw loop, raw condition changes. */
  transitions: number;
  /** Of them, events appended to the journal for `…/alarms`: during a flood only critical ones are, one by one. */
  journaled: number;
  /** Rounds that ended with the site in an alarm flood (ISA-18.2: more than 10 new alarms in 10 minutes). */
  floodRounds: number;
  /** store.save() calls and the time spent inside them. */
  saves: number; saveMs: number;
  /** process.memoryUsage().heapUsed after the run, MB. */
  heapMb: number;
}
export interface EvalVariant { name: string; label: string; scans: 'mixed' | 'quiet'; runs: EvalRun[]; warmupRounds: number }
export interface EvalResult {
  rules: number; devices: number; evalsPerRound: number; configParseMs: number; configYamlKb: number;
  excursionsPerCycle: { mixed: number; quiet: number }; cycleRounds: number;
  /** Size of the disk variant's journal file after its runs (events and states of 10,000 rules). */
  stateFileBytes: number;
  variants: EvalVariant[];
}

const { values: flags } = parseArgs({
  options: {
    dir: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1.5' },
    crossings: { type: 'string', default: '1' },
  },
});
const dir = flags.dir;
if (!dir) { console.error('alarms-eval: --dir is required'); process.exit(2); }
const runMs = Number(flags.seconds) * 1000;
const runs = Number(flags.runs);
const warmupMs = Number(flags.warmup) * 1000;
const crossings = Number(flags.crossings);

const progress = (msg: string) => process.stderr.write(`· ${msg}\n`);

/** Counts and times store.save(): what the engine's #save() hands over on every scan with a transition. */
class TimedStore implements AlarmStateStore {
  saves = 0;
  saveMs = 0;
  constructor(readonly inner: AlarmStateStore) {}
  load(): SavedAlarms { return this.inner.load(); }
  save(changed: Record<string, SavedAlarm>, flood: boolean): void {
    const t = performance.now();
    this.inner.save(changed, flood);
    this.saveMs += performance.now() - t;
    this.saves++;
  }
}

/** The alarm history of a box without storage (MemoryRecordLog), counting what the engine appends. */
class CountingLog extends MemoryRecordLog<AlarmEvent> {
  appended = 0;
  override append(entry: AlarmEvent): void { this.appended++; super.append(entry); }
}

/** The simulated clock the engine reads when it is built; onSamples and tick are given their time. */
let simNow = Math.floor(Date.now() / 1000) * 1000;
const clock: Clock = { now: () => simNow, sleep: systemClock.sleep };

async function engineVariant(name: string, label: string, config: Config, scans: Scans, which: 'mixed' | 'quiet',
  makeStores: () => { journal: Journal; store: AlarmStateStore }): Promise<EvalVariant> {
  const made = makeStores();
  const store = new TimedStore(made.store);
  const journal = made.journal;
  // As gateway/main.ts builds the engine for a box with `buffer.journal: memory`; the history counts transitions.
  const history = new CountingLog();
  const engine = new AlarmEngine(config, { journal, clock, logger: silentLogger, store, overrides: new MemoryOverrideStore(), history });
  let round = 0;
  let floodRounds = 0;
  const oneRound = () => {
    const rs = scans[round % ROUNDS]!;
    for (let d = 0; d < DEVICES; d++) engine.onSamples(rs[d]!, simNow + d * STAGGER_MS);
    engine.tick(simNow + POLL_MS - 1);
    if (engine.flooding) floodRounds++;
    round++;
    simNow += POLL_MS;
  };
  const timed = async (ms: number): Promise<EvalRun> => {
    const r0 = round;
    const f0 = floodRounds;
    const h0 = history.appended;
    const a0 = journal.stats().appended;
    const s0 = store.saves, m0 = store.saveMs;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let t = t0;
    // Whole cycles of the scans, so every run sees the same excursions and the same transitions.
    // The event loop turns between cycles, as on a box between scans: the engine's coalesced state
    // saves (a timer, at most one a second) run then; a loop that never yields would never save.
    while (t - t0 < ms) { for (let i = 0; i < ROUNDS; i++) oneRound(); await new Promise((r) => setImmediate(r)); t = performance.now(); }
    const cpu = process.cpuUsage(c0);
    const rounds = round - r0;
    return {
      wallMs: t - t0, cpuMs: (cpu.user + cpu.system) / 1000, rounds, evals: rounds * DEVICES * EVALS_PER_SCAN,
      transitions: history.appended - h0, journaled: journal.stats().appended - a0, floodRounds: floodRounds - f0,
      saves: store.saves - s0, saveMs: store.saveMs - m0,
      heapMb: process.memoryUsage().heapUsed / 2 ** 20,
    };
  };
  progress(`${name}: warm-up ${warmupMs / 1000} s`);
  const warm = await timed(warmupMs);
  const out: EvalRun[] = [];
  for (let i = 0; i < runs; i++) {
    progress(`${name}: run ${i + 1} of ${runs}, ${runMs / 1000} s`);
    out.push(await timed(runMs));
  }
  return { name, label, scans: which, runs: out, warmupRounds: warm.rounds };
}

function rawVariant(scans: Scans): EvalVariant {
  const raw = new RawCeiling(simNow);
  let round = 0;
  const timed = (ms: number): EvalRun => {
    const r0 = round;
    const ch0 = raw.changes;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < ms) {
      for (let i = 0; i < ROUNDS; i++) {
        const rs = scans[round % ROUNDS]!;
        for (let d = 0; d < DEVICES; d++) raw.scan(d, rs[d]!, simNow + d * STAGGER_MS);
        round++;
        simNow += POLL_MS;
      }
      t = performance.now();
    }
    const cpu = process.cpuUsage(c0);
    const rounds = round - r0;
    return {
      wallMs: t - t0, cpuMs: (cpu.user + cpu.system) / 1000, rounds, evals: rounds * DEVICES * EVALS_PER_SCAN,
      transitions: raw.changes - ch0, journaled: 0, floodRounds: 0, saves: 0, saveMs: 0, heapMb: process.memoryUsage().heapUsed / 2 ** 20,
    };
  };
  progress(`raw ceiling: warm-up ${warmupMs / 1000} s`);
  const warm = timed(warmupMs);
  const out: EvalRun[] = [];
  for (let i = 0; i < runs; i++) {
    progress(`raw ceiling: run ${i + 1} of ${runs}, ${runMs / 1000} s`);
    out.push(timed(runMs));
  }
  return { name: 'raw ceiling', label: 'raw ceiling: the same comparisons in a bare loop', scans: 'mixed', runs: out, warmupRounds: warm.rounds };
}

progress(`generating ${RULES} rules over ${DEVICES} devices`);
const yaml = rulesConfigYaml();
const p0 = performance.now();
const config = parseConfig(yaml, join(dir, 'bench-alarms.yaml'));
const configParseMs = performance.now() - p0;
if (config.alarms.length !== RULES) throw new Error(`expected ${RULES} rules, the config has ${config.alarms.length}`);
const mixed = buildScans(crossings);
const quiet = buildScans(0);
const stateDir = join(dir, 'alarm-state');

const variants: EvalVariant[] = [];
variants.push(rawVariant(mixed.scans));
const inMemory = () => ({ journal: new MemoryJournal({ clock }), store: new MemoryAlarmStore() });
variants.push(await engineVariant('engine', 'engine (MemoryAlarmStore, as a memory-journal box)', config, mixed.scans, 'mixed', inMemory));
variants.push(await engineVariant('engine, quiet scans', 'engine, quiet scans: no transitions', config, quiet.scans, 'quiet', inMemory));
let diskJournal: SqliteJournal | undefined;
variants.push(await engineVariant('engine, JournalAlarmStore', 'engine (SQLite journal with the states in it, as a disk box)', config, mixed.scans, 'mixed', () => {
  // The gateway's defaults: fsync full, commit every 250 ms; events and states commit together.
  diskJournal = new SqliteJournal({ dir: stateDir, clock });
  return { journal: diskJournal, store: new JournalAlarmStore(diskJournal, undefined, (e) => { throw e; }) };
}));
await diskJournal!.close();
const stateFileBytes = statSync(join(stateDir, 'journal.db')).size;
rmSync(stateDir, { recursive: true, force: true });

const result: EvalResult = {
  rules: config.alarms.length, devices: DEVICES, evalsPerRound: DEVICES * EVALS_PER_SCAN, configParseMs, configYamlKb: yaml.length / 1024,
  excursionsPerCycle: { mixed: mixed.excursions, quiet: quiet.excursions }, cycleRounds: ROUNDS, stateFileBytes,
  variants,
};
console.log(`RESULT ${JSON.stringify(result)}`);
