// `cityedge scan modbus://HOST:PORT`: which registers of a device answer, for a technician facing a
// PLC whose register map is missing or wrong. Prints the answering ranges, their first values and a
// config line per range; `--json` the same for a script. Exit 0 when something answered, 1 when
// nothing did, 2 on a usage error.
import { parse, UsageError } from './args.ts';
import { progress } from './progress.ts';
import { isBitTable, probe, SCAN_TABLES, type ProbeResult, type ScanRange, type ScanTable } from './scan-probe.ts';

const USAGE = 'usage: cityedge scan modbus://HOST:PORT [--unit 1] [--range hr:0-200]… [--timeout-ms 500] [--block 10] [--json]';
const DEFAULT_RANGE = 'hr:0-200';
/** Lines of ranges, and of config lines, printed before "… N more": a screen, not a scroll. */
const MAX_LINES = 50;
/** Values shown per range: enough to recognise a counter or a float, short enough for one line. */
const SHOWN_REGISTERS = 4;
const SHOWN_BITS = 16;
/** AP §6.3/§6.4: a read asks for at most 125 registers. */
const MAX_BLOCK = 125;

export interface FoundRange { table: ScanTable; start: number; end: number; values: number[] }

const rangeText = (r: { table: ScanTable; start: number; end: number }): string =>
  r.start === r.end ? `${r.table}:${r.start}` : `${r.table}:${r.start}-${r.end}`;

/** `hr:0-200` or `hr:7`: 0-based, end inclusive, like the config's addresses. */
export function parseRange(text: string): ScanRange {
  const m = /^([a-z]+):(\d+)(?:-(\d+))?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--range ${text}: expected TABLE:START-END, e.g. hr:0-200 (tables ${SCAN_TABLES.join(' ')})`);
  const table = m[1]!.toLowerCase();
  if (!(SCAN_TABLES as readonly string[]).includes(table)) {
    throw new UsageError(`--range ${text}: unknown table "${m[1]}"; the tables are hr (holding registers), ir (input registers), co (coils), di (discrete inputs)`);
  }
  const start = Number(m[2]);
  const end = m[3] === undefined ? start : Number(m[3]);
  if (start > 65535 || end > 65535) throw new UsageError(`--range ${text}: addresses are 0–65535 (0-based, as in the config)`);
  if (end < start) throw new UsageError(`--range ${text}: the end (${end}) is before the start (${start})`);
  return { table: table as ScanTable, start, end };
}

/** Overlapping or touching ranges of a table become one, so no address is asked twice. */
export function mergeRanges(ranges: readonly ScanRange[]): ScanRange[] {
  const sorted = [...ranges].sort((a, b) => SCAN_TABLES.indexOf(a.table) - SCAN_TABLES.indexOf(b.table) || a.start - b.start);
  const out: ScanRange[] = [];
  for (const r of sorted) {
    const last = out.at(-1);
    if (last && last.table === r.table && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

/** The answering addresses as runs of consecutive addresses, in table order. */
export function compress(answered: ProbeResult['answered']): FoundRange[] {
  const out: FoundRange[] = [];
  for (const table of SCAN_TABLES) {
    const m = answered.get(table);
    if (!m) continue;
    let run: FoundRange | undefined;
    for (const a of [...m.keys()].sort((x, y) => x - y)) {
      if (run && a === run.end + 1) { run.end = a; run.values.push(m.get(a)!); continue; }
      run = { table, start: a, end: a, values: [m.get(a)!] };
      out.push(run);
    }
  }
  return out;
}

function integer(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} ${text}: expected a whole number ${min}–${max}`);
  return n;
}

