// The read planner: request coalescing, limits, determinism, bisection after exception 02, and the
// plan a technician reads. Optimality is checked against a brute force over every partition.
import t, { type Test } from 'tap';
import { describePlan, planReads, splitRequest, type PlanLimits, type PlanTag, type ReadRequest } from '../drivers/modbus/planner.ts';
import type { ModbusTable } from '../config/schema.ts';

const LIMITS: PlanLimits = { maxRegisters: 125, maxBits: 2000, maxGap: 0, maxBitGap: 0 };
const limits = (over: Partial<PlanLimits> = {}): PlanLimits => ({ ...LIMITS, ...over });

function tag(name: string, index: number, span = 1, table: ModbusTable = 'hr', unit = 1): PlanTag {
  return { name, unit, table, index, span };
}
const run = (prefix: string, from: number, n: number, span = 1, table: ModbusTable = 'hr', unit = 1): PlanTag[] =>
  Array.from({ length: n }, (_, i) => tag(`${prefix}${i}`, from + i * span, span, table, unit));

const shape = (reqs: readonly ReadRequest[]) => reqs.map((r) => `${r.unit}/${r.table}:${r.start}+${r.count}`);
const names = (r: ReadRequest | undefined) => r?.tags.map((x) => x.name) ?? [];

/** Deterministic PRNG (mulberry32) so a failing random case can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Every property a plan must have, whatever the input. */
function checkPlan(t: Test, input: readonly PlanTag[], reqs: readonly ReadRequest[], l: PlanLimits, note: string): void {
  const seen = new Map<PlanTag, number>();
  let ok = true;
  for (const r of reqs) {
    const bits = r.table === 'co' || r.table === 'di';
    if (r.count > (bits ? l.maxBits : l.maxRegisters) || r.count < 1) ok = false;
    let reach = r.start;
    for (const [i, x] of r.tags.entries()) {
      seen.set(x, (seen.get(x) ?? 0) + 1);
      if (x.unit !== r.unit || x.table !== r.table) ok = false;
      if (x.index < r.start || x.index + x.span > r.start + r.count) ok = false; // never cut
      if (x.index - reach > (bits ? l.maxBitGap : l.maxGap)) ok = false;
      reach = Math.max(reach, x.index + x.span);
      const prev = r.tags[i - 1];
      if (prev && prev.index > x.index) ok = false;
    }
    if (r.tags[0]?.index !== r.start || reach !== r.start + r.count) ok = false;
  }
  const everyOnce = input.every((x) => seen.get(x) === 1) && seen.size === new Set(input).size;
  t.ok(ok && everyOnce, `${note}: limits, gaps, whole tags, every tag exactly once`);
}

t.test('contiguous tags make one request', async (t) => {
  const tags = [tag('level', 0), tag('flow', 1, 2), tag('current', 3), tag('energy', 4, 4)];
  const reqs = planReads(tags, LIMITS);
  t.same(shape(reqs), ['1/hr:0+8']);
  t.same(names(reqs[0]), ['level', 'flow', 'current', 'energy']);
});

t.test('a gap is bridged only when it is at most maxGap registers', async (t) => {
  const tags = [tag('a', 0), tag('b', 10)]; // registers 1–9 unused: a gap of 9
  t.same(shape(planReads(tags, LIMITS)), ['1/hr:0+1', '1/hr:10+1'], 'maxGap 0 never bridges');
  t.same(shape(planReads(tags, limits({ maxGap: 8 }))), ['1/hr:0+1', '1/hr:10+1'], 'gap 9 > 8');
  t.same(shape(planReads(tags, limits({ maxGap: 9 }))), ['1/hr:0+11'], 'gap 9 ≤ 9 is bridged');
  t.same(shape(planReads([tag('a', 0), tag('b', 1)], LIMITS)), ['1/hr:0+2'], 'adjacent tags merge with maxGap 0');
  t.same(shape(planReads([tag('a', 0), tag('b', 200)], limits({ maxGap: 124 }))), ['1/hr:0+1', '1/hr:200+1'],
    'a bridge never breaks the register limit');
  t.same(shape(planReads([tag('a', 0), tag('b', 124)], limits({ maxGap: 123 }))), ['1/hr:0+125'], 'exactly 125');
});

t.test('500 contiguous registers need exactly 4 requests', async (t) => {
  const tags = run('r', 0, 500);
  const reqs = planReads(tags, LIMITS);
  t.same(shape(reqs), ['1/hr:0+125', '1/hr:125+125', '1/hr:250+125', '1/hr:375+125']);
  checkPlan(t, tags, reqs, LIMITS, '500 registers');
});

