// 停车: free bays per lot, as the parking guidance system (停车诱导) gets them, and each bay's sensor
// as a tile (free, occupied, or unknown: a sensor not heard, or not yet sure). The lot's counts are
// the gateway's own (bays_free / bays_occupied / bays_unknown on the lot's device), summed over
// the devices that share a lot name.
import { fill, h } from '../dom.js';
import { fmtAgo, fmtCount } from '../format.js';
import { t } from '../i18n.js';

const LOT_TAGS = ['bays_free', 'bays_occupied', 'bays_unknown'];
const lotDevices = (devices) => devices.devices.filter((d) => d.lot !== undefined);

/** The bays' sensors of a device: the names before `_occupied`. */
function sensorsOf(dev) {
  return dev.tags.map((x) => x.name).filter((n) => n.endsWith('_occupied') && n !== 'bays_occupied').map((n) => n.slice(0, -'_occupied'.length));
}

function bayState(live, dev, sensor) {
  const occ = live.get(dev.id, `${sensor}_occupied`);
  const online = live.get(dev.id, `${sensor}_online`);
  if (!occ || occ.q !== 'good' || occ.v === null || online?.v === false) return 'unknown';
  return occ.v ? 'occupied' : 'free';
}

const BAY_SYMBOL = { free: '○', occupied: '●', unknown: '?' };

function lotCard(live, name, devs) {
  const sum = Object.fromEntries(LOT_TAGS.map((k) => [k, 0]));
  let known = false;
  let latest = null;
  for (const d of devs) {
    for (const k of LOT_TAGS) {
      const p = live.get(d.id, k);
      if (p && p.q !== 'bad' && typeof p.v === 'number') { sum[k] += p.v; known = true; latest = Math.max(latest ?? 0, p.t); }
    }
  }
  const total = sum.bays_free + sum.bays_occupied + sum.bays_unknown;
  const tiles = devs.flatMap((d) => sensorsOf(d).map((s) => {
    const st = bayState(live, d, s);
    return h('li', { class: `bay bay-${st}`, title: `${d.id} · ${s}`, dataset: { bay: s, state: st } },
      h('span', { class: 'bay-symbol', 'aria-hidden': 'true' }, BAY_SYMBOL[st]), h('span', { class: 'bay-name' }, s), h('span', { class: 'bay-state' }, t(`park.${st}`)));
  }));
  return h('section', { class: 'card lot', dataset: { lot: name } },
    h('h2', {}, name),
    known
      ? h('div', { class: 'lot-figures' },
        h('div', { class: 'big-free' }, h('strong', { dataset: { field: 'free' } }, fmtCount(sum.bays_free)), h('span', {}, t('park.free_of', { n: fmtCount(total) }))),
        // Free bays, as the number beside it: green while plenty, amber when few, red when nearly full.
        h('meter', { min: 0, max: Math.max(1, total), value: sum.bays_free, low: total * 0.1, high: total * 0.3, optimum: total, 'aria-label': t('park.free_share') }),
        h('p', { class: 'muted' }, t('park.counts', { occ: fmtCount(sum.bays_occupied), unk: fmtCount(sum.bays_unknown) }), latest ? ` · ${fmtAgo(latest)}` : ''))
      : h('p', { class: 'muted' }, t('park.no_data')),
    tiles.length ? h('ul', { class: 'bays' }, tiles) : null);
}

export default {
  id: 'parking',
  nav: 'nav.parking',
  available: (devices) => lotDevices(devices).length > 0,
  mount(el, ctx) {
    const devs = lotDevices(ctx.devices);
    const lots = new Map();
    for (const d of devs) lots.set(d.lot, [...(lots.get(d.lot) ?? []), d]);
    const body = h('div', { class: 'grid' });
    el.append(h('div', { class: 'page-head' }, h('h1', {}, t('nav.parking'))), body);
    if (lots.size === 0) { body.append(h('p', { class: 'muted' }, t('park.none'))); return; }
    const draw = () => fill(body, [...lots].map(([name, ds]) => lotCard(ctx.live, name, ds)));
    draw();
    // A busy lot changes many times a second: redraw at most once a second.
    let pending = false;
    const ids = new Set(devs.map((d) => d.id));
    ctx.onLive((device) => {
      if (!ids.has(device) || pending) return;
      pending = true;
      setTimeout(() => { pending = false; if (!ctx.signal.aborted) draw(); }, 1000);
    });
  },
};
