// The generated section of docs/performance.md (bench/lib/summary.ts): `npm run bench` may change
// the text between its two markers and nothing else; a bench that failed keeps its earlier figures
// under a note; a bench that was not run keeps its block as it was.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { BenchResults } from '../bench/lib/results.ts';
import { BEGIN, END, extractSection, parseBlocks, rewriteSummary, type Outcome, type SummaryRun } from '../bench/lib/summary.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const DOC = [
  '# Performance',
  '',
  'What the box costs, measured.',
  '',
  '```sh',
  '## not a heading: inside a code fence',
  '```',
  '',
  '## The command',
  '',
  'Hand-written analysis, with | pipes | and trailing spaces  ',
  '',
  '## Another section',
  'more text',
  '',
].join('\n');

const MACHINE = [
  'cpu      AMD EPYC, 2 cores, virtualised: yes (hypervisor flag set)',
  'ram      23.5 GiB',
  'node     v20.20.2 on Linux 6.18 x64',
  'load     0.43 0.35 0.40 (1/5/15 min average at start)',
];
const BENCHES = ['modbus', 'journal', 'sparkplug'];

function run(at: string, over: Partial<SummaryRun> = {}): SummaryRun {
  return { at, commit: 'ab7f1f3', machine: MACHINE, quick: false, benches: BENCHES, ...over };
}

function results(bench: string, at: string, value: string): BenchResults {
  return {
    bench, at, setup: `${bench} setup sentence.`, machine: MACHINE.map((l) => l.replace('0.43 0.35 0.40', '1.20 0.90 0.80')),
    rows: [
      { metric: 'CPU per delivered point', value, note: 'target ≤ 4.0 µs: met' },
      { metric: 'requests | per scan', value: '4–4' },
    ],
  };
}

const measured = (bench: string, at: string, value: string): Outcome => ({ bench, status: 'measured', results: results(bench, at, value) });
const T1 = '2025-06-01T10:32:05.000Z';
const T2 = '2025-06-02T08:00:00.000Z';

/** The document with the section cut out: what must not change. */
function outside(doc: string): [string, string] {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END) + END.length;
  return [doc.slice(0, a), doc.slice(b)];
}

