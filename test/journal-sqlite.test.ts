// The durable journal: the conformance suite, then what only a file can do: survive a reopen with
// records, seqs, cursors and acks; keep a quota by bytes and by age; refuse a second process;
// recover from a damaged file.
import t, { type Test } from "tap";
import Database from 'better-sqlite3';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePoints } from '../gateway/journal/points.ts';
import { RECORD_OVERHEAD_BYTES, SqliteJournal, type SqliteJournalOptions } from '../gateway/journal/sqlite.ts';
import { FakeClock } from '../gateway/model/clock.ts';
import type { Logger } from '../gateway/model/logger.ts';
import { journalConformance, pt, values } from './helpers/journal-conformance.ts';
import { crashImage } from './helpers/journal-image.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cityedge-journal-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const newDir = () => join(tmp, `j${++n}`);
const open = (t: Test, opts: Partial<SqliteJournalOptions> & { dir: string }) => {
  const j = new SqliteJournal({ fsync: 'normal', ...opts });
  t.teardown(() => j.close());
  return j;
};

/** A journal of `records` batches of `size` points, closed cleanly; its file's path. */
async function filledJournal(dir: string, records: number, size = 10): Promise<string> {
  const a = new SqliteJournal({ dir });
  a.openCursor('city');
  for (let i = 0; i < records; i++) a.append('plc1', Array.from({ length: size }, (_, k) => pt(i * size + k)));
  await a.close(); // committed and checkpointed: everything is in the main file
  return join(dir, 'journal.db');
}

/** As after a crash: the clean-stop mark is gone, so the next start checks every page and counts every record. */
function markUnclean(file: string): void {
  const raw = new Database(file);
  raw.prepare("UPDATE meta SET value = 0 WHERE key = 'clean'").run();
  raw.close();
}

journalConformance(t, (clock) => new SqliteJournal({ dir: newDir(), fsync: 'normal', ...(clock ? { clock } : {}) }));

t.test('records, seqs, cursors and acks survive a reopen', async (t) => {
  const dir = newDir();
  const a = new SqliteJournal({ dir });
  a.openCursor('city');
  for (let i = 0; i < 5; i++) a.append('plc1', [pt(i)]);
  a.flush();
  const first = a.read('city', 2);
  a.ack('city', [first[0]!.id]);
  a.ack('city', [first[1]!.id + 2]); // never read: ignored
  const lastSeq = a.read('city', 10).at(-1)!.seq;
  await a.close();

  const b = open(t, { dir });
  b.openCursor('city');
  t.equal(b.backlog('city'), 4, 'the acked one is gone, the rest kept');
  t.same(values(b.read('city', 10)), [1, 2, 3, 4], 'sent but unacknowledged comes again');
  b.append('plc1', [pt(9)]);
  b.flush();
  b.rewind('city');
  t.equal(b.read('city', 10).at(-1)!.seq, lastSeq + 1, 'seq continues across the restart');
});

