// The generated section of docs/performance.md that `npm run bench` (bench/all.ts) rewrites: the
// headline rows every bench recorded (bench/lib/results.ts), with the date, the commit and the
// machine. A pure function of the old document and the run, so that what it may touch is tested
// (test/bench-summary.test.ts): only the text between the two markers changes; the hand-written
// analyses around it stay byte for byte as they were.
import type { BenchResults, ResultRow } from './results.ts';

export const BEGIN = '<!-- bench:summary:begin -->';
export const END = '<!-- bench:summary:end -->';
/** Opens one bench's block inside the section: its figures, or its note. */
const BLOCK = /^<!-- bench:([a-z0-9-]+) -->$/;
const blockMarker = (bench: string): string => `<!-- bench:${bench} -->`;
/** Starts the line that says the last run failed for a bench; a later failure replaces it, a success drops the block. */
const FAILED_PREFIX = '> **Failed in the run of ';

export interface SummaryRun {
  /** When the run started (ISO 8601). */
  at: string;
  /** `git rev-parse --short HEAD`, with " + uncommitted changes" when the tree was dirty. */
  commit: string;
  /** describeMachine() of the run, read before the first bench started. */
  machine: readonly string[];
  /** --quick: shortened durations, for checking the pipeline. */
  quick: boolean;
  /** Every bench `npm run bench` knows, in the order of the section. */
  benches: readonly string[];
}

/** What became of one bench this run. A bench with no outcome was not run (--only, --skip): its block stays as it was. */
export type Outcome =
  | { bench: string; status: 'measured'; results: BenchResults }
  | { bench: string; status: 'failed'; reason: string };

/** "2025-06-01 10:32 UTC" from an ISO date: minutes are enough to find the run again. */
export function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A table cell: a pipe would end it, a newline the table. */
const cell = (s: string): string => s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');

const heading = (bench: string): string => `### ${bench}: \`npm run bench:${bench}\``;

function table(rows: readonly ResultRow[]): string[] {
  return ['| metric | value | note |', '|---|---|---|', ...rows.map((r) => `| ${cell(r.metric)} | ${cell(r.value)} | ${cell(r.note ?? '')} |`)];
}

/** The load figures of a describeMachine() block ("0.43 0.35 0.40"), or undefined. */
function loadOf(machine: readonly string[]): string | undefined {
  return /^load\s+([\d.]+ [\d.]+ [\d.]+)/.exec(machine.find((l) => l.startsWith('load')) ?? '')?.[1];
}

function measuredBlock(run: SummaryRun, r: BenchResults): string[] {
  const load = loadOf(r.machine);
  const settings = run.quick ? 'QUICK settings (`--quick`: for checking the pipeline, not figures to quote)' : 'default settings';
  return [
    heading(r.bench),
    '',
    `Measured ${when(r.at)} at commit ${run.commit}, ${settings}${load ? `; load ${load} at its start` : ''}. ${r.setup}`,
    '',
    ...table(r.rows),
  ];
}

function notRunBlock(bench: string): string[] {
  return [heading(bench), '', 'Not run yet by `npm run bench`: see the section below.'];
}

/** The old block of a bench that failed now: its figures kept, under a note saying this run failed for it. */
function failedBlock(run: SummaryRun, bench: string, reason: string, old: string[] | undefined): string[] {
  // An earlier block with a table keeps it; one that only said "not run yet" has nothing to keep.
  const figures = old?.some((l) => l.startsWith('| ')) ?? false;
  const note = `${FAILED_PREFIX}${when(run.at)}** (commit ${run.commit}${run.quick ? ', quick settings' : ''}): ${reason}. ` +
    `${figures ? 'The figures below are from the earlier run they name.' : 'No figures from `npm run bench` yet: see the section below.'}`;
  const body = (figures ? old! : [heading(bench)]).filter((l) => !l.startsWith(FAILED_PREFIX));
  const at = body.findIndex((l) => l.startsWith('### '));
  // Note right under the heading; the blank lines around it are the ones the block already had.
  if (at < 0) return [heading(bench), '', note, '', ...trimBlank(body)];
  const rest = trimBlank(body.slice(at + 1));
  return [...body.slice(0, at + 1), '', note, ...(rest.length ? ['', ...rest] : [])];
}

function trimBlank(lines: string[]): string[] {
  let a = 0;
  let b = lines.length;
  while (a < b && lines[a]!.trim() === '') a++;
  while (b > a && lines[b - 1]!.trim() === '') b--;
  return lines.slice(a, b);
}

