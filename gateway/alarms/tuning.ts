// What an engineer may change in a running alarm rule, and the checks a change must pass before
// anything is applied: the right keys for the rule's kind, values in range, and limits on one tag
// kept in the order the configuration put them (HH above H, H above L, L above LL). Pure: it
// takes the rules as they are and the changes asked for, and gives the rules as they would be.
import { CodedError, Severities, type AlarmConfig } from '../model/index.ts';

export const LIMIT_KEYS = ['above', 'below', 'equals', 'rise_per_min', 'fall_per_min', 'stale_s', 'comm_loss_s', 'when'] as const;
export type LimitKey = (typeof LIMIT_KEYS)[number];
export type Tunables = Partial<Pick<AlarmConfig, 'above' | 'below' | 'equals' | 'rise_per_min' | 'fall_per_min' | 'stale_s' | 'comm_loss_s' | 'deadband' | 'delay_on_s' | 'delay_off_s' | 'severity'>>;
export const TUNABLE_KEYS = ['above', 'below', 'equals', 'rise_per_min', 'fall_per_min', 'stale_s', 'comm_loss_s', 'deadband', 'delay_on_s', 'delay_off_s', 'severity'] as const;

const DAY_S = 86_400;

export const limitKey = (a: AlarmConfig): LimitKey => LIMIT_KEYS.find((k) => a[k] !== undefined)!;

/** The keys a rule of this kind can be tuned by. A rule's kind itself is the configuration's. */
export function tunableKeys(a: AlarmConfig): string[] {
  const k = limitKey(a);
  if (k === 'when') return ['delay_on_s', 'delay_off_s', 'severity'];
  if (k === 'comm_loss_s' || k === 'stale_s') return [k, 'delay_off_s', 'severity'];
  if (k === 'equals') return [k, 'delay_on_s', 'delay_off_s', 'severity'];
  return [k, 'deadband', 'delay_on_s', 'delay_off_s', 'severity'];
}

/** The tunable values of a rule, for replies, the audit log and the overrides file. */
export function tunablesOf(a: AlarmConfig): Tunables {
  const out: Record<string, unknown> = {};
  for (const k of tunableKeys(a)) if (a[k as keyof AlarmConfig] !== undefined) out[k] = a[k as keyof AlarmConfig];
  return out as Tunables;
}

const invalid = (rule: string, why: string) => new CodedError('CE_ERR_CMD_INVALID', `${rule}: ${why}`, { rule });

function checkValue(rule: AlarmConfig, key: string, v: unknown): void {
  const num = (min: number, max: number, minOpen = false) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(rule.id, `${key} must be a number, not ${JSON.stringify(v)}`);
    if (minOpen ? v <= min : v < min) throw invalid(rule.id, `${key} ${v} must be ${minOpen ? 'above' : 'at least'} ${min}`);
    if (v > max) throw invalid(rule.id, `${key} ${v} must be at most ${max}`);
  };
  switch (key) {
    case 'above': case 'below': return num(-1e12, 1e12);
    case 'rise_per_min': case 'fall_per_min': return num(0, 1e12, true);
    case 'stale_s': case 'comm_loss_s': return num(0, DAY_S, true);
    case 'deadband': return num(0, 1e12);
    case 'delay_on_s': case 'delay_off_s': return num(0, DAY_S);
    case 'severity':
      if (!(Severities as readonly unknown[]).includes(v)) throw invalid(rule.id, `severity must be one of ${Severities.join(', ')}`);
      return;
    case 'equals':
      // A pump fault bit stays a bit: the value keeps the type the configuration gave it.
      if (typeof v !== typeof rule.equals) throw invalid(rule.id, `equals must be a ${typeof rule.equals} like the configured ${JSON.stringify(rule.equals)}`);
      return;
  }
}

/**
 * The rules after the changes, or a CE_ERR_CMD_INVALID / CE_ERR_CMD_NO_RULE error naming the first
 * problem. `configured` is the configuration's own rules: the order of limits is judged against it.
 */
export function applyChanges(
  current: ReadonlyMap<string, AlarmConfig>, configured: ReadonlyMap<string, AlarmConfig>,
  changes: readonly { rule: string; set: Record<string, unknown> }[],
): Map<string, AlarmConfig> {
  const next = new Map(current);
  if (changes.length === 0) throw new CodedError('CE_ERR_CMD_INVALID', 'no change given');
  for (const { rule, set } of changes) {
    const was = next.get(rule);
    if (!was) throw new CodedError('CE_ERR_CMD_NO_RULE', `"${rule}"`, { rule });
    const keys = Object.keys(set);
    if (keys.length === 0) throw invalid(rule, `nothing to change; it takes ${tunableKeys(was).join(', ')}`);
    const allowed = tunableKeys(was);
    for (const k of keys) {
      if (!allowed.includes(k)) {
        const why = (LIMIT_KEYS as readonly string[]).includes(k) ? `it is a ${limitKey(was)} rule; ${k} would change its kind` : `${k} cannot be tuned`;
        throw invalid(rule, `${why}; it takes ${allowed.join(', ')}`);
      }
      checkValue(was, k, set[k]);
    }
    next.set(rule, Object.freeze({ ...was, ...set }) as AlarmConfig);
  }
  checkOrder(next, configured);
  return next;
}

/** Limits on one tag keep the order the configuration gave them: HH stays above H. */
function checkOrder(next: ReadonlyMap<string, AlarmConfig>, configured: ReadonlyMap<string, AlarmConfig>): void {
  const byTag = new Map<string, AlarmConfig[]>();
  for (const a of configured.values()) {
    if (a.tag === undefined || (a.above === undefined && a.below === undefined)) continue;
    byTag.set(a.tag, [...(byTag.get(a.tag) ?? []), a]);
  }
  const lim = (a: AlarmConfig) => a.above ?? a.below!;
  for (const rules of byTag.values()) {
    for (const a of rules) {
      for (const b of rules) {
        if (!(lim(a) < lim(b))) continue;
        const na = next.get(a.id)!, nb = next.get(b.id)!;
        if (lim(na) < lim(nb)) continue;
        throw invalid(na === configured.get(a.id) ? b.id : a.id,
          `${a.id} (${lim(na)}) must stay below ${b.id} (${lim(nb)}) on ${a.tag}; change both in one command to move them past each other`);
      }
    }
  }
}
