// `cityedge status`: the running gateway's overview in a terminal, from its HTTP API
// (`GET /api/overview`). The exit code is the verdict, so a script or a technician's checklist can
// use it: 0 every device ok and every upstream connected, 1 something is not, 2 usage, 3 the API
// cannot be reached or refused the token.
import { parse, UsageError } from './args.ts';
import { isOverview, problems, renderOverview, type Overview } from './status-render.ts';

const USAGE = 'usage: cityedge status [--url http://127.0.0.1:8080] [--token T] [--json] [--watch SECONDS]  (token also from CITYEDGE_TOKEN)';
/** A gateway on the same box or the same LAN answers in milliseconds; longer means something is wrong. */
const REQUEST_TIMEOUT_MS = 5000;

export const EXIT_OK = 0;
export const EXIT_ATTENTION = 1;
export const EXIT_UNREACHABLE = 3;

type Fetched = { ok: true; body: string; overview: Overview } | { ok: false; message: string };

/** Colour only for a person at a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function wantColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

async function fetchOverview(url: string, token: string | undefined, signal: AbortSignal): Promise<Fetched> {
  const endpoint = `${url}/api/overview`;
  let res: Response;
  try {
    res = await fetch(endpoint, {
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    const why = err.name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : err.cause?.code ?? err.cause?.message ?? err.message;
    return { ok: false, message: `cannot reach ${endpoint} (${why}): is the gateway running? is api: in the config?` };
  }
  const body = await res.text().catch(() => '');
  if (res.status === 401 || res.status === 403) {
    return {
      ok: false, message: token
        ? `${endpoint}: token refused (${res.status}); make one with \`cityedge token --user NAME\` and add its line to api.users`
        : `${endpoint}: token refused (${res.status}): no token given; pass --token T or set CITYEDGE_TOKEN`,
    };
  }
  if (res.status === 404) return { ok: false, message: `${endpoint}: not found (404): is this a cityedge gateway, and as new as this CLI?` };
  if (!res.ok) return { ok: false, message: `${endpoint}: HTTP ${res.status} ${body.slice(0, 200)}` };
  let json: unknown;
  try { json = JSON.parse(body); } catch { json = undefined; }
  if (!isOverview(json)) return { ok: false, message: `${endpoint}: the answer is not a cityedge overview: ${body.slice(0, 200)}` };
  return { ok: true, body, overview: json };
}

function seconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !(n >= 0.5 && n <= 3600)) throw new UsageError(`--watch ${text}: expected seconds, 0.5–3600`);
  return n;
}

function baseUrl(text: string): string {
  let u: URL;
  try { u = new URL(text); } catch { throw new UsageError(`--url ${text}: expected http://HOST:PORT\n${USAGE}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url ${text}: expected http:// or https://`);
  if (u.search || u.hash) throw new UsageError(`--url ${text}: expected the API's base, e.g. http://127.0.0.1:8080`);
  return u.href.replace(/\/+$/, '');
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    token: { type: 'string' },
    json: { type: 'boolean' },
    watch: { type: 'string' },
  }, true);
  if (positionals.length > 0) throw new UsageError(`unexpected "${positionals[0]}"\n${USAGE}`);
  const url = baseUrl(values.url!);
  // --token shows in `ps`; CITYEDGE_TOKEN does not, so scripts should prefer it.
  const token = values.token ?? (process.env.CITYEDGE_TOKEN || undefined);
  const watchS = seconds(values.watch);
  const color = wantColor(process.stdout);
  const ac = new AbortController();

  const once = async (): Promise<{ code: number; text: string; error?: string }> => {
    const got = await fetchOverview(url, token, ac.signal);
    if (!got.ok) return { code: EXIT_UNREACHABLE, text: '', error: got.message };
    const code = problems(got.overview).length === 0 ? EXIT_OK : EXIT_ATTENTION;
    if (values.json) return { code, text: watchS === undefined ? `${got.body.trimEnd()}\n` : `${JSON.stringify(got.overview)}\n` };
    return { code, text: `${renderOverview(got.overview, { color, url }).join('\n')}\n` };
  };

  if (watchS === undefined) {
    const r = await once();
    if (r.error) process.stderr.write(`cityedge status: ${r.error}\n`);
    process.stdout.write(r.text);
    return r.code;
  }

  // --watch: redraw until Ctrl-C; an unreachable gateway (restarting, say) is shown and retried.
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const screen = process.stdout.isTTY === true && !values.json;
  let code = EXIT_OK;
  try {
    while (!ac.signal.aborted) {
      const r = await once();
      if (ac.signal.aborted) break;
      code = r.code;
      const stamp = new Date().toLocaleTimeString();
      if (screen) {
        // Home and clear, then the whole frame: no flicker of a half-drawn table.
        process.stdout.write(`\x1b[H\x1b[2J${r.error ? `${r.error}\n` : r.text}\n${stamp}, every ${watchS} s; Ctrl-C to stop\n`);
      } else if (values.json) {
        if (r.error) process.stderr.write(`cityedge status: ${r.error}\n`);
        else process.stdout.write(r.text);
      } else {
        if (r.error) process.stderr.write(`cityedge status: ${r.error}\n`);
        process.stdout.write(`--- ${stamp}\n${r.text}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, watchS * 1000);
        function done(): void { clearTimeout(timer); ac.signal.removeEventListener('abort', done); resolve(); }
        ac.signal.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
  // The verdict of the last look, so `status --watch` ended by Ctrl-C still says how things were.
  return code;
}
