// What each command verb does, one handler per verb, behind one table the dispatcher looks up
// (docs/commands.md has the payloads). A handler reads its fields from the request, calls the
// alarm engine, and returns the result, or throws a coded error that becomes the reply's reason.
import type { Actor, AlarmEngine } from '../alarms/engine.ts';
import { CodedError, type CommandVerb, type Value } from '../model/index.ts';

export type Body = Record<string, unknown>;
/** A device's write: the tag, the value; resolves with the value read back. */
export type Writer = (tag: string, value: Value) => Promise<Value | null>;
export interface VerbContext { engine: AlarmEngine; actor: Actor; writers: ReadonlyMap<string, Writer> }
/** The result, and for the audit log the rules touched with their settings before and after. */
export interface VerbResult { result: unknown; audit: { rule?: string; old?: unknown; new?: unknown; version?: number } }
export type VerbHandler = (body: Body, ctx: VerbContext) => VerbResult | Promise<VerbResult>;

const invalid = (why: string) => new CodedError('CE_ERR_CMD_INVALID', why);

export function ruleOf(body: Body): string {
  const r = body.rule;
  if (typeof r !== 'string' || r.length === 0) throw invalid('rule (the alarm rule id) is required');
  return r;
}

const CONTROL = new Set(['id', 'user', 'comment', 'version', 'rule', 'rules']);

/** `{rule, above: 4.6, …}` or `{rules: [{rule, above}, …]}`: every key besides the control keys is a setting. */
function changesOf(body: Body): { rule: string; set: Record<string, unknown> }[] {
  const settings = (o: Body) => Object.fromEntries(Object.entries(o).filter(([k]) => !CONTROL.has(k)));
  if (body.rules !== undefined) {
    if (!Array.isArray(body.rules) || body.rules.length === 0 || body.rules.length > 100) throw invalid('rules must be a list of 1 to 100 {rule, …settings}');
    if (Object.keys(settings(body)).length > 0) throw invalid('give settings inside each entry of rules, not beside it');
    return body.rules.map((e: unknown) => {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw invalid('each entry of rules is an object {rule, …settings}');
      return { rule: ruleOf(e as Body), set: settings(e as Body) };
    });
  }
  return [{ rule: ruleOf(body), set: settings(body) }];
}

function versionOf(body: Body): number | undefined {
  if (body.version === undefined) return undefined;
  if (!Number.isInteger(body.version)) throw invalid('version must be an integer');
  return body.version as number;
}

const setAlarm: VerbHandler = (body, { engine, actor }) => {
  const r = engine.tune(changesOf(body), actor, versionOf(body));
  return {
    result: r,
    audit: r.rules.length === 1 ? { rule: r.rules[0]!.rule, old: r.rules[0]!.old, new: r.rules[0]!.new, version: r.version }
      : { old: Object.fromEntries(r.rules.map((x) => [x.rule, x.old])), new: Object.fromEntries(r.rules.map((x) => [x.rule, x.new])), version: r.version },
  };
};

/** Acknowledge, unshelve, take out of or back into service: a rule and who. */
const simple = (act: (engine: AlarmEngine, rule: string, actor: Actor) => { rule: string; state: string; changed: boolean }): VerbHandler =>
  (body, { engine, actor }) => {
    const rule = ruleOf(body);
    const r = act(engine, rule, actor);
    return { result: r, audit: { rule, new: r.state } };
  };

const shelveAlarm: VerbHandler = (body, { engine, actor }) => {
  const rule = ruleOf(body);
  const d = body.duration_s;
  if (typeof d !== 'number' || !Number.isFinite(d)) throw invalid('duration_s (how long to shelve, seconds) is required');
  const r = engine.shelve(rule, d, actor);
  return { result: r, audit: { rule, new: `${r.state} for ${d} s` } };
};

/**
 * A write to a device tag marked writable (a streetlight loop on or off, its dim level, a setpoint):
 * checked against the tag's limits, written, read back; the reply carries the value the device
 * holds afterwards, so "written" always means "confirmed".
 */
const write: VerbHandler = async (body, { writers }) => {
  const { device, tag, value } = body;
  if (typeof device !== 'string' || typeof tag !== 'string') throw invalid('device and tag are required');
  if (typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'string') throw invalid('value (a number, true/false or text) is required');
  const writer = writers.get(device);
  if (!writer) throw new CodedError('CE_ERR_WRITE_FORBIDDEN', `no device "${device}" that takes writes`);
  const confirmed = await writer(tag, value);
  if (confirmed !== value && !(typeof confirmed === 'number' && typeof value === 'number' && Math.abs(confirmed - value) < 1e-9 * Math.max(1, Math.abs(value)))) {
    // The device took the write but holds something else (clamped, or a contactor that did not pull in).
    throw new CodedError('CE_ERR_WRITE_REFUSED', `${device}.${tag}: wrote ${JSON.stringify(value)}, the device holds ${JSON.stringify(confirmed)}`);
  }
  return { result: { device, tag, value: confirmed }, audit: { rule: `${device}.${tag}`, new: confirmed } };
};

export const VERBS: Record<CommandVerb, VerbHandler> = {
  write,
  'set-alarm': setAlarm,
  'ack-alarm': simple((e, rule, a) => e.ack(rule, a)),
  'shelve-alarm': shelveAlarm,
  'unshelve-alarm': simple((e, rule, a) => e.unshelve(rule, a)),
  'disable-alarm': simple((e, rule, a) => e.setInService(rule, false, a)),
  'enable-alarm': simple((e, rule, a) => e.setInService(rule, true, a)),
};
