// Condition rules over several tags: precedence, unknown values in three-valued logic, the `-` in
// tag names, and an error message with its column for every mistake the parser refuses.
import t, { type Test } from 'tap';
import {
  checkExpr, evaluate, evaluateCondition, exprRefs, ExprError, parseExpr, MAX_DEPTH, MAX_LENGTH, type TagLookup,
} from '../config/expr.ts';
import type { Quality, Value } from '../gateway/model/sample.ts';

type Reading = Value | null | [Value | null, Quality];
/** A lookup over good readings, `[value, quality]` pairs, and tags that are absent. */
const tags = (values: Record<string, Reading>): TagLookup => (path) => {
  if (!(path in values)) return undefined;
  const r = values[path]!;
  return Array.isArray(r) ? { value: r[0], quality: r[1] } : { value: r, quality: r === null ? 'bad' : 'good' };
};
const ev = (src: string, values: Record<string, Reading> = {}) => evaluate(parseExpr(src), tags(values));
const cond = (src: string, values: Record<string, Reading> = {}) => evaluateCondition(parseExpr(src), tags(values));

/** parseExpr must refuse `src` with exactly this message and 1-based column. */
function refuses(t: Test, src: string, reason: string, column: number): void {
  const label = src.length > 40 ? `${src.slice(0, 40)}…` : src;
  try {
    parseExpr(src);
    t.fail(`accepted ${label}`);
  } catch (err) {
    t.ok(err instanceof ExprError, 'an ExprError');
    const e = err as ExprError;
    t.equal(e.message, `${reason} at column ${column}`, label);
    t.equal(e.pos, column - 1, `column of ${label}`);
    t.equal(e.reason, reason);
  }
}

t.test('precedence: or < and < not < comparisons < + - < * / < unary minus', async (t) => {
  const ft = { 'p.a': true, 'p.b': false, 'p.c': false };
  t.equal(ev('p.a or p.b and p.c', ft), true, 'a or (b and c); (a or b) and c would be false');
  t.equal(ev('(p.a or p.b) and p.c', ft), false, 'brackets override');
  t.equal(ev('not p.b and p.c', ft), false, '(not b) and c; not (b and c) would be true');
  t.equal(ev('not p.a == 1', { 'p.a': 2 }), true, 'not (a == 1): not binds looser than ==');
  t.equal(ev('1 + 2 * 3 == 7'), true);
  t.equal(ev('(1 + 2) * 3'), 9);
  t.equal(ev('10 - 4 - 3'), 3, 'left-associative minus');
  t.equal(ev('12 / 3 / 2'), 2, 'left-associative division');
  t.equal(ev('-2 * 3 + 1'), -5);
  t.equal(ev('- - 4'), 4);
  t.equal(ev('1e3 + 0.5'), 1000.5);
  t.equal(ev('2 * 3 > 5 and 1 < 2'), true);
  t.equal(ev('p.a && !p.b || p.c', ft), true, 'symbolic forms');
  t.same(parseExpr('p.a or p.b and p.c'), {
    kind: 'bin', op: 'or', pos: 4,
    left: { kind: 'tag', path: 'p.a', pos: 0 },
    right: { kind: 'bin', op: 'and', pos: 11, left: { kind: 'tag', path: 'p.b', pos: 7 }, right: { kind: 'tag', path: 'p.c', pos: 15 } },
  }, 'the tree, with the column of each node');
});

t.test('pump running without flow', async (t) => {
  const rule = parseExpr('plc1.pump1_run and plc1.flow < 5');
  const at = (run: Reading, flow: Reading) => evaluateCondition(rule, tags({ 'plc1.pump1_run': run, 'plc1.flow': flow }));
  t.equal(at(true, 2), true);
  t.equal(at(true, 5), false, 'at 5 the flow is not below 5');
  t.equal(at(false, 2), false);
  t.equal(at(true, [2, 'uncertain']), true, 'an uncertain reading is still used');
  t.equal(at(true, [2, 'bad']), undefined, 'bad quality is unknown');
  t.equal(at(true, null), undefined, 'no value is unknown');
  t.equal(at(true, [null, 'good']), undefined, 'no value is unknown whatever its quality');
  t.equal(evaluateCondition(rule, tags({ 'plc1.pump1_run': true })), undefined, 'a missing tag is unknown');
  t.equal(at(false, null), false, 'a stopped pump needs no flow reading');
  t.equal(at([true, 'bad'], 10), false, 'a good flow of 10 decides whatever the run bit');
});