t.test('a float32 straddling the 125-register boundary is not cut', async (t) => {
  const tags = [...run('u', 0, 124), tag('flow', 124, 2), tag('after', 126)];
  const reqs = planReads(tags, LIMITS);
  t.same(shape(reqs), ['1/hr:0+124', '1/hr:124+3']);
  t.same(names(reqs[1]), ['flow', 'after']);
  checkPlan(t, tags, reqs, LIMITS, 'straddle');
  const f64 = planReads([...run('u', 0, 122), tag('total', 122, 4)], LIMITS);
  t.same(shape(f64), ['1/hr:0+122', '1/hr:122+4'], 'a float64 at 122–125 moves whole');
});

t.test('tables and units are never mixed', async (t) => {
  const tags = [
    tag('hr0', 0, 1, 'hr', 1), tag('ir0', 0, 1, 'ir', 1), tag('co0', 0, 1, 'co', 1), tag('di0', 0, 1, 'di', 1),
    tag('hr1', 1, 1, 'hr', 1), tag('u2', 1, 1, 'hr', 2), tag('u2b', 2, 1, 'hr', 2), tag('ir1', 1, 1, 'ir', 1),
  ];
  const reqs = planReads(tags, limits({ maxGap: 10, maxBitGap: 10 }));
  t.same(shape(reqs), ['1/hr:0+2', '1/ir:0+2', '1/co:0+1', '1/di:0+1', '2/hr:1+2']);
  t.same(reqs.map(names), [['hr0', 'hr1'], ['ir0', 'ir1'], ['co0'], ['di0'], ['u2', 'u2b']]);
});

t.test('bits of one register, a uint16 and its bits, the same address twice: one request', async (t) => {
  const tags = [tag('run', 10), tag('fault', 10), tag('word', 10), tag('remote', 10), tag('next', 11)];
  const reqs = planReads(tags, LIMITS);
  t.same(shape(reqs), ['1/hr:10+2']);
  t.equal(reqs[0]?.tags.length, 5);
  const dup = planReads([tag('a', 5, 2), tag('b', 5, 2)], LIMITS);
  t.same(shape(dup), ['1/hr:5+2'], 'duplicate address');
  t.same(names(dup[0]), ['a', 'b']);
  const lowWord = planReads([tag('flow', 0, 2), tag('flow_lo', 1)], LIMITS);
  t.same(shape(lowWord), ['1/hr:0+2'], 'a uint16 inside a float32');
  const inside = planReads([tag('s', 0, 10), tag('x', 3), tag('y', 12)], limits({ maxGap: 2 }));
  t.same(shape(inside), ['1/hr:0+13'], 'gap measured from the end of the longest tag so far');
});

t.test('coils and discrete inputs: 2000 bits, maxBitGap', async (t) => {
  const coils = run('c', 0, 2500, 1, 'co');
  const reqs = planReads(coils, LIMITS);
  t.same(shape(reqs), ['1/co:0+2000', '1/co:2000+500']);
  checkPlan(t, coils, reqs, LIMITS, 'coils');
  const sparse = [tag('a', 0, 1, 'di'), tag('b', 100, 1, 'di')];
  t.same(shape(planReads(sparse, limits({ maxBitGap: 99 }))), ['1/di:0+101']);
  t.same(shape(planReads(sparse, limits({ maxBitGap: 98 }))), ['1/di:0+1', '1/di:100+1']);
  t.same(shape(planReads(sparse, limits({ maxGap: 124 }))), ['1/di:0+1', '1/di:100+1'], 'maxGap is for registers only');
  t.same(shape(planReads(run('c', 0, 300, 1, 'co'), limits({ maxBits: 256 }))), ['1/co:0+256', '1/co:256+44'], 'device bit limit');
});

t.test('a device limit lower than 125', async (t) => {
  const tags = run('r', 0, 100, 2);
  const reqs = planReads(tags, limits({ maxRegisters: 60 }));
  t.same(shape(reqs), ['1/hr:0+60', '1/hr:60+60', '1/hr:120+60', '1/hr:180+20']);
  checkPlan(t, tags, reqs, limits({ maxRegisters: 60 }), 'limit 60');
  t.same(shape(planReads(run('r', 0, 10, 2), limits({ maxRegisters: 3 }))).length, 10, 'odd limit: one float32 each');
  t.throws(() => planReads([tag('serial', 0, 61)], limits({ maxRegisters: 60 })), { name: 'RangeError', message: /"serial" spans 61 registers; this device reads at most 60/ });
});

