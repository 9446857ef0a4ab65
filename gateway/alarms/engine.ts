// The alarm engine: judges every scan's samples against the rules of the configuration, on the box,
// whether the link is up or not; runs each rule's ISA-18.2 lifecycle; and hands every transition
// to the journal's priority lane as an `…/alarms` event (docs/mqtt.md) ready to become a case:
// component code, grid code, event type. What operators and engineers do to alarms (acknowledge,
// shelve, take out of service, tune) comes in through the methods below, from the command layer.
import type { Journal } from '../journal/journal.ts';
import { expandRules } from '../../config/rule-templates.ts';
import { CodedError, evaluateCondition, type AlarmConfig, type Clock, type Config, type Logger, type Sample, type SnapshotHook } from '../model/index.ts';
import { FloodWatch, FLOOD_COUNT, FLOOD_WINDOW_MS } from './flood.ts';
import { nextState, type AlarmInput, type AlarmState } from './lifecycle.ts';
import type { OverrideStore } from './overrides.ts';
import { buildRule, DEFAULT_SHELVE_MAX_S, limitValue, retune, type Rule, type Value } from './rules.ts';
import type { AlarmStateStore, SavedAlarm } from './state-store.ts';
import { applyChanges, tunablesOf, type Tunables } from './tuning.ts';
import type { RecordLog } from '../store/files.ts';

export interface AlarmEvent {
  id: string; rule: string; device: string | null; tag: string | null; state: AlarmState; severity: string;
  value: Value; limit: Value; t: number;
  component: string | null; grid: string | null; message: string; message_en: string | null;
  event_type: string | null;
  /** Who acted, and why, for operator transitions. */
  user?: string; comment?: string;
  /** The rule went active more than 3 times in a minute. */
  chattering?: boolean;
  /** A condition rule: the values of the tags it reads. */
  values?: Record<string, Value>;
  /** A shelved alarm: when its shelf ends (epoch ms). */
  shelved_until?: number;
  /** The `@flood` event: what made and what happened during the flood. */
  summary?: { rule: string; severity: string; state: AlarmState; events: number }[];
  /** A rule with a camera, going active: the JPEG taken then (GET /api/snapshots/{file}). */
  snapshot?: string;
}

export interface Actor { user: string; source: string; comment?: string }

export interface AlarmView {
  rule: string; state: AlarmState; since: number; active: boolean; severity: string;
  device: string; tag: string | null; value: Value; settings: Tunables; shelved_until?: number; chattering: boolean;
  /** The rule's text, as in its events. */
  message: string; message_en: string | null;
  camera?: string;
}

export interface EngineDeps {
  journal: Journal; clock: Clock; logger: Logger; store: AlarmStateStore; overrides: OverrideStore; history: RecordLog<AlarmEvent>;
  /** Asks the rule's camera for a snapshot; the file name it will have, for the event to name. */
  snapshot?: SnapshotHook;
}

export const FLOOD_RULE = '@flood';

export class AlarmEngine {
  readonly #rules = new Map<string, Rule>();
  /** Rules by the tag path they watch, comm-loss rules by device, expression rules by the tags they read. */
  readonly #byTag = new Map<string, Rule[]>();
  readonly #byDevice = new Map<string, Rule[]>();
  readonly #byRef = new Map<string, Rule[]>();
  readonly #latest = new Map<string, { value: Value; quality: Sample['quality'] }>();
  readonly #configured: ReadonlyMap<string, AlarmConfig>;
  readonly #d: EngineDeps;
  readonly #log: Logger;
  readonly #grid: string | null;
  readonly #flood = new FloodWatch();
  /** During a flood, what was not announced one by one: the summary at its end. */
  #held = new Map<string, { severity: string; state: AlarmState; events: number }>();
  #version: number;
  /** Rules whose state changed since the last save (see #save). */
  readonly #changed = new Set<Rule>();
  #savedFlood = false;