t.test('appends are committed by the timer without a flush', async (t) => {
  const j = open(t, { dir: newDir(), commitMs: 20 });
  j.openCursor('city');
  let woke = false;
  j.onAppend(() => { woke = true; });
  j.append('plc1', [pt(1)]);
  t.equal(j.read('city', 10).length, 0, 'not readable before its commit');
  const until = Date.now() + 10_000;
  while (!woke && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  t.equal(j.read('city', 10).length, 1, 'readable once committed');
});

t.test('quota by bytes: the oldest telemetry goes, counted, events never', async (t) => {
  const j = open(t, { dir: newDir(), maxBytes: 20_000 });
  j.openCursor('city');
  j.appendEvent('alarms', 'plc1', JSON.stringify({ rule: 'hh', pad: 'x'.repeat(100) }));
  for (let i = 0; i < 400; i++) j.append('plc1', [pt(i), pt(i), pt(i)]);
  j.flush();
  const s = j.stats();
  t.ok(s.bytes <= 20_000, `held ${s.bytes} bytes within the quota`);
  t.ok(s.dropped > 0 && s.droppedPoints === s.dropped * 3, `dropped ${s.dropped} records, ${s.droppedPoints} points`);
  t.ok(s.full, 'reported full');
  const got = j.read('city', 1000);
  t.match(got[0]!.body, /"rule":"hh"/, 'the alarm is kept');
  t.equal(values(got).at(-1), 399, 'the newest telemetry is kept');
  t.equal(got.length - 1 + s.dropped, 400, 'every telemetry record is either held or counted as dropped');
  t.equal(j.backlog('city'), got.length);
});

t.test('a full journal stays full until it has really drained: no alarm flapping at every commit', async (t) => {
  const j = open(t, { dir: newDir(), maxBytes: 20_000 });
  j.openCursor('city');
  for (let i = 0; i < 400; i++) j.append('plc1', [pt(i), pt(i), pt(i)]);
  j.flush();
  t.ok(j.stats().full, 'full after the drops');
  // Right after a drop the journal sits just under the drop target; a commit that adds nothing (an
  // event, acknowledgements) must not call that "no longer full", or the alarm chatters.
  j.appendEvent('alarms', 'gateway', '{"rule":"journal_full"}');
  j.flush();
  t.ok(j.stats().full, 'still full after a commit that added no telemetry');
  j.ack('city', j.read('city', 10_000).map((r) => r.id)); // the upstream came back and took it all
  j.flush();
  t.notOk(j.stats().full, 'no longer full once drained');
});

t.test('quota by age', async (t) => {
  const clock = new FakeClock(1_000_000);
  const j = open(t, { dir: newDir(), clock, maxAgeMs: 60_000 });
  j.openCursor('city');
  j.append('plc1', [pt(1)]);
  j.flush();
  await clock.advance(61_000);
  j.append('plc1', [pt(2)]);
  j.flush();
  t.same(values(j.read('city', 10)), [2]);
  t.equal(j.stats().dropped, 1);
});

t.test('a second process on the same folder is refused, clearly', async (t) => {
  const dir = newDir();
  open(t, { dir });
  t.throws(() => new SqliteJournal({ dir }), { code: 'CE_ERR_JOURNAL_LOCKED' });
});

function captureLogger(): Logger & { lines: { obj: Record<string, unknown>; msg: string }[] } {
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const log = (obj: object | string, msg?: string) => lines.push(typeof obj === 'string' ? { obj: {}, msg: obj } : { obj: obj as Record<string, unknown>, msg: msg ?? '' });
  const l = { debug: log, info: log, warn: log, error: log, child: () => l, lines };
  return l;
}

t.test('a garbage journal file: moved aside, said in the log, a fresh journal runs', async (t) => {
  const dir = newDir();
  const a = new SqliteJournal({ dir });
  await a.close();
  writeFileSync(join(dir, 'journal.db'), Buffer.alloc(8192, 0x5a));
  const logger = captureLogger();
  const j = open(t, { dir, logger });
  const aside = readdirSync(dir).filter((f) => f.startsWith('journal.db.damaged-'));
  t.equal(aside.length, 1, 'the damaged file is kept beside');
  t.equal(readFileSync(join(dir, aside[0]!))[0], 0x5a, 'as it was');
  t.match(logger.lines.find((l) => l.obj.code === 'CE_ERR_JOURNAL_DAMAGED')?.msg, /moved aside/);
  j.openCursor('city');
  j.append('plc1', [pt(1)]);
  j.flush();
  const rec = j.read('city', 1)[0]!;
  t.ok(rec.seq > 1_000_000_000_000, 'seq restarts above anything sent before (from the clock)');
});

t.test('a file damaged mid-way before a crash: caught by the full check, the rest recovered', async (t) => {
  const dir = newDir();
  const file = await filledJournal(dir, 3000);
  markUnclean(file);
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(16384, 0xff), 0, 16384, Math.floor(statSync(file).size * 0.4 / 4096) * 4096);
  closeSync(fd);
  const logger = captureLogger();
  const j = open(t, { dir, logger });
  const said = logger.lines.find((l) => l.obj.code === 'CE_ERR_JOURNAL_DAMAGED');
  t.ok(said, 'said in the log');
  const recovered = Number(said?.obj.recoveredRecords);
  t.ok(recovered > 2500 && recovered < 3000, `recovered ${recovered} of 3000 records around a 16 KB hole`);
  j.openCursor('city');
  t.equal(j.read('city', 5000).length, recovered);
});

