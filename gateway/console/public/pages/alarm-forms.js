// The forms under an alarm's row: acknowledge, shelve, unshelve, tune its limits. Each sends one
// command (docs/commands.md) with the operator's comment; the server checks it, applies it or
// refuses it with a code, and writes the audit log. Nothing is changed here before the reply.
import { command, errorText } from '../api.js';
import { field, h, notice, select } from '../dom.js';
import { fmtNumber } from '../format.js';
import { t } from '../i18n.js';

export const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'info'];
/** The settings a rule may have, in the order an engineer thinks of them. */
const NUMERIC = ['above', 'below', 'rise_per_min', 'fall_per_min', 'stale_s', 'comm_loss_s', 'deadband', 'delay_on_s', 'delay_off_s'];
const SHELVE_S = [900, 3600, 4 * 3600, 8 * 3600];

/** The rule's limit in a few characters: "> 4.5 m", "= true", "↑ 0.3 /min", "stale 10 s". */
export function limitText(settings, unit) {
  const u = unit ? ` ${unit}` : '';
  if (settings.above !== undefined) return `> ${fmtNumber(settings.above)}${u}`;
  if (settings.below !== undefined) return `< ${fmtNumber(settings.below)}${u}`;
  if (settings.equals !== undefined) return `= ${typeof settings.equals === 'boolean' ? t(`bool.${settings.equals}`) : settings.equals}`;
  if (settings.rise_per_min !== undefined) return `↑ ${fmtNumber(settings.rise_per_min)}${u}/min`;
  if (settings.fall_per_min !== undefined) return `↓ ${fmtNumber(settings.fall_per_min)}${u}/min`;
  if (settings.stale_s !== undefined) return t('alarms.stale', { n: settings.stale_s });
  if (settings.comm_loss_s !== undefined) return t('alarms.comm_loss', { n: settings.comm_loss_s });
  return '—';
}

function frame(kind, title, children, onSubmit, onClose) {
  const msg = h('p', { class: 'notice', hidden: true, role: 'status' });
  const ok = h('button', { type: 'submit', class: 'primary' }, t(`alarms.do_${kind}`));
  const form = h('form', {
    class: ['alarm-form', `form-${kind}`], dataset: { form: kind },
    onsubmit: async (ev) => {
      ev.preventDefault();
      ok.disabled = true;
      notice(msg, 'info', t('common.sending'));
      try {
        const body = onSubmit(msg);
        if (!body) return;
        const r = await body;
        notice(msg, 'ok', t('common.done'));
        onClose(r);
      } catch (e) {
        notice(msg, 'error', errorText(e));
      } finally {
        ok.disabled = false;
      }
    },
  }, h('h3', {}, title), children, h('div', { class: 'row' }, ok, h('button', { type: 'button', onclick: () => onClose(null) }, t('common.cancel'))), msg);
  return form;
}

const comment = (required) => h('input', { name: 'comment', maxLength: 500, required, class: 'comment', placeholder: t(required ? 'alarms.comment_required' : 'alarms.comment_optional') });

export function ackForm(alarm, onClose) {
  const c = comment(false);
  return frame('ack', t('alarms.ack_title', { rule: alarm.rule }), [field(t('alarms.comment'), c)],
    () => command('ack-alarm', { rule: alarm.rule, ...(c.value.trim() ? { comment: c.value.trim() } : {}) }), onClose);
}

export function shelveForm(alarm, onClose) {
  const c = comment(true);
  const d = select(SHELVE_S.map((s) => [s, t('alarms.for', { d: s >= 3600 ? t('dur.h', { n: s / 3600 }) : t('dur.min', { n: s / 60 }) })]), 3600);
  return frame('shelve', t('alarms.shelve_title', { rule: alarm.rule }), [field(t('alarms.duration'), d), field(t('alarms.comment'), c)],
    () => command('shelve-alarm', { rule: alarm.rule, duration_s: Number(d.value), comment: c.value.trim() }), onClose);
}

export function unshelveForm(alarm, onClose) {
  const c = comment(false);
  return frame('unshelve', t('alarms.unshelve_title', { rule: alarm.rule }), [field(t('alarms.comment'), c)],
    () => command('unshelve-alarm', { rule: alarm.rule, ...(c.value.trim() ? { comment: c.value.trim() } : {}) }), onClose);
}

/**
 * The rule's settings, each in its own box; only what changed is sent, with the version the
 * page last saw, so two engineers tuning at once do not overwrite each other unknowingly.
 */
export function limitForm(alarm, version, unit, onClose) {
  const s = alarm.settings ?? {};
  const inputs = new Map();
  const fields = [];
  for (const k of NUMERIC) {
    if (s[k] === undefined) continue;
    const input = h('input', { type: 'number', step: 'any', name: k, value: s[k], class: 'num-input' });
    inputs.set(k, input);
    fields.push(field(`${t(`set.${k}`)}${['above', 'below', 'deadband'].includes(k) && unit ? ` (${unit})` : ''}`, input));
  }
  if (s.equals !== undefined) {
    const input = typeof s.equals === 'boolean'
      ? select([['true', t('bool.true')], ['false', t('bool.false')]], String(s.equals), { name: 'equals' })
      : h('input', { name: 'equals', value: String(s.equals) });
    inputs.set('equals', input);
    fields.push(field(t('set.equals'), input));
  }
  const sev = select(SEVERITIES.map((x) => [x, t(`sev.${x}`)]), s.severity ?? alarm.severity, { name: 'severity' });
  inputs.set('severity', sev);
  fields.push(field(t('set.severity'), sev));
  const c = comment(false);
  fields.push(field(t('alarms.comment'), c, 'wide-field'));

  return frame('limit', t('alarms.limit_title', { rule: alarm.rule }), h('div', { class: 'form-grid' }, fields), (msg) => {
    const changes = {};
    for (const [k, input] of inputs) {
      let v = input.value;
      if (k === 'severity') { if (v !== (s.severity ?? alarm.severity)) changes[k] = v; continue; }
      if (k === 'equals') {
        v = typeof s.equals === 'boolean' ? v === 'true' : typeof s.equals === 'number' ? Number(v) : v;
      } else {
        if (v.trim() === '' || !Number.isFinite(Number(v))) { notice(msg, 'error', t('alarms.need_number', { key: t(`set.${k}`) })); return null; }
        v = Number(v);
      }
      if (v !== s[k]) changes[k] = v;
    }
    if (Object.keys(changes).length === 0) { notice(msg, 'warn', t('alarms.nothing_changed')); return null; }
    return command('set-alarm', { rule: alarm.rule, ...changes, ...(version !== undefined ? { version } : {}), ...(c.value.trim() ? { comment: c.value.trim() } : {}) });
  }, onClose);
}
