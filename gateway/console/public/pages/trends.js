// 趋势: any tag over the last hours, mean per step with its min–max band (a spike between two
// steps still shows), refreshed every few seconds: enough to watch a wet well fill during rain.
// A gap longer than two steps breaks the line: the device was not answering then, and a line
// drawn across would claim otherwise. uPlot draws on a canvas, from /vendor (the box is offline).
import { get, errorText } from '../api.js';
import { field, fill, h, loadScript, select, setText } from '../dom.js';
import { fmtNumber, fmtTime } from '../format.js';
import { t } from '../i18n.js';

const HOURS = [1, 3, 6, 12, 24];
const REFRESH_MS = 10_000;
const HEIGHT = 340;

/** uPlot's columns: seconds, mean, min, max; a null row wherever the series has a hole. */
function columns(points, stepMs) {
  const xs = [], mean = [], min = [], max = [];
  let last;
  for (const [tms, avg, lo, hi] of points) {
    if (last !== undefined && stepMs > 0 && tms - last > 2 * stepMs) {
      xs.push((last + stepMs) / 1000); mean.push(null); min.push(null); max.push(null);
    }
    xs.push(tms / 1000); mean.push(avg); min.push(lo); max.push(hi);
    last = tms;
  }
  return [xs, mean, min, max];
}

/** The x range shown: every point of the window, and at least MIN_SPAN_S wide (a box just started). */
const MIN_SPAN_S = 60;
function xRange(xs) {
  const now = Date.now() / 1000;
  const first = xs.length ? xs[0] : now;
  return [Math.min(first, now - MIN_SPAN_S), Math.max(now, xs.at(-1) ?? now)];
}