t.test('pump commanded but not running', async (t) => {
  const rule = parseExpr('plc1.pump1_cmd and not plc1.pump1_run');
  const at = (cmd: Reading, run: Reading) => evaluateCondition(rule, tags({ 'plc1.pump1_cmd': cmd, 'plc1.pump1_run': run }));
  t.equal(at(true, false), true);
  t.equal(at(true, true), false);
  t.equal(at(false, false), false);
  t.equal(at(1, 0), true, '0/1 registers as bits');
  t.equal(at(true, [false, 'bad']), undefined);
  t.equal(at([false, 'bad'], true), false, 'running: not run is false, so the rule is false');
  t.equal(at(false, null), false);
});

t.test('level above setpoint or manual mode', async (t) => {
  const rule = parseExpr('(plc1.wet_well_level - plc1.setpoint) >= 0.5 or plc1.mode == "manual"');
  const at = (level: Reading, mode: Reading) =>
    evaluateCondition(rule, tags({ 'plc1.wet_well_level': level, 'plc1.setpoint': 2, 'plc1.mode': mode }));
  t.equal(at(2.5, 'auto'), true);
  t.equal(at(2.4, 'auto'), false);
  t.equal(at(1, 'manual'), true);
  t.equal(at(null, 'manual'), true, 'manual decides without a level');
  t.equal(at(null, 'auto'), undefined);
  t.equal(at(1, 3), undefined, 'a mode that is a number compared with text is unknown, not false');
});

t.test('three-valued logic short-circuits only where the answer is decided', async (t) => {
  t.equal(ev('false and p.x'), false);
  t.equal(ev('p.x and false'), false, 'symmetric: one false decides and');
  t.equal(ev('true and p.x'), undefined);
  t.equal(ev('true or p.x'), true);
  t.equal(ev('p.x or true'), true);
  t.equal(ev('false or p.x'), undefined);
  t.equal(ev('not p.x'), undefined);
  t.equal(ev('p.x == p.x'), undefined, 'unknown is not equal to itself');
  t.equal(ev('p.x != 1'), undefined);
  t.equal(ev('p.x + 1 > 0 or p.y', { 'p.y': false }), undefined);
  const read: string[] = [];
  const spy: TagLookup = (path) => { read.push(path); return { value: path === 'p.a', quality: 'good' }; };
  t.equal(evaluate(parseExpr('p.b and p.c'), spy), false);
  t.equal(evaluate(parseExpr('p.a or p.d'), spy), true);
  t.same(read, ['p.b', 'p.a'], 'the right operand is not read when the left decides');
});

t.test('types: text, numbers as truth values, arithmetic', async (t) => {
  t.equal(ev('p.mode == "manual"', { 'p.mode': 'manual' }), true);
  t.equal(ev("p.mode != 'manual'", { 'p.mode': 'auto' }), true);
  t.equal(ev('p.mode == "Manual"', { 'p.mode': 'manual' }), false, 'case matters in text');
  t.equal(ev(`p.msg == 'say "hi"'`, { 'p.msg': 'say "hi"' }), true, 'the other quote inside text');
  t.equal(ev('p.mode == 1', { 'p.mode': 'manual' }), undefined, 'text against a number is unknown');
  t.equal(ev('p.mode != 1', { 'p.mode': 'manual' }), undefined, 'for != as well');
  t.equal(ev('p.mode < 1', { 'p.mode': 'manual' }), undefined);
  t.equal(ev('p.mode and true', { 'p.mode': 'manual' }), undefined, 'text is no truth value');
  t.equal(ev('p.bit == true', { 'p.bit': 1 }), true, 'a 0/1 bit equals true/false');
  t.equal(ev('p.bit != false', { 'p.bit': 0 }), false);
  t.equal(ev('p.fault != 0', { 'p.fault': 4 }), true);
  t.equal(ev('p.fault != 0', { 'p.fault': 0 }), false);
  t.equal(ev('not p.bit', { 'p.bit': 0 }), true);
  t.equal(ev('p.bit and p.other', { 'p.bit': 2, 'p.other': true }), true, 'any number but 0 is true');
  t.equal(ev('p.run + 1', { 'p.run': true }), undefined, 'true/false in arithmetic is unknown');
  t.equal(ev('p.run > 0', { 'p.run': true }), undefined, 'and in an ordering');
  t.equal(ev('-p.run', { 'p.run': true }), undefined);
  t.equal(ev('p.a / p.b', { 'p.a': 1, 'p.b': 0 }), undefined, 'division by zero is unknown');
  t.equal(ev('p.a / p.b > 1 or true', { 'p.a': 1, 'p.b': 0 }), true);
  t.equal(ev('p.a * p.a', { 'p.a': 1e200 }), undefined, 'an overflow is unknown');
  t.equal(ev('p.a - p.b', { 'p.a': 5, 'p.b': 1.5 }), 3.5);
  t.equal(ev('"auto"'), 'auto');
  t.equal(cond('p.flow', { 'p.flow': 0 }), false);
  t.equal(cond('p.flow', { 'p.flow': 2.5 }), true);
  t.equal(cond('p.mode', { 'p.mode': 'auto' }), undefined, 'text is not a condition');
  t.equal(cond('p.flow * 2', { 'p.flow': 0.5 }), true);
});

