// `cityedge run --config FILE`: runs the gateway until SIGINT or SIGTERM.
import { ConfigError } from '../../config/errors.ts';
import { loadConfigIsolated } from '../../config/isolated.ts';
import { startGateway } from '../main.ts';
import { createLogger } from '../log.ts';
import { parse } from './args.ts';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Building the drivers' plans for thousands of tags leaves garbage in pages V8 keeps: one full
 * collection once everything is built gives them back. (The flag exposes gc() only to the throwaway
 * context it is fetched from, then is switched off again.)
 */
function releaseStartupMemory(): void {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (() => void) | undefined;
    setFlagsFromString('--no-expose-gc');
    gc?.();
  } catch { /* not worth failing a start for */ }
}

/**
 * Keeps V8's young generation at the size it starts with (two 1 MB semi-spaces) instead of letting
 * it grow to two of 16 MB under load: at 10,000 points/s those 32 MB, fully touched, were the largest
 * single part of the gateway's RSS, and the gateway's per-point garbage is small enough that
 * collecting it more often costs little (docs/performance.md, "Memory, in more detail"). The
 * maximum itself cannot change once V8 runs; not growing towards it can. An operator who gives
 * --max-semi-space-size (NODE_OPTIONS or node's arguments) has chosen, and is left alone. A worker
 * thread started later puts the default back, so the gateway starts none on this path.
 */
export function capYoungGeneration(): boolean {
  if ([...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('semi-space'))) return false;
  try {
    setFlagsFromString('--semi-space-growth-factor=1');
    return true;
  } catch {
    return false;
  }
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string', short: 'c' }, trust: { type: 'boolean' } });
  if (!values.config) {
    process.stderr.write('usage: cityedge run --config FILE [--trust]\n');
    return 2;
  }
  let config;
  try {
    config = await loadConfigIsolated(values.config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n${values.config}: refused (${e.code}); nothing started\n`);
    return 1;
  }
  const logger = createLogger();
  capYoungGeneration();
  // --trust: OPC UA server certificates seen for the first time are trusted and kept (docs/drivers/opcua.md).
  const gw = startGateway(config, { logger, trustServers: values.trust === true });
  releaseStartupMemory();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info('stopping');
  await gw.stop();
  return 0;
}
