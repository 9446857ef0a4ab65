// The console's shell: session, navigation, language, and the data every page shares (the device
// list, the live values, the overview polled every few seconds). One page at a time is mounted
// in <main>; each gets a context with an AbortSignal and leaves nothing running after it.
import { api, errorText, get, onCommanded, onExpired, setCsrf } from './api.js';
import { fill, h } from './dom.js';
import { lang, setLang, t } from './i18n.js';
import { LiveStore } from './live.js';
import { renderLogin } from './pages/login.js';
import overview from './pages/overview.js';
import live from './pages/live.js';
import trends from './pages/trends.js';
import alarms from './pages/alarms.js';
import parking from './pages/parking.js';
import lights from './pages/lights.js';
import video from './pages/video.js';

const PAGES = [overview, live, trends, alarms, parking, lights, video];
const OVERVIEW_POLL_MS = 3000;
const root = document.getElementById('app');

/** The logged-in app, or null on the login form. */
let app = null;

function langSwitch() {
  const b = (code, label) => h('button', {
    type: 'button', class: 'lang-btn', 'aria-pressed': String(lang() === code), lang: code === 'zh' ? 'zh-CN' : 'en',
    onclick: () => { if (lang() !== code) { setLang(code); rerender(); } },
  }, label);
  return h('span', { class: 'lang-switch', role: 'group', 'aria-label': 'language' }, b('zh', '中文'), b('en', 'EN'));
}

function applyLang() {
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  document.title = app?.overview?.site?.name ? `${app.overview.site.name} · ${t('app.title')}` : t('app.title');
}

function showLogin(message = '') {
  stopApp();
  applyLang();
  renderLogin(root, { message, langSwitch: langSwitch(), onLoggedIn: (s) => void start(s) });
}

function stopApp() {
  if (!app) return;
  app.mounted?.abort.abort();
  app.live.stop();
  clearInterval(app.pollTimer);
  setCsrf(null);
  app = null;
}

/** The session ended while the console was open: back to the login form, saying why. */
function expire() {
  if (app) showLogin(t('login.expired'));
}

async function checkSession() {
  try { await api('/api/session'); return true; } catch (e) {
    if (e.status === 401) { expire(); return false; }
    return true;
  }
}

async function start(session) {
  stopApp();
  setCsrf(session.csrf);
  let devices;
  try {
    devices = await get('/api/devices');
  } catch (e) {
    if (e.status !== 401) showLogin(errorText(e));
    return;
  }
  const store = new LiveStore(checkSession);
  app = {
    session, devices, live: store, overview: null, overviewListeners: new Set(), mounted: null, pollTimer: 0,
    canControl: session.role === 'admin' || session.role === 'engineer',
  };
  void store.start();
  await pollOverview();
  if (!app) return;
  app.pollTimer = setInterval(() => void pollOverview(), OVERVIEW_POLL_MS);
  renderShell();
  route();
}

async function pollOverview() {
  const a = app;
  try {
    const o = await get('/api/overview');
    if (a !== app) return;
    a.overview = o;
    for (const fn of a.overviewListeners) fn(o);
    updateBadges();
  } catch { /* shown by the pages that need it; a 401 has already gone to the login form */ }
}

function renderShell() {
  applyLang();
  const s = app.session;
  const liveDot = h('span', { class: 'live-state' });
  app.offLiveState?.();
  app.offLiveState = app.live.onState((st) => {
    liveDot.className = `live-state ${st}`;
    liveDot.textContent = t(`live.${st}`);
  });
  const nav = h('nav', { class: 'side', 'aria-label': t('nav.label') },
    PAGES.filter((p) => p.available?.(app.devices) ?? true).map((p) => h('a', { href: `#/${p.id}`, dataset: { page: p.id } },
      h('span', { class: 'nav-label' }, t(p.nav)),
      p.id === 'alarms' ? h('span', { class: 'badge', hidden: true, dataset: { badge: 'alarms' } }) : null)));
  const header = h('header', { class: 'top' },
    h('a', { class: 'brand', href: '#/overview' }, 'cityedge'),
    h('span', { class: 'site-name', dataset: { site: '' } }),
    liveDot,
    h('span', { class: 'spacer' }),
    h('span', { class: 'who', title: t('header.expires') }, `${s.user} · ${t(`role.${s.role}`)}`),
    langSwitch(),
    h('button', { type: 'button', class: 'logout', onclick: logout }, t('header.logout')));
  root.replaceChildren(h('div', { class: 'shell' }, header, nav, h('main', { id: 'page', tabIndex: -1 })));
  updateBadges();
}

function updateBadges() {
  const o = app?.overview;
  if (!o) return;
  const site = root.querySelector('[data-site]');
  if (site) site.textContent = o.site.name ?? o.site.id;
  const badge = root.querySelector('[data-badge="alarms"]');
  if (badge) {
    const n = o.alarms.unacknowledged;
    badge.hidden = n === 0;
    badge.textContent = String(n);
    badge.title = t('alarms.unack_count', { n });
  }
  applyLang();
}

async function logout() {
  try { await api('/api/logout', { method: 'POST' }); } catch { /* the session is gone either way */ }
  showLogin(t('login.logged_out'));
}

function parseHash() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const page = PAGES.find((p) => p.id === path) ?? overview;
  return { page, params: new URLSearchParams(query) };
}

/** Mounts the page the address names; the previous page's work stops first. */
function route() {
  if (!app) return;
  const { page, params } = parseHash();
  app.mounted?.abort.abort();
  const abort = new AbortController();
  app.mounted = { page, abort };
  for (const a of root.querySelectorAll('nav.side a')) a.setAttribute('aria-current', String(a.dataset.page === page.id));
  const main = root.querySelector('#page');
  fill(main);
  const a = app;
  const ctx = {
    session: a.session, canControl: a.canControl, devices: a.devices, live: a.live, params, signal: abort.signal,
    get overview() { return a.overview; },
    /** fn(overview) now (if known) and on every poll, until the page goes. */
    onOverview(fn) {
      a.overviewListeners.add(fn);
      abort.signal.addEventListener('abort', () => a.overviewListeners.delete(fn));
      if (a.overview) fn(a.overview);
    },
    /** fn(device, points) on every live change, until the page goes. */
    onLive(fn) { const off = a.live.subscribe(fn); abort.signal.addEventListener('abort', off); },
    /** fn every `ms` until the page goes (not run at once). */
    every(ms, fn) { const id = setInterval(fn, ms); abort.signal.addEventListener('abort', () => clearInterval(id)); },
    onCleanup(fn) { abort.signal.addEventListener('abort', fn); },
    /** Another page, or this one with other parameters. */
    go(id, query = {}) {
      const q = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== '')).toString();
      location.hash = `#/${id}${q ? `?${q}` : ''}`;
    },
  };
  Promise.resolve().then(() => page.mount(main, ctx)).catch((e) => {
    if (abort.signal.aborted) return;
    main.append(h('p', { class: 'notice error', role: 'alert' }, `${t('err.page')}: ${errorText(e)}`));
  });
}

/** After a language switch: everything redrawn in the other language. */
function rerender() {
  if (app) { renderShell(); route(); } else showLogin();
}

onExpired(expire);
onCommanded(() => void pollOverview());
window.addEventListener('hashchange', route);

(async () => {
  applyLang();
  try {
    await start(await api('/api/session'));
  } catch (e) {
    showLogin(e.status === 401 || e.status === undefined ? '' : errorText(e));
  }
})();
