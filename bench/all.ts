// `npm run bench`: every benchmark, one after the other (together they would disturb each other's
// figures), each as its own `npm run bench:NAME` child with CITYEDGE_BENCH_RESULTS set, so that it
// records its headline rows (bench/lib/results.ts); then the generated section of
// docs/performance.md is rewritten from them (bench/lib/summary.ts), and nothing else in it.
//
//   npm run bench -- [--only modbus,journal] [--skip opcua] [--quick] [--no-write]
//
// --quick runs each bench with shortened durations, to check the pipeline; the section then says it
// was quick. --no-write prints the section and leaves the document alone. Each bench's output is
// streamed here with a `[NAME]` prefix and kept whole in a log file per bench (the folder is printed
// at the start and at the end). A bench that fails is reported and the others still run; its earlier
// table in the document is kept under a note that this run failed for it; the exit code is then 1.
// Speed is measured, not asserted: a missed target is a figure, not a failure.
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startChild, type Child } from './lib/children.ts';
import { describeMachine } from './lib/machine.ts';
import { RESULTS_ENV, type BenchResults } from './lib/results.ts';
import { runBench } from './lib/run.ts';
import { extractSection, renderSection, rewriteSummary, type Outcome, type SummaryRun } from './lib/summary.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DOC = join(ROOT, 'docs', 'performance.md');
// The scripts of package.json name their files from the package's folder, as npm runs them.
process.chdir(ROOT);

interface Spec {
  name: string;
  /** A default run, minutes, as docs/performance.md reports it; undefined: not known yet. */
  minutes: number | undefined;
  /** --quick: flags (and environment) that shorten the run; the sizes stay, the windows shrink. */
  quick: string[];
  quickEnv?: Record<string, string>;
  quickMinutes: number | undefined;
}

/** In the order of docs/performance.md, with the minutes a default run and a quick run take here. */
const BENCHES: Spec[] = [
  { name: 'modbus', minutes: 1.5, quick: ['--warmup', '3', '--duration', '5'], quickMinutes: 1 },
  { name: 'journal', minutes: 3.5, quick: ['--samples', '200000', '--rss-samples', '1000000', '--repeat', '1', '--gateway-samples', '2000000'], quickMinutes: 1.5 },
  { name: 'alarms', minutes: 5.2, quick: ['--eval-seconds', '0.5', '--eval-runs', '1', '--changes', '10', '--commit-ms-changes', '0'], quickMinutes: 1 },
  { name: 'opcua', minutes: 7.3, quick: ['--warmup', '3', '--duration', '15', '--poll-duration', '8'], quickMinutes: 2 },
  { name: 'sensors', minutes: 3.7, quick: ['--warmup', '3', '--flood-seconds', '10', '--rate-period', '5', '--rate-seconds', '10', '--ceiling-seconds', '5'], quickMinutes: 1.5 },
  { name: 'sparkplug', minutes: 0.75, quick: ['--seconds', '0.2', '--rounds', '3', '--warmup', '0.2'], quickMinutes: 0.2 },
  { name: 'fleet', minutes: 2.6, quick: ['--warmup', '3', '--seconds', '8', '--ceiling-seconds', '3'], quickMinutes: 1.2 },
  // The day of history it writes (~90 s) has no flag; BENCH_ROUNDS shortens the rest.
  { name: 'console', minutes: 1, quick: [], quickEnv: { BENCH_ROUNDS: '20' }, quickMinutes: 1 },
  // Node-RED installs itself into $TMPDIR on its first run (~20 s more).
  { name: 'nodered', minutes: 10, quick: ['--warmup', '10', '--duration', '10', '--outage', '20'], quickMinutes: 3 },
  // Its warm-up is at least a sensor period (60 s) plus 5 s, whatever --warmup says.
  { name: 'box', minutes: 12.5, quick: ['--duration', '60'], quickMinutes: 2.5 },
];

