#!/usr/bin/env node
// The `cityedge` command. The TypeScript sources are bundled by esbuild into one cached ES module
// on first use and again whenever a source is newer, then imported as plain JavaScript: no build
// step after `npm install`, and no loader on the box. (A loader such as tsx costs for ever: on
// Node 20 its hooks run in a thread of their own with its own heap, tens of MB of RSS, and every
// import goes through it.) Where the cache cannot be written, it falls back to tsx.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { capYoungGeneration } from './young-generation.mjs';

// First, before anything else is loaded (bin/young-generation.mjs says why).
if (process.argv[2] === 'run') capYoungGeneration();

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SOURCE_DIRS = ['gateway', 'drivers', 'cloud-sync', 'config', 'simulators'];
const ENTRY = join(ROOT, 'gateway', 'cli', 'main.ts');
const CACHE = join(ROOT, 'node_modules', '.cache', 'cityedge');

/** Newest modification time and number of the TypeScript sources below dir. */
function scanSources(dir, acc = { newest: 0, count: 0 }) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) scanSources(p, acc);
    else if (e.name.endsWith('.ts')) { acc.newest = Math.max(acc.newest, statSync(p).mtimeMs); acc.count++; }
  }
  return acc;
}

/**
 * The build folder for the current sources, named after the newest source and their number: an
 * edit, a new file or a deleted one makes a new build.
 */
function buildDir() {
  const acc = { newest: statSync(join(ROOT, 'package.json')).mtimeMs, count: 0 };
  for (const d of SOURCE_DIRS) scanSources(join(ROOT, d), acc);
  return join(CACHE, `build-${Math.floor(acc.newest)}-${acc.count}`);
}

async function bundle(dir) {
  const { build } = await import('esbuild');
  const tmp = `${dir}.${process.pid}.tmp`;
  mkdirSync(CACHE, { recursive: true });
  await build({
    // The config loader is an entry of its own: `run` loads the configuration in a child process
    // (config/isolated.ts), which imports it from here.
    entryPoints: { main: ENTRY, 'config-loader': join(ROOT, 'config', 'loader.ts') },
    outdir: tmp,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    // Each verb's code and dependencies load only when that verb runs: `run` does not carry the
    // demo's broker or the simulators.
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
    plugins: [{
      // Sources find files next to them (package.json, example configs) through import.meta.url;
      // in a bundle that would be the bundle's own location, so each file keeps its own.
      name: 'source-location',
      setup(b) {
        b.onLoad({ filter: /\.ts$/ }, (args) => {
          const url = pathToFileURL(args.path).href;
          const contents = readFileSync(args.path, 'utf8')
            .replaceAll('import.meta.url', JSON.stringify(url))
            .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)));
          return { contents, loader: 'ts' };
        });
      },
    }],
  });
  // Renaming the folder is atomic: two commands started at once never import a half-written
  // build. If another one got there first, its build is as good as ours.
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true });
  }
  for (const old of readdirSync(CACHE)) {
    if (old.startsWith('build-') && join(CACHE, old) !== dir && !old.endsWith('.tmp')) rmSync(join(CACHE, old), { recursive: true, force: true });
  }
}

let main;
try {
  const dir = buildDir();
  if (!existsSync(join(dir, 'main.mjs'))) await bundle(dir);
  main = join(dir, 'main.mjs');
} catch (e) {
  if (process.env.CITYEDGE_DEBUG) console.error('cityedge: bundling failed, running through tsx:', e);
}
if (main) {
  globalThis.__cityedgeConfigLoader = pathToFileURL(join(dirname(main), 'config-loader.mjs')).href;
  await import(pathToFileURL(main).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(ENTRY).href);
}
