// 实时数据: one device's tags as they are now, updated by the server's push (SSE) as they change,
// with their quality: a bad value reads "—", never the last number. "Read now" asks the device at
// once (a scan outside the schedule) and shows what came back; writable tags can be set here by
// those allowed to.
import { command, errorText, api } from '../api.js';
import { fill, h, notice, select, setText, table } from '../dom.js';
import { fmtAgo, fmtNumber, fmtQuality, fmtTime, fmtValue } from '../format.js';
import { t } from '../i18n.js';
import { stateBadge } from './overview.js';

function flash(el) {
  el.classList.remove('flash');
  void el.offsetWidth; // restart the animation
  el.classList.add('flash');
}

/** The inline form that writes one tag: a select for an allow-list or a boolean, else a number box. */
function writeForm(device, tag, current, done) {
  const msg = h('span', { class: 'notice', hidden: true });
  let input;
  if (tag.allowed?.length) input = select(tag.allowed.map((v) => [JSON.stringify(v), String(v)]), JSON.stringify(current?.v));
  else if (tag.type === 'bool') input = select([['true', t('bool.true')], ['false', t('bool.false')]], String(current?.v ?? false));
  else input = h('input', { type: 'number', step: 'any', value: current?.v ?? '', min: tag.min, max: tag.max, class: 'num-input' });
  input.setAttribute('aria-label', t('live.new_value', { tag: tag.name }));
  const ok = h('button', { type: 'submit', class: 'primary' }, t('live.write'));
  return h('form', {
    class: 'inline-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const raw = input.value;
      const value = input.tagName === 'SELECT' ? JSON.parse(raw) : Number(raw);
      if (input.tagName !== 'SELECT' && (raw.trim() === '' || !Number.isFinite(value))) { notice(msg, 'error', t('live.need_number')); return; }
      ok.disabled = true;
      notice(msg, 'info', t('common.sending'));
      try {
        const r = await command('write', { device, tag: tag.name, value });
        notice(msg, 'ok', t('live.written', { value: String(r.result?.value ?? value) }));
        done?.();
      } catch (e) {
        notice(msg, 'error', errorText(e));
      } finally {
        ok.disabled = false;
      }
    },
  }, input, ok, h('button', { type: 'button', onclick: () => done?.(true) }, t('common.close')), msg);
}

