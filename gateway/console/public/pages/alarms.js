// 报警: every rule, the ones that want attention first (unacknowledged, active, shelved, then the
// quiet ones), with its value and limit; acknowledge, shelve, unshelve and tune from the row; the
// history below with who did what and why. Polled: alarm changes are few and the list is short.
import { get, errorText } from '../api.js';
import { fill, h, notice, setText, table } from '../dom.js';
import { fmtAgo, fmtNumber, fmtTime } from '../format.js';
import { lang, t } from '../i18n.js';
import { ackForm, limitForm, limitText, shelveForm, unshelveForm } from './alarm-forms.js';
import { eventMessage, historySection } from './alarm-history.js';
import { byUrgency, severityBadge, stateBadge } from './alarm-state.js';

const POLL_MS = 2000;
const HISTORY_MS = 5000;

function unitsOf(devices) {
  const m = new Map();
  for (const d of devices.devices) for (const tg of d.tags) if (tg.unit) m.set(`${d.id}.${tg.name}`, tg.unit);
  return m;
}

const tagPath = (a) => (a.tag ? (a.tag.includes('.') ? a.tag : `${a.device}.${a.tag}`) : null);

export default {
  id: 'alarms',
  nav: 'nav.alarms',
  async mount(el, ctx) {
    const units = unitsOf(ctx.devices);
    const messages = new Map(); // rule → its last message, from the history, for rules the list gives none
    const counts = h('span', { class: 'muted' });
    const flood = h('p', { class: 'notice warn', hidden: true, role: 'alert' });
    const result = h('p', { class: 'notice', hidden: true, role: 'status' });
    const listBody = h('div', {}, h('p', { class: 'muted' }, t('common.loading')));
    el.append(
      h('div', { class: 'page-head' }, h('h1', {}, t('nav.alarms')), counts),
      flood, result,
      h('section', { class: 'card wide' }, h('h2', {}, t('alarms.rules')), listBody));

    let state = null; // the last GET /api/alarms
    let open = null; // { rule, kind, node }: the form under a row, kept across redraws
    let history = null;
    /** The history redrawn, and the rules' messages learned from it (the rule list gives none). */
    const loadHistory = async () => {
      if (!history) return;
      const events = await history.refresh();
      let learned = false;
      for (const e of [...events].reverse()) {
        const m = eventMessage(e);
        if (m && messages.get(e.rule) !== m) { messages.set(e.rule, m); learned = true; }
      }
      if (learned && !(open && open.node.contains(document.activeElement))) draw();
    };

    const closeForm = (reply) => {
      if (reply) {
        notice(result, 'ok', t(`alarms.done_${open.kind}`, { rule: open.rule }));
        void refresh();
        void loadHistory();
      }
      open = null;
      draw();
    };

    const openForm = (alarm, kind) => {
      if (open?.rule === alarm.rule && open.kind === kind) { open = null; draw(); return; }
      const unit = units.get(tagPath(alarm));
      const node = kind === 'ack' ? ackForm(alarm, closeForm)
        : kind === 'shelve' ? shelveForm(alarm, closeForm)
        : kind === 'unshelve' ? unshelveForm(alarm, closeForm)
        : limitForm(alarm, state?.version, unit, closeForm);
      open = { rule: alarm.rule, kind, node };
      notice(result, '', '');
      draw();
      node.querySelector('input, select')?.focus();
    };

    const actions = (a) => {
      if (!ctx.canControl) return null;
      const b = (kind, label) => h('button', { type: 'button', class: ['small', `act-${kind}`], dataset: { action: kind }, 'aria-expanded': String(open?.rule === a.rule && open.kind === kind), onclick: () => openForm(a, kind) }, label);
      return [
        a.state === 'active' || a.state === 'rtn_unack' ? b('ack', t('alarms.ack')) : null,
        a.state === 'shelved' ? b('unshelve', t('alarms.unshelve')) : a.state !== 'out_of_service' && a.state !== 'disabled' ? b('shelve', t('alarms.shelve')) : null,
        b('limit', t('alarms.edit_limit')),
      ];
    };

    function message(a) {
      const own = lang() === 'en' ? (a.message_en ?? a.message) : a.message;
      return own ?? messages.get(a.rule) ?? '';
    }

    function row(a) {
      const path = tagPath(a);
      const unit = units.get(path);
      const v = a.value === null || a.value === undefined ? '—'
        : typeof a.value === 'number' ? `${fmtNumber(a.value)}${unit ? ` ${unit}` : ''}`
        : typeof a.value === 'boolean' ? t(`bool.${a.value}`) : String(a.value);
      return h('tr', { class: [`arow-${a.state}`, a.active ? 'is-active' : ''], dataset: { rule: a.rule, state: a.state } },
        h('td', {}, stateBadge(a.state), a.chattering ? h('div', { class: 'sub warn-text' }, t('alarms.chattering')) : null,
          a.state === 'shelved' && a.shelved_until ? h('div', { class: 'sub' }, t('alarms.until', { time: fmtTime(a.shelved_until) })) : null),
        h('td', {}, severityBadge(a.severity)),
        h('td', {}, h('strong', {}, a.rule), h('div', { class: 'sub' }, message(a))),
        h('td', {}, path ? h('a', { href: `#/trends?tag=${encodeURIComponent(path)}` }, path) : a.device),
        h('td', { class: 'num' }, v),
        h('td', { class: 'num limit' }, limitText(a.settings ?? {}, unit)),
        h('td', { title: fmtTime(a.since) }, a.since ? fmtAgo(a.since) : '—'),
        h('td', { class: 'actions' }, actions(a)));
    }

    function draw() {
      if (!state) return;
      const list = [...state.alarms].sort(byUrgency);
      const rows = [];
      for (const a of list) {
        rows.push(row(a));
        if (open?.rule === a.rule) rows.push(h('tr', { class: 'form-row' }, h('td', { colspan: 8 }, open.node)));
      }
      // The open form is the same node as before: what was typed into it stays.
      fill(listBody, list.length === 0 ? h('p', { class: 'muted' }, t('alarms.no_rules'))
        : table([t('alarms.state'), t('alarms.severity'), t('alarms.rule'), t('alarms.tag'), [t('alarms.value'), 'num'], [t('alarms.limit'), 'num'], t('alarms.since'), ''], rows, 'alarms-table'));
      const active = list.filter((a) => a.active).length;
      const unack = list.filter((a) => a.state === 'active' || a.state === 'rtn_unack').length;
      setText(counts, t('alarms.counts', { active, unack, rules: list.length, version: state.version }));
      flood.hidden = !state.flood;
      if (state.flood) setText(flood, t('alarms.flood'));
    }

    async function refresh() {
      try {
        state = await get('/api/alarms', ctx.signal);
      } catch (e) {
        if (!ctx.signal.aborted) fill(listBody, h('p', { class: 'notice error' }, errorText(e)));
        return;
      }
      if (ctx.signal.aborted) return;
      // Not while someone types into a form: moving the form's node would take the focus away.
      if (!open || !open.node.contains(document.activeElement)) draw();
    }

    await refresh();
    if (ctx.signal.aborted) return;
    history = historySection(ctx, (state?.alarms ?? []).map((a) => a.rule).sort(), units);
    el.append(history.el);
    await loadHistory();
    ctx.every(POLL_MS, refresh);
    ctx.every(HISTORY_MS, loadHistory);
  },
};
