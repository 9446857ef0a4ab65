// `cityedge browse opc.tcp://host:port`: what a server offers, and configuration lines for it.
import { resolve, join } from 'node:path';
import { browseOpcua } from '../main.ts';
import { parse, UsageError } from './args.ts';

const MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    depth: { type: 'string', default: '6' },
    node: { type: 'string' },
    select: { type: 'string' },
    paths: { type: 'boolean' },
    'security-mode': { type: 'string', default: 'None' },
    'security-policy': { type: 'string' },
    user: { type: 'string' },
    password: { type: 'string' },
    data: { type: 'string', default: './data' },
    trust: { type: 'boolean' },
    'timeout-ms': { type: 'string', default: '10000' },
  }, true);
  const endpoint = positionals[0];
  if (!endpoint || !/^opc\.tcp:\/\//.test(endpoint)) throw new UsageError('usage: cityedge browse opc.tcp://host:port [--depth N] [--node NODEID] [--select REGEX] [--paths] [--security-mode None|Sign|SignAndEncrypt] [--user U --password P] [--data DIR] [--trust]');
  const mode = values['security-mode'] as (typeof MODES)[number];
  if (!MODES.includes(mode)) throw new UsageError(`--security-mode is one of ${MODES.join(', ')}`);
  const depth = Number(values.depth);
  if (!Number.isInteger(depth) || depth < 0) throw new UsageError('--depth is a whole number');
  const { tree, variables, config } = await browseOpcua({
    endpoint, securityMode: mode, securityPolicy: values['security-policy'],
    ...(values.user !== undefined ? { username: values.user, password: values.password ?? '' } : {}),
    timeoutMs: Number(values['timeout-ms']), pkiDir: join(resolve(values.data!), 'pki', 'opcua'), trustUnknown: values.trust === true,
    depth, ...(values.node ? { root: values.node } : {}), ...(values.select ? { select: new RegExp(values.select, 'i') } : {}), byPath: values.paths === true,
  });
  process.stdout.write([
    `${endpoint}: ${variables.length} variable(s)`,
    ...tree,
    '',
    `configuration (${config.length} tag(s)); paste under devices:`,
    '  - id: plc_opcua',
    '    driver: opcua',
    `    endpoint: ${endpoint}`,
    ...(mode !== 'None' ? [`    security_mode: ${mode}`] : []),
    ...(values.user !== undefined ? [`    username: ${values.user}`, '    password: "…"'] : []),
    '    tags:',
    ...config,
    '',
  ].join('\n'));
  return 0;
}