t.test('bad limits and bad tags are refused', async (t) => {
  t.throws(() => planReads([], limits({ maxRegisters: 126 })), { name: 'RangeError', message: /1 to 125/ });
  t.throws(() => planReads([], limits({ maxRegisters: 0 })), RangeError);
  t.throws(() => planReads([], limits({ maxBits: 2001 })), { name: 'RangeError', message: /1 to 2000/ });
  t.throws(() => planReads([], limits({ maxGap: -1 })), RangeError);
  t.throws(() => planReads([tag('x', 65535, 2)], LIMITS), { name: 'RangeError', message: /runs past 65535/ });
  t.throws(() => planReads([tag('x', 65536)], LIMITS), RangeError);
  t.throws(() => planReads([tag('x', 0, 2, 'co')], LIMITS), { name: 'RangeError', message: /1 bit/ });
  t.throws(() => planReads([tag('x', 0, 0)], LIMITS), RangeError);
  t.same(planReads([], LIMITS), [], 'no tags, no requests');
  t.same(shape(planReads([tag('last', 65535)], LIMITS)), ['1/hr:65535+1'], 'the last address is fine');
});

t.test('the plan is deterministic: any input order gives the same plan', async (t) => {
  const rand = rng(7);
  const tags = [
    ...run('f', 100, 20, 2), tag('bit0', 50), tag('bit1', 50), tag('word', 50), tag('dup', 50),
    ...run('c', 0, 40, 1, 'co'), ...run('i', 0, 10, 1, 'ir', 3), tag('z', 7, 1, 'di', 2),
  ];
  const l = limits({ maxGap: 5, maxRegisters: 64 });
  const reference = planReads(tags, l);
  let same = true;
  for (let i = 0; i < 50; i++) {
    const again = planReads(shuffle(tags, rand), l);
    if (JSON.stringify(again) !== JSON.stringify(reference)) same = false;
  }
  t.ok(same, '50 shuffles, one plan');
  t.same(names(reference[0]).slice(0, 4), ['bit0', 'bit1', 'dup', 'word'], 'ties broken by name');
  t.same(reference.map((r) => `${r.unit}/${r.table}`), ['1/hr', '1/hr', '1/co', '2/di', '3/ir'], 'sorted by unit, then table');
  checkPlan(t, tags, reference, l, 'mixed');
});

/** The fewest requests any partition of these tags into readable groups can achieve. */
function bruteForceMinimum(tags: readonly PlanTag[], l: PlanLimits): number {
  const feasible = (group: PlanTag[]): boolean => {
    const s = [...group].sort((a, b) => a.index - b.index);
    const first = s[0] as PlanTag;
    let reach = first.index;
    for (const x of s) {
      if (x.index - reach > l.maxGap) return false;
      reach = Math.max(reach, x.index + x.span);
    }
    return reach - first.index <= l.maxRegisters;
  };
  let best = Infinity;
  const groups: PlanTag[][] = [];
  const place = (i: number): void => {
    if (groups.length >= best) return;
    // Feasibility is checked only on complete partitions: a group infeasible so far (a gap too
    // wide) may become feasible when a later tag fills the gap.
    if (i === tags.length) { if (groups.every(feasible)) best = groups.length; return; }
    const x = tags[i] as PlanTag;
    for (const g of groups) {
      g.push(x);
      place(i + 1);
      g.pop();
    }
    groups.push([x]);
    place(i + 1);
    groups.pop();
  };
  place(0);
  return best;
}

t.test('greedy is optimal and keeps every invariant (random cases against brute force)', async (t) => {
  const rand = rng(2024);
  let worse = 0;
  for (let c = 0; c < 300; c++) {
    const l = limits({ maxRegisters: 4 + Math.floor(rand() * 12), maxGap: Math.floor(rand() * 4) });
    const n = 1 + Math.floor(rand() * 8);
    const tags = Array.from({ length: n }, (_, i) => tag(`t${i}`, Math.floor(rand() * 30), [1, 1, 2, 4][Math.floor(rand() * 4)] ?? 1));
    const reqs = planReads(tags, l);
    checkPlan(t, tags, reqs, l, `case ${c}`);
    if (reqs.length !== bruteForceMinimum(tags, l)) worse++;
  }
  t.equal(worse, 0, 'never more requests than the best partition');
});

