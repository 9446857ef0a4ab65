// 总览: what a technician reads in ten seconds on site. Does every device answer (state in a word,
// with a symbol, so it does not rest on colour alone), how fresh is the last good read, do scans
// fit their interval; is anything waiting in the journal and is it draining; is each upstream
// connected; how many alarms want attention.
import { h, fill, setText, table } from '../dom.js';
import { fmtAgo, fmtBytes, fmtCount, fmtDuration, fmtNumber, fmtTime } from '../format.js';
import { t } from '../i18n.js';

/** The oldest record waiting this long means the uplinks are catching up, not just sending. */
const CATCHING_UP_S = 10;
const STATE_SYMBOL = { ok: '✔', degraded: '▲', down: '✖', unknown: '?' };

export function stateBadge(state) {
  return h('span', { class: `state state-${state}`, dataset: { state } }, `${STATE_SYMBOL[state] ?? '?'} ${t(`state.${state}`, {}, state)}`);
}

function siteCard(o) {
  const s = o.site;
  return h('section', { class: 'card site' },
    h('h2', {}, s.name ?? s.id),
    h('dl', { class: 'kv' },
      h('dt', {}, t('ov.site_id')), h('dd', {}, s.id),
      s.district ? [h('dt', {}, t('ov.district')), h('dd', {}, s.district)] : null,
      s.grid ? [h('dt', {}, t('ov.grid')), h('dd', {}, s.grid)] : null,
      h('dt', {}, t('ov.version')), h('dd', {}, o.version),
      h('dt', {}, t('ov.uptime')), h('dd', { title: fmtTime(o.started_at) }, fmtDuration((o.now - o.started_at) / 1000))));
}

function alarmsCard(o) {
  const a = o.alarms;
  const stat = (n, label, cls) => h('a', { class: ['stat', n > 0 ? cls : ''], href: '#/alarms' }, h('strong', {}, fmtCount(n)), h('span', {}, label));
  return h('section', { class: 'card' },
    h('h2', {}, t('ov.alarms')),
    h('div', { class: 'stats' },
      stat(a.active, t('ov.alarms_active'), 'bad'),
      stat(a.unacknowledged, t('ov.alarms_unack'), 'bad'),
      stat(a.shelved, t('ov.alarms_shelved'), 'warn'),
      stat(a.rules, t('ov.alarms_rules'), '')));
}

function journalCard(o) {
  const j = o.journal;
  // A record or two in flight is normal work; catching up is a backlog that has waited, or no way out.
  const draining = j.backlog > 0 && ((j.oldest_age_s ?? 0) >= CATCHING_UP_S || o.upstreams.some((u) => !u.connected));
  const done = j.peak_backlog > 0 ? Math.max(0, Math.min(1, 1 - j.backlog / j.peak_backlog)) : 1;
  return h('section', { class: 'card journal' },
    h('h2', {}, t('ov.journal')),
    h('dl', { class: 'kv' },
      h('dt', {}, t('ov.backlog')), h('dd', { dataset: { field: 'backlog' } }, t('ov.records', { n: fmtCount(j.backlog) })),
      h('dt', {}, t('ov.oldest')), h('dd', {}, j.oldest_age_s === null ? '—' : fmtDuration(j.oldest_age_s)),
      h('dt', {}, t('ov.bytes')), h('dd', {}, fmtBytes(j.bytes)),
      h('dt', {}, t('ov.drain_rate')), h('dd', {}, t('ov.per_s', { n: fmtCount(j.drain_rate) })),
      h('dt', {}, t('ov.dropped')), h('dd', { class: j.dropped > 0 ? 'bad-text' : '' }, fmtCount(j.dropped))),
    draining
      ? h('div', { class: 'drain' },
        h('progress', { max: 1, value: done, 'aria-label': t('ov.draining') }),
        h('span', {}, t('ov.draining_pct', { pct: Math.floor(done * 100), left: j.drain_rate > 0 ? fmtDuration(j.backlog / j.drain_rate) : '—' })))
      : h('p', { class: 'ok-text' }, `✔ ${t(j.backlog > 0 ? 'ov.sending_live' : 'ov.all_sent')}`));
}

