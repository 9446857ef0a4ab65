// The values `cityedge provision` asks for, in the order it asks: each with its flag, its question,
// its default and what is wrong with a bad answer. The same checks serve flags and prompts, so a
// value refused on the command line is refused in the same words when typed.
import { isIP } from 'node:net';
import { KINDS, type Kind } from './provision-template.ts';

/** Answers so far, by flag name. */
export type Answers = Record<string, string>;

/** What the chosen template suggests: the address of its device(s). */
export interface TemplateHints { deviceHost: string; devicePort: number; deviceWhat: string }

export interface Field {
  flag: string;
  question: (a: Answers, t?: TemplateHints) => string;
  /** The value taken when none is given: undefined means required, '' means it may stay empty. */
  def: (a: Answers, t?: TemplateHints) => string | undefined;
  /** Why the value is refused, or undefined. Sees the answers given before it. */
  check: (v: string, a: Answers) => string | undefined;
  /** An answer written another way (a template by its number), made canonical. */
  norm?: (v: string) => string;
  /** Asked only when this holds. */
  when?: (a: Answers, t?: TemplateHints) => boolean;
}

const ID = /^[a-z0-9_-]{1,64}$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

export const hostProblem = (v: string): string | undefined =>
  isIP(v) !== 0 || HOST.test(v) ? undefined : 'an IP address or a host name';

export function upstreamProblem(v: string): string | undefined {
  let u: URL;
  try { u = new URL(v); } catch { return 'not a URL; e.g. mqtts://platform.example:8883'; }
  if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') return `scheme ${u.protocol.replace(/:$/, '')}: the platform's broker is mqtts://host:8883 (TLS), or mqtt://host:1883`;
  if (u.hostname === '') return 'no host in the URL';
  if (u.username !== '' || u.password !== '') return 'credentials do not go in the URL (any user of the box sees it in ps): --upstream-user and --upstream-password-file';
  return undefined;
}

export const FIELDS: Field[] = [
  {
    flag: 'template',
    question: () => `kind of box (${KINDS.map((k, i) => `${i + 1} ${k}`).join(', ')})`,
    def: () => undefined,
    norm: (v) => KINDS[Number(v) - 1] ?? v,
    check: (v) => (KINDS.includes(v as Kind) ? undefined : `one of ${KINDS.join(', ')}`),
  },
  {
    flag: 'site-id',
    question: () => 'site id (in every MQTT topic), e.g. ps-gongshu-012',
    def: () => undefined,
    check: (v) => (ID.test(v) ? undefined : 'lower-case letters, digits, _ and - only, at most 64: it is part of every MQTT topic'),
  },
  {
    flag: 'site-name',
    question: () => 'site name, shown in the console (empty: none)',
    def: () => '',
    check: (v) => (v.length <= 200 ? undefined : 'at most 200 characters'),
  },
  {
    flag: 'district',
    question: () => 'district code (GB/T 2260, 6 digits), e.g. 330105',
    def: () => undefined,
    check: (v) => (/^\d{6}$/.test(v) ? undefined : '6 digits: the GB/T 2260 code of the district, e.g. 330105'),
  },
  {
    flag: 'grid',
    question: (a) => `unit grid code (万米单元网格, 14–15 digits, begins with ${a.district ?? 'the district code'})`,
    def: () => undefined,
    check: (v, a) => {
      if (!/^\d{14,15}$/.test(v)) return '14–15 digits: the 万米单元网格 code, e.g. 330105001002101';
      const d = a.district;
      if (d !== undefined && /^\d{6}$/.test(d) && !v.startsWith(d)) return `does not begin with the district code ${d}: a grid lies inside its district`;
      return undefined;
    },
  },
  {
    flag: 'upstream',
    question: () => 'the platform\'s MQTT broker, e.g. mqtts://platform.example:8883',
    def: () => undefined,
    check: upstreamProblem,
  },
  {
    flag: 'upstream-user',
    question: () => 'user name on the platform\'s broker (empty: none)',
    def: () => '',
    check: (v) => (/^\S{0,128}$/.test(v) ? undefined : 'no spaces, at most 128 characters'),
  },
  {
    flag: 'device-host',
    question: (_a, t) => `address of ${t?.deviceWhat ?? 'the device'}`,
    def: (_a, t) => t?.deviceHost,
    check: hostProblem,
    when: (_a, t) => t !== undefined,
  },
  {
    flag: 'device-port',
    question: (_a, t) => `TCP port of ${t?.deviceWhat ?? 'the device'}`,
    def: (_a, t) => (t ? String(t.devicePort) : undefined),
    check: (v) => (/^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? undefined : 'a TCP port, 1–65535'),
    when: (_a, t) => t !== undefined,
  },
  {
    flag: 'admin',
    question: () => 'console administrator\'s user name',
    def: () => 'admin',
    check: (v) => (ID.test(v) ? undefined : 'lower-case letters, digits, _ and - only, at most 64'),
  },
  {
    flag: 'api-host',
    question: () => 'address the console listens on (127.0.0.1: this box only; 0.0.0.0: the site LAN too)',
    def: () => '127.0.0.1',
    check: (v) => (v === '0.0.0.0' || v === '::' ? undefined : hostProblem(v)),
  },
];
