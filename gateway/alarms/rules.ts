// One alarm rule as the engine runs it: its settings (the configuration's, with tuned overrides on
// top), the condition it judges and the state of its lifecycle. Building a rule and retuning it
// live here; the engine decides when to judge.
import { exprRefs, parseExpr, type Expr } from '../model/index.ts';
import type { AlarmConfig } from '../model/index.ts';
import { ConditionTracker, type Delays, type Limit } from './condition.ts';
import { ChatterWatch } from './flood.ts';
import type { AlarmState } from './lifecycle.ts';
import { RateWindow } from './rate.ts';
import type { SavedAlarm } from './state-store.ts';

/**
 * value: a tag against a limit. rate: a tag's rate of change against a limit. stale: the tag has
 * not changed for `stale_s`. comm: every tag of the device came back bad for `comm_loss_s`.
 * expr: a condition over several tags. stale, comm and expr feed the debounced tracker a boolean.
 */
export type Kind = 'value' | 'rate' | 'stale' | 'comm' | 'expr';
export type Value = number | boolean | string | null;

export interface Rule {
  cfg: AlarmConfig;
  kind: Kind;
  device: string;
  tagName: string | null;
  limit: Limit;
  tracker: ConditionTracker;
  state: AlarmState;
  since: number;
  lastValue: Value;
  /** stale: when the value last changed; value, stale, rate: whether the last reading was bad. */
  changedAt: number;
  silent: boolean;
  component: string | null;
  grid: string | null;
  rate: RateWindow | undefined;
  when: Expr | undefined;
  /** Suppression by design, and whether its condition held at the last evaluation. */
  suppressWhen: Expr | undefined;
  suppressing: boolean;
  shelvedUntil: number | undefined;
  chatter: ChatterWatch;
  /** Tag paths the rule's expressions read. */
  refs: string[];
  lastEventId: string;
}

const ACTIVE_WHEN_TRUE: Limit = { kind: 'equals', value: true };
export const DEFAULT_SHELVE_MAX_S = 8 * 3600;
export const DEFAULT_RATE_WINDOW_S = 60;

export function kindOf(a: AlarmConfig): Kind {
  if (a.comm_loss_s !== undefined) return 'comm';
  if (a.stale_s !== undefined) return 'stale';
  if (a.when !== undefined) return 'expr';
  return a.rise_per_min !== undefined || a.fall_per_min !== undefined ? 'rate' : 'value';
}

export function limitOf(a: AlarmConfig): Limit {
  if (a.above !== undefined) return { kind: 'above', limit: a.above, deadband: a.deadband ?? 0 };
  if (a.below !== undefined) return { kind: 'below', limit: a.below, deadband: a.deadband ?? 0 };
  // A fall is judged as a rise of the negated rate: one comparison, one deadband rule.
  if (a.rise_per_min !== undefined) return { kind: 'above', limit: a.rise_per_min, deadband: a.deadband ?? 0 };
  if (a.fall_per_min !== undefined) return { kind: 'above', limit: a.fall_per_min, deadband: a.deadband ?? 0 };
  if (a.equals !== undefined) return { kind: 'equals', value: a.equals };
  return ACTIVE_WHEN_TRUE;
}

export function delaysOf(a: AlarmConfig, kind: Kind): Delays {
  // A comm-loss rule's own seconds are its on-delay; a stale rule's are judged before the tracker.
  const on = kind === 'comm' ? a.comm_loss_s! : kind === 'stale' ? 0 : a.delay_on_s ?? 0;
  return { onMs: on * 1000, offMs: (a.delay_off_s ?? 0) * 1000 };
}

/** What the event's `limit` says: the threshold, the seconds, or the expression. */
export function limitValue(r: Rule): Value {
  const a = r.cfg;
  return a.above ?? a.below ?? a.rise_per_min ?? a.fall_per_min ?? a.equals ?? a.comm_loss_s ?? a.stale_s ?? a.when ?? null;
}

/** The codes a case is opened with: the rule's own, else its device's, else (grid) the site's. */
export interface Codes { component: ReadonlyMap<string, string | null>; grid: ReadonlyMap<string, string | null>; siteGrid: string | null }

export function buildRule(cfg: AlarmConfig, saved: SavedAlarm | undefined, codes: Codes, now: number): Rule {
  const kind = kindOf(cfg);
  const when = cfg.when !== undefined ? parseExpr(cfg.when) : undefined;
  const suppressWhen = cfg.suppress_when !== undefined ? parseExpr(cfg.suppress_when) : undefined;
  const refs = [...new Set([...(when ? exprRefs(when) : []), ...(suppressWhen ? exprRefs(suppressWhen) : [])])];
  let device: string, tagName: string | null = null;
  if (kind === 'comm') device = cfg.device!;
  else if (kind === 'expr') device = cfg.device ?? exprRefs(when!)[0]!.split('.')[0]!;
  else [device, tagName] = cfg.tag!.split('.') as [string, string];
  const limit = limitOf(cfg);
  return {
    cfg, kind, device, tagName, limit,
    tracker: new ConditionTracker(limit, delaysOf(cfg, kind), saved?.active ?? false),
    state: saved?.state ?? 'normal', since: saved?.since ?? now, lastValue: null, changedAt: now, silent: false,
    component: cfg.component ?? codes.component.get(device) ?? null,
    grid: cfg.grid ?? codes.grid.get(device) ?? codes.siteGrid,
    rate: kind === 'rate' ? new RateWindow((cfg.rate_window_s ?? DEFAULT_RATE_WINDOW_S) * 1000) : undefined,
    when, suppressWhen, suppressing: saved?.state === 'suppressed', shelvedUntil: saved?.shelvedUntil,
    chatter: new ChatterWatch(), refs, lastEventId: '',
  };
}

/** New settings from tuning: the next reading is judged by them; a pending delay starts again. */
export function retune(r: Rule, cfg: AlarmConfig): void {
  r.cfg = cfg;
  r.limit = limitOf(cfg);
  r.tracker.retune(r.limit, delaysOf(cfg, r.kind));
}
