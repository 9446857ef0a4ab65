// pymodbus (Debian's python3-pymodbus 3.0) as an independent Modbus TCP server for tests: a stack
// written by other people, so a decoding or addressing bug of ours cannot be mirrored in the peer.
// Addresses in the map are 0-based PDU addresses, exactly what cityedge's `hr:N` means.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess } from './proc.ts';
import type { SpawnedProcess, Teardownable } from './proc.ts';

/** Debian's interpreter: the python3 first on PATH may be another one that cannot see pymodbus. */
export const DEBIAN_PYTHON = '/usr/bin/python3';
export const PEER_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../peers/pymodbus_server.py');

/** Consecutive values from `start` (0-based). Registers are 0..65535; bits are booleans or 0/1. */
export interface ModbusBlock<V> {
  start: number;
  values: V[];
}
type Table<V> = ModbusBlock<V> | ModbusBlock<V>[];

export interface ModbusUnitMap {
  /** Unit (slave) id; default 1. Requests for other unit ids get no answer at all. */
  unit?: number;
  hr?: Table<number>;
  ir?: Table<number>;
  co?: Table<boolean | 0 | 1>;
  di?: Table<boolean | 0 | 1>;
}

/** One unit, or several behind the same port. Unmapped addresses answer exception 02. */
export type ModbusMap = ModbusUnitMap | { units: ModbusUnitMap[] };

export interface PymodbusOptions {
  t?: Teardownable;
  map: ModbusMap;
  /** Default 0: the peer binds a free port itself and reports it, so there is no port race. */
  port?: number;
  readyTimeoutMs?: number;
  /** Log every Modbus frame to the peer's output (see output()). */
  debug?: boolean;
}

export interface Pymodbus {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  output(): string;
  process(): SpawnedProcess;
  stop(): Promise<void>;
}

let importCheck: Promise<void> | undefined;

/** Rejects with the fix (which package, which interpreter) if Debian's python cannot load pymodbus. */
export function checkPymodbus(): Promise<void> {
  importCheck ??= new Promise<void>((resolvePromise, reject) => {
    execFile(DEBIAN_PYTHON, ['-c', 'import pymodbus; print(pymodbus.__version__)'], { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (!err) return resolvePromise();
      reject(new Error(`${DEBIAN_PYTHON} cannot import pymodbus (${(stderr || err.message).trim().split('\n').pop()}): ` +
        'install the Debian package "python3-pymodbus" (`npm test` does this in its pretest step: ' +
        'bash test/setup/install-debian-deps.sh). Note it must be Debian\'s /usr/bin/python3, not another python3 on PATH.'));
    });
  });
  return importCheck;
}

/** Starts the pymodbus peer serving `map` on 127.0.0.1; resolves once it listens. */
export async function startPymodbus(opts: PymodbusOptions): Promise<Pymodbus> {
  await checkPymodbus();
  const dir = await mkdtemp(join(tmpdir(), 'cityedge-pymodbus-'));
  const mapPath = join(dir, 'map.json');
  await writeFile(mapPath, JSON.stringify(opts.map, null, 2));
  const cleanupDir = (): Promise<void> => rm(dir, { recursive: true, force: true });

  let proc: SpawnedProcess;
  try {
    proc = await spawnProcess(DEBIAN_PYTHON, [
      '-u', PEER_SCRIPT,
      '--port', String(opts.port ?? 0),
      '--map', mapPath,
      // With stdin a pipe from us, the peer exits by itself if this test process dies (even by SIGKILL).
      '--exit-on-stdin-eof',
      ...(opts.debug ? ['--debug'] : []),
    ], {
      name: 'pymodbus',
      stdin: 'pipe',
      readyLine: /pymodbus listening on ([\d.]+):(\d+)/,
      readyTimeoutMs: opts.readyTimeoutMs ?? 30_000,
      env: { PYTHONDONTWRITEBYTECODE: '1' }, // keep __pycache__ out of the checkout
    });
  } catch (err) {
    await cleanupDir();
    throw err;
  }
  const stop = async (): Promise<void> => {
    await proc.kill('SIGTERM');
    await cleanupDir();
  };
  opts.t?.teardown(stop);
  const m = proc.ready!;
  return {
    host: m[1]!,
    port: Number(m[2]),
    pid: proc.pid,
    output: () => proc.output(),
    process: () => proc,
    stop,
  };
}
