// One rule for many tags: `tag: lot-a.*_online` is a rule for every tag of lot-a that matches, so
// a lot of 500 bays needs one "sensor silent" rule, not 500. A template becomes one rule per
// matching tag, with the id `{rule}@{tag}` (`@` cannot appear in a configured id, so the two never
// collide), and everything else of the template.
import type { AlarmConfig, Config } from './schema.ts';
import { tagNamesOf } from './tag-names.ts';

export const isTemplate = (a: AlarmConfig): boolean => a.tag !== undefined && a.tag.includes('*');

/** `*` matches any run of characters within a tag name. */
export function tagGlob(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('[a-z0-9_-]*')}$`);
}

/** The tags of its device a template rule covers. */
export function templateTags(a: AlarmConfig, c: Pick<Config, 'devices'>): string[] {
  const [device, pattern] = a.tag!.split('.') as [string, string];
  const d = c.devices.find((x) => x.id === device);
  if (!d) return [];
  const re = tagGlob(pattern);
  return tagNamesOf(d).filter((t) => re.test(t));
}

/** The rules as the engine runs them: templates expanded, the others as they are. */
export function expandRules(c: Pick<Config, 'devices' | 'alarms'>): AlarmConfig[] {
  return c.alarms.flatMap((a) => {
    if (!isTemplate(a)) return [a];
    const device = a.tag!.split('.')[0]!;
    return templateTags(a, c).map((tag) => Object.freeze({ ...a, id: `${a.id}@${tag}`, tag: `${device}.${tag}` }) as AlarmConfig);
  });
}
