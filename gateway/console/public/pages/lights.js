// 路灯: each cabinet's loops. On/off and dim go through the command path (the `write` verb: checked
// against the tag's allow-list, written, read back), the same one the city's lighting platform uses.
// What the loop *does* is shown beside what it was told: the contactor's feedback and the current
// it draws. A loop commanded on whose contactor stays open is flagged, not hidden.
import { command, errorText } from '../api.js';
import { h, notice, select, setText } from '../dom.js';
import { fmtValue } from '../format.js';
import { t } from '../i18n.js';

const LOOP_TAG = /^loop(\d+)_(on|dim)$/;

/** Loop numbers of a device whose on/dim tags are writable, ascending. */
function loopsOf(dev) {
  const ns = new Set();
  for (const x of dev.tags) { const m = LOOP_TAG.exec(x.name); if (m && x.writable) ns.add(Number(m[1])); }
  return [...ns].sort((a, b) => a - b);
}

const lightDevices = (devices) => devices.devices.filter((d) => loopsOf(d).length > 0);
const CABINET_TAGS = ['voltage_a', 'voltage_b', 'voltage_c', 'total_power', 'leakage', 'mains_ok', 'door_open', 'cabinet_temperature'];

function cabinet(ctx, dev) {
  const tagOf = new Map(dev.tags.map((x) => [x.name, x]));
  /** tag → elements showing its value, repainted on each change. */
  const shown = new Map();
  /** `words`: [true, false] texts for a boolean (开/关, 吸合/断开) instead of yes/no. */
  const value = (name, cls = '', words) => {
    const el = h('span', { class: ['val', cls], dataset: { tag: name } });
    if (words) el.words = words;
    shown.set(name, [...(shown.get(name) ?? []), el]);
    return el;
  };
  const loopViews = new Map();

  const send = async (n, tag, v, msg, buttons) => {
    for (const b of buttons) b.disabled = true;
    notice(msg, 'info', t('common.sending'));
    try {
      const r = await command('write', { device: dev.id, tag, value: v });
      const back = r.result?.value ?? v;
      notice(msg, 'ok', t('lights.confirmed', { value: typeof back === 'boolean' ? t(back ? 'lights.on_word' : 'lights.off_word') : fmtValue({ v: back, q: 'good' }, tagOf.get(tag)?.unit).text }));
    } catch (e) {
      notice(msg, 'error', errorText(e));
    } finally {
      for (const b of buttons) b.disabled = false;
      paintLoop(n);
    }
  };

  const loopCard = (n) => {
    const onTag = `loop${n}_on`, dimTag = `loop${n}_dim`;
    const msg = h('p', { class: 'notice', hidden: true, role: 'status' });
    const controls = [];
    let onBtn = null, offBtn = null, dimSel = null;
    if (ctx.canControl && tagOf.get(onTag)?.writable) {
      onBtn = h('button', { type: 'button', class: 'switch-on', dataset: { action: 'on' }, onclick: () => send(n, onTag, true, msg, [onBtn, offBtn]) }, t('lights.on'));
      offBtn = h('button', { type: 'button', class: 'switch-off', dataset: { action: 'off' }, onclick: () => send(n, onTag, false, msg, [onBtn, offBtn]) }, t('lights.off'));
      controls.push(h('span', { class: 'seg', role: 'group', 'aria-label': t('lights.switch') }, onBtn, offBtn));
    }
    const dim = tagOf.get(dimTag);
    if (ctx.canControl && dim?.writable && dim.allowed?.length) {
      dimSel = select([['', '—'], ...dim.allowed.map((v) => [v, `${v}${dim.unit ? ` ${dim.unit}` : ''}`])], '', {
        'aria-label': t('lights.dim'), dataset: { action: 'dim' },
        onchange: () => { if (dimSel.value !== '') void send(n, dimTag, JSON.parse(dimSel.value), msg, [dimSel]); },
      });
      controls.push(h('label', { class: 'inline' }, t('lights.dim'), ' ', dimSel));
    }
    const warn = h('p', { class: 'notice warn', hidden: true });
    const card = h('article', { class: 'loop', dataset: { loop: String(n) } },
      h('h3', {}, t('lights.loop', { n }), h('span', { class: 'loop-state', dataset: { field: 'lit' } })),
      h('dl', { class: 'kv' },
        h('dt', {}, t('lights.commanded')), h('dd', {}, value(onTag, '', [t('lights.on_word'), t('lights.off_word')])),
        h('dt', {}, t('lights.contactor')), h('dd', {}, value(`loop${n}_contactor`, '', [t('lights.closed'), t('lights.open')])),
        h('dt', {}, t('lights.dim')), h('dd', {}, value(dimTag)),
        h('dt', {}, t('lights.current')), h('dd', {}, value(`loop${n}_current`)),
        tagOf.has(`loop${n}_power`) ? [h('dt', {}, t('lights.power')), h('dd', {}, value(`loop${n}_power`))] : null,
        tagOf.has(`loop${n}_lamp_failure`) ? [h('dt', {}, t('lights.lamp_failure')), h('dd', {}, value(`loop${n}_lamp_failure`, 'fault', [`✖ ${t('lights.fault')}`, t('lights.no_fault')]))] : null),
      warn,
      controls.length ? h('div', { class: 'loop-controls' }, controls) : null,
      msg);
    loopViews.set(n, { card, onBtn, offBtn, dimSel, warn });
    return card;
  };

  function paintLoop(n) {
    const v = loopViews.get(n);
    if (!v) return;
    const on = ctx.live.get(dev.id, `loop${n}_on`);
    const fb = ctx.live.get(dev.id, `loop${n}_contactor`);
    const dim = ctx.live.get(dev.id, `loop${n}_dim`);
    const good = (p) => p && p.q === 'good';
    const lit = good(fb) ? fb.v === true : null;
    const stateEl = v.card.querySelector('[data-field="lit"]');
    setText(stateEl, lit === null ? ` · ${t('lights.unknown')}` : lit ? ` · ☀ ${t('lights.lit')}` : ` · ☾ ${t('lights.dark')}`);
    v.card.dataset.lit = lit === null ? 'unknown' : String(lit);
    v.onBtn?.setAttribute('aria-pressed', String(good(on) && on.v === true));
    v.offBtn?.setAttribute('aria-pressed', String(good(on) && on.v === false));
    if (v.dimSel && good(dim) && document.activeElement !== v.dimSel) v.dimSel.value = String(dim.v);
    const mismatch = good(on) && good(fb) && on.v !== fb.v;
    v.warn.hidden = !mismatch;
    if (mismatch) setText(v.warn, `▲ ${t('lights.mismatch')}`);
  }

  const paint = (name) => {
    const els = shown.get(name);
    if (els) {
      const f = fmtValue(ctx.live.get(dev.id, name), tagOf.get(name)?.unit);
      const p = ctx.live.get(dev.id, name);
      for (const el of els) {
        const text = el.words && f.cls !== 'q-bad' && typeof p?.v === 'boolean' ? el.words[p.v ? 0 : 1] : f.text;
        setText(el, text);
        el.className = `val ${el.classList.contains('fault') ? 'fault' : ''} ${f.cls} ${p?.v === true && el.classList.contains('fault') ? 'bad-text' : ''}`;
      }
    }
    const m = /^loop(\d+)_/.exec(name);
    if (m) paintLoop(Number(m[1]));
  };

  const cabinetKv = CABINET_TAGS.filter((n) => tagOf.has(n)).flatMap((n) => [h('dt', {}, tagOf.get(n).description ?? t(`lights.${n}`, {}, n)), h('dd', {}, value(n))]);
  const loops = loopsOf(dev);
  const section = h('section', { class: 'card wide cabinet', dataset: { device: dev.id } },
    h('h2', {}, dev.id, dev.description ? h('span', { class: 'sub' }, ` ${dev.description}`) : null),
    cabinetKv.length ? h('dl', { class: 'kv cabinet-kv' }, cabinetKv) : null,
    h('div', { class: 'loops' }, loops.map(loopCard)));
  for (const name of shown.keys()) paint(name);
  for (const n of loops) paintLoop(n);
  ctx.onLive((device, points) => { if (device === dev.id) for (const p of points) paint(p.tag); });
  return section;
}

export default {
  id: 'lights',
  nav: 'nav.lights',
  available: (devices) => lightDevices(devices).length > 0,
  mount(el, ctx) {
    el.append(h('div', { class: 'page-head' }, h('h1', {}, t('nav.lights'))));
    const devs = lightDevices(ctx.devices);
    if (devs.length === 0) { el.append(h('p', { class: 'muted' }, t('lights.none'))); return; }
    if (!ctx.canControl) el.append(h('p', { class: 'muted' }, t('common.read_only')));
    for (const d of devs) el.append(cabinet(ctx, d));
  },
};
