// Every tag's last value, kept current: the snapshot of GET /api/values, then the changes the
// server pushes on GET /api/live (server-sent events). One stream for the whole app; pages
// subscribe and hear (device, points). The server sends a tag only when its value or quality
// changed, so a point's `t` is when it last changed, not when it was last read.
import { get } from './api.js';

export class LiveStore {
  #values = new Map();
  #listeners = new Set();
  #stateListeners = new Set();
  #es = null;
  #retry = null;
  #stopped = false;
  #lost = false;
  #checkSession;
  /** 'connecting' | 'live' | 'lost' */
  state = 'connecting';

  /** `checkSession()` resolves false when the session is over (the app then shows the login). */
  constructor(checkSession) { this.#checkSession = checkSession; }

  async start() {
    this.#open();
    await this.#snapshot();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#es?.close();
    this.#listeners.clear();
    this.#stateListeners.clear();
  }

  /** The last point of a tag: { v, q, t } or undefined. */
  get(device, tag) { return this.#values.get(device)?.get(tag); }

  /** All tags of a device: Map tag → { v, q, t }. */
  device(device) { return this.#values.get(device) ?? new Map(); }

  /** fn(device, points) on every change; returns the unsubscribe. */
  subscribe(fn) { this.#listeners.add(fn); return () => this.#listeners.delete(fn); }
  onState(fn) { this.#stateListeners.add(fn); fn(this.state); return () => this.#stateListeners.delete(fn); }

  /** Points from elsewhere (a "read now" reply) go through the same path as the stream's. */
  apply(device, points) {
    let tags = this.#values.get(device);
    if (!tags) this.#values.set(device, (tags = new Map()));
    for (const p of points) tags.set(p.tag, { v: p.v, q: p.q, t: p.t });
    for (const fn of this.#listeners) fn(device, points);
  }

  async #snapshot() {
    try {
      const { values } = await get('/api/values');
      for (const [device, tags] of Object.entries(values)) {
        this.apply(device, Object.entries(tags).map(([tag, p]) => ({ tag, ...p })));
      }
    } catch { /* the stream's reconnect fetches it again */ }
  }

  #setState(s) {
    if (this.state === s) return;
    this.state = s;
    for (const fn of this.#stateListeners) fn(s);
  }

  #open() {
    if (this.#stopped) return;
    const es = (this.#es = new EventSource('/api/live'));
    es.addEventListener('open', () => {
      this.#setState('live');
      // Whatever changed while the stream was down is not replayed: take a fresh snapshot.
      if (this.#lost) { this.#lost = false; void this.#snapshot(); }
    });
    es.addEventListener('values', (ev) => {
      try {
        const c = JSON.parse(ev.data);
        this.apply(c.device, c.points);
      } catch { /* a malformed event is skipped, the next one stands on its own */ }
    });
    es.addEventListener('error', async () => {
      this.#lost = true;
      this.#setState('lost');
      // EventSource retries a dropped stream by itself, but gives up on an HTTP error (a 401
      // after the session ended): then ask whether the session is over, or try again later.
      if (es.readyState !== EventSource.CLOSED) return;
      if (!(await this.#checkSession())) return;
      this.#retry = setTimeout(() => this.#open(), 5000);
    });
  }
}
