// `cityedge run --config FILE`: runs the gateway until SIGINT or SIGTERM.
import { loadConfig, ConfigError } from '../../config/loader.ts';
import { startGateway } from '../main.ts';
import { createLogger } from '../log.ts';
import { parse } from './args.ts';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Parsing and validating a large configuration (10,000 tags) peaks at tens of MB of garbage, and V8
 * keeps the pages it grew for it: the box would carry the start-up peak as RSS for ever. One full
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
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } });
  if (!values.config) {
    process.stderr.write('usage: cityedge run --config FILE\n');
    return 2;
  }
  let config;
  try {
    config = loadConfig(values.config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n${values.config}: refused (${e.code}); nothing started\n`);
    return 1;
  }
  const logger = createLogger();
  const gw = startGateway(config, { logger });
  releaseStartupMemory();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info('stopping');
  await gw.stop();
  return 0;
}