function deviceView(ctx, dev) {
  const cells = new Map();
  const filter = h('input', { type: 'search', placeholder: t('live.filter'), 'aria-label': t('live.filter'), class: 'filter' });
  const status = h('span', { class: 'dev-status' });
  const readMsg = h('span', { class: 'notice', hidden: true, role: 'status' });
  const polled = dev.poll_ms !== null;
  const readBtn = polled ? h('button', { type: 'button', class: 'read-now', onclick: readNow }, t('live.read_now')) : null;

  async function readNow() {
    readBtn.disabled = true;
    notice(readMsg, 'info', t('live.reading'));
    const started = performance.now();
    try {
      const r = await api(`/api/devices/${encodeURIComponent(dev.id)}/read`, { method: 'POST' });
      ctx.live.apply(dev.id, r.points);
      for (const p of r.points) { const c = cells.get(p.tag); if (c) flash(c.value); }
      const ms = Math.round(performance.now() - started);
      if (r.error) notice(readMsg, 'error', `${r.error.code}: ${r.error.message}`);
      else notice(readMsg, 'ok', t('live.read_done', { n: r.points.length, ms }));
    } catch (e) {
      notice(readMsg, 'error', errorText(e));
    } finally {
      readBtn.disabled = false;
    }
  }

  const rows = dev.tags.map((tag) => {
    const c = {
      value: h('td', { class: 'num value' }), q: h('td', { class: 'q' }), t: h('td', { class: 'ago' }),
      row: null, tag,
    };
    const actions = h('td', { class: 'actions' },
      h('a', { href: `#/trends?tag=${encodeURIComponent(`${dev.id}.${tag.name}`)}`, class: 'small-link', title: t('live.trend_of', { tag: tag.name }) }, t('live.trend')),
      tag.writable && ctx.canControl ? h('button', {
        type: 'button', class: 'small write-btn',
        onclick: (ev) => {
          const td = ev.currentTarget.parentElement;
          const open = td.querySelector('form');
          if (open) { open.remove(); return; }
          td.append(writeForm(dev.id, tag, ctx.live.get(dev.id, tag.name), (closeNow) => { if (closeNow) td.querySelector('form')?.remove(); }));
        },
      }, t('live.set')) : null);
    c.row = h('tr', { dataset: { tag: tag.name } },
      h('td', { class: 'tag-name' }, tag.name, tag.writable ? h('span', { class: 'pill', title: t('live.writable') }, '✎') : null),
      h('td', { class: 'sub' }, tag.description ?? ''),
      c.value, c.q, c.t, actions);
    cells.set(tag.name, c);
    return c.row;
  });

  const paint = (name, p, changed) => {
    const c = cells.get(name);
    if (!c) return;
    const f = fmtValue(p, c.tag.unit);
    setText(c.value, f.text);
    c.value.className = `num value ${f.cls}`;
    c.value.title = p && typeof p.v === 'number' && p.q === 'bad' ? t('live.bad_last', { v: fmtNumber(p.v) }) : '';
    setText(c.q, fmtQuality(p?.q));
    c.q.className = `q q-${p?.q ?? 'none'}`;
    c.t.dataset.t = p?.t ?? '';
    c.t.title = fmtTime(p?.t);
    setText(c.t, p ? fmtAgo(p.t) : '—');
    if (changed) flash(c.value);
  };
  for (const [name, p] of ctx.live.device(dev.id)) paint(name, p, false);
  for (const c of cells.values()) if (!ctx.live.get(dev.id, c.tag.name)) paint(c.tag.name, undefined, false);

  ctx.onLive((device, points) => { if (device === dev.id) for (const p of points) paint(p.tag, p, true); });
  ctx.every(1000, () => { for (const c of cells.values()) if (c.t.dataset.t) setText(c.t, fmtAgo(Number(c.t.dataset.t))); });
  ctx.onOverview((o) => {
    const d = o.devices.find((x) => x.id === dev.id);
    if (!d) return;
    fill(status, stateBadge(d.state), ' ', t('live.last_good', { ago: fmtAgo(d.last_good_at, o.now) }),
      d.poll_ms !== null ? ` · ${t('live.poll', { ms: d.poll_ms })}` : '');
  });
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const c of cells.values()) c.row.hidden = !!q && !`${c.tag.name} ${c.tag.description ?? ''}`.toLowerCase().includes(q);
  });

  return h('section', { class: 'card wide live-device', dataset: { device: dev.id } },
    h('div', { class: 'card-head' },
      h('h2', {}, dev.id, dev.description ? h('span', { class: 'sub' }, ` ${dev.description}`) : null),
      status, h('span', { class: 'spacer' }), filter, readBtn),
    h('p', {}, readMsg),
    table([t('live.tag'), t('live.description'), [t('live.value'), 'num'], t('live.quality'), t('live.changed'), ''], rows, 'live-table'));
}

export default {
  id: 'live',
  nav: 'nav.live',
  mount(el, ctx) {
    const devices = ctx.devices.devices;
    el.append(h('div', { class: 'page-head' }, h('h1', {}, t('nav.live'))));
    if (devices.length === 0) { el.append(h('p', { class: 'muted' }, t('live.no_devices'))); return; }
    const id = ctx.params.get('device');
    const dev = devices.find((d) => d.id === id) ?? devices[0];
    el.append(h('div', { class: 'tabs', role: 'tablist' }, devices.map((d) => h('a', {
      href: `#/live?device=${encodeURIComponent(d.id)}`, role: 'tab', 'aria-selected': String(d.id === dev.id), title: d.description ?? '',
    }, d.id))));
    el.append(deviceView(ctx, dev));
  },
};
