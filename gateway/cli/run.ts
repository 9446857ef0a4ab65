// `cityedge run --config FILE`: runs the gateway until SIGINT or SIGTERM.
import { loadConfig, ConfigError } from '../../config/loader.ts';
import { startGateway } from '../main.ts';
import { createLogger } from '../log.ts';
import { parse } from './args.ts';

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
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info('stopping');
  await gw.stop();
  return 0;
}
