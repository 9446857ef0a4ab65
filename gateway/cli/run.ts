// `cityedge run --config FILE`: runs the gateway until SIGINT or SIGTERM.
import { ConfigError } from '../../config/errors.ts';
import { loadConfigIsolated } from '../../config/isolated.ts';
import { startGateway } from '../main.ts';
import { createLogger } from '../log.ts';
import { parse } from './args.ts';
import { HeapGovernor } from './heap-governor.ts';

/** CITYEDGE_HEAP_SLACK_MB (docs/operations.md, "Memory"): 4 unless given; 0 turns the watch off. */
function heapSlackMb(logger: ReturnType<typeof createLogger>): number {
  const raw = process.env.CITYEDGE_HEAP_SLACK_MB;
  if (raw === undefined || raw === '') return 4;
  const n = Number(raw);
  if (Number.isFinite(n) && n >= 0) return n;
  logger.warn({ CITYEDGE_HEAP_SLACK_MB: raw }, 'CITYEDGE_HEAP_SLACK_MB is not a number of MB ≥ 0; using 4');
  return 4;
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
  // --trust: OPC UA server certificates seen for the first time are trusted and kept (docs/drivers/opcua.md).
  const gw = startGateway(config, { logger, trustServers: values.trust === true });
  // Building the drivers' plans for thousands of tags leaves garbage in pages V8 keeps: one full
  // collection once everything is built gives them back; then the old generation is kept in bounds.
  const heap = new HeapGovernor({ slackMb: heapSlackMb(logger), everyMs: 2000 });
  heap.collect();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  heap.stop();
  logger.info('stopping');
  await gw.stop();
  return 0;
}