t.test('a truncated journal file: what can be read is recovered', async (t) => {
  const dir = newDir();
  const file = await filledJournal(dir, 3000);
  truncateSync(file, Math.floor(statSync(file).size / 2));
  const logger = captureLogger();
  const j = open(t, { dir, logger });
  const said = logger.lines.find((l) => l.obj.code === 'CE_ERR_JOURNAL_DAMAGED');
  t.ok(said, 'said in the log');
  const recovered = Number(said?.obj.recoveredRecords);
  t.ok(recovered > 500 && recovered < 3000, `recovered ${recovered} of 3000 records`);
  j.openCursor('city');
  const got = j.read('city', 5000);
  t.equal(got.length, recovered, 'the recovered records are there to send');
  t.same(values(got.slice(0, 2)), [0, 10], 'from the start of the file');
  j.append('plc1', [pt(1)]);
  j.flush();
  t.ok(j.read('city', 10).length === 1, 'and the journal takes new data');
});

t.test('states: kept across a reopen and a crash, committed with the events of the same turn or not at all', async (t) => {
  const dir = newDir();
  const a = new SqliteJournal({ dir, commitMs: 60_000 });
  a.openCursor('city');
  a.appendEvent('alarms', 'plc1', '{"rule":"door","state":"active"}');
  a.putState('alarm/door', '{"state":"active"}');
  // Before the commit (the next turn), the files hold neither: what a kill at this moment leaves.
  const early = newDir();
  crashImage(dir, early);
  await new Promise((r) => setImmediate(r));
  const late = newDir();
  crashImage(dir, late);
  a.putState('alarm/door', '{"state":"acked"}'); // no event: rides the next commit
  await a.close();

  const none = open(t, { dir: early });
  none.openCursor('city');
  t.same([none.states('alarm/'), none.read('city', 10).length], [new Map(), 0], 'killed before the commit: neither');
  const both = open(t, { dir: late });
  both.openCursor('city');
  t.same([both.states('alarm/').get('alarm/door'), both.read('city', 10).length], ['{"state":"active"}', 1], 'killed after it: both');
  const reopened = open(t, { dir });
  t.equal(reopened.states('alarm/').get('alarm/door'), '{"state":"acked"}', 'a clean stop commits what was put last');
});

t.test('states put while the disk refuses writes wait with the records, the latest winning', async (t) => {
  const logger = captureLogger();
  const j = open(t, { dir: newDir(), logger, fileLimitBytes: 256 * 1024, commitMs: 60_000 });
  j.openCursor('city');
  let appended = 0;
  while (!logger.lines.some((l) => l.obj.code === 'CE_ERR_JOURNAL_WRITE') && appended < 100_000) {
    j.append('plc1', Array.from({ length: 10 }, (_, k) => pt(appended * 10 + k)));
    j.putState('alarm/door', `{"n":${appended}}`);
    appended++;
    if (appended % 20 === 0) j.flush();
  }
  j.putState('alarm/door', '{"n":"last"}');
  t.equal(j.states('alarm/').get('alarm/door'), '{"n":"last"}', 'read back as last put while waiting');
  for (let round = 0; round < 50 && j.backlog('city') > 0; round++) {
    j.ack('city', j.read('city', 10_000).map((r) => r.id));
    j.flush();
  }
  t.equal(j.backlog('city'), 0, 'drained');
  await j.close();
  const file = new Database(j.file, { readonly: true });
  t.teardown(() => file.close());
  t.equal(file.prepare("SELECT value FROM states WHERE key = 'alarm/door'").pluck().get(), '{"n":"last"}', 'and committed so');
});

