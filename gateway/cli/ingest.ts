// `cityedge ingest --broker URL --influx URL …`: the platform side's reference consumer. Runs until
// SIGINT or SIGTERM and logs its counters every 10 s (docs/platform.md).
import { hostname } from 'node:os';
import { Ingest } from '../../cloud-sync/ingest/ingest.ts';
import { systemClock } from '../model/index.ts';
import { createLogger } from '../log.ts';
import { parse, UsageError } from './args.ts';

const USAGE = `usage: cityedge ingest --broker URL --influx URL --bucket B [--org O] [--token T]
         [--group cityedge-ingest] [--topic "cityedge/v1/+/telemetry/+"] [--client-id ID]
         [--connections 4] [--session-expiry-s 3600] [--measurement cityedge] [--username U --password P]
         [--stats-every-s 10]`;

export async function main(argv: string[]): Promise<number> {
  const { values: v } = parse(argv, {
    broker: { type: 'string' }, username: { type: 'string' }, password: { type: 'string' },
    influx: { type: 'string' }, org: { type: 'string' }, bucket: { type: 'string' }, token: { type: 'string' },
    measurement: { type: 'string', default: 'cityedge' },
    group: { type: 'string', default: 'cityedge-ingest' },
    topic: { type: 'string', default: 'cityedge/v1/+/telemetry/+' },
    'client-id': { type: 'string' },
    connections: { type: 'string', default: '4' },
    'session-expiry-s': { type: 'string', default: '3600' },
    'stats-every-s': { type: 'string', default: '10' },
  });
  if (!v.broker || !/^(mqtt|mqtts|tcp|tls|ws|wss):\/\//.test(v.broker)) throw new UsageError(`--broker mqtt://HOST:PORT is required\n${USAGE}`);
  if (!v.influx || !/^https?:\/\//.test(v.influx)) throw new UsageError(`--influx http://HOST:PORT is required\n${USAGE}`);
  if (!v.bucket) throw new UsageError(`--bucket is required\n${USAGE}`);
  const connections = Number(v.connections);
  if (!Number.isInteger(connections) || connections < 1 || connections > 64) throw new UsageError('--connections is 1 to 64');
  const sessionExpiryS = Number(v['session-expiry-s']);
  if (!Number.isInteger(sessionExpiryS) || sessionExpiryS < 0) throw new UsageError('--session-expiry-s is a whole number of seconds');
  const statsEveryS = Number(v['stats-every-s']);
  if (!(statsEveryS >= 0.1)) throw new UsageError('--stats-every-s is a number of seconds, 0.1 or more');
  if (/[+#/]/.test(v.group!)) throw new UsageError('--group must not contain +, # or /');

  const logger = createLogger();
  const ingest = new Ingest({
    broker: v.broker, ...(v.username !== undefined ? { username: v.username } : {}), ...(v.password !== undefined ? { password: v.password } : {}),
    group: v.group!, topic: v.topic!,
    // Fixed per host: a restarted instance resumes its sessions and gets what it had not acknowledged.
    clientId: v['client-id'] ?? `cityedge-ingest-${hostname()}`,
    connections, sessionExpiryS,
    influx: { url: v.influx, bucket: v.bucket, measurement: v.measurement!, ...(v.org !== undefined ? { org: v.org } : {}), ...(v.token !== undefined ? { token: v.token } : {}) },
    clock: systemClock, logger,
  });
  const ac = new AbortController();
  const running = ingest.run(ac.signal);
  const report = setInterval(() => logger.info({ ...ingest.stats() }, 'ingest'), statsEveryS * 1000);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(report);
  ac.abort();
  await running;
  logger.info({ ...ingest.stats() }, 'ingest stopped');
  return 0;
}
