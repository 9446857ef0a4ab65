// `cityedge run --config FILE`: runs the gateway until SIGINT or SIGTERM.
import { ConfigError } from '../../config/errors.ts';
import { loadConfigIsolated } from '../../config/isolated.ts';
import { startGateway } from '../main.ts';
import { createLogger } from '../log.ts';
import { parse } from './args.ts';
import { capYoungGeneration } from './young-generation.ts';
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
