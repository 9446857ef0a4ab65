// cityedge's side of `npm run bench:nodered`: the gateway as bench:modbus runs it (`cityedge run` on a
// generated config, one uint16 tag per register `hr:0…`, no grouping hints: the planner finds the
// 125-register blocks), with its defaults: the SQLite journal on (fsync full, commit every 250 ms),
// report by exception (the simulated PLCs change every register every scan, so every point goes).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startChild, type Child } from './children.ts';
import type { LogSummary } from './report.ts';

export const CITYEDGE_SITE = 'bench';

export interface CityedgeOptions { root: string; dir: string; brokerUrl: string; ports: number[]; tags: number; pollMs: number; siteName?: string }

/** The config of bench:modbus and bench:nodered: one device per PLC, one uint16 tag per register, no grouping hints. */
export function writeCityedgeConfig(o: CityedgeOptions): string {
  const config = {
    site: { id: CITYEDGE_SITE, name: o.siteName ?? 'cityedge beside Node-RED' },
    buffer: { path: join(o.dir, 'data') },
    upstreams: [{ id: 'platform', url: o.brokerUrl, format: 'json' }],
    devices: o.ports.map((port, i) => ({
      id: `plc${String(i + 1).padStart(2, '0')}`,
      driver: 'modbus-tcp', host: '127.0.0.1', port, unit: 1, poll_ms: o.pollMs,
      tags: Array.from({ length: o.tags }, (_, r) => ({ name: `r${r}`, address: `hr:${r}`, type: 'uint16' })),
    })),
  };
  mkdirSync(o.dir, { recursive: true });
  const file = join(o.dir, 'cityedge.yaml');
  writeFileSync(file, stringify(config, { flow: false }));
  return file;
}

export function startCityedge(o: CityedgeOptions): Child {
  const file = writeCityedgeConfig(o);
  return startChild('cityedge', process.execPath, [join(o.root, 'bin', 'cityedge.mjs'), 'run', '--config', file], {
    env: { CITYEDGE_LOG_LEVEL: 'warn' },
  });
}

/** Tallies the gateway's JSON log lines by message (pino levels: 40 warn, 50 error, 60 fatal), and keeps the first ten. */
export function watchCityedgeLog(gw: Child): LogSummary {
  const log: LogSummary = { warn: 0, error: 0, other: 0, byMessage: new Map(), first: [] };
  gw.onLine((line) => {
    let rec: { level?: number; msg?: string; code?: string };
    try { rec = JSON.parse(line) as typeof rec; } catch { log.other++; if (log.first.length < 10) log.first.push(line); return; }
    if ((rec.level ?? 0) >= 50) log.error++; else if ((rec.level ?? 0) >= 40) log.warn++;
    const key = `${rec.code ? `${rec.code}: ` : ''}${(rec.msg ?? '?').slice(0, 160)}`;
    log.byMessage.set(key, (log.byMessage.get(key) ?? 0) + 1);
    if (log.first.length < 10) log.first.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
  });
  return log;
}
