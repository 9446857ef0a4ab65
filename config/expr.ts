// Condition rules over several tags, e.g. `plc1.pump1_cmd and not plc1.pump1_run`. A rule comes
// from the city platform's configuration, so it is parsed by hand and evaluated by walking the
// tree: no eval, no new Function, and bounded in length and nesting so that no config can exhaust
// the stack. Pure: values come from the lookup the caller passes.
//
// Grammar, from the lowest precedence to the highest:
//   or      := and (("or" | "||") and)*
//   and     := not (("and" | "&&") not)*
//   not     := ("not" | "!") not | cmp
//   cmp     := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?    comparisons do not chain
//   sum     := prod (("+" | "-") prod)*
//   prod    := unary (("*" | "/") unary)*
//   unary   := "-" unary | primary
//   primary := number | "text" | 'text' | true | false | device.tag | "(" or ")"
//
// Names: a tag is `device.tag`, each part [a-z0-9_-]+ as in the config schema. Inside a name, a
// `-` directly followed by a letter, digit or `_` belongs to the name (`pump-1.flow`), so
// `plc1.a-1` is a tag and subtraction needs a space on at least one side of the minus:
// `plc1.level - plc1.setpoint`. A part that starts or ends with `-` cannot be written in a rule,
// and a word that reads as a number (`101.5`, `1e3`) is the number. Text has no escapes: quote it
// with the other quote when it contains one.
/** A tag's value and quality as the gateway's model has them; config/ imports nothing of ours. */
type Value = number | boolean | string;
type Quality = 'good' | 'bad' | 'uncertain';

export const MAX_LENGTH = 1000;
/** Brackets, `not` and unary minus inside each other. Longer chains like `a + b + c` are bounded by MAX_LENGTH. */
export const MAX_DEPTH = 32;

export type BinaryOp = 'or' | 'and' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '+' | '-' | '*' | '/';
/** `pos` is the 0-based column of the literal, tag or operator in the source. */
export type Expr =
  | { readonly kind: 'lit'; readonly value: Value; readonly pos: number }
  | { readonly kind: 'tag'; readonly path: string; readonly pos: number }
  | { readonly kind: 'not' | 'neg'; readonly arg: Expr; readonly pos: number }
  | { readonly kind: 'bin'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly pos: number };

export type TagLookup = (path: string) => { value: Value | null; quality: Quality } | undefined;

export class ExprError extends Error {
  readonly pos: number; // 0-based column
  readonly reason: string; // the message without its column, for callers that place it their own way
  constructor(reason: string, pos: number) {
    super(`${reason} at column ${pos + 1}`);
    this.name = 'ExprError';
    this.pos = pos;
    this.reason = reason;
  }
}

type OpTok = { k: 'op'; v: string; pos: number; text: string };
type Tok = OpTok | { k: 'tag' | 'end'; v: string; pos: number; text: string } | { k: 'lit'; v: Value; pos: number; text: string };

const WORD_CHAR = /[A-Za-z0-9_]/;
const NUMBER = /^\d+(?:\.\d+)?(?:e-?\d+)?$/;
const PATH = /^[a-z0-9_-]+\.[a-z0-9_-]+$/;
// Two-character symbols first, so that `<=` is not read as `<` then `=`.
const SYMBOLS = ['<=', '>=', '==', '!=', '&&', '||', '<', '>', '+', '-', '*', '/', '(', ')', '!'];
const ALIASES: Record<string, string> = { '&&': 'and', '||': 'or', '!': 'not' };

function word(w: string, pos: number): Tok {
  if (/[A-Z]/.test(w)) throw new ExprError(`write "${w.toLowerCase()}" in lower case`, pos);
  if (NUMBER.test(w)) {
    const v = Number(w);
    if (!Number.isFinite(v)) throw new ExprError(`the number ${w} is too large`, pos);
    return { k: 'lit', v, pos, text: w };
  }
  if (w === 'true' || w === 'false') return { k: 'lit', v: w === 'true', pos, text: w };
  if (w === 'and' || w === 'or' || w === 'not') return { k: 'op', v: w, pos, text: w };
  if (PATH.test(w)) return { k: 'tag', v: w, pos, text: w };
  if (w.includes('-')) throw new ExprError(`"${w}" is not a tag; to subtract, put spaces around the minus`, pos);
  if (!w.includes('.')) throw new ExprError(`"${w}" is not a tag; write device.tag, e.g. plc1.flow`, pos);
  throw new ExprError(`"${w}" is neither a number nor a tag (device.tag, with one dot)`, pos);
}

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  for (let i = 0; i < src.length;) {
    const c = src[i]!;
    const pos = i;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '"' || c === "'") {
      const close = src.indexOf(c, i + 1);
      if (close < 0) throw new ExprError(`the text opened with ${c} is not closed`, pos);
      i = close + 1;
      toks.push({ k: 'lit', v: src.slice(pos + 1, close), pos, text: src.slice(pos, i) });
    } else if (WORD_CHAR.test(c)) {
      const joins = (d: string, next: string) => WORD_CHAR.test(d) || d === '.' || (d === '-' && WORD_CHAR.test(next));
      for (i++; i < src.length && joins(src[i]!, src[i + 1] ?? ''); i++);
      toks.push(word(src.slice(pos, i), pos));
    } else {
      const sym = SYMBOLS.find((s) => src.startsWith(s, i));
      if (sym === undefined) throw new ExprError(c === '=' ? 'write "==" to compare' : `unexpected character "${c}"`, pos);
      i += sym.length;
      toks.push({ k: 'op', v: ALIASES[sym] ?? sym, pos, text: sym });
    }
  }
  toks.push({ k: 'end', v: '', pos: src.length, text: '' });
  return toks;
}