const { values: flags } = parseArgs({
  options: {
    only: { type: 'string' },
    skip: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const names = (s: string | undefined) => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean);
const known = BENCHES.map((b) => b.name);
for (const n of [...names(flags.only), ...names(flags.skip)]) {
  if (!known.includes(n)) { console.error(`bench: no bench "${n}"; the benches are ${known.join(', ')}`); process.exit(2); }
}
const only = names(flags.only);
const skip = names(flags.skip);
const quick = flags.quick ?? false;
const selected = BENCHES.filter((b) => (only.length === 0 || only.includes(b.name)) && !skip.includes(b.name));
if (selected.length === 0) { console.error('bench: --only and --skip leave nothing to run'); process.exit(2); }

const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
/** Why a bench cannot be run from this checkout (its file or script not written yet), or undefined. */
function missing(b: Spec): string | undefined {
  if (!scripts[`bench:${b.name}`]) return `no "bench:${b.name}" script in package.json`;
  if (!existsSync(join(ROOT, 'bench', `${b.name}.ts`))) return `bench/${b.name}.ts does not exist (yet)`;
  return undefined;
}

/**
 * The command of `npm run bench:NAME -- ARGS`. A plain `node …` script is run as it stands, without
 * npm in between, so that the bench itself leads its process group: stopping it (Ctrl-C, the deadline)
 * then waits for its own clean-up before anything is killed. Anything else goes through npm.
 */
function commandOf(b: Spec, args: string[]): { cmd: string; args: string[]; shown: string } {
  const script = scripts[`bench:${b.name}`]!;
  const shown = `npm run bench:${b.name}${args.length ? ` -- ${args.join(' ')}` : ''}`;
  const words = script.trim().split(/\s+/);
  if (words[0] === 'node' && !/[|&;<>()$`"'\\*?~]/.test(script)) return { cmd: process.execPath, args: [...words.slice(1), ...args], shown };
  // Under `npm run`, npm_execpath is npm's own script: the same npm, no PATH lookup.
  const npm = process.env.npm_execpath;
  const viaNpm = ['run', '--silent', `bench:${b.name}`, ...(args.length ? ['--', ...args] : [])];
  return npm ? { cmd: process.execPath, args: [npm, ...viaNpm], shown } : { cmd: 'npm', args: viaNpm, shown };
}

const minutesOf = (b: Spec) => (quick ? b.quickMinutes : b.minutes);
const argsOf = (b: Spec) => (quick ? b.quick : []);

/** `abc1234`, or `abc1234 + uncommitted changes`; read-only git commands (no index refresh). */
function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['--no-optional-locks', 'status', '--porcelain'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 }).trim() !== '';
    return `${head}${dirty ? ' + uncommitted changes' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

const fmtMin = (m: number) => (m < 1 ? `${Math.round(m * 60)} s` : `${m.toFixed(1)} min`);

interface Ran { spec: Spec; outcome: Outcome | undefined; seconds: number; note: string }

/** Runs one bench to its end; streams its lines with a prefix and into its log. */
/** The bench running now: on Ctrl-C or the deadline it gets time for its own clean-up (its children are in groups of their own). */
let current: Child | undefined;

async function runOne(b: Spec, resultsDir: string, logDir: string): Promise<Ran> {
  const why = missing(b);
  if (why) {
    console.log(`[${b.name}] skipped: ${why}`);
    return { spec: b, outcome: undefined, seconds: 0, note: `skipped: ${why}` };
  }
  const command = commandOf(b, argsOf(b));
  const env = { [RESULTS_ENV]: resultsDir, ...(quick ? b.quickEnv : {}) };
  const logFile = join(logDir, `${b.name}.log`);
  const log = createWriteStream(logFile);
  console.log(`[${b.name}] ${command.shown}${quick && b.quickEnv ? ` (${Object.entries(b.quickEnv).map(([k, v]) => `${k}=${v}`).join(' ')})` : ''}; log ${logFile}`);
  const started = performance.now();
  const child = startChild(`bench:${b.name}`, command.cmd, command.args, { env });
  current = child;
  // 'close' comes once the pipes are drained too; registered now, before either can fire.
  const closed = new Promise<string>((resolve) => {
    child.proc.once('close', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit code ${code}`));
  });
  child.onLine((line, stream) => {
    (stream === 'out' ? process.stdout : process.stderr).write(`[${b.name}] ${line}\n`);
    log.write(`${line}\n`);
  });
  const status = await closed;
  await child.stop(); // whatever it left in its process group goes too
  current = undefined;
  await new Promise<void>((resolve) => log.end(resolve));
  const seconds = (performance.now() - started) / 1000;
  const file = join(resultsDir, `${b.name}.json`);
  // The reason goes into the document; the log's path (a temp folder) only to the terminal.
  const fail = (reason: string): Ran => ({ spec: b, outcome: { bench: b.name, status: 'failed', reason }, seconds, note: `FAILED: ${reason} (log: ${logFile})` });
  if (status !== 'exit code 0') return fail(status);
  if (!existsSync(file)) return fail('it exited 0 but recorded no results');
  let results: BenchResults;
  try {
    results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  } catch (e) {
    return fail(`its results file could not be read (${(e as Error).message})`);
  }
  if (results.bench !== b.name || !Array.isArray(results.rows)) return fail(`its results file names bench "${String(results.bench)}" or has no rows`);
  return { spec: b, outcome: { bench: b.name, status: 'measured', results }, seconds, note: `measured, ${results.rows.length} rows` };
}

// Each bench keeps its own deadline; this one only stops a run that is hopelessly stuck.
const budgetS = 300 + selected.reduce((s, b) => s + (minutesOf(b) ?? 15) * 60 * 3, 0);

await runBench('all', { budgetS }, async ({ box, tmp, onCleanup }) => {
  onCleanup(async () => { await current?.stop(60_000); });
  const at = new Date().toISOString();
  const head = commit();
  const logDir = mkdtempSync(join(tmpdir(), 'cityedge-bench-logs-'));
  const knownMin = selected.reduce((s, b) => s + (missing(b) ? 0 : (minutesOf(b) ?? 0)), 0);
  const unknown = selected.filter((b) => !missing(b) && minutesOf(b) === undefined).map((b) => b.name);
  const absent = selected.filter((b) => missing(b)).map((b) => b.name);
  console.log(`cityedge npm run bench${quick ? ' --quick' : ''}: ${selected.map((b) => b.name).join(', ')}, one at a time; commit ${head}`);
  console.log(`expected duration: about ${fmtMin(knownMin)} (${selected.filter((b) => !missing(b) && minutesOf(b) !== undefined).map((b) => `${b.name} ${fmtMin(minutesOf(b)!)}`).join(', ')})` +
    `${unknown.length ? `, plus ${unknown.join(' and ')}, whose duration is not known yet` : ''}${absent.length ? `; ${absent.join(', ')} not found, skipped` : ''}`);
  console.log(`logs: ${logDir}/NAME.log`);
  for (const l of describeMachine(box)) console.log(l);
  console.log('');

  const resultsDir = join(tmp, 'results');
  const ran: Ran[] = [];
  for (const b of selected) {
    const r = await runOne(b, resultsDir, logDir);
    ran.push(r);
    console.log(`[${b.name}] ${r.note}${r.seconds ? ` in ${fmtMin(r.seconds / 60)}` : ''}\n`);
  }

  console.log('benches:');
  for (const r of ran) console.log(`  ${r.spec.name.padEnd(10)} ${r.note}${r.seconds ? ` (${fmtMin(r.seconds / 60)})` : ''}`);
  const outcomes = ran.flatMap((r) => (r.outcome ? [r.outcome] : []));
  const run: SummaryRun = { at, commit: head, machine: describeMachine(box), quick, benches: known };
  console.log('');
  if (outcomes.length === 0) {
    console.log('nothing ran: docs/performance.md left alone');
  } else if (flags['no-write']) {
    console.log(renderSection(extractSection(readFileSync(DOC, 'utf8')), run, outcomes));
    console.log('\n--no-write: docs/performance.md left alone');
  } else {
    // Read just before writing: the hand-written parts may have been edited during the run.
    const next = rewriteSummary(readFileSync(DOC, 'utf8'), run, outcomes);
    writeFileSync(DOC, next);
    console.log(extractSection(next));
    console.log(`\ndocs/performance.md: the section between its bench:summary markers rewritten; nothing else changed`);
  }
  console.log(`logs: ${logDir}/`);
  if (outcomes.some((o) => o.status === 'failed')) process.exitCode = 1;
});
