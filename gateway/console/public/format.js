// How numbers, values, times and sizes read on screen, in the language chosen. Times are the
// browser's local time; "N s ago" beside them answers what an operator actually asks ("is this
// fresh?") without doing arithmetic against a clock on the wall.
import { lang, t } from './i18n.js';

const numberFormats = new Map();
function nf(maxFrac) {
  const key = `${lang()}:${maxFrac}`;
  if (!numberFormats.has(key)) numberFormats.set(key, new Intl.NumberFormat(lang() === 'zh' ? 'zh-CN' : 'en-GB', { maximumFractionDigits: maxFrac }));
  return numberFormats.get(key);
}

/** A measurement: three significant decimals at most, fewer for large numbers. */
export function fmtNumber(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  return nf(a >= 1000 ? 1 : a >= 100 ? 2 : 3).format(n);
}

/** A count: digits grouped. */
export const fmtCount = (n) => (typeof n === 'number' ? nf(0).format(n) : '—');

/**
 * A tag's value for a table cell: { text, cls }. Bad quality shows "—" greyed whatever the last
 * number was (the gateway never repeats a stale value as good; neither does the screen); an
 * uncertain value shows, marked.
 */
export function fmtValue(p, unit) {
  if (!p) return { text: '—', cls: 'q-none' };
  if (p.q === 'bad') return { text: '—', cls: 'q-bad' };
  const v = p.v;
  let text;
  if (v === null || v === undefined) text = '—';
  else if (typeof v === 'boolean') text = v ? t('bool.true') : t('bool.false');
  else if (typeof v === 'number') text = fmtNumber(v) + (unit ? ` ${unit}` : '');
  else text = String(v);
  return { text, cls: p.q === 'good' ? 'q-good' : 'q-uncertain' };
}

/** The quality word, translated, for the column beside the value. */
export const fmtQuality = (q) => (q ? t(`q.${q}`, {}, q) : t('q.none'));

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "—" for never. */
export function fmtAgo(ts, now = Date.now()) {
  if (ts === null || ts === undefined) return t('time.never');
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return t('time.s_ago', { n: s });
  if (s < 3600) return t('time.min_ago', { n: Math.floor(s / 60) });
  if (s < 86400) return t('time.h_ago', { n: Math.floor(s / 3600) });
  return t('time.d_ago', { n: Math.floor(s / 86400) });
}

/** Local date and time, seconds included: "2025-06-01 14:03:07". */
export function fmtTime(ts) {
  if (ts === null || ts === undefined) return '—';
  const d = new Date(ts);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A span of seconds: "45 s", "12 min", "3 h 20 min", "2 d 4 h". */
export function fmtDuration(s) {
  if (s === null || s === undefined) return '—';
  s = Math.round(s);
  if (s < 60) return t('dur.s', { n: s });
  if (s < 3600) return t('dur.min', { n: Math.floor(s / 60) });
  if (s < 86400) return t('dur.h_min', { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
  return t('dur.d_h', { d: Math.floor(s / 86400), h: Math.floor((s % 86400) / 3600) });
}

export function fmtBytes(n) {
  if (typeof n !== 'number') return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : fmtNumber(Number(n.toFixed(1)))} ${units[i]}`;
}

/** A fresh id for one command (one click): what the audit log and the reply are matched by. */
export function commandId(verb) {
  // crypto.randomUUID exists only in secure contexts; a box on the LAN is reached over plain http.
  const r = crypto.getRandomValues(new Uint32Array(2));
  return `console-${verb}-${Date.now().toString(36)}-${r[0].toString(36)}${r[1].toString(36)}`;
}