t.test('no markers yet: the section goes after the intro, before the first real second-level heading; the rest is byte-identical', async (t) => {
  const doc = rewriteSummary(DOC, run(T1), [measured('modbus', T1, '3.77 µs')]);
  const a = doc.indexOf(BEGIN);
  t.ok(a > DOC.indexOf('## not a heading'), 'a "## " line inside a code fence is not taken for a heading');
  t.equal(a, DOC.indexOf('## The command'), 'inserted where "## The command" started');
  const section = extractSection(doc)!;
  t.equal(doc.slice(0, a) + doc.slice(a + section.length + 2), DOC, 'removing the section and the blank line after it gives the old document, byte for byte');
  t.match(section, /Last run: 2025-06-01 10:32 UTC, commit ab7f1f3; benches run: modbus\./, 'the date and the commit');
  t.match(section, /```\ncpu {6}AMD EPYC[^]*load {5}0\.43 0\.35 0\.40[^]*```/, 'the machine of the run, as describeMachine prints it');
  t.match(section, /### modbus: `npm run bench:modbus`\n\nMeasured 2025-06-01 10:32 UTC at commit ab7f1f3, default settings; load 1\.20 0\.90 0\.80 at its start\. modbus setup sentence\./,
    'each bench: when, which commit, which settings, the load at its own start, its setup sentence');
  t.match(section, /\| metric \| value \| note \|\n\|---\|---\|---\|\n\| CPU per delivered point \| 3\.77 µs \| target ≤ 4\.0 µs: met \|/, 'a metric | value | note table');
  t.match(section, /\| requests \\\| per scan \| 4–4 \| {2}\|/, 'a pipe inside a cell is escaped; no note, an empty cell');
  t.match(section, /### journal: `npm run bench:journal`\n\nNot run yet by `npm run bench`: see the section below\./, 'a bench never run says so');
});

t.test('markers present: only the section is replaced; the text before and after it is byte-identical', async (t) => {
  const first = rewriteSummary(DOC, run(T1), [measured('modbus', T1, '3.77 µs'), measured('journal', T1, '1,500,000 samples/s')]);
  const second = rewriteSummary(first, run(T2, { commit: 'cd12345 + uncommitted changes' }), [measured('modbus', T2, '4.13 µs')]);
  t.same(outside(second), outside(first), 'outside the markers: unchanged');
  t.equal(second.split(BEGIN).length, 2, 'still one section');
  const s = extractSection(second)!;
  t.match(s, /\| 4\.13 µs \|/, 'the bench run again: its new figure');
  t.notMatch(s, /3\.77 µs/, 'and not its old one');
  t.match(s, /commit cd12345 \+ uncommitted changes/, 'a dirty tree is said');
  t.equal(parseBlocks(s).get('journal')!.join('\n'), parseBlocks(extractSection(first)!).get('journal')!.join('\n'),
    'a bench not run this time (--only, --skip) keeps its block as it was, with its own date');
  t.equal(rewriteSummary(second, run(T2, { commit: 'cd12345 + uncommitted changes' }), [measured('modbus', T2, '4.13 µs')]), second,
    'the same run written twice: the same document');
});

t.test('a bench that failed keeps its earlier table, under a note that this run failed for it', async (t) => {
  const first = rewriteSummary(DOC, run(T1), [measured('modbus', T1, '3.77 µs')]);
  const failed = rewriteSummary(first, run(T2), [{ bench: 'modbus', status: 'failed', reason: 'exit code 1' }, measured('sparkplug', T2, '2,614,577 metrics/s')]);
  t.same(outside(failed), outside(first), 'outside the markers: unchanged');
  const block = parseBlocks(extractSection(failed)!).get('modbus')!.join('\n');
  t.match(block, /^### modbus: `npm run bench:modbus`\n\n> \*\*Failed in the run of 2025-06-02 08:00 UTC\*\* \(commit ab7f1f3\): exit code 1\. The figures below are from the earlier run they name\.\n\nMeasured 2025-06-01 10:32 UTC/,
    'the note under the heading, then the earlier block with its own date');
  t.match(block, /\| CPU per delivered point \| 3\.77 µs \|/, 'the earlier figures kept');
  t.match(extractSection(failed)!, /benches run: modbus \(failed\), sparkplug\./, 'the header says which failed');

  const again = rewriteSummary(failed, run('2025-06-03T09:00:00.000Z'), [{ bench: 'modbus', status: 'failed', reason: 'signal SIGKILL' }]);
  const block2 = parseBlocks(extractSection(again)!).get('modbus')!;
  t.equal(block2.filter((l) => l.startsWith('> **Failed')).length, 1, 'failing again: one note, the latest, not one per failure');
  t.match(block2.join('\n'), /2025-06-03 09:00 UTC\*\* \(commit ab7f1f3\): signal SIGKILL/);
  t.match(block2.join('\n'), /\| 3\.77 µs \|/, 'still the figures of the last run that measured');

  const fixed = rewriteSummary(again, run('2025-06-04T09:00:00.000Z'), [measured('modbus', '2025-06-04T09:00:00.000Z', '3.90 µs')]);
  t.notMatch(extractSection(fixed)!, /Failed in the run/, 'measured again: the note goes');

  const never = rewriteSummary(first, run(T2), [{ bench: 'journal', status: 'failed', reason: 'exit code 1' }]);
  t.match(parseBlocks(extractSection(never)!).get('journal')!.join('\n'), /Failed in the run of .*: exit code 1\. No figures from `npm run bench` yet: see the section below\.$/,
    'failed with no earlier figures: says so, and no "not run yet" line left behind');
});

t.test('a quick run says so in the header and in every block it wrote', async (t) => {
  const doc = rewriteSummary(DOC, run(T1, { quick: true }), [measured('sparkplug', T1, '1 metrics/s')]);
  const s = extractSection(doc)!;
  t.match(s, /commit ab7f1f3, \*\*quick\*\*/);
  t.match(parseBlocks(s).get('sparkplug')!.join('\n'), /QUICK settings \(`--quick`: for checking the pipeline, not figures to quote\)/);
});

t.test('a half or doubled section is refused rather than guessed at', async (t) => {
  t.throws(() => rewriteSummary(`${DOC}${BEGIN}\nno end\n`, run(T1), []), /once each/, 'begin without end');
  t.throws(() => rewriteSummary(`${END}\n${DOC}${BEGIN}\n`, run(T1), []), /once each/, 'end before begin');
  const doc = rewriteSummary(DOC, run(T1), []);
  t.throws(() => rewriteSummary(doc + extractSection(doc)!, run(T1), []), /once each/, 'two sections');
});

t.test('a document with no second-level heading gets the section at its end', async (t) => {
  const doc = rewriteSummary('# Title\n\nintro\n', run(T1), []);
  t.ok(doc.startsWith('# Title\n\nintro\n\n<!-- bench:summary:begin -->'), 'after the text, a blank line between');
  t.ok(doc.endsWith(`${END}\n`));
});

t.test('docs/performance.md: rewriting it changes the section only', async (t) => {
  const real = readFileSync(join(ROOT, 'docs', 'performance.md'), 'utf8');
  const doc = rewriteSummary(real, run(T1), [measured('modbus', T1, '3.77 µs')]);
  const [before, after] = outside(doc);
  if (extractSection(real)) {
    t.same([before, after], outside(real), 'outside the markers: byte-identical');
  } else {
    t.equal(before + after.replace(/^\n\n/, ''), real, 'section inserted, nothing else touched');
  }
  t.ok(before.startsWith('# Performance'), 'the section is not above the title');
});