  constructor(config: Config, deps: EngineDeps) {
    this.#d = deps;
    this.#log = deps.logger.child({ part: 'alarms' });
    this.#grid = config.site.grid ?? null;
    this.#configured = new Map(expandRules(config).map((a) => [a.id, a]));
    const saved = deps.store.load();
    this.#flood.restore(saved.flood === true);
    this.#savedFlood = saved.flood === true;
    const overrides = deps.overrides.load();
    this.#version = overrides.version;
    const effective = this.#withOverrides(overrides.rules);
    const codes = {
      component: new Map(config.devices.map((d) => [d.id, d.component ?? null])),
      grid: new Map(config.devices.map((d) => [d.id, d.grid ?? null])),
      siteGrid: this.#grid,
    };
    const now = deps.clock.now();
    for (const cfg of effective.values()) {
      const rule = buildRule(cfg, saved.alarms[cfg.id], codes, now);
      this.#rules.set(cfg.id, rule);
      const index = (map: Map<string, Rule[]>, key: string) => map.set(key, [...(map.get(key) ?? []), rule]);
      if (rule.kind === 'comm') index(this.#byDevice, rule.device);
      else if (rule.kind !== 'expr') index(this.#byTag, cfg.tag!);
      for (const ref of rule.refs) index(this.#byRef, ref);
    }
    const restored = [...this.#rules.values()].filter((r) => r.state !== 'normal').length;
    if (restored > 0) this.#log.info({ restored }, 'alarm states restored from the last run');
  }

  /**
   * Overrides that still fit the configuration. Applied together first (H and HH raised past each
   * other fit only together); if the configuration changed under them, one by one, and one that no
   * longer fits is logged and left out.
   */
  #withOverrides(rules: Record<string, Tunables>): Map<string, AlarmConfig> {
    const all = Object.entries(rules).map(([rule, set]) => ({ rule, set: set as Record<string, unknown> }));
    if (all.length === 0) return new Map(this.#configured);
    try {
      return applyChanges(this.#configured, this.#configured, all);
    } catch { /* judged one by one below */ }
    let out = new Map(this.#configured);
    for (const change of all) {
      try {
        out = applyChanges(out, this.#configured, [change]);
      } catch (e) {
        this.#log.warn({ code: 'CE_ERR_ALARM_OVERRIDES', rule: change.rule, err: (e as Error).message }, 'a tuned setting no longer fits the configuration; the configured one applies');
      }
    }
    return out;
  }

  get version(): number { return this.#version; }
  get flooding(): boolean { return this.#flood.flooding; }

  /** Every sample of one device's scan, before report by exception: delays are judged at the poll rate. */
  onSamples(samples: readonly Sample[], now = this.#d.clock.now()): void {
    // The device first: its communication comes back before what its tags say.
    const first = samples[0];
    const comm = first && this.#byDevice.get(first.tag.slice(0, first.tag.indexOf('.')));
    if (comm) {
      const silent = samples.every((s) => s.quality === 'bad');
      for (const r of comm) this.#condition(r, r.tracker.update(silent, 'good', now), now);
    }
    // Values the expressions read first, and suppression judged before the rules it silences: a
    // low-flow alarm must not flash up in the very scan that says the pump is meant to be off.
    let dirty: Set<Rule> | undefined;
    for (const s of samples) {
      const readers = this.#byRef.get(s.tag);
      if (!readers) continue;
      this.#latest.set(s.tag, { value: s.value, quality: s.quality });
      dirty ??= new Set();
      for (const r of readers) dirty.add(r);
    }
    if (dirty) for (const r of dirty) if (r.suppressWhen) this.#judgeSuppression(r, now);
    for (const s of samples) {
      const rules = this.#byTag.get(s.tag);
      if (rules) for (const r of rules) this.#sample(r, s, now);
    }
    if (dirty) for (const r of dirty) if (r.when) this.#judgeWhen(r, now);
    this.#save();
  }

  /** Delays that run out between samples, values going stale, shelves expiring, floods ebbing. */
  tick(now = this.#d.clock.now()): void {
    for (const r of this.#rules.values()) {
      let active = r.tracker.due(now);
      if (active === undefined && r.kind === 'stale' && !r.silent) active = r.tracker.update(now - r.changedAt >= r.cfg.stale_s! * 1000, 'good', now);
      this.#condition(r, active, now);
      if (r.state === 'shelved' && r.shelvedUntil !== undefined && now >= r.shelvedUntil) {
        this.#leave(r, 'unshelve', now, { user: 'system', source: 'shelve expiry' });
      }
      if (r.chatter.check(now)) this.#log.info({ rule: r.cfg.id }, `alarm ${r.cfg.id} no longer chattering`);
    }
    if (this.#flood.check(now) === 'end') this.#floodEvent('normal', now);
    this.#save();
  }

  #sample(r: Rule, s: Sample, now: number): boolean {
    const wasSilent = r.silent;
    r.silent = s.quality === 'bad' || s.value === null;
    if (r.silent) return false; // the communication-loss rule's business
    if (r.kind === 'stale') {
      // After an outage the heartbeat is judged from its first good reading, not from before.
      if (wasSilent || s.value !== r.lastValue) r.changedAt = now;
      r.lastValue = s.value;
      return this.#condition(r, r.tracker.update(now - r.changedAt >= r.cfg.stale_s! * 1000, 'good', now), now);
    }
    if (r.kind === 'rate') {
      if (typeof s.value !== 'number') return false;
      if (wasSilent) r.rate!.reset();
      const perMin = r.rate!.push(now, s.value);
      if (perMin === undefined) return false;
      r.lastValue = Math.round(perMin * 1000) / 1000;
      return this.#condition(r, r.tracker.update(r.cfg.fall_per_min !== undefined ? -perMin : perMin, s.quality, now), now);
    }
    r.lastValue = s.value;
    return this.#condition(r, r.tracker.update(s.value, s.quality, now), now);
  }

  #lookup = (path: string) => this.#latest.get(path);

  /** A condition rule, from the latest values of the tags it reads; unknown (a bad tag) holds it. */
  #judgeWhen(r: Rule, now: number): boolean {
    const holds = evaluateCondition(r.when!, this.#lookup);
    return holds !== undefined && this.#condition(r, r.tracker.update(holds, 'good', now), now);
  }

  /** Suppression by design: while its condition holds the alarm is suppressed. */
  #judgeSuppression(r: Rule, now: number): boolean {
    const suppress = evaluateCondition(r.suppressWhen!, this.#lookup);
    if (suppress === undefined || suppress === r.suppressing) return false;
    r.suppressing = suppress;
    return suppress ? this.#apply(r, { kind: 'suppress' }, now) : this.#leave(r, 'unsuppress', now);
  }

  #condition(r: Rule, active: boolean | undefined, now: number): boolean {
    if (active === undefined) return false;
    // Saved even when the state stays (a shelved alarm's condition), so a restart knows it.
    this.#changed.add(r);
    return this.#apply(r, { kind: 'condition', active }, now);
  }

  /** Leaving shelved, suppressed or out of service: back as the condition is now, or suppressed if its design says so. */
  #leave(r: Rule, kind: 'unshelve' | 'unsuppress' | 'in_service', now: number, actor?: Actor): boolean {
    if (kind === 'unshelve') r.shelvedUntil = undefined;
    if (!this.#apply(r, { kind, active: r.tracker.active }, now, actor)) return false;
    if (kind !== 'unsuppress' && r.suppressing) this.#apply(r, { kind: 'suppress' }, now);
    return true;
  }

  #apply(r: Rule, input: AlarmInput, now: number, actor?: Actor): boolean {
    const next = nextState(r.state, input);
    if (next === undefined) return false;
    const from = r.state;
    r.state = next;
    r.since = now;
    this.#changed.add(r);
    const isNew = next === 'active' && input.kind === 'condition' && (from === 'normal' || from === 'rtn_unack');
    if (isNew && r.chatter.activated(now)) this.#log.warn({ rule: r.cfg.id }, `alarm ${r.cfg.id} is chattering: active more than 3 times in a minute; widen its deadband or add delay_on_s`);
    const floodStarts = isNew && this.#flood.activated(r.cfg.id, now) === 'start';
    if (floodStarts) this.#floodEvent('active', now);
    const ev = this.#event(r, now, actor);
    const snapshot = isNew && r.cfg.camera !== undefined ? this.#d.snapshot?.(r.cfg.camera, r.cfg.id, now) : undefined;
    if (snapshot !== undefined) ev.snapshot = snapshot;
    this.#emit(ev);
    return true;
  }

  #event(r: Rule, now: number, actor?: Actor): AlarmEvent {
    let id = `${r.cfg.id}-${now}`;
    if (r.lastEventId.startsWith(id)) id = `${id}-${Number(r.lastEventId.slice(id.length + 1) || 1) + 1}`;
    r.lastEventId = id;
    return {
      id, rule: r.cfg.id, device: r.device, tag: r.tagName, state: r.state,
      severity: r.cfg.severity, value: r.kind === 'comm' || r.kind === 'expr' ? null : r.lastValue, limit: limitValue(r), t: now,
      component: r.component, grid: r.grid,
      message: r.cfg.message ?? r.cfg.message_en ?? r.cfg.id, message_en: r.cfg.message_en ?? null,
      event_type: r.cfg.event_type ?? null,
      ...(actor ? { user: actor.user, ...(actor.comment ? { comment: actor.comment } : {}) } : {}),
      ...(r.chatter.chattering ? { chattering: true } : {}),
      ...(r.kind === 'expr' ? { values: Object.fromEntries(r.refs.map((p) => [p, this.#latest.get(p)?.value ?? null])) } : {}),
      ...(r.state === 'shelved' && r.shelvedUntil !== undefined ? { shelved_until: r.shelvedUntil } : {}),
    };
  }

  /**
   * Into the history always; onto `…/alarms` unless the site is flooded, when only critical alarms
   * are announced one by one and the rest wait for the flood's summary (ISA-18.2 flood handling:
   * a summary instead of a storm). Their states stay exact in the API meanwhile.
   */
  #emit(ev: AlarmEvent): void {
    this.#d.history.append(ev);
    if (this.#flood.flooding && ev.severity !== 'critical' && ev.rule !== FLOOD_RULE) {
      const h = this.#held.get(ev.rule);
      this.#held.set(ev.rule, { severity: ev.severity, state: ev.state, events: (h?.events ?? 0) + 1 });
    } else {
      this.#d.journal.appendEvent('alarms', ev.device ?? 'site', JSON.stringify(ev));
    }
    this.#log.info({ rule: ev.rule, state: ev.state, value: ev.value, ...(ev.user ? { user: ev.user } : {}) }, `alarm ${ev.rule}: ${ev.state}`);
  }

  #floodEvent(state: 'active' | 'normal', now: number): void {
    const summary = state === 'active'
      ? [...this.#rules.values()].filter((r) => r.state === 'active' || r.state === 'rtn_unack').map((r) => ({ rule: r.cfg.id, severity: r.cfg.severity, state: r.state, events: 1 }))
      : [...this.#held].map(([rule, h]) => ({ rule, ...h }));
    if (state === 'normal') this.#held = new Map();
    const n = this.#flood.count(now);
    this.#emit({
      id: `${FLOOD_RULE}-${now}`, rule: FLOOD_RULE, device: null, tag: null, state, severity: 'critical',
      value: n, limit: FLOOD_COUNT, t: now, component: null, grid: this.#grid,
      message: state === 'active' ? `报警泛滥：${FLOOD_WINDOW_MS / 60_000} 分钟内新报警 ${n} 条` : '报警泛滥结束',
      message_en: state === 'active' ? `alarm flood: ${n} new alarms within ${FLOOD_WINDOW_MS / 60_000} minutes` : 'alarm flood over',
      event_type: null, summary,
    });
    this.#log.warn({ new: n, summary: summary.length }, state === 'active' ? 'alarm flood: only critical alarms are announced one by one until it ebbs' : 'alarm flood over');
  }

  #rule(id: string): Rule {
    const r = this.#rules.get(id);
    if (!r) throw new CodedError('CE_ERR_CMD_NO_RULE', `"${id}"`, { rule: id });
    return r;
  }

  #act(id: string, fn: (r: Rule, now: number) => boolean): { rule: string; state: AlarmState; changed: boolean } {
    const r = this.#rule(id);
    const changed = fn(r, this.#d.clock.now());
    this.#save();
    return { rule: id, state: r.state, changed };
  }

  /** An operator acknowledges; `changed: false` when there was nothing to acknowledge. */
  ack(id: string, actor: Actor) {
    return this.#act(id, (r, now) => this.#apply(r, { kind: 'ack' }, now, actor));
  }

  /** Out of annunciation for a while; it comes back by itself when the shelf ends. */
  shelve(id: string, durationS: number, actor: Actor) {
    const r = this.#rule(id);
    const max = r.cfg.shelve_max_s ?? DEFAULT_SHELVE_MAX_S;
    if (!(durationS > 0 && durationS <= max)) throw new CodedError('CE_ERR_CMD_INVALID', `${id}: duration_s must be above 0 and at most ${max} (shelve_max_s)`, { rule: id });
    if (r.state === 'suppressed' || r.state === 'out_of_service') throw new CodedError('CE_ERR_CMD_INVALID', `${id} is ${r.state}; it cannot be shelved`, { rule: id });
    return this.#act(id, (r, now) => {
      const until = now + durationS * 1000;
      if (r.state === 'shelved') { r.shelvedUntil = until; this.#changed.add(r); return true; } // a new expiry
      r.shelvedUntil = until;
      return this.#apply(r, { kind: 'shelve' }, now, actor);
    });
  }

  unshelve(id: string, actor: Actor) {
    return this.#act(id, (r, now) => r.state === 'shelved' && this.#leave(r, 'unshelve', now, actor));
  }

  /** Out of service (a sensor under repair); back in service as its condition is then. */
  setInService(id: string, inService: boolean, actor: Actor) {
    return this.#act(id, (r, now) => inService
      ? r.state === 'out_of_service' && this.#leave(r, 'in_service', now, actor)
      : this.#apply(r, { kind: 'out_of_service' }, now, actor));
  }

  /**
   * Tuned settings for one or more rules, applied all or none: validated, kept in the overrides
   * file (a change that cannot be kept is refused), then in force from the next reading.
   */
  tune(changes: { rule: string; set: Record<string, unknown> }[], actor: Actor, expectVersion?: number) {
    if (expectVersion !== undefined && expectVersion !== this.#version) {
      throw new CodedError('CE_ERR_CMD_CONFLICT', `the command names version ${expectVersion}; it is ${this.#version}`, { version: this.#version });
    }
    const current = new Map([...this.#rules].map(([id, r]) => [id, r.cfg]));
    const next = applyChanges(current, this.#configured, changes);
    const touched = [...new Set(changes.map((c) => c.rule))];
    const overrides = this.#d.overrides.load();
    for (const id of touched) {
      // What differs from the configuration, so tuning a value back to it leaves no override.
      const d = diff(this.#configured.get(id)!, next.get(id)!);
      if (Object.keys(d).length > 0) overrides.rules[id] = d;
      else delete overrides.rules[id];
    }
    const version = this.#version + 1;
    const now = this.#d.clock.now();
    try {
      this.#d.overrides.save({ version, rules: overrides.rules, updated: { t: now, user: actor.user, source: actor.source } });
    } catch (e) {
      throw new CodedError('CE_ERR_ALARM_OVERRIDES', (e as Error).message);
    }
    this.#version = version;
    const result = touched.map((id) => {
      const r = this.#rules.get(id)!;
      const old = tunablesOf(r.cfg);
      retune(r, next.get(id)!);
      return { rule: id, old, new: tunablesOf(r.cfg) };
    });
    // A limit moved past the value standing now counts from now, not from the next change.
    for (const id of touched) {
      const r = this.#rules.get(id)!;
      if (r.kind === 'value' && !r.silent && r.lastValue !== null) this.#condition(r, r.tracker.update(r.lastValue, 'good', now), now);
    }
    this.#save();
    this.#log.info({ user: actor.user, source: actor.source, version, changes: result }, 'alarm settings tuned');
    return { version, rules: result };
  }

  states(): AlarmView[] {
    return [...this.#rules.values()].map((r) => ({
      rule: r.cfg.id, state: r.state, since: r.since, active: r.tracker.active, severity: r.cfg.severity,
      device: r.device, tag: r.tagName, value: r.lastValue, settings: tunablesOf(r.cfg),
      message: r.cfg.message ?? r.cfg.message_en ?? r.cfg.id, message_en: r.cfg.message_en ?? null,
      ...(r.cfg.camera !== undefined ? { camera: r.cfg.camera } : {}),
      ...(r.shelvedUntil !== undefined ? { shelved_until: r.shelvedUntil } : {}), chattering: r.chatter.chattering,
    }));
  }

  /**
   * The states of the rules that changed go to the store at once, on the turn that queued their
   * events: a disk box keeps them in the journal (JournalAlarmStore), committed in the same
   * transaction as those events, so a kill or a power cut can neither leave a state whose
   * announcement was never kept nor one behind what the platform was told (an alarm it saw clear
   * or acknowledged coming back active or unacknowledged). Only what changed is written, and the
   * journal commits a storm of transitions together.
   */
  #save(): void {
    const flood = this.#flood.flooding;
    if (this.#changed.size === 0 && flood === this.#savedFlood) return;
    const changed: Record<string, SavedAlarm> = {};
    for (const r of this.#changed) {
      changed[r.cfg.id] = { state: r.state, active: r.tracker.active, since: r.since, ...(r.shelvedUntil !== undefined ? { shelvedUntil: r.shelvedUntil } : {}) };
    }
    this.#changed.clear();
    this.#savedFlood = flood;
    this.#d.store.save(changed, flood);
  }

  /** Hands what changed to the store now (the gateway's stop, before the journal's last commit). */
  flush(): void { this.#save(); }
}

/** The tunable settings where `next` differs from the configuration: what the overrides file keeps. */
function diff(configured: AlarmConfig, next: AlarmConfig): Tunables {
  const a = tunablesOf(configured) as Record<string, unknown>, b = tunablesOf(next) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(b).filter(([k, v]) => a[k] !== v)) as Tunables;
}
