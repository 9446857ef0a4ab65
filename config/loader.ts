// Loads one box's YAML configuration: parse, validate the whole file against the schema, check
// what a schema cannot (addresses, duplicates, references), then freeze it. Every problem is
// reported with file, line, column and key, all at once, so a technician fixes the file in one go.
//
// Two YAML parsers, on purpose. `yaml` keeps every node's source position, which is what lets an
// error name its line; for a 10,000-tag file that costs ~90 MB and ~0.5 s. js-yaml builds plain
// objects directly (~20 MB, 60 ms, measured on the benchmark's file). A file is read with js-yaml
// first; only when anything at all is wrong with it (syntax, schema, semantics) is it read again
// with `yaml`, whose verdict is the one reported. So a good file costs little, and a bad one gets
// the same positioned errors as before.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import jsYaml from 'js-yaml';
import { LineCounter, parseDocument, isMap, isPair, isScalar, visit, type Document, type Node } from 'yaml';
import { compileValidator, schemaIssues } from './validate.ts';
import { semanticIssues } from './semantic.ts';
import type { AnyDeviceConfig, CameraDeviceConfig, Config, DeviceConfig, RawConfig } from './schema.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { deepFreeze } from './freeze.ts';

export { ConfigError, formatIssues, type ConfigIssue } from './errors.ts';

/** Path segments of a key, as Ajv and the semantic checks report them. */
export type KeyPath = (string | number)[];
/** A problem found before positions are known. */
export interface RawIssue { path: KeyPath; message: string; hint?: string; onKey?: boolean }

export function loadConfig(file: string): Config {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new ConfigError('CE_ERR_CONFIG_READ', [{ file, line: 0, column: 0, key: '', message: `cannot read the configuration: ${why}` }]);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): Config {
  return parseValidConfig(text, file) ?? parseConfigWithPositions(text, file);
}

/**
 * The fast path: the finished configuration if the file is valid, else undefined. Core schema:
 * YAML 1.2's, as `yaml` uses, so dates and `<<` merge keys stay plain strings in both parsers.
 */
export function parseValidConfig(text: string, file: string): Config | undefined {
  let data: unknown;
  try {
    data = jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA, json: false }) ?? {};
  } catch {
    return undefined;
  }
  const validate = compileValidator();
  if (!validate(data) || semanticIssues(data as RawConfig).length > 0) return undefined;
  return finish(data as RawConfig, file);
}

export function parseConfigWithPositions(text: string, file: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError('CE_ERR_CONFIG_YAML', doc.errors.map((e) => {
      const pos = lines.linePos(e.pos[0]);
      return { file, line: pos.line, column: pos.col, key: keyText(pathAt(doc.contents, e.pos[0])), message: e.message.split('\n')[0] ?? e.message,
        hint: e.code === 'DUPLICATE_KEY' ? 'each key may appear once in a mapping' : 'YAML: check indentation, colons and quotes' };
    }));
  }
  // An alias whose anchor is not set before it passes the parser and fails only here (fast-check
  // found it: a file that is just `*!`); it is a YAML mistake like the others, with its line.
  const dangling = danglingAlias(doc);
  if (dangling !== undefined) {
    const pos = lines.linePos(dangling.offset);
    throw new ConfigError('CE_ERR_CONFIG_YAML', [{ file, line: pos.line, column: pos.col, key: keyText(pathAt(doc.contents, dangling.offset)),
      message: `alias *${dangling.name} has no anchor &${dangling.name} before it`, hint: 'define the anchor (&name) before using it, or quote a value that starts with *' }]);
  }
  const data: unknown = doc.toJS() ?? {};
  const validate = compileValidator();
  const raw = validate(data) ? semanticIssues(data as RawConfig) : schemaIssues(validate.errors ?? []);
  if (raw.length > 0) {
    const issues = raw.map((r) => locate(r, doc, lines, file));
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError('CE_ERR_CONFIG_INVALID', issues);
  }
  return finish(data as RawConfig, file);
}

/** The first alias that resolves to nothing, with where it is. */
function danglingAlias(doc: Document): { name: string; offset: number } | undefined {
  let found: { name: string; offset: number } | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) === undefined) { found = { name: node.source, offset: node.range?.[0] ?? 0 }; return visit.BREAK; }
      return undefined;
    },
  });
  return found;
}

function finish(data: RawConfig, file: string): Config {
  const all: AnyDeviceConfig[] = data.devices;
  const config = data as unknown as Config & { source: string };
  // Cameras are watched, not read: the gateway's device loops never see them.
  config.devices = all.filter((d): d is DeviceConfig => d.driver !== 'camera');
  config.cameras = all.filter((d): d is CameraDeviceConfig => d.driver === 'camera');
  config.source = resolve(file);
  config.buffer = { ...config.buffer, path: config.buffer?.path ?? './data' };
  // A relative buffer path is relative to the config file, so the box behaves the same whatever
  // directory the service manager starts it in.
  config.buffer.path = resolve(dirname(config.source), config.buffer.path);
  // Certificate files likewise: the provisioning puts them next to the config.
  config.upstreams = (config.upstreams ?? []).map((u) => (u.tls === undefined ? u : {
    ...u,
    tls: Object.fromEntries(Object.entries(u.tls).map(([k, v]) => [k, (k === 'ca' || k === 'cert' || k === 'key') && typeof v === 'string' ? resolve(dirname(config.source), v) : v])) as typeof u.tls,
  }));
  return deepFreeze(config);
}

export function keyText(path: KeyPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function locate(issue: RawIssue, doc: Document, lines: LineCounter, file: string): ConfigIssue {
  const { node, depth, keyNode } = findNode(doc, issue.path);
  const target = issue.onKey && keyNode && depth === issue.path.length ? keyNode : node;
  const offset = target?.range?.[0] ?? 0;
  const pos = lines.linePos(offset);
  return { file, line: pos.line, column: pos.col, key: keyText(issue.path), message: issue.message, ...(issue.hint ? { hint: issue.hint } : {}) };
}

/** The deepest node of the document on the path, and the key node of the last pair found. */
function findNode(doc: Document, path: KeyPath): { node: Node | undefined; depth: number; keyNode: Node | undefined } {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  let depth = 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value ?? pair.key;
    } else if (node && typeof node === 'object' && 'items' in node && Array.isArray(node.items) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      if (!item) break;
      keyNode = undefined;
      node = item;
    } else {
      break;
    }
    depth++;
  }
  return { node: node as Node | undefined, depth, keyNode };
}

/** The path of the deepest node whose source range holds the offset (for YAML syntax errors). */
function pathAt(node: unknown, offset: number, path: KeyPath = []): KeyPath {
  if (isMap(node)) {
    for (const p of node.items) {
      const k = p.key as Node | null;
      const v = p.value as Node | null;
      const start = k?.range?.[0] ?? v?.range?.[0];
      const stop = v?.range?.[2] ?? k?.range?.[2];
      if (start !== undefined && stop !== undefined && offset >= start && offset <= stop && isScalar(k)) {
        return pathAt(v, offset, [...path, String(k.value)]);
      }
    }
  } else if (node && typeof node === 'object' && 'items' in node && Array.isArray(node.items)) {
    const items = node.items as (Node | null)[];
    for (let i = 0; i < items.length; i++) {
      const r = items[i]?.range;
      if (r && offset >= r[0] && offset <= r[2]) return pathAt(items[i], offset, [...path, i]);
    }
  }
  return path;
}
