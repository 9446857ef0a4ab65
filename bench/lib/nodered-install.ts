// Node-RED and node-red-contrib-modbus for `npm run bench:nodered`, installed by the benchmark itself
// into a cache folder under the OS temp dir, never into the project: they are the peer we measure
// against, not something cityedge depends on.
//
// Exact versions, so that two runs compare the same Node-RED: node-red 4.1.8 is the newest 4.x when
// this was written (it wants Node >= 18.5), node-red-contrib-modbus 5.23.3 the version the issue
// names. The folder is named after both and reused once an install has completed (a marker file
// written last); an install goes to a folder of its own first and is renamed into place, so two
// benchmarks starting at once cannot see each other's half-written node_modules.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild } from './children.ts';

export const NODE_RED_VERSION = '4.1.8';
export const CONTRIB_MODBUS_VERSION = '5.23.3';

const MARKER = '.cityedge-bench-complete';

export interface NodeRedInstall {
  dir: string;
  /** Node-RED's own start script, what the `node-red` command runs. */
  redJs: string;
  /** Versions as installed (read back from their package.json files). */
  versions: { nodeRed: string; contribModbus: string; mqtt: string; modbusSerial: string };
  /** Seconds the install took in this run; undefined when the cached folder was reused. */
  installS: number | undefined;
}

function installedVersion(dir: string, ...path: string[]): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'node_modules', ...path, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not found';
  }
}

function describe(dir: string, installS: number | undefined): NodeRedInstall {
  return {
    dir,
    redJs: join(dir, 'node_modules', 'node-red', 'red.js'),
    versions: {
      nodeRed: installedVersion(dir, 'node-red'),
      contribModbus: installedVersion(dir, 'node-red-contrib-modbus'),
      // The libraries doing the wire work inside Node-RED, for the report: Node-RED's MQTT nodes use
      // mqtt.js, node-red-contrib-modbus its own copy of modbus-serial (and jsmodbus for serial).
      mqtt: installedVersion(dir, 'mqtt'),
      modbusSerial: installedVersion(dir, 'modbus-serial'),
    },
    installS,
  };
}

const cacheDir = () => join(tmpdir(), `cityedge-nodered-${NODE_RED_VERSION}-${CONTRIB_MODBUS_VERSION}`);

/** Where this process installs before renaming into place: for the bench to remove if it is stopped half-way. */
export const installWorkDir = (): string => `${cacheDir()}.installing-${process.pid}`;

export async function installNodeRed(progress: (msg: string) => void): Promise<NodeRedInstall> {
  const dir = cacheDir();
  if (existsSync(join(dir, MARKER))) return describe(dir, undefined);

  const work = installWorkDir();
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // A package.json of its own, so npm cannot walk up and install into some project above the temp dir.
  writeFileSync(join(work, 'package.json'), `${JSON.stringify({ name: 'cityedge-bench-nodered', private: true }, null, 2)}\n`);
  progress(`installing node-red@${NODE_RED_VERSION} and node-red-contrib-modbus@${CONTRIB_MODBUS_VERSION} into ${dir} (once; reused by later runs)`);
  const started = performance.now();
  // --ignore-scripts: the only install scripts are node-red-contrib-modbus's sponsorship message and
  // serialport's node-gyp-build, which finds its prebuilt binding at load time anyway (and serial
  // ports are not used here: the PLCs are Modbus TCP). A tracked child (bench/lib/children.ts), so a
  // run stopped half-way stops npm too.
  const npm = startChild('npm install', 'npm', [
    'install', '--prefix', work, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel', 'error',
    `node-red@${NODE_RED_VERSION}`, `node-red-contrib-modbus@${CONTRIB_MODBUS_VERSION}`,
  ]);
  const status = await new Promise<string>((resolve) => {
    npm.proc.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`));
  });
  await npm.stop(); // already exited: forgets it
  if (status !== 'code 0' || !existsSync(join(work, 'node_modules', 'node-red', 'red.js'))) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(`npm could not install Node-RED into ${work} (exit ${status}):\n${npm.lines.slice(-30).join('\n')}`);
  }
  const installS = (performance.now() - started) / 1000;
  writeFileSync(join(work, MARKER), `${new Date().toISOString()}\n`);
  if (existsSync(join(dir, MARKER))) {
    // Another run completed its own install meanwhile (and may be using it): keep that one.
    rmSync(work, { recursive: true, force: true });
    return describe(dir, installS);
  }
  rmSync(dir, { recursive: true, force: true }); // a folder without the marker: an install that died half-way
  try {
    renameSync(work, dir);
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(join(dir, MARKER))) throw new Error(`cannot move the Node-RED install into ${dir}: ${(e as Error).message}`);
  }
  return describe(dir, installS);
}