t.test('a full disk: commits fail, the data waits in memory, said once; draining makes room and nothing is lost', async (t) => {
  const logger = captureLogger();
  // A file that cannot grow past 256 KB behaves as a full disk (SQLITE_FULL).
  const j = open(t, { dir: newDir(), logger, fileLimitBytes: 256 * 1024, commitMs: 60_000 });
  j.openCursor('city');
  const failures = () => logger.lines.filter((l) => l.obj.code === 'CE_ERR_JOURNAL_WRITE').length;
  let appended = 0;
  while (failures() === 0 && appended < 100_000) {
    j.append('plc1', Array.from({ length: 10 }, (_, k) => pt(appended * 10 + k)));
    appended++;
    if (appended % 20 === 0) j.flush();
  }
  t.equal(failures(), 1, 'the failing commit is logged');
  for (let i = 0; i < 30; i++, appended++) j.append('plc1', Array.from({ length: 10 }, (_, k) => pt(appended * 10 + k)));
  j.flush();
  t.equal(failures(), 1, 'said once, not at every retry');
  const held = j.stats().records;
  t.ok(held > 0 && held < appended, `${held} records committed, the rest waiting in memory`);

  // The upstream drains what is committed: pages are freed, and the waiting batches go in.
  const got: number[] = [];
  for (let round = 0; round < 50 && got.length < appended; round++) {
    const recs = j.read('city', 10_000);
    for (const r of recs) got.push(r.seq);
    j.ack('city', recs.map((r) => r.id));
    j.flush();
  }
  t.equal(got.length, appended, 'every batch was committed and read in the end');
  t.same(got, Array.from({ length: appended }, (_, i) => i + 1), 'seqs 1… with no gap and no repeat');
  t.match(logger.lines.at(-1)?.msg ?? '', /writes again/, 'and the log says the journal writes again');
});

t.test('bodies come back as appended: any text, batches larger than the arena, across a failed commit', async (t) => {
  // Bodies wait for their commit as UTF-8 bytes outside V8's heap (gateway/journal/body-arena.ts).
  const text = (i: number) => `泵站${i} 液位 "高" \\ ✓ 🚰 ${'x'.repeat(i % 97)}`;
  const batch = (i: number, size: number) => Array.from({ length: size }, (_, k) => ({ tag: `站.标签${k}`, value: text(i + k), quality: 'good' as const, ts: 1_700_000_000_000 + i }));
  const j = open(t, { dir: newDir(), commitMs: 60_000 });
  j.openCursor('city');
  const sent: string[] = [];
  // ~3 MB waiting for one commit: the arena starts at 1 MB and grows.
  for (let i = 0; i < 40; i++) { const b = batch(i, 600); j.append('plc1', b); sent.push(encodePoints(b)); }
  j.appendEvent('alarms', 'plc1', '{"rule":"液位高"}');
  j.flush();
  const got = j.read('city', 100);
  t.same(got.filter((r) => r.channel === 'telemetry').map((r) => r.body), sent, 'each body byte for byte');
  t.equal(got.find((r) => r.channel === 'alarms')?.body, '{"rule":"液位高"}');
  t.equal(j.stats().bytes - 41 * RECORD_OVERHEAD_BYTES, sent.reduce((n, b) => n + Buffer.byteLength(b), 0) + Buffer.byteLength('{"rule":"液位高"}'), 'bytes counted as UTF-8');

  // A full disk: what waits in memory after the failed commit is the same text when it goes in.
  const logger = captureLogger();
  const f = open(t, { dir: newDir(), logger, fileLimitBytes: 256 * 1024, commitMs: 60_000 });
  f.openCursor('city');
  const bodies: string[] = [];
  const failed = () => logger.lines.some((l) => l.obj.code === 'CE_ERR_JOURNAL_WRITE');
  for (let i = 0; !failed() && i < 10_000; i++) {
    const b = batch(i, 20);
    f.append('plc1', b);
    bodies.push(encodePoints(b));
    if (i % 10 === 9) f.flush();
  }
  t.ok(failed(), 'a commit failed');
  for (let i = 0; i < 5; i++) { const b = batch(5000 + i, 20); f.append('plc1', b); bodies.push(encodePoints(b)); }
  const back: string[] = [];
  for (let round = 0; round < 100 && back.length < bodies.length; round++) {
    f.flush();
    const recs = f.read('city', 10_000);
    back.push(...recs.map((r) => r.body));
    f.ack('city', recs.map((r) => r.id));
  }
  t.equal(back.length, bodies.length, 'all committed in the end');
  t.ok(back.every((b, i) => b === bodies[i]), 'each body as appended, the ones that waited in memory too');
});

