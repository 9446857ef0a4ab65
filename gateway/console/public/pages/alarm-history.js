// The alarm history (newest first): every state change with its value and limit, who acted and
// why, and the camera's JPEG snapshot when the rule names a camera. A snapshot opens in a dialog
// over the page (and by its own address, to save or send on).
import { get, errorText } from '../api.js';
import { fill, h, notice, select, table } from '../dom.js';
import { fmtAgo, fmtNumber, fmtTime } from '../format.js';
import { lang, t } from '../i18n.js';
import { stateBadge } from './alarm-state.js';

/** A camera asked for a frame answers within its snapshot_timeout_s (default 15 s): wait a little longer. */
const SNAPSHOT_TRIES = 15;

export const snapshotUrl = (file) => `/api/snapshots/${encodeURIComponent(file)}`;

/**
 * A modal with the picture; closed by its button, Esc, or a click outside the picture. The gateway
 * names the snapshot in the event at once and writes the file when the camera has answered (a few
 * seconds): until then the picture is asked for again, saying so.
 */
export function showSnapshot(file, caption) {
  const img = h('img', { alt: caption, class: 'snapshot-img' });
  const wait = h('p', { class: 'notice info', hidden: true, role: 'status' });
  const dlg = h('dialog', { class: 'snapshot-dialog' },
    h('div', { class: 'row' }, h('strong', {}, caption), h('span', { class: 'spacer' }),
      h('a', { href: snapshotUrl(file), target: '_blank', rel: 'noopener' }, t('alarms.open_new')),
      h('button', { type: 'button', class: 'close-dialog', onclick: () => dlg.close() }, t('common.close'))),
    wait, img);
  let tries = 0;
  let timer = 0;
  img.addEventListener('load', () => { wait.hidden = true; });
  img.addEventListener('error', () => {
    if (++tries > SNAPSHOT_TRIES) { notice(wait, 'error', t('alarms.snapshot_missing')); return; }
    notice(wait, 'info', t('alarms.snapshot_pending'));
    timer = setTimeout(() => { img.src = `${snapshotUrl(file)}?try=${tries}`; }, 2000);
  });
  img.src = snapshotUrl(file);
  dlg.addEventListener('close', () => { clearTimeout(timer); dlg.remove(); });
  dlg.addEventListener('click', (ev) => { if (ev.target === dlg) dlg.close(); });
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

const value = (v, unit) => (v === null || v === undefined ? '—'
  : typeof v === 'number' ? `${fmtNumber(v)}${unit ? ` ${unit}` : ''}`
  : typeof v === 'boolean' ? t(`bool.${v}`) : String(v));

export function eventMessage(e) {
  return (lang() === 'en' && e.message_en) ? e.message_en : (e.message ?? '');
}

/**
 * The history section; `rules` names the rules for the filter, `units` maps `device.tag` to its
 * unit. Returns { el, refresh }; refresh() resolves with the events it got.
 */
export function historySection(ctx, rules, units) {
  const wanted = ctx.params.get('rule') ?? '';
  const filter = select([['', t('alarms.all_rules')], ...rules.map((r) => [r, r])], wanted, {
    'aria-label': t('alarms.filter_rule'),
    onchange: () => ctx.go('alarms', { rule: filter.value }),
  });
  const body = h('div', {}, h('p', { class: 'muted' }, t('common.loading')));
  const el = h('section', { class: 'card wide history' },
    h('div', { class: 'card-head' }, h('h2', {}, t('alarms.history')), h('span', { class: 'spacer' }), filter),
    body);
  let lastKey = '';

  async function refresh() {
    let r;
    try {
      r = await get(`/api/alarms/history?limit=100${wanted ? `&rule=${encodeURIComponent(wanted)}` : ''}`, ctx.signal);
    } catch (e) {
      if (!ctx.signal.aborted) fill(body, h('p', { class: 'notice error' }, errorText(e)));
      return [];
    }
    // Redrawn only when something new came: a row someone is reading does not jump.
    const key = `${r.events.length}:${r.events[0]?.id ?? ''}:${lang()}`;
    if (key === lastKey) return r.events;
    lastKey = key;
    if (r.events.length === 0) { fill(body, h('p', { class: 'muted' }, t('alarms.no_history'))); return r.events; }
    const rows = r.events.map((e) => {
      const unit = e.tag ? units.get(e.tag.includes('.') ? e.tag : `${e.device}.${e.tag}`) : undefined;
      return h('tr', { dataset: { event: e.id, rule: e.rule, state: e.state } },
      h('td', { title: fmtAgo(e.t) }, fmtTime(e.t)),
      h('td', {}, e.rule, h('div', { class: 'sub' }, eventMessage(e))),
      h('td', {}, stateBadge(e.state)),
      h('td', {}, t(`sev.${e.severity}`, {}, e.severity)),
      h('td', { class: 'num' }, value(e.value, unit)),
      h('td', { class: 'num' }, value(e.limit, unit)),
      h('td', {}, e.user ?? ''),
      h('td', { class: 'comment-cell' }, e.comment ?? ''),
      h('td', {}, e.snapshot ? h('a', {
        href: snapshotUrl(e.snapshot), class: 'snapshot-link', dataset: { snapshot: e.snapshot },
        onclick: (ev) => { ev.preventDefault(); showSnapshot(e.snapshot, `${e.rule} · ${fmtTime(e.t)}`); },
      }, t('alarms.view_snapshot')) : ''));
    });
    fill(body, table([t('alarms.time'), t('alarms.rule'), t('alarms.state'), t('alarms.severity'), [t('alarms.value'), 'num'], [t('alarms.limit'), 'num'], t('alarms.user'), t('alarms.comment'), t('alarms.snapshot')], rows, 'history-table'));
    return r.events;
  }
  return { el, refresh };
}