function devicesTable(o) {
  const rows = o.devices.map((d) => h('tr', { dataset: { device: d.id } },
    h('td', {}, h('a', { href: `#/live?device=${encodeURIComponent(d.id)}` }, d.id), d.description ? h('div', { class: 'sub' }, d.description) : null),
    h('td', {}, d.driver),
    h('td', {}, stateBadge(d.state)),
    h('td', { title: fmtTime(d.last_good_at), dataset: { ago: d.last_good_at ?? '' } }, fmtAgo(d.last_good_at, o.now)),
    h('td', { class: 'num' }, d.poll_ms === null ? '—' : `${fmtNumber(d.last_scan_ms)} / ${fmtCount(d.poll_ms)} ms`),
    h('td', { class: ['num', d.overruns > 0 ? 'warn-text' : ''] }, fmtCount(d.overruns)),
    h('td', { class: 'num' }, d.poll_ms === null ? '—' : fmtCount(d.requests_per_scan)),
    h('td', { class: ['num', d.failed_scans > 0 ? 'warn-text' : ''] }, `${fmtCount(d.failed_scans)} / ${fmtCount(d.scans)}`)));
  return h('section', { class: 'card wide' },
    h('h2', {}, t('ov.devices')),
    table([t('ov.device'), t('ov.driver'), t('ov.state'), t('ov.last_good'), [t('ov.scan_time'), 'num'], [t('ov.overruns'), 'num'], [t('ov.requests'), 'num'], [t('ov.failed'), 'num']], rows, 'devices'));
}

function upstreamsTable(o) {
  if (o.upstreams.length === 0) return h('section', { class: 'card wide' }, h('h2', {}, t('ov.upstreams')), h('p', { class: 'muted' }, t('ov.no_upstreams')));
  const rows = o.upstreams.map((u) => h('tr', { dataset: { upstream: u.id } },
    h('td', {}, u.id),
    h('td', {}, u.format),
    h('td', {}, u.connected ? h('span', { class: 'state state-ok' }, `✔ ${t('ov.connected')}`) : h('span', { class: 'state state-down' }, `✖ ${t('ov.disconnected')}`)),
    h('td', { class: 'num' }, fmtCount(u.backlog)),
    h('td', { class: 'num' }, fmtCount(u.published)),
    h('td', { class: 'num' }, fmtCount(u.acked)),
    h('td', { class: u.last_error ? 'err-cell' : 'muted' }, u.last_error ?? '—')));
  return h('section', { class: 'card wide' },
    h('h2', {}, t('ov.upstreams')),
    table([t('ov.upstream'), t('ov.format'), t('ov.link'), [t('ov.backlog'), 'num'], [t('ov.published'), 'num'], [t('ov.acked'), 'num'], t('ov.last_error')], rows));
}

function camerasCard(o) {
  if (!o.cameras?.length) return null;
  return h('section', { class: 'card' },
    h('h2', {}, t('ov.cameras')),
    h('ul', { class: 'plain' }, o.cameras.map((c) => h('li', {},
      h('a', { href: '#/video' }, c.name ?? c.id), ' ',
      h('span', { class: 'muted' }, c.running ? t('ov.camera_running', { n: c.viewers }) : t('ov.camera_idle'))))));
}

export default {
  id: 'overview',
  nav: 'nav.overview',
  mount(el, ctx) {
    const body = h('div', { class: 'grid' });
    const stamp = h('span', { class: 'muted' });
    el.append(h('div', { class: 'page-head' }, h('h1', {}, t('nav.overview')), stamp), body);
    if (!ctx.overview) body.append(h('p', { class: 'muted' }, t('common.loading')));
    ctx.onOverview((o) => {
      fill(body, siteCard(o), alarmsCard(o), journalCard(o), camerasCard(o), devicesTable(o), upstreamsTable(o));
      setText(stamp, t('common.updated', { time: fmtTime(o.now) }));
    });
  },
};