t.test('a minus inside a name belongs to it; subtraction needs a space', async (t) => {
  t.same(exprRefs(parseExpr('pump-1.flow > 2')), ['pump-1.flow']);
  t.equal(ev('pump-1.flow - 1', { 'pump-1.flow': 3 }), 2);
  t.equal(ev('plc1.a-1', { 'plc1.a-1': 7, 'plc1.a': 3 }), 7, 'a-1 is the tag named a-1');
  t.equal(ev('plc1.a -1', { 'plc1.a': 3 }), 2);
  t.equal(ev('plc1.a- 1', { 'plc1.a': 3 }), 2);
  t.equal(ev('plc1.a - 1', { 'plc1.a': 3 }), 2);
  t.equal(ev('plc1.level - plc1.sp', { 'plc1.level': 3, 'plc1.sp': 1 }), 2);
  t.equal(ev('(plc1.a)-(plc1.b)', { 'plc1.a': 3, 'plc1.b': 1 }), 2, 'a bracket ends a name');
  t.equal(ev('3--2'), 5, '3 - (-2)');
  t.equal(ev('1e-3'), 0.001, 'the minus of an exponent');
  refuses(t, 'plc1.level-plc1.sp > 1', '"plc1.level-plc1.sp" is not a tag; to subtract, put spaces around the minus', 1);
  refuses(t, '5-3', '"5-3" is not a tag; to subtract, put spaces around the minus', 1);
});

t.test('every mistake has its own message and column', async (t) => {
  refuses(t, '', 'the rule ends early: expected a tag, a number or "("', 1);
  refuses(t, 'plc1.flow <', 'the rule ends early: expected a tag, a number or "("', 12);
  refuses(t, 'plc1.flow < and 3', 'expected a tag, a number or "(", found "and"', 13);
  refuses(t, 'plc1.flow * (3 + )', 'expected a tag, a number or "(", found ")"', 18);
  refuses(t, 'plc1.flow # 3', 'unexpected character "#"', 11);
  refuses(t, 'plc1.mode = "auto"', 'write "==" to compare', 11);
  refuses(t, 'plc1.mode == "auto', 'the text opened with " is not closed', 14);
  refuses(t, "plc1.mode == 'auto", "the text opened with ' is not closed", 14);
  refuses(t, '(plc1.a or plc1.b and plc1.c', 'expected ")" to close the "(" of column 1', 29);
  refuses(t, 'plc1.a plc1.b', 'expected an operator such as "and" or "<", found "plc1.b"', 8);
  refuses(t, 'plc1.a and 3)', 'expected an operator such as "and" or "<", found ")"', 13);
  refuses(t, '0 < plc1.level < 5', 'comparisons do not chain; write "a < b and b < c"', 16);
  refuses(t, 'plc1.a == plc1.b == true', 'comparisons do not chain; write "a < b and b < c"', 18);
  refuses(t, 'Plc1.Flow > 2', 'write "plc1.flow" in lower case', 1);
  refuses(t, 'plc1.a AND plc1.b', 'write "and" in lower case', 8);
  refuses(t, 'flow > 2', '"flow" is not a tag; write device.tag, e.g. plc1.flow', 1);
  refuses(t, 'site.plc1.flow > 2', '"site.plc1.flow" is neither a number nor a tag (device.tag, with one dot)', 1);
  refuses(t, 'plc1. > 2', '"plc1." is neither a number nor a tag (device.tag, with one dot)', 1);
  refuses(t, 'plc1.a > 1e999', 'the number 1e999 is too large', 10);
  refuses(t, 'plc1.mode + "x"', '"+" needs numbers, not text', 11);
  refuses(t, 'plc1.level < "high"', '"<" needs numbers, not text', 12);
  refuses(t, 'true * 2', '"*" needs numbers, not true/false', 6);
  refuses(t, '-plc1.a < 1 == 2 > 1', 'comparisons do not chain; write "a < b and b < c"', 13);
  refuses(t, '-(plc1.a > 1)', '"-" needs numbers, not true/false', 1);
  refuses(t, '"manual" == 1', 'cannot compare text with a number', 10);
  refuses(t, '(plc1.a > 1) != "x"', 'cannot compare true/false with text', 14);
  refuses(t, 'not "x"', '"not" needs true/false or a number, not text', 1);
  refuses(t, 'plc1.a or "x"', '"or" needs true/false or a number, not text', 8);
  t.doesNotThrow(() => parseExpr('true == 1'), 'a bit may be compared with a number');
  t.doesNotThrow(() => parseExpr('plc1.mode == 3'), 'a tag may hold any type');
});

