// Loads a configuration in a child process that exits afterwards. Parsing and validating a big file
// (10,000 tags) takes tens of MB that V8 keeps once its heap has grown for them, and the YAML parser,
// Ajv and TypeBox would stay loaded for the life of the process: measured, 54 MB of RSS for 10 MB
// of live configuration. In a process of its own all of that goes away when it exits, and the
// gateway receives only the plain, validated result. A process rather than a worker thread: a
// worker's allocations stay behind in a malloc arena of the gateway's (measured: ~6 MB of RSS for
// good), and starting a worker resets V8's young-generation limit (bin/young-generation.mjs).
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { deserialize } from 'node:v8';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { deepFreeze } from './freeze.ts';
import type { Config } from './schema.ts';

/**
 * Where the child finds the loader: the bundled `config-loader.mjs` when the CLI runs from its
 * esbuild bundle (bin/cityedge.mjs sets this), else the TypeScript source, through tsx.
 */
const loaderUrl = (): string =>
  (globalThis as { __cityedgeConfigLoader?: string }).__cityedgeConfigLoader ?? new URL('./loader.ts', import.meta.url).href;

// The answer goes back as V8's structured-clone bytes (v8.serialize), as a worker's message would:
// whatever the loader returns arrives as it left, which JSON promises only for plain JSON values. It
// travels on a pipe of its own (fd 3), not stdout: a Node option inherited from the gateway, such as
// --trace-gc, or a stray console.log would otherwise be read as part of it (that happened).
// argv: the loader's URL, the file, and tsx's API when the loader is TypeScript.
const CHILD = `
const [loaderUrl, file, tsx] = process.argv.slice(1);
const { serialize } = await import('node:v8');
const { Socket } = await import('node:net');
const reply = (r) => new Socket({ fd: 3, readable: false, writable: true }).end(serialize(r));
try {
  if (tsx) (await import(tsx)).register();
  const m = await import(loaderUrl);
  try {
    reply({ config: m.loadConfig(file) });
  } catch (e) {
    reply({ error: { name: e && e.name, code: e && e.code, issues: e && e.issues, message: String(e && e.message || e) } });
  }
} catch (e) {
  reply({ error: { message: 'cannot load the configuration loader: ' + String(e && e.stack || e) } });
}
`;

interface Reply {
  config?: Config;
  error?: { name?: string; code?: ConfigError['code']; issues?: ConfigIssue[]; message: string };
}


export async function loadConfigIsolated(file: string): Promise<Config> {
  const url = loaderUrl();
  const tsx = url.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : '';
  // None of this process's Node flags: the child needs none (tsx, when needed, it registers itself),
  // and a profiler's or inspector's would profile the loader, or, with its value as a separate
  // argument (`--cpu-prof-dir DIR`), leave DIR where the child's script should be.
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, url, file, ...(tsx ? [tsx] : [])], {
    stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
  });
  const chunks: Buffer[] = [];
  (child.stdio[3] as Readable).on('data', (c: Buffer) => chunks.push(c));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, signal) => resolve(signal ? null : c));
  });
  let reply: Reply;
  try {
    reply = deserialize(Buffer.concat(chunks)) as Reply;
  } catch {
    throw new Error(`the configuration loader stopped (exit ${code ?? 'by a signal'}) without an answer`);
  }
  if (reply.error) {
    if (reply.error.name === 'ConfigError' && reply.error.code && reply.error.issues) throw new ConfigError(reply.error.code, reply.error.issues);
    throw new Error(reply.error.message);
  }
  return deepFreeze(reply.config!);
}