/** modbus://HOST[:PORT], port 502 by default (the registered Modbus TCP port). */
function target(text: string | undefined): { host: string; port: number } {
  if (!text) throw new UsageError(USAGE);
  let url: URL;
  try { url = new URL(text); } catch { throw new UsageError(`${text}: expected modbus://HOST:PORT\n${USAGE}`); }
  if (url.protocol !== 'modbus:') {
    throw new UsageError(`${text}: scan speaks Modbus TCP only and takes modbus://HOST:PORT` +
      `${/^modbus-?tcp:$/.test(url.protocol) ? ` (write modbus://${url.host})` : ` ("${url.protocol.slice(0, -1)}" is not supported; RTU lines and RTU over TCP are not)`}`);
  }
  if (!url.hostname) throw new UsageError(`${text}: no host; expected modbus://HOST:PORT`);
  if ((url.pathname && url.pathname !== '/') || url.search) throw new UsageError(`${text}: expected modbus://HOST:PORT, nothing after the port`);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : 502 };
}

const hex4 = (v: number): string => `0x${v.toString(16).toUpperCase().padStart(4, '0')}`;

function valuesText(r: FoundRange): string {
  if (isBitTable(r.table)) return r.values.slice(0, SHOWN_BITS).join(' ') + (r.values.length > SHOWN_BITS ? ' …' : '');
  return r.values.slice(0, SHOWN_REGISTERS).map((v) => `${hex4(v)} ${v}`).join(' · ') + (r.values.length > SHOWN_REGISTERS ? ' …' : '');
}

const NOUN: Record<ScanTable, string> = { hr: 'registers', ir: 'registers', co: 'coils', di: 'inputs' };
const EXCEPTION: Record<string, string> = {
  '01': 'illegal function: no such table', '02': 'illegal data address', '03': 'illegal data value', '04': 'server device failure',
  '0a': 'gateway path unavailable', '0b': 'gateway target failed to respond',
};

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    unit: { type: 'string' },
    range: { type: 'string', multiple: true },
    'timeout-ms': { type: 'string' },
    block: { type: 'string' },
    json: { type: 'boolean' },
  }, true);
  if (positionals.length > 1) throw new UsageError(`one device at a time\n${USAGE}`);
  const { host, port } = target(positionals[0]);
  const unit = integer(values.unit, 'unit', 1, 0, 255);
  const timeoutMs = integer(values['timeout-ms'], 'timeout-ms', 500, 1, 60_000);
  const block = integer(values.block, 'block', 10, 1, MAX_BLOCK);
  const ranges = mergeRanges((values.range ?? [DEFAULT_RANGE]).map(parseRange));
  const total = ranges.reduce((n, r) => n + r.end - r.start + 1, 0);
  const url = `modbus://${host.includes(':') ? `[${host}]` : host}:${port}`;

  // Ctrl-C ends the scan early and still prints what it found: minutes of probing are not thrown away.
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  const bar = progress(`scanning ${url} unit ${unit}`, total);
  const started = Date.now();
  let result: ProbeResult;
  try {
    result = await probe({
      host, port, unit, timeoutMs, block, ranges, signal: ac.signal,
      onProgress: (done, answering) => bar.update(done, `${answering} answering`),
    });
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  const elapsedMs = Date.now() - started;
  const found = compress(result.answered);
  const answering = found.reduce((n, r) => n + r.values.length, 0);
  bar.end(`${answering} answering`);

  if (values.json) {
    process.stdout.write(`${JSON.stringify({
      target: url, unit, scanned: ranges.map(rangeText), block, timeout_ms: timeoutMs,
      answering: found.map((r) => ({ range: rangeText(r), table: r.table, start: r.start, end: r.end, count: r.values.length, values: r.values })),
      requests: result.requests, timed_out: result.timedOut, exceptions: result.exceptions,
      stopped: result.stopped, interrupted: result.interrupted, covered: result.covered, total, elapsed_ms: elapsedMs,
    }, null, 2)}\n`);
  } else {
    process.stdout.write(report(url, unit, ranges, total, found, answering, result, elapsedMs));
  }
  if (result.stopped) process.stderr.write(`cityedge scan: stopped: ${result.stopped}\n`);
  if (result.interrupted) {
    process.stderr.write('cityedge scan: interrupted; the result above covers what was scanned\n');
    return 130;
  }
  if (answering === 0 && !result.stopped) {
    process.stderr.write(`cityedge scan: nothing answered in ${ranges.map(rangeText).join(', ')} on ${url} unit ${unit}\n`);
  }
  return answering > 0 ? 0 : 1;
}

function report(url: string, unit: number, ranges: ScanRange[], total: number, found: FoundRange[], answering: number,
  result: ProbeResult, elapsedMs: number): string {
  const out: string[] = [];
  const scanned = result.covered < total
    ? `of the first ${result.covered} of ${total} address(es) answer (${result.interrupted ? 'interrupted' : 'stopped early'}; asked for`
    : `of ${total} address(es) answer (scanned`;
  out.push(`${url} unit ${unit}: ${answering} ${scanned} ${ranges.map(rangeText).join(', ')}; ` +
    `${result.requests} requests in ${(elapsedMs / 1000).toFixed(1)} s)`);
  const more = (n: number): string => `  … ${n} more range(s); --json lists them all`;
  if (found.length > 0) {
    out.push(`answering: ${found.slice(0, MAX_LINES).map(rangeText).join(', ')}${found.length > MAX_LINES ? `, … (${found.length - MAX_LINES} more)` : ''}`);
    const width = Math.max(...found.slice(0, MAX_LINES).map((r) => rangeText(r).length));
    for (const r of found.slice(0, MAX_LINES)) {
      out.push(`  ${rangeText(r).padEnd(width)}  ${String(r.values.length).padStart(5)} ${NOUN[r.table].padEnd(9)}  ${valuesText(r)}`);
    }
    if (found.length > MAX_LINES) out.push(more(found.length - MAX_LINES));
  }
  const exceptions = Object.entries(result.exceptions);
  if (exceptions.length > 0) {
    out.push(`exceptions: ${exceptions.map(([code, n]) => `${code} ×${n} (${EXCEPTION[code] ?? 'device-specific'})`).join(', ')}`);
  }
  if (result.timedOut.length > 0) {
    out.push(`timed out: ${result.timedOut.slice(0, 20).join(', ')}${result.timedOut.length > 20 ? `, … (${result.timedOut.length - 20} more)` : ''}`);
  }
  if (found.length > 0) {
    out.push('', 'config lines, one per range (paste under the device\'s tags:, then name and type each; a range may hold 32-bit values):');
    for (const r of found.slice(0, MAX_LINES)) {
      const a = `${r.table}:${r.start}`;
      out.push(`      - { name: ${r.table}_${r.start}, address: "${a}", type: ${isBitTable(r.table) ? 'bool' : 'uint16'} }`);
    }
    if (found.length > MAX_LINES) out.push(more(found.length - MAX_LINES));
  }
  return `${out.join('\n')}\n`;
}
