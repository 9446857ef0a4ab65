// Loads a configuration in a worker thread that exits afterwards. Parsing and validating a big file
// (10,000 tags) takes tens of MB that V8 keeps once its heap has grown for them, and the YAML parser,
// Ajv and TypeBox would stay loaded for the life of the process: measured, 54 MB of RSS for 10 MB
// of live configuration. In a worker all of that goes away with the worker; the gateway's heap
// receives only the plain, validated result.
import { Worker } from 'node:worker_threads';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { deepFreeze } from './freeze.ts';
import type { Config } from './schema.ts';

/**
 * Where the worker finds the loader: the bundled `config-loader.mjs` when the CLI runs from its
 * esbuild bundle (bin/cityedge.mjs sets this), else the TypeScript source (under tsx, which a
 * worker inherits through execArgv).
 */
const loaderUrl = (): string =>
  (globalThis as { __cityedgeConfigLoader?: string }).__cityedgeConfigLoader ?? new URL('./loader.ts', import.meta.url).href;

// The worker is a small script: CommonJS, because `eval` workers are; it imports the ES loader.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.loaderUrl).then((m) => {
  try {
    parentPort.postMessage({ config: m.loadConfig(workerData.file) });
  } catch (e) {
    parentPort.postMessage({ error: { name: e && e.name, code: e && e.code, issues: e && e.issues, message: String(e && e.message || e) } });
  }
}, (e) => parentPort.postMessage({ error: { message: 'cannot load the configuration loader: ' + String(e && e.stack || e) } }));
`;

interface Reply {
  config?: Config;
  error?: { name?: string; code?: ConfigError['code']; issues?: ConfigIssue[]; message: string };
}

export async function loadConfigIsolated(file: string): Promise<Config> {
  const worker = new Worker(WORKER, { eval: true, workerData: { file, loaderUrl: loaderUrl() } });
  try {
    const reply = await new Promise<Reply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the configuration loader stopped (exit ${code}) without an answer`)));
    });
    if (reply.error) {
      if (reply.error.name === 'ConfigError' && reply.error.code && reply.error.issues) throw new ConfigError(reply.error.code, reply.error.issues);
      throw new Error(reply.error.message);
    }
    // Structured cloning drops the freeze: freeze the copy this thread keeps.
    return deepFreeze(reply.config!);
  } finally {
    await worker.terminate();
  }
}
