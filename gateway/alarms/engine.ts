// The alarm engine: judges every scan's samples against the rules of the configuration, on the box,
// whether the link is up or not; runs each rule's ISA-18.2 lifecycle; and hands every transition
// to the journal's priority lane as an `…/alarms` event (docs/mqtt.md) ready to become a case:
// component code, grid code, event type.
//
// This release: limit rules (above / below with deadband, delay on / off) and discrete rules
// (equals), acknowledgement. Rate of change, communication loss, stale values, conditions over
// several tags, shelving, suppression, flood and chatter come next (docs/alarms.md).
import type { Journal } from '../journal/journal.ts';
import type { AlarmConfig, Clock, Config, Logger, Sample } from '../model/index.ts';
import { ConditionTracker, type Limit } from './condition.ts';
import { nextState, type AlarmInput, type AlarmState } from './lifecycle.ts';
import type { AlarmStateStore, SavedAlarm } from './state-store.ts';

export interface AlarmEvent {
  id: string; rule: string; device: string; tag: string; state: AlarmState; severity: string;
  value: number | boolean | string | null; limit: number | boolean | string | null; t: number;
  component: string | null; grid: string | null; message: string; message_en: string | null;
  event_type: string | null; user?: string;
}

interface Rule {
  cfg: AlarmConfig;
  device: string;
  tagName: string;
  limit: Limit;
  tracker: ConditionTracker;
  state: AlarmState;
  since: number;
  lastValue: number | boolean | string | null;
  component: string | null;
}

function limitOf(a: AlarmConfig): Limit {
  if (a.above !== undefined) return { kind: 'above', limit: a.above, deadband: a.deadband ?? 0 };
  if (a.below !== undefined) return { kind: 'below', limit: a.below, deadband: a.deadband ?? 0 };
  return { kind: 'equals', value: a.equals! }; // the loader requires one of the three
}

const limitValue = (l: Limit): number | boolean | string => (l.kind === 'equals' ? l.value : l.limit);

export class AlarmEngine {
  readonly #rules = new Map<string, Rule>();
  /** Rules by the tag path they watch. */
  readonly #byTag = new Map<string, Rule[]>();
  readonly #journal: Journal;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #store: AlarmStateStore;
  readonly #grid: string | null;

  constructor(config: Config, deps: { journal: Journal; clock: Clock; logger: Logger; store: AlarmStateStore }) {
    this.#journal = deps.journal;
    this.#clock = deps.clock;
    this.#log = deps.logger.child({ part: 'alarms' });
    this.#store = deps.store;
    this.#grid = config.site.grid ?? null;
    const saved = this.#store.load();
    const components = new Map(config.devices.map((d) => [d.id, (d as { component?: string }).component ?? null]));
    for (const cfg of config.alarms) {
      const [device, tagName] = cfg.tag.split('.') as [string, string];
      const s: SavedAlarm | undefined = saved[cfg.id];
      const limit = limitOf(cfg);
      const rule: Rule = {
        cfg, device, tagName, limit,
        tracker: new ConditionTracker(limit, { onMs: (cfg.delay_on_s ?? 0) * 1000, offMs: (cfg.delay_off_s ?? 0) * 1000 }, s?.active ?? false),
        state: s?.state ?? 'normal', since: s?.since ?? this.#clock.now(), lastValue: null,
        component: components.get(device) ?? null,
      };
      this.#rules.set(cfg.id, rule);
      const list = this.#byTag.get(cfg.tag) ?? [];
      list.push(rule);
      this.#byTag.set(cfg.tag, list);
    }
    const restored = [...this.#rules.values()].filter((r) => r.state !== 'normal').length;
    if (restored > 0) this.#log.info({ restored }, 'alarm states restored from the last run');
  }

  /** Every sample of a scan, before report by exception: delays are judged at the poll rate. */
  onSamples(samples: readonly Sample[], now = this.#clock.now()): void {
    let changed = false;
    for (const s of samples) {
      const rules = this.#byTag.get(s.tag);
      if (!rules) continue;
      for (const r of rules) {
        if (s.quality !== 'bad') r.lastValue = s.value;
        const active = r.tracker.update(s.value, s.quality, now);
        if (active !== undefined) changed = this.#apply(r, { kind: 'condition', active }, now) || changed;
      }
    }
    if (changed) this.#save();
  }

  /** Delays that run out between samples (a device polled every minute). */
  tick(now = this.#clock.now()): void {
    let changed = false;
    for (const r of this.#rules.values()) {
      const active = r.tracker.due(now);
      if (active !== undefined) changed = this.#apply(r, { kind: 'condition', active }, now) || changed;
    }
    if (changed) this.#save();
  }

  /** An operator acknowledges; false when there was nothing to acknowledge. */
  ack(ruleId: string, user: string): boolean {
    const r = this.#rules.get(ruleId);
    if (!r) throw new Error(`no alarm rule "${ruleId}"`);
    const done = this.#apply(r, { kind: 'ack' }, this.#clock.now(), user);
    if (done) this.#save();
    return done;
  }

  states(): { rule: string; state: AlarmState; since: number; active: boolean }[] {
    return [...this.#rules.values()].map((r) => ({ rule: r.cfg.id, state: r.state, since: r.since, active: r.tracker.active }));
  }

  #apply(r: Rule, input: AlarmInput, now: number, user?: string): boolean {
    const next = nextState(r.state, input);
    if (next === undefined) return false;
    r.state = next;
    r.since = now;
    const ev: AlarmEvent = {
      id: `${r.cfg.id}-${now}`, rule: r.cfg.id, device: r.device, tag: r.tagName, state: next,
      severity: r.cfg.severity, value: r.lastValue, limit: limitValue(r.limit), t: now,
      component: r.component, grid: this.#grid,
      message: r.cfg.message ?? r.cfg.message_en ?? r.cfg.id, message_en: r.cfg.message_en ?? null,
      event_type: r.cfg.event_type ?? null, ...(user !== undefined ? { user } : {}),
    };
    this.#journal.appendEvent('alarms', r.device, JSON.stringify(ev));
    this.#log.info({ rule: ev.rule, state: ev.state, value: ev.value, ...(user ? { user } : {}) }, `alarm ${ev.rule}: ${ev.state}`);
    return true;
  }

  #save(): void {
    const out: Record<string, SavedAlarm> = {};
    for (const r of this.#rules.values()) out[r.cfg.id] = { state: r.state, active: r.tracker.active, since: r.since };
    this.#store.save(out);
  }
}
