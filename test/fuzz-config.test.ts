// Property tests of the configuration loader (issue 9, fuzzing). A technician's file with a typo,
// a lost line, a wrong value or plain garbage either loads or is refused with a ConfigError
// (CE_ERR_CONFIG_YAML / CE_ERR_CONFIG_INVALID) whose every issue names the file, a line of it and a
// message; the loader never dies with a TypeError the technician cannot act on.
// Fixed seeds: a failure prints its seed and path, and `fc.assert(…, { seed, path })` replays it.
import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { ConfigError, parseConfig } from '../config/loader.ts';

const EXAMPLES = ['pump-station.yaml', 'sewage-plant.yaml', 'streetlight-cabinet.yaml']
  .map((name) => ({ name, text: readFileSync(join(import.meta.dirname, '..', 'config', 'examples', name), 'utf8') }));
const FILE = 'box.yaml';

let lastError: ConfigError | undefined;

/** '' when the text loads or is refused as a technician needs; else what went wrong. The refusal is kept in lastError. */
function refusalFault(text: string): string {
  lastError = undefined;
  try {
    const config = parseConfig(text, FILE);
    return Object.isFrozen(config) ? '' : 'loaded but not frozen';
  } catch (e) {
    if (e instanceof ConfigError) lastError = e;
    if (!(e instanceof ConfigError)) return `${(e as Error).name} escaped the loader: ${(e as Error).message}`;
    if (e.code !== 'CE_ERR_CONFIG_YAML' && e.code !== 'CE_ERR_CONFIG_INVALID') return `code ${e.code}`;
    if (e.issues.length === 0) return 'a ConfigError without issues';
    const lines = text.split('\n').length;
    for (const i of e.issues) {
      if (i.file !== FILE) return `issue names file ${i.file}`;
      if (!Number.isInteger(i.line) || i.line < 1 || i.line > lines + 1) return `issue on line ${i.line} of ${lines}: ${i.message}`;
      if (typeof i.message !== 'string' || i.message.trim() === '') return `issue without a message at line ${i.line}`;
      if (/Cannot read prop|is not a function|is not iterable|undefined is|\[object Object\]/.test(i.message)) return `internal error as message: ${i.message}`;
    }
    return '';
  }
}

const check = (text: string) => {
  const fault = refusalFault(text);
  if (fault) throw new Error(fault);
  return true;
};

t.test('the examples load', async (t) => {
  for (const { name, text } of EXAMPLES) t.equal(refusalFault(text), '', name);
});

/** Text edits a technician's editor (or a bad copy) makes: a character typed, deleted or replaced, a line lost, doubled or shifted. */
const edit = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), s: fc.oneof(fc.constantFrom(':', ' ', '  ', '-', '"', "'", '{', '}', '[', ']', '#', '\t', '\n', '&a', '*a', '!!str', '- ', '0', 'x', '…'), fc.string({ maxLength: 4 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant('dropLine' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('dupLine' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
);
type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never;

function apply(text: string, e: Edit): string {
  if (e.kind === 'insert' || e.kind === 'delete') {
    const at = e.at % (text.length + 1);
    return e.kind === 'insert' ? text.slice(0, at) + e.s + text.slice(at) : text.slice(0, at) + text.slice(at + e.n);
  }
  const lines = text.split('\n');
  const i = e.at % lines.length;
  const line = lines[i] ?? '';
  if (e.kind === 'dropLine') lines.splice(i, 1);
  else if (e.kind === 'dupLine') lines.splice(i, 0, line);
  else lines[i] = e.by >= 0 ? ' '.repeat(e.by) + line : line.replace(new RegExp(`^ {0,${-e.by}}`), '');
  return lines.join('\n');
}

t.test('edited example files load or are refused with a ConfigError naming a line', async (t) => {
  const example = fc.constantFrom(...EXAMPLES.map((x) => x.text));
  fc.assert(fc.property(example, fc.array(edit, { minLength: 1, maxLength: 4 }), (text, edits) => check(edits.reduce(apply, text))),
    { seed: 9301, numRuns: 600 });
  t.pass('600 edited files');
});

/** Values of every kind YAML can carry, including those a schema is easy to get wrong on. */
const yamlValue = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e309, -0, 65_536, 2 ** 53 + 2, '', ' ', 'hr:99999', 'hr:1.16', 'co:1.1', '5m', '-1s', '1GiB', '__proto__', 'constructor', 'NaN', '.nan', '.inf', '0x10'),
  fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
);

/** Every key path of a parsed document, so a change can land anywhere: a tag's address, a rule's limit. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

t.test('a value changed anywhere: loads, or the refusal names the key and its line', async (t) => {
  const docs = EXAMPLES.map(({ text }) => { const doc = parseDocument(text); return { doc, paths: paths(doc.toJS()).filter((p) => p.length > 0) }; });
  const change = fc.record({
    doc: fc.nat({ max: docs.length - 1 }), pick: fc.nat(), value: yamlValue,
    how: fc.constantFrom('set' as const, 'delete' as const, 'addKey' as const), key: fc.constantFrom('extra', 'typo_key', 'scale', 'address', 'above', 'id'),
  });
  let refusedNamingKey = 0;
  fc.assert(fc.property(fc.array(change, { minLength: 1, maxLength: 3 }), (changes) => {
    const doc = docs[changes[0]!.doc]!.doc.clone();
    const all = docs[changes[0]!.doc]!.paths;
    for (const c of changes) {
      const path = all[c.pick % all.length]!;
      try {
        if (c.how === 'set') doc.setIn(path, c.value);
        else if (c.how === 'delete') doc.deleteIn(path);
        else if (isMap(doc.getIn(path, true))) doc.setIn([...path, c.key], c.value);
      } catch {
        continue; // an earlier change removed or replaced the path: nothing to edit there
      }
    }
    const text = doc.toString();
    check(text);
    const err = lastError;
    // Schema and semantic refusals name the key (or, for a file-wide rule, the file's top level).
    if (err?.code === 'CE_ERR_CONFIG_INVALID') {
        if (!err.issues.every((i) => typeof i.key === 'string')) throw new Error('an issue without a key');
      if (err.issues.some((i) => i.key !== '')) refusedNamingKey++;
    }
    return true;
  }), { seed: 9302, numRuns: 600 });
  t.ok(refusedNamingKey > 100, `${refusedNamingKey} refusals named the key at fault`);
});

t.test('garbage in place of a configuration: refused with a ConfigError, never a crash', async (t) => {
  const garbage = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
    fc.array(fc.constantFrom('site:', ' id: x', 'devices:', '  - id: d', '    driver: modbus-tcp', '    tags: []', '- ', '---', '...', '%YAML 1.2', 'a: &x [*x]', '<<: {a: 1}', '? a', ': b', '\t'), { maxLength: 12 }).map((ls) => ls.join('\n')),
  );
  fc.assert(fc.property(garbage, check), { seed: 9303, numRuns: 3000 });
  t.pass('3,000 garbage files');
});
