// Schema validation with Ajv, and the translation of Ajv's errors into a technician's words.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigSchema } from './schema.ts';
import type { KeyPath, RawIssue } from './loader.ts';

let compiled: ValidateFunction | undefined;

export function compileValidator(): ValidateFunction {
  // useDefaults fills keys the file leaves out, so the frozen config is complete.
  compiled ??= new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: false, strictNumbers: true }).compile(ConfigSchema);
  return compiled;
}

export function schemaIssues(errors: readonly ErrorObject[]): RawIssue[] {
  // An anyOf that failed (a duration that is neither number nor "30s") produces one error per
  // branch; keep only the anyOf's own, described by the union's description.
  const unions = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath);
  const kept = errors.filter((e) => {
    if (e.keyword === 'if') return false; // the driver branch's own errors say what is wrong
    return !unions.some((u) => e.schemaPath !== u && e.schemaPath.startsWith(`${u}/`));
  });
  const seen = new Set<string>();
  const out: RawIssue[] = [];
  for (const e of kept) {
    const issue = describe(e);
    const id = `${issue.path.join('/')}|${issue.message}`;
    if (!seen.has(id)) { seen.add(id); out.push(issue); }
  }
  return out;
}

function pathOf(instancePath: string): KeyPath {
  if (!instancePath) return [];
  return instancePath.slice(1).split('/').map((s) => {
    const k = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(k) ? Number(k) : k;
  });
}

/** Keys whose values are secrets, or may be one pasted in the wrong place: never echoed back. */
const SECRET = /password|token|secret|key$/i;

function describe(e: ErrorObject): RawIssue {
  const path = pathOf(e.instancePath);
  if (SECRET.test(String(path.at(-1) ?? '')) && typeof e.data === 'string') {
    return { path, message: 'the value has the wrong form (not shown: it may be a secret)', ...(((e.parentSchema ?? {}) as { description?: string }).description ? { hint: (e.parentSchema as { description: string }).description } : {}) };
  }
  const parent = (e.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown>; enum?: unknown[] };
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      const known = Object.keys(parent.properties ?? {});
      const near = closest(key, known);
      return { path: [...path, key], onKey: true, message: `unknown key "${key}"`,
        hint: near ? `did you mean "${near}"? known keys: ${known.join(', ')}` : `known keys: ${known.join(', ')}` };
    }
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: `missing required key "${String(p.missingProperty)}"`,
        hint: 'add it; see docs/config.md' };
    case 'enum':
      return { path, message: `${JSON.stringify(e.data)} is not allowed`,
        hint: `one of: ${(p.allowedValues as unknown[]).map((v) => String(v)).join(', ')}` };
    case 'type':
      return { path, message: `expected ${String(p.type)}, got ${show(e.data)}`,
        ...(parent.description ? { hint: parent.description } : {}) };
    case 'pattern':
      return { path, message: `${JSON.stringify(e.data)} has the wrong form`,
        hint: parent.description ?? `must match ${String(p.pattern)}` };
    case 'anyOf':
      return { path, message: `${JSON.stringify(e.data)} is not valid here`, ...(parent.description ? { hint: parent.description } : {}) };
    case 'minItems':
      return { path, message: `needs at least ${String(p.limit)} entr${p.limit === 1 ? 'y' : 'ies'}` };
    default:
      return { path, message: `${JSON.stringify(e.data)} ${e.message ?? 'is not valid'}`,
        ...(parent.description ? { hint: parent.description } : {}) };
  }
}

/** JSON shows NaN and Infinity as null; a technician should see what the file says. */
const show = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v));

/** The known key nearest to a misspelt one (edit distance ≤ 2), for "did you mean". */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) { bestD = d; best = c; }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