// Types known while parsing: a literal's, or an operator's result. A tag's is known only when its
// value arrives ('any'): `plc1.mode == 3` parses, and a text value then gives unknown.
type StaticType = 'number' | 'boolean' | 'string' | 'any';
const ARITH = new Set(['+', '-', '*', '/']);
const COMPARE = new Set(['<', '<=', '>', '>=', '==', '!=']);
const NAMES: Record<StaticType, string> = { number: 'a number', boolean: 'true/false', string: 'text', any: 'a tag' };

function typeOf(e: Expr): StaticType {
  if (e.kind === 'lit') return typeof e.value as StaticType;
  if (e.kind === 'tag') return 'any';
  return e.kind === 'neg' || (e.kind === 'bin' && ARITH.has(e.op)) ? 'number' : 'boolean';
}

/** Refuses at parse time what could never evaluate: `"a" + 1`, `plc1.x < "high"`, `not "x"`. */
function checkTypes(op: string, pos: number, ...args: Expr[]): void {
  const types = args.map(typeOf);
  if (op === 'and' || op === 'or' || op === 'not') {
    if (types.includes('string')) throw new ExprError(`"${op}" needs true/false or a number, not text`, pos);
  } else if (op === '==' || op === '!=') {
    const [l, r] = types as [StaticType, StaticType];
    const mixed = l !== r && l !== 'any' && r !== 'any' && (l === 'string' || r === 'string');
    if (mixed) throw new ExprError(`cannot compare ${NAMES[l]} with ${NAMES[r]}`, pos);
  } else {
    const bad = types.find((t) => t !== 'number' && t !== 'any');
    if (bad) throw new ExprError(`"${op}" needs numbers, not ${NAMES[bad]}`, pos);
  }
}

/** Parses a rule; throws ExprError with the column of the first problem. */
export function parseExpr(src: string): Expr {
  if (src.length > MAX_LENGTH) {
    throw new ExprError(`a rule may have at most ${MAX_LENGTH} characters, this one has ${src.length}`, MAX_LENGTH);
  }
  const toks = tokenize(src);
  let i = 0;
  let depth = 0;
  const peek = (): Tok => toks[i]!;
  const opIn = (...ops: string[]): OpTok | undefined => {
    const t = peek();
    return t.k === 'op' && ops.includes(t.v) ? t : undefined;
  };
  const nested = (pos: number, inner: () => Expr): Expr => {
    if (++depth > MAX_DEPTH) throw new ExprError(`brackets, "not" and minus nested more than ${MAX_DEPTH} deep`, pos);
    const e = inner();
    depth--;
    return e;
  };
  const binary = (t: OpTok, left: Expr, right: Expr): Expr => {
    checkTypes(t.v, t.pos, left, right);
    return { kind: 'bin', op: t.v as BinaryOp, left, right, pos: t.pos };
  };
  const chain = (ops: string[], operand: () => Expr) => (): Expr => {
    let left = operand();
    for (let t = opIn(...ops); t; t = opIn(...ops)) {
      i++;
      left = binary(t, left, operand());
    }
    return left;
  };
  const prefix = (kind: 'not' | 'neg', t: OpTok, operand: () => Expr): Expr => {
    i++;
    return nested(t.pos, () => {
      const arg = operand();
      checkTypes(t.v, t.pos, arg);
      return { kind, arg, pos: t.pos };
    });
  };

  const primary = (): Expr => {
    const t = peek();
    i++;
    if (t.k === 'lit') return { kind: 'lit', value: t.v, pos: t.pos };
    if (t.k === 'tag') return { kind: 'tag', path: t.v, pos: t.pos };
    if (t.k === 'end') throw new ExprError('the rule ends early: expected a tag, a number or "("', t.pos);
    if (t.v !== '(') throw new ExprError(`expected a tag, a number or "(", found "${t.text}"`, t.pos);
    const inner = nested(t.pos, or);
    if (!opIn(')')) throw new ExprError(`expected ")" to close the "(" of column ${t.pos + 1}`, peek().pos);
    i++;
    return inner;
  };
  const unary = (): Expr => {
    const t = opIn('-');
    return t ? prefix('neg', t, unary) : primary();
  };
  const prod = chain(['*', '/'], unary);
  const sum = chain(['+', '-'], prod);
  const cmp = (): Expr => {
    const left = sum();
    const t = opIn(...COMPARE);
    if (!t) return left;
    i++;
    const right = sum();
    const again = opIn(...COMPARE);
    if (again) throw new ExprError('comparisons do not chain; write "a < b and b < c"', again.pos);
    return binary(t, left, right);
  };
  const not = (): Expr => {
    const t = opIn('not');
    return t ? prefix('not', t, not) : cmp();
  };
  const and = chain(['and'], not);
  const or = chain(['or'], and);

  const e = or();
  const rest = peek();
  if (rest.k !== 'end') throw new ExprError(`expected an operator such as "and" or "<", found "${rest.text}"`, rest.pos);
  return e;
}