/** The blocks of an old section, by bench, each without its marker line and surrounding blank lines. */
export function parseBlocks(section: string): Map<string, string[]> {
  const blocks = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of section.split('\n')) {
    const m = BLOCK.exec(line);
    if (line === BEGIN || line === END) { current = undefined; continue; }
    if (m) { current = []; blocks.set(m[1]!, current); continue; }
    current?.push(line);
  }
  for (const [k, v] of blocks) blocks.set(k, trimBlank(v));
  return blocks;
}

/** The section, markers included, from the old one (or none) and this run. */
export function renderSection(old: string | undefined, run: SummaryRun, outcomes: readonly Outcome[]): string {
  const before = old ? parseBlocks(old) : new Map<string, string[]>();
  const byBench = new Map(outcomes.map((o) => [o.bench, o]));
  const ran = outcomes.map((o) => `${o.bench}${o.status === 'failed' ? ' (failed)' : ''}`);
  const out: string[] = [
    BEGIN,
    '## Headline figures of the last `npm run bench`',
    '',
    'Written by `npm run bench` (bench/all.ts), which replaces everything between this section\'s markers;',
    'the analyses in the sections below are written by hand, from the runs they name.',
    '',
    `Last run: ${when(run.at)}, commit ${run.commit}${run.quick ? ', **quick** (`--quick`: shortened durations, for checking the pipeline, not figures to quote)' : ''}; ` +
      `benches run: ${ran.length ? ran.join(', ') : 'none'}. A block from an earlier run says when it was measured. The machine of the last run:`,
    '',
    '```',
    ...run.machine,
    '```',
  ];
  const names = [...run.benches, ...[...before.keys()].filter((b) => !run.benches.includes(b))];
  for (const bench of names) {
    const o = byBench.get(bench);
    const lines = o?.status === 'measured' ? measuredBlock(run, o.results)
      : o?.status === 'failed' ? failedBlock(run, bench, o.reason, before.get(bench))
      : before.get(bench) ?? notRunBlock(bench);
    out.push('', blockMarker(bench), ...lines);
  }
  out.push('', END);
  return out.join('\n');
}

interface Found { start: number; end: number }

/** Where the section is (its markers included), or undefined; throws on a half or doubled section rather than guess. */
function locate(doc: string): Found | undefined {
  const at = (marker: string): number[] => {
    const hits: number[] = [];
    const re = new RegExp(`^${marker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'gm');
    for (let m = re.exec(doc); m; m = re.exec(doc)) hits.push(m.index);
    return hits;
  };
  const begins = at(BEGIN);
  const ends = at(END);
  if (begins.length === 0 && ends.length === 0) return undefined;
  if (begins.length !== 1 || ends.length !== 1 || ends[0]! < begins[0]!) {
    throw new Error(`the document must hold "${BEGIN}" then "${END}" once each, on lines of their own (found ${begins.length} and ${ends.length}); fix it by hand`);
  }
  return { start: begins[0]!, end: ends[0]! + END.length };
}

/** The current section, markers included, or undefined. */
export function extractSection(doc: string): string | undefined {
  const f = locate(doc);
  return f ? doc.slice(f.start, f.end) : undefined;
}

/** Where a new section goes: before the first second-level heading (after the intro), outside code fences; else at the end. */
function insertionPoint(doc: string): number {
  let fenced = false;
  let offset = 0;
  for (const line of doc.split('\n')) {
    if (/^(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced && /^## /.test(line)) return offset;
    offset += line.length + 1;
  }
  return -1;
}

/** The document with its generated section replaced, or inserted after the intro the first time. Nothing else changes. */
export function rewriteSummary(doc: string, run: SummaryRun, outcomes: readonly Outcome[]): string {
  const f = locate(doc);
  if (f) return doc.slice(0, f.start) + renderSection(doc.slice(f.start, f.end), run, outcomes) + doc.slice(f.end);
  const section = renderSection(undefined, run, outcomes);
  const at = insertionPoint(doc);
  if (at >= 0) return `${doc.slice(0, at)}${section}\n\n${doc.slice(at)}`;
  const sep = doc === '' ? '' : doc.endsWith('\n\n') ? '' : doc.endsWith('\n') ? '\n' : '\n\n';
  return `${doc}${sep}${section}\n`;
}