t.test('splitRequest bisects to the bad tag while its neighbours keep reading', async (t) => {
  // 50 tags, mixed widths, small gaps bridged: one block of 93 registers.
  const tags: PlanTag[] = [];
  let at = 1000;
  for (let i = 0; i < 50; i++) {
    const span = i % 3 === 0 ? 2 : 1;
    tags.push(tag(`t${String(i).padStart(2, '0')}`, at, span));
    at += span + (i % 7 === 0 ? 1 : 0);
  }
  const l = limits({ maxGap: 1 });
  const plan = planReads(tags, l);
  t.equal(plan.length, 1, 'one block');
  const bad = tags[25] as PlanTag;
  // The device answers exception 02 for any request touching the bad tag's registers.
  const fails = (r: ReadRequest) => r.start < bad.index + bad.span && bad.index < r.start + r.count;
  let queue = [...plan];
  let splits = 0;
  for (;;) {
    const i = queue.findIndex((r) => fails(r) && r.tags.length > 1);
    if (i < 0) break;
    const r = queue[i] as ReadRequest;
    const parts = splitRequest(r);
    t.equal(parts.length, 2, `split ${splits + 1} makes two requests`);
    t.same(parts.flatMap((p) => p.tags).map((x) => x.name).sort(), r.tags.map((x) => x.name).sort(), 'tags kept whole, none lost');
    queue = [...queue.slice(0, i), ...parts, ...queue.slice(i + 1)];
    splits++;
  }
  t.ok(splits <= 7, `isolated in ${splits} splits (≤ 7)`);
  const failing = queue.filter(fails);
  t.same(failing.map(names), [[bad.name]], 'only the bad tag is left failing');
  const reading = new Set(queue.filter((r) => !fails(r)).flatMap((r) => r.tags));
  t.ok(tags.every((x) => x === bad || reading.has(x)), 'every other tag is still read');
  checkPlan(t, tags, queue, l, 'after bisection');
});

t.test('splitRequest cuts on tag boundaries', async (t) => {
  const one = planReads([tag('solo', 5, 2)], LIMITS)[0] as ReadRequest;
  t.equal(splitRequest(one)[0], one, 'a single tag cannot be split');
  t.equal(splitRequest(one).length, 1);
  const bits = planReads([tag('b0', 10), tag('b1', 10), tag('w', 10)], LIMITS)[0] as ReadRequest;
  t.same(splitRequest(bits), [bits], 'tags on the very same register cannot be told apart');
  const gap = planReads([tag('a', 0), tag('b', 10)], limits({ maxGap: 20 }))[0] as ReadRequest;
  t.same(shape(splitRequest(gap)), ['1/hr:0+1', '1/hr:10+1'], 'the gap is not read after a split');
  const low = planReads([tag('flow', 0, 2), tag('flow_lo', 1)], LIMITS)[0] as ReadRequest;
  t.same(splitRequest(low).map(names), [['flow'], ['flow_lo']], 'overlapping tags can still be separated');
  // a uint16, a float32 over 1–2, a uint16 on 2, a uint16 on 3: the middle cut would share
  // register 2, so the clean cut after the first tag is taken.
  const mixed = planReads([tag('a', 0), tag('b', 1, 2), tag('c', 2), tag('d', 3)], LIMITS)[0] as ReadRequest;
  const [left, right] = splitRequest(mixed);
  t.same([names(left), names(right)], [['a'], ['b', 'c', 'd']]);
  t.same(shape(splitRequest(mixed)), ['1/hr:0+1', '1/hr:1+3']);
  const coils = planReads(run('c', 0, 8, 1, 'co'), LIMITS)[0] as ReadRequest;
  t.same(shape(splitRequest(coils)), ['1/co:0+4', '1/co:4+4'], 'coils split in the middle');
});

t.test('describePlan: one line per request and a totals line', async (t) => {
  const tags = [
    ...run('f', 100, 10, 2), tag('name', 120, 10), tag('serial', 130, 10), // hr 100–139: 40 registers, 12 tags
    ...run('c', 0, 16, 1, 'co'),
    tag('heartbeat', 7, 1, 'ir', 2),
  ];
  const lines = describePlan(planReads(tags, LIMITS));
  t.same(lines, [
    'unit 1 hr 100–139 (40 registers, 12 tags)',
    'unit 1 co 0–15 (16 bits, 16 tags)',
    'unit 2 ir 7 (1 register, 1 tag)',
    'total: 3 requests per scan, 41 registers, 16 bits, 29 tags',
  ]);
  const bridged = describePlan(planReads([tag('a', 0), tag('b', 4, 2), tag('c', 10)], limits({ maxGap: 5 })));
  t.same(bridged, [
    'unit 1 hr 0–10 (11 registers, 3 tags)',
    'total: 1 request per scan, 11 registers, 0 bits, 3 tags (7 read only to bridge gaps)',
  ]);
  t.same(describePlan([]), ['total: 0 requests per scan, 0 registers, 0 bits, 0 tags']);
});
