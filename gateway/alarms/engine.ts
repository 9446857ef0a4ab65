// The alarm engine: judges every scan's samples against the rules of the configuration, on the box,
// whether the link is up or not; runs each rule's ISA-18.2 lifecycle; and hands every transition
// to the journal's priority lane as an `…/alarms` event (docs/mqtt.md) ready to become a case:
// component code, grid code, event type.
//
// This release: limit rules (above / below with deadband, delay on / off), discrete rules
// (equals), communication loss of a device, a stale value (a heartbeat that stops changing), and
// acknowledgement. Rate of change, conditions over several tags, shelving, suppression, flood and
// chatter come next (docs/alarms.md).
import type { Journal } from '../journal/journal.ts';
import type { AlarmConfig, Clock, Config, Logger, Sample } from '../model/index.ts';
import { ConditionTracker, type Limit } from './condition.ts';
import { nextState, type AlarmInput, type AlarmState } from './lifecycle.ts';
import type { AlarmStateStore, SavedAlarm } from './state-store.ts';

export interface AlarmEvent {
  id: string; rule: string; device: string; tag: string | null; state: AlarmState; severity: string;
  value: number | boolean | string | null; limit: number | boolean | string | null; t: number;
  component: string | null; grid: string | null; message: string; message_en: string | null;
  event_type: string | null; user?: string;
}

/**
 * value: the tag's value against a limit. stale: the tag has not changed for `stale_s`. comm: every
 * tag of the device came back bad for `comm_loss_s`. The last two feed the same debounced tracker
 * a condition of their own (true while stale, or while the device is silent).
 */
type Kind = 'value' | 'stale' | 'comm';

interface Rule {
  cfg: AlarmConfig;
  kind: Kind;
  device: string;
  tagName: string | null;
  limit: Limit;
  tracker: ConditionTracker;
  state: AlarmState;
  since: number;
  lastValue: number | boolean | string | null;
  /** stale: when the value last changed, and whether the last reading was bad (then it is not judged). */
  changedAt: number;
  silent: boolean;
  component: string | null;
}

const ACTIVE_WHEN_TRUE: Limit = { kind: 'equals', value: true };

function kindOf(a: AlarmConfig): Kind {
  if (a.comm_loss_s !== undefined) return 'comm';
  return a.stale_s !== undefined ? 'stale' : 'value';
}

function limitOf(a: AlarmConfig): Limit {
  if (a.above !== undefined) return { kind: 'above', limit: a.above, deadband: a.deadband ?? 0 };
  if (a.below !== undefined) return { kind: 'below', limit: a.below, deadband: a.deadband ?? 0 };
  if (a.equals !== undefined) return { kind: 'equals', value: a.equals };
  return ACTIVE_WHEN_TRUE; // stale and comm: their own boolean condition (the loader requires one kind)
}

function limitValue(r: Rule): number | boolean | string | null {
  if (r.kind === 'comm') return r.cfg.comm_loss_s ?? null;
  if (r.kind === 'stale') return r.cfg.stale_s ?? null;
  return r.limit.kind === 'equals' ? r.limit.value : r.limit.limit;
}

export class AlarmEngine {
  readonly #rules = new Map<string, Rule>();
  /** Rules by the tag path they watch, and communication-loss rules by device. */
  readonly #byTag = new Map<string, Rule[]>();
  readonly #byDevice = new Map<string, Rule[]>();
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
    const now = this.#clock.now();
    for (const cfg of config.alarms) {
      const kind = kindOf(cfg);
      const [device, tagName] = kind === 'comm' ? [cfg.device!, null] : cfg.tag!.split('.') as [string, string];
      const s: SavedAlarm | undefined = saved[cfg.id];
      const limit = limitOf(cfg);
      const onMs = (kind === 'comm' ? cfg.comm_loss_s! : kind === 'stale' ? 0 : cfg.delay_on_s ?? 0) * 1000;
      const rule: Rule = {
        cfg, kind, device, tagName, limit,
        tracker: new ConditionTracker(limit, { onMs, offMs: (cfg.delay_off_s ?? 0) * 1000 }, s?.active ?? false),
        state: s?.state ?? 'normal', since: s?.since ?? now, lastValue: null, changedAt: now, silent: false,
        component: components.get(device) ?? null,
      };
      this.#rules.set(cfg.id, rule);
      const key = kind === 'comm' ? device : cfg.tag!;
      const index = kind === 'comm' ? this.#byDevice : this.#byTag;
      const list = index.get(key) ?? [];
      list.push(rule);
      index.set(key, list);
    }
    const restored = [...this.#rules.values()].filter((r) => r.state !== 'normal').length;
    if (restored > 0) this.#log.info({ restored }, 'alarm states restored from the last run');
  }

  /** Every sample of one device's scan, before report by exception: delays are judged at the poll rate. */
  onSamples(samples: readonly Sample[], now = this.#clock.now()): void {
    let changed = false;
    // The device first: its communication comes back before what its tags say.
    const first = samples[0];
    const comm = first && this.#byDevice.get(first.tag.slice(0, first.tag.indexOf('.')));
    if (comm) {
      const silent = samples.every((s) => s.quality === 'bad');
      for (const r of comm) {
        const active = r.tracker.update(silent, 'good', now);
        if (active !== undefined) changed = this.#apply(r, { kind: 'condition', active }, now) || changed;
      }
    }
    for (const s of samples) {
      const rules = this.#byTag.get(s.tag);
      if (!rules) continue;
      for (const r of rules) changed = this.#sample(r, s, now) || changed;
    }
    if (changed) this.#save();
  }

  /** Delays that run out between samples (a device polled every minute), and values going stale. */
  tick(now = this.#clock.now()): void {
    let changed = false;
    for (const r of this.#rules.values()) {
      let active = r.tracker.due(now);
      if (active === undefined && r.kind === 'stale' && !r.silent) active = r.tracker.update(now - r.changedAt >= r.cfg.stale_s! * 1000, 'good', now);
      if (active !== undefined) changed = this.#apply(r, { kind: 'condition', active }, now) || changed;
    }
    if (changed) this.#save();
  }

  #sample(r: Rule, s: Sample, now: number): boolean {
    const wasSilent = r.silent;
    r.silent = s.quality === 'bad' || s.value === null;
    if (r.silent) return false; // the communication-loss rule's business
    let active: boolean | undefined;
    if (r.kind === 'stale') {
      // After an outage the heartbeat is judged from its first good reading, not from before.
      if (wasSilent || s.value !== r.lastValue) r.changedAt = now;
      r.lastValue = s.value;
      active = r.tracker.update(now - r.changedAt >= r.cfg.stale_s! * 1000, 'good', now);
    } else {
      r.lastValue = s.value;
      active = r.tracker.update(s.value, s.quality, now);
    }
    return active !== undefined && this.#apply(r, { kind: 'condition', active }, now);
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
      severity: r.cfg.severity, value: r.kind === 'comm' ? null : r.lastValue, limit: limitValue(r), t: now,
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
