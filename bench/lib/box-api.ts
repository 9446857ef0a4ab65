// The gateway's own counters in `npm run bench:box`, read from outside over its HTTP API with a
// viewer token (docs/api.md): GET /api/overview every 3 s, as an open console polls it (scan times,
// overruns, backlog, alarms), and GET /api/status at the window's two ends (sensor ingest counts).

export interface OverviewDevice {
  id: string; driver: string; state: string;
  last_scan_ms: number; scans: number; failed_scans: number; overruns: number; requests_per_scan: number; poll_ms: number | null;
}

export interface Overview {
  devices: OverviewDevice[];
  journal: { backlog: number; oldest_age_s: number; bytes: number; dropped: number };
  upstreams: { id: string; connected: boolean; backlog: number; published: number; acked: number }[];
  alarms: { active: number; unacknowledged: number; shelved: number; rules: number };
}

export interface IngestCounts { received: number; accepted: number; rejected: Record<string, number> }

export interface Status {
  upstreams: Record<string, { backlog: number; connected?: boolean }>;
  journal: { points: number; records?: number };
  ingest?: Record<string, IngestCounts>;
  ingest_topics?: Record<string, IngestCounts>;
}

export interface Heap { at: number; usedMb: number; totalMb: number; externalMb: number }

export interface Timed<T> { at: number; latencyMs: number; body: T }

export class BoxApi {
  constructor(readonly url: string, readonly token: string) {}

  async get<T>(path: string): Promise<Timed<T>> {
    const t0 = performance.now();
    const res = await fetch(`${this.url}${path}`, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
    const body = (await res.json()) as T;
    const at = performance.now();
    return { at, latencyMs: at - t0, body };
  }

  /** V8's heap (used, total) and external memory from GET /metrics (prom-client's Node set), MB. */
  async heap(): Promise<Heap> {
    const res = await fetch(`${this.url}/metrics`, { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
    const text = await res.text();
    const mb = (name: string) => Number(new RegExp(`^cityedge_${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    return { at: performance.now(), usedMb: mb('nodejs_heap_size_used_bytes'), totalMb: mb('nodejs_heap_size_total_bytes'), externalMb: mb('nodejs_external_memory_bytes') };
  }

  overview(): Promise<Timed<Overview>> { return this.get<Overview>('/api/overview'); }
  status(): Promise<Timed<Status>> { return this.get<Status>('/api/status'); }
}

/** GET /api/overview every `everyMs`, keeping every answer; a slow or failed one is counted and skipped. */
export class OverviewPoller {
  readonly answers: Timed<Overview>[] = [];
  failed = 0;
  #running = true;
  readonly #done: Promise<void>;

  constructor(api: BoxApi, everyMs = 3000) {
    this.#done = (async () => {
      while (this.#running) {
        try { this.answers.push(await api.overview()); } catch { this.failed++; }
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  last(): Overview | undefined { return this.answers[this.answers.length - 1]?.body; }

  between(from: number, to: number): Timed<Overview>[] { return this.answers.filter((a) => a.at >= from && a.at <= to); }

  async stop(): Promise<void> { this.#running = false; await this.#done; }
}

/**
 * A console's live page left open: GET /api/live (server-sent events) read and counted, not parsed,
 * so that the gateway pays what it pays for a real viewer and this process little.
 */
export class LiveViewer {
  bytes = 0;
  events = 0;
  error: string | undefined;
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;

  constructor(api: BoxApi) {
    this.#done = (async () => {
      const res = await fetch(`${api.url}/api/live`, { headers: { authorization: `Bearer ${api.token}` }, signal: this.#abort.signal });
      if (!res.ok || !res.body) throw new Error(`GET /api/live: HTTP ${res.status}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.bytes += value.byteLength;
        this.events += decoder.decode(value, { stream: true }).split('event: values').length - 1;
      }
    })().catch((e: unknown) => { if (!this.#abort.signal.aborted) this.error = String(e); });
  }

  async close(): Promise<void> { this.#abort.abort(); await this.#done; }
}