t.test('totals after a clean stop and after a crash agree with the file', async (t) => {
  const dir = newDir();
  const a = new SqliteJournal({ dir });
  a.openCursor('city');
  for (let i = 0; i < 50; i++) a.append('plc1', [pt(i), pt(i)]);
  a.appendEvent('alarms', 'plc1', '{"rule":"hh"}');
  a.flush();
  a.ack('city', a.read('city', 10).map((r) => r.id));
  a.flush();
  const before = a.stats();
  await a.close();
  const b = new SqliteJournal({ dir }); // clean: totals from the close
  const clean = b.stats();
  t.same([clean.records, clean.points, clean.bytes, clean.oldestTs], [before.records, before.points, before.bytes, before.oldestTs]);
  await b.close();
  markUnclean(join(dir, 'journal.db'));
  const c = open(t, { dir });
  const counted = c.stats();
  t.same([counted.records, counted.points, counted.bytes, counted.oldestTs], [before.records, before.points, before.bytes, before.oldestTs]);
});

t.test('a file shorter than its header says, with a write-ahead log that completes it, is not damaged', async (t) => {
  const dir = newDir();
  const file = await filledJournal(dir, 100, 1);
  const shortSize = statSync(file).size;
  // A stop in the middle of a checkpoint, made by hand: more records go into the WAL only; a copy
  // of that WAL is kept; closing checkpoints them into the main file (which grows, header first);
  // then the main file is cut back to its old length and the WAL put back, as if the stop came
  // after the header was written and before the pages were.
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  raw.pragma('wal_autocheckpoint = 0');
  const insert = raw.prepare('INSERT INTO records (id, lane, channel, device, seq, ts, count, body) VALUES (?, 1, ?, ?, ?, ?, 1, ?)');
  raw.transaction(() => {
    for (let i = 101; i <= 600; i++) insert.run(i, 'telemetry', 'plc1', i, i, JSON.stringify([{ tag: 'level', v: i, q: 'good', t: i }]));
    raw.prepare("UPDATE meta SET value = 0 WHERE key = 'clean'").run();
  })();
  const wal = readFileSync(`${file}-wal`);
  raw.close();
  t.ok(statSync(file).size > shortSize, 'the checkpoint grew the file');
  writeFileSync(`${file}-wal`, wal);
  truncateSync(file, shortSize);
  const logger = captureLogger();
  const j = open(t, { dir, logger });
  t.equal(logger.lines.filter((l) => l.obj.code === 'CE_ERR_JOURNAL_DAMAGED').length, 0, 'not moved aside');
  j.openCursor('city');
  t.equal(j.read('city', 1000).length, 600, 'every record is there');
});