t.test('length and nesting limits', async (t) => {
  t.equal(MAX_LENGTH, 1000);
  t.equal(MAX_DEPTH, 32);
  const pad = (s: string, n: number) => s + ' '.repeat(n - s.length);
  t.equal(ev(pad('p.a', 1000), { 'p.a': 1 }), 1, '1000 characters are allowed');
  refuses(t, pad('p.a', 1001), 'a rule may have at most 1000 characters, this one has 1001', 1001);
  const sum = Array(333).fill('1').join('+');
  t.ok(sum.length <= 1000);
  t.equal(ev(sum), 333, 'a long flat chain is no nesting');
  const brackets = (n: number) => '('.repeat(n) + 'p.a' + ')'.repeat(n);
  t.equal(ev(brackets(32), { 'p.a': 2 }), 2, '32 brackets');
  refuses(t, brackets(33), 'brackets, "not" and minus nested more than 32 deep', 33);
  t.equal(ev('not '.repeat(32) + 'p.a', { 'p.a': true }), true, '32 nots');
  refuses(t, 'not '.repeat(33) + 'p.a', 'brackets, "not" and minus nested more than 32 deep', 129);
  t.equal(ev('-'.repeat(32) + '1'), 1);
  refuses(t, '-'.repeat(33) + '1', 'brackets, "not" and minus nested more than 32 deep', 33);
  refuses(t, '(not '.repeat(17) + 'p.a' + ')'.repeat(17), 'brackets, "not" and minus nested more than 32 deep', 81);
  refuses(t, '('.repeat(500) + 'p.a' + ')'.repeat(497), 'brackets, "not" and minus nested more than 32 deep', 33);
});

t.test('exprRefs: each tag once, in the order of appearance', async (t) => {
  t.same(exprRefs(parseExpr('p.b and (p.a or p.b) and p.c < p.a')), ['p.b', 'p.a', 'p.c']);
  t.same(exprRefs(parseExpr('not -p.z > p.y * p.x')), ['p.z', 'p.y', 'p.x']);
  t.same(exprRefs(parseExpr('1 < 2 and "x" == "y"')), []);
});

t.test('checkExpr: for the config loader', async (t) => {
  const known = (p: string) => ['plc1.flow', 'plc1.pump1_run'].includes(p);
  const ok = checkExpr('plc1.pump1_run and plc1.flow < 5', known);
  t.equal(ok.error, undefined);
  t.equal(ok.expr?.kind, 'bin');
  t.same(checkExpr('plc1.pump1_run and plc1.flw < 5 or plc1.x', known),
    { error: 'no tag "plc1.flw" (column 20)', pos: 19 }, 'the first unknown tag, with its column');
  t.same(checkExpr('plc1.flow <', known), {
    error: 'the rule ends early: expected a tag, a number or "(" at column 12', pos: 11,
  }, 'parse errors come back, not thrown');
  t.same(checkExpr('"manual"', known), { error: 'the rule gives a text, not true or false at column 1', pos: 0 });
  t.equal(checkExpr('plc1.flow', known).error, undefined, 'a number is a condition (not 0)');
});