function* tags(e: Expr): Generator<Extract<Expr, { kind: 'tag' }>> {
  if (e.kind === 'tag') yield e;
  else if (e.kind === 'not' || e.kind === 'neg') yield* tags(e.arg);
  else if (e.kind === 'bin') { yield* tags(e.left); yield* tags(e.right); }
}

/** The tag paths a rule reads, each once, in the order they appear. */
export function exprRefs(e: Expr): string[] {
  return [...new Set([...tags(e)].map((t) => t.path))];
}

type Result = Value | undefined;
// PLC bits often arrive as 0/1 registers: a number is true when it is not 0. Text is no truth value.
const truth = (v: Result): boolean | undefined => (typeof v === 'boolean' ? v : typeof v === 'number' ? v !== 0 : undefined);
const finite = (n: number): number | undefined => (Number.isFinite(n) ? n : undefined);
const reading = (s: ReturnType<TagLookup>): Result => (s === undefined || s.quality === 'bad' ? undefined : s.value ?? undefined);
const invert = (b: boolean | undefined) => (b === undefined ? undefined : !b);
const negate = (v: Result) => (typeof v === 'number' ? -v : undefined);

/**
 * The value of a rule, or undefined (unknown) when a value it needs is missing, null, of bad
 * quality or of the wrong type. `and`/`or` follow Kleene's three-valued logic: one false operand
 * makes `and` false and one true operand makes `or` true whatever the other is, and the right
 * operand is not read when the left one decides. Uncertain quality is still a reading and is used.
 */
export function evaluate(e: Expr, lookup: TagLookup): Result {
  switch (e.kind) {
    case 'lit': return e.value;
    case 'tag': return reading(lookup(e.path));
    case 'not': return invert(truth(evaluate(e.arg, lookup)));
    case 'neg': return negate(evaluate(e.arg, lookup));
    case 'bin': return binary(e, lookup);
  }
}

function binary(e: Extract<Expr, { kind: 'bin' }>, lookup: TagLookup): Result {
  if (e.op === 'and' || e.op === 'or') {
    const decides = e.op === 'or';
    const l = truth(evaluate(e.left, lookup));
    if (l === decides) return decides;
    const r = truth(evaluate(e.right, lookup));
    if (r === decides) return decides;
    return l === undefined || r === undefined ? undefined : !decides;
  }
  const l = evaluate(e.left, lookup);
  const r = evaluate(e.right, lookup);
  if (l === undefined || r === undefined) return undefined;
  if (e.op === '==' || e.op === '!=') {
    // A bit read as 0/1 equals false/true; text equals only text.
    if (typeof l !== typeof r && (typeof l === 'string' || typeof r === 'string')) return undefined;
    const equal = typeof l === 'string' ? l === r : Number(l) === Number(r);
    return equal === (e.op === '==');
  }
  if (typeof l !== 'number' || typeof r !== 'number') return undefined;
  switch (e.op) {
    case '<': return l < r;
    case '<=': return l <= r;
    case '>': return l > r;
    case '>=': return l >= r;
    case '+': return finite(l + r);
    case '-': return finite(l - r);
    case '*': return finite(l * r);
    case '/': return finite(l / r); // by zero: Infinity or NaN, so unknown
  }
}

/** Whether a rule holds: true, false, or undefined when that cannot be known now. */
export function evaluateCondition(e: Expr, lookup: TagLookup): boolean | undefined {
  return truth(evaluate(e, lookup));
}

/** For the config loader: parses a rule and finds the first tag the configuration does not have. */
export function checkExpr(src: string, knownTags: (path: string) => boolean): { expr?: Expr; error?: string; pos?: number } {
  let expr: Expr;
  try {
    expr = parseExpr(src);
  } catch (err) {
    if (err instanceof ExprError) return { error: err.message, pos: err.pos };
    throw err;
  }
  for (const t of tags(expr)) {
    if (!knownTags(t.path)) return { error: `no tag "${t.path}" (column ${t.pos + 1})`, pos: t.pos };
  }
  if (typeOf(expr) === 'string') return { error: 'the rule gives a text, not true or false at column 1', pos: 0 };
  return { expr };
}
