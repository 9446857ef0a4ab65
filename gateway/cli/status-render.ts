// The terminal view of `GET /api/overview` for `cityedge status`: pure functions from the JSON to
// lines, so the layout is tested without a gateway. "Ago" times are measured against the gateway's
// own `now`, not this machine's clock: a technician's laptop is often minutes off the box.

/** The overview contract as this client reads it (docs/api.md). Fields a gateway omits show as "?". */
export interface Overview {
  site: { id: string; name?: string; district?: string; grid?: string };
  version: string;
  started_at: number;
  now: number;
  devices: Array<{
    id: string; driver: string; description?: string; state: 'ok' | 'degraded' | 'down' | 'unknown';
    last_good_at: number | null; last_scan_ms: number; scans: number; failed_scans: number; overruns: number;
    requests_per_scan: number; poll_ms: number | null;
  }>;
  journal: { backlog: number; oldest_age_s: number | null; bytes: number; drain_rate: number; dropped: number };
  upstreams: Array<{ id: string; format: string; connected: boolean; backlog: number; published: number; acked: number; last_error: string | null }>;
  alarms: { active: number; unacknowledged: number; shelved: number; rules: number };
  cameras: Array<{ id: string; name?: string; viewers: number; running: boolean }>;
}

/** Whether the JSON has the overview's shape, enough to render it without throwing. */
export function isOverview(v: unknown): v is Overview {
  const o = v as Partial<Overview> | null;
  return typeof o === 'object' && o !== null && typeof o.site === 'object' && o.site !== null && Array.isArray(o.devices)
    && Array.isArray(o.upstreams ?? []) && Array.isArray(o.cameras ?? []);
}

/** What is not well, one phrase each; empty when every device is ok and every upstream connected. */
export function problems(o: Overview): string[] {
  return [
    ...o.devices.filter((d) => d.state !== 'ok').map((d) => `${d.id} ${d.state}`),
    ...(o.upstreams ?? []).filter((u) => !u.connected).map((u) => `upstream ${u.id} disconnected`),
  ];
}

/** "3 s ago", "12 min ago", "5 h ago", "2 d ago". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function duration(s: number): string {
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.round((s % 86400) / 3600)} h`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

type Paint = (text: string, colour: 'green' | 'yellow' | 'red' | 'dim' | 'bold') => string;
const CODES = { green: 32, yellow: 33, red: 31, dim: 2, bold: 1 } as const;

const num = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? String(v) : '?');

/** Pads the plain text, then colours it, so escape codes never break the columns. */
function table(rows: Array<Array<[string, Parameters<Paint>[1]?]>>, paint: Paint): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach(([text], i) => { widths[i] = Math.max(widths[i] ?? 0, text.length); });
  return rows.map((r) => `  ${r.map(([text, colour], i) => {
    const padded = i === r.length - 1 ? text : text.padEnd(widths[i]!);
    return colour ? paint(padded, colour) : padded;
  }).join('  ')}`.trimEnd());
}

export function renderOverview(o: Overview, opts: { color: boolean; url?: string }): string[] {
  const paint: Paint = opts.color ? (text, c) => `\x1b[${CODES[c]}m${text}\x1b[0m` : (text) => text;
  const now = typeof o.now === 'number' ? o.now : Date.now();
  const out: string[] = [];
  const s = o.site;
  out.push(`${paint(`site ${s.id}`, 'bold')}${s.name ? ` ${s.name}` : ''}${s.district ? ` · district ${s.district}` : ''}` +
    `${s.grid ? ` · grid ${s.grid}` : ''} · cityedge ${o.version ?? '?'}` +
    `${typeof o.started_at === 'number' ? ` · up ${duration((now - o.started_at) / 1000)}` : ''}${opts.url ? ` · ${opts.url}` : ''}`);

  const stateColour = { ok: 'green', degraded: 'yellow', down: 'red', unknown: 'dim' } as const;
  out.push(`devices (${o.devices.length})`);
  if (o.devices.length > 0) {
    out.push(...table([
      [['device', 'dim'], ['driver', 'dim'], ['state', 'dim'], ['last good read', 'dim'], ['scan', 'dim'], ['overruns', 'dim'], ['req/scan', 'dim'], ['failed scans', 'dim']],
      ...o.devices.map((d) => [
        [d.id], [d.driver ?? '?'], [d.state ?? 'unknown', stateColour[d.state] ?? 'dim'],
        [d.last_good_at == null ? 'never' : ago(now - d.last_good_at), d.last_good_at == null ? 'red' : undefined],
        [typeof d.last_scan_ms === 'number' ? `${Math.round(d.last_scan_ms)} ms` : '?'],
        [num(d.overruns), d.overruns > 0 ? 'yellow' : undefined],
        [num(d.requests_per_scan)],
        [`${num(d.failed_scans)} of ${num(d.scans)}`, d.failed_scans > 0 ? 'yellow' : undefined],
      ] as Array<[string, Parameters<Paint>[1]?]>),
    ], paint));
  }

  const j = o.journal;
  if (j) {
    out.push(`journal: backlog ${num(j.backlog)} record(s)${j.oldest_age_s == null ? '' : `, oldest ${duration(j.oldest_age_s)} old`}, ` +
      `${typeof j.bytes === 'number' ? bytes(j.bytes) : '?'} on disk, draining ${typeof j.drain_rate === 'number' ? j.drain_rate.toFixed(1) : '?'} records/s, ` +
      `${j.dropped > 0 ? paint(`dropped ${j.dropped}`, 'red') : `dropped ${num(j.dropped)}`}`);
  }
  for (const u of o.upstreams ?? []) {
    out.push(`upstream ${u.id} (${u.format}): ${u.connected ? paint('connected', 'green') : paint('disconnected', 'red')}, ` +
      `backlog ${num(u.backlog)}, published ${num(u.published)}, acked ${num(u.acked)}${u.last_error ? `, last error: ${u.last_error}` : ''}`);
  }
  const a = o.alarms;
  if (a) {
    out.push(`alarms: ${a.active > 0 ? paint(`${a.active} active`, 'red') : `${num(a.active)} active`}, ` +
      `${a.unacknowledged > 0 ? paint(`${a.unacknowledged} unacknowledged`, 'yellow') : `${num(a.unacknowledged)} unacknowledged`}, ` +
      `${num(a.shelved)} shelved, ${num(a.rules)} rule(s)`);
  }
  for (const c of o.cameras ?? []) {
    out.push(`camera ${c.id}${c.name ? ` (${c.name})` : ''}: ${c.running ? 'running' : 'not running'}, ${num(c.viewers)} viewer(s)`);
  }
  const bad = problems(o);
  out.push(bad.length === 0
    ? paint('all devices ok, all upstreams connected', 'green')
    : paint(`attention: ${bad.join(', ')}`, 'yellow'));
  return out;
}