/** A time axis label, 24-hour: "14:05", with seconds on a short span, the date where the day changes. */
function timeTick(v, ticks, i) {
  const d = new Date(v * 1000);
  const p = (n) => String(n).padStart(2, '0');
  const span = ticks.at(-1) - ticks[0];
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}${span < 300 ? `:${p(d.getSeconds())}` : ''}`;
  const prev = i > 0 ? new Date(ticks[i - 1] * 1000) : null;
  return !prev || prev.getDate() !== d.getDate() ? `${hm}\n${d.getMonth() + 1}-${p(d.getDate())}` : hm;
}

function chartOptions(width, unit, isBool, range) {
  const U = window.uPlot;
  const stepped = isBool ? U.paths.stepped({ align: 1 }) : undefined;
  return {
    width, height: HEIGHT,
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true, range: () => range() }, ...(isBool ? { y: { range: [-0.1, 1.1] } } : {}) },
    series: [
      { label: t('trend.time'), value: (_u, v) => (v === null ? '—' : fmtTime(v * 1000)) },
      { label: t('trend.mean'), stroke: '#1d5fa8', width: 2, paths: stepped, value: (_u, v) => (v === null ? '—' : fmtNumber(v)) },
      { label: t('trend.min'), stroke: '#7d8b99', width: 1, dash: [4, 3], paths: stepped, value: (_u, v) => (v === null ? '—' : fmtNumber(v)) },
      { label: t('trend.max'), stroke: '#7d8b99', width: 1, dash: [4, 3], paths: stepped, value: (_u, v) => (v === null ? '—' : fmtNumber(v)) },
    ],
    bands: [{ series: [3, 2], fill: 'rgba(29, 95, 168, 0.12)' }],
    axes: [{ values: (_u, ticks) => ticks.map((v, i) => timeTick(v, ticks, i)) }, { label: unit ?? '', size: 60, values: (_u, ticks) => ticks.map((v) => fmtNumber(v)) }],
  };
}

export default {
  id: 'trends',
  nav: 'nav.trends',
  async mount(el, ctx) {
    const devices = ctx.devices.devices.filter((d) => d.tags.some((x) => x.type !== 'string'));
    el.append(h('div', { class: 'page-head' }, h('h1', {}, t('nav.trends'))));
    if (devices.length === 0) { el.append(h('p', { class: 'muted' }, t('live.no_devices'))); return; }
    const [wantDev, ...rest] = (ctx.params.get('tag') ?? '').split('.');
    const dev = devices.find((d) => d.id === wantDev) ?? devices[0];
    const tags = dev.tags.filter((x) => x.type !== 'string');
    const tag = tags.find((x) => x.name === rest.join('.')) ?? tags.find((x) => x.type !== 'bool') ?? tags[0];
    const hours = HOURS.includes(Number(ctx.params.get('hours'))) ? Number(ctx.params.get('hours')) : 6;
    const go = (d, tg, hr) => ctx.go('trends', { tag: `${d}.${tg}`, hours: hr });

    const devSel = select(devices.map((d) => [d.id, d.description ? `${d.id} · ${d.description}` : d.id]), dev.id, {
      onchange: () => { const d = devices.find((x) => x.id === devSel.value); go(d.id, (d.tags.find((x) => x.type !== 'bool' && x.type !== 'string') ?? d.tags[0]).name, hours); },
    });
    const tagSel = select(tags.map((x) => [x.name, x.description ? `${x.name} · ${x.description}` : x.name]), tag.name, { onchange: () => go(dev.id, tagSel.value, hours) });
    const hourSel = select(HOURS.map((n) => [n, t('trend.hours', { n })]), hours, { onchange: () => go(dev.id, tag.name, Number(hourSel.value)) });
    const summary = h('p', { class: 'trend-summary' });
    const chartBox = h('div', { class: 'chart', role: 'img', 'aria-label': t('trend.chart_of', { tag: `${dev.id}.${tag.name}` }) });
    const msg = h('p', { class: 'muted' }, t('common.loading'));
    el.append(h('section', { class: 'card wide' },
      h('div', { class: 'controls' }, field(t('trend.device'), devSel), field(t('trend.tag'), tagSel), field(t('trend.range'), hourSel)),
      summary, msg, chartBox));

    try { await loadScript('/vendor/uPlot.iife.min.js'); } catch (e) { fill(msg, errorText(e)); return; }
    if (ctx.signal.aborted) return;
    let plot = null;
    let range = [0, 1];
    ctx.onCleanup(() => plot?.destroy());
    const resize = new ResizeObserver(() => { if (plot && chartBox.clientWidth > 0) plot.setSize({ width: chartBox.clientWidth, height: HEIGHT }); });
    resize.observe(chartBox);
    ctx.onCleanup(() => resize.disconnect());

    const load = async () => {
      let r;
      try {
        r = await get(`/api/trend?tag=${encodeURIComponent(`${dev.id}.${tag.name}`)}&hours=${hours}`, ctx.signal);
      } catch (e) {
        if (!ctx.signal.aborted) fill(msg, errorText(e));
        return;
      }
      if (ctx.signal.aborted) return;
      if (r.points.length === 0) { msg.hidden = false; fill(msg, t('trend.no_data')); return; }
      msg.hidden = true;
      const data = columns(r.points, r.step_ms);
      const lastPoint = r.points.at(-1);
      const lo = Math.min(...r.points.map((p) => p[2])), hi = Math.max(...r.points.map((p) => p[3]));
      const unit = tag.unit ? ` ${tag.unit}` : '';
      setText(summary, t('trend.summary', {
        last: `${fmtNumber(lastPoint[1])}${unit}`, at: fmtTime(lastPoint[0]), min: `${fmtNumber(lo)}${unit}`, max: `${fmtNumber(hi)}${unit}`, step: Math.round(r.step_ms / 1000),
      }));
      range = xRange(data[0]);
      if (!plot) plot = new window.uPlot(chartOptions(chartBox.clientWidth || 600, tag.unit, tag.type === 'bool', () => range), data, chartBox);
      else plot.setData(data);
    };
    await load();
    ctx.every(REFRESH_MS, load);
  },
};
