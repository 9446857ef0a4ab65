// `cityedge token --user NAME [--role engineer|viewer]`: a new bearer token for the HTTP API. The
// token is shown once, to hand to the person; the configuration keeps only its SHA-256.
import { createHash, randomBytes } from 'node:crypto';
import { parse, UsageError } from './args.ts';

export async function main(argv: string[]): Promise<number> {
  const { values } = parse(argv, { user: { type: 'string' }, role: { type: 'string', default: 'viewer' } });
  if (!values.user || !/^[a-z0-9_-]{1,64}$/.test(values.user)) throw new UsageError('--user NAME is required (a-z, 0-9, _ and -)');
  if (values.role !== 'engineer' && values.role !== 'viewer') throw new UsageError('--role is engineer or viewer');
  const token = randomBytes(24).toString('base64url');
  const hash = createHash('sha256').update(token).digest('hex');
  process.stdout.write([
    `token for ${values.user} (shown once; give it to them, do not store it):`,
    `  ${token}`,
    'add to the configuration, under api.users:',
    `  - { name: ${values.user}, role: ${values.role}, token_sha256: ${hash} }`,
    '',
  ].join('\n'));
  return 0;
}
