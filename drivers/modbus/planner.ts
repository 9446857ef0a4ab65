// The read planner: turns a device's tags into the fewest read requests the protocol and the device
// allow. Built once at configuration time (shown by `cityedge check`, logged at start); the poll loop
// only walks the result. Pure: no I/O, no clock, the same tags always give the same plan.
//
// Protocol limits (MODBUS Application Protocol v1.1b3): a read of holding or input registers
// (functions 03/04, §6.3/§6.4) carries 1–125 registers; a read of coils or discrete inputs
// (functions 01/02, §6.1/§6.2) carries 1–2000 bits. Devices may accept fewer (PlanLimits).
import { isBitTable, type ModbusTable } from '../../gateway/model/index.ts';

/** span: registers (1 for a bit-table tag). */
export interface PlanTag { name: string; unit: number; table: ModbusTable; index: number; span: number }
export interface ReadRequest { unit: number; table: ModbusTable; start: number; count: number; tags: PlanTag[] }
export interface PlanLimits { maxRegisters: number; maxBits: number; maxGap: number; maxBitGap: number }

const PROTOCOL_MAX_REGISTERS = 125;
const PROTOCOL_MAX_BITS = 2000;
const LAST_ADDRESS = 65535;

// Fixed table order so a plan reads the same way every time: registers before bits.
const TABLE_RANK: Record<ModbusTable, number> = { hr: 0, ir: 1, co: 2, di: 3 };

const end = (t: PlanTag): number => t.index + t.span;

/** Total order on tags: (unit, table, address), then longer first, then name, for determinism. */
function compareTags(a: PlanTag, b: PlanTag): number {
  return a.unit - b.unit
    || TABLE_RANK[a.table] - TABLE_RANK[b.table]
    || a.index - b.index
    || b.span - a.span
    || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Merges tags into read requests, left to right by (unit, table, address).
 *
 * A request grows by the next tag while (a) the registers between what it already reads and the
 * tag (the gap) number at most maxGap (maxBitGap for coils/inputs) — overlapping or adjacent tags
 * have no gap and always qualify, even when gaps may not be bridged (0) — and (b) the request still
 * fits the limit. A tag is never cut across two requests.
 *
 * Why greedy is optimal (fewest requests): the request holding the lowest tag may as well start at
 * it. Greedy stops at the first tag T that either (a) lies beyond a gap wider than maxGap — no tag
 * covers that gap, so no request holding the lowest tag can reach T or anything after it — or
 * (b) would stretch the request past the limit. Any other choice of first request serves only tags
 * greedy serves too, plus possibly tags lying inside T's registers, which whatever request serves T
 * reads anyway. So what greedy leaves for the remaining requests is never harder than what any other
 * plan leaves, and by induction greedy uses the fewest requests (the "stays ahead" argument of the
 * classic cover-points-with-fixed-length-intervals problem).
 */
export function planReads(tags: readonly PlanTag[], limits: PlanLimits): ReadRequest[] {
  checkLimits(limits);
  for (const t of tags) checkTag(t, limits);
  const sorted = [...tags].sort(compareTags);
  const requests: ReadRequest[] = [];
  let cur: ReadRequest | undefined;
  for (const t of sorted) {
    if (cur && cur.unit === t.unit && cur.table === t.table) {
      const bits = isBitTable(t.table);
      const reqEnd = cur.start + cur.count;
      const gap = t.index - reqEnd; // ≤ 0 when the tag touches or overlaps the request
      const newCount = Math.max(reqEnd, end(t)) - cur.start;
      if (gap <= (bits ? limits.maxBitGap : limits.maxGap) && newCount <= (bits ? limits.maxBits : limits.maxRegisters)) {
        cur.count = newCount;
        cur.tags.push(t);
        continue;
      }
    }
    cur = { unit: t.unit, table: t.table, start: t.index, count: t.span, tags: [t] };
    requests.push(cur);
  }
  return requests;
}

/**
 * After exception 02 (illegal data address, Application Protocol §7) on a request: split it into two
 * requests on a tag boundary, tags kept whole and the gap at the cut not read, so bisecting isolates
 * a bad tag in about log2(n) steps while its neighbours keep reading.
 *
 * The cut goes at the boundary nearest the middle. A boundary where the halves share no register
 * (tags sorted by address, so: everything before it ends at or before the next tag's start) is
 * preferred while it keeps both halves within a quarter of the middle, so a shared bad register
 * does not fail both halves and bisection still shrinks by at least a quarter each step. Tags
 * reading exactly the same registers stay together: splitting them cannot tell them apart. A request
 * holding one tag, or only tags on the same registers, is returned as is.
 */
export function splitRequest(req: ReadRequest): ReadRequest[] {
  const tags = [...req.tags].sort(compareTags);
  const n = tags.length;
  let nearest = -1;
  let nearestClean = -1;
  const distance = (i: number) => Math.abs(2 * i - n); // twice the distance from the middle
  let maxEnd = 0;
  for (let i = 1; i < n; i++) {
    const prev = tags[i - 1] as PlanTag;
    const next = tags[i] as PlanTag;
    maxEnd = Math.max(maxEnd, end(prev));
    if (prev.index === next.index && prev.span === next.span) continue;
    if (nearest < 0 || distance(i) < distance(nearest)) nearest = i;
    if (maxEnd <= next.index && (nearestClean < 0 || distance(i) < distance(nearestClean))) nearestClean = i;
  }
  const cut = nearestClean >= 0 && distance(nearestClean) <= n / 2 ? nearestClean : nearest;
  if (cut < 0) return [req];
  return [covering(req, tags.slice(0, cut)), covering(req, tags.slice(cut))];
}

function covering(req: ReadRequest, tags: PlanTag[]): ReadRequest {
  const start = Math.min(...tags.map((t) => t.index));
  const stop = Math.max(...tags.map(end));
  return { unit: req.unit, table: req.table, start, count: stop - start, tags };
}

/** Human read plan lines, e.g. "unit 1 hr 100–139 (40 registers, 12 tags)", plus a totals line. */
export function describePlan(reqs: readonly ReadRequest[]): string[] {
  const lines: string[] = [];
  let registers = 0;
  let bits = 0;
  let tagCount = 0;
  let unused = 0;
  for (const r of reqs) {
    const bitTable = isBitTable(r.table);
    if (bitTable) bits += r.count;
    else registers += r.count;
    tagCount += r.tags.length;
    unused += r.count - covered(r);
    const range = r.count === 1 ? `${r.start}` : `${r.start}–${r.start + r.count - 1}`;
    lines.push(`unit ${r.unit} ${r.table} ${range} (${plural(r.count, bitTable ? 'bit' : 'register')}, ${plural(r.tags.length, 'tag')})`);
  }
  let total = `total: ${plural(reqs.length, 'request')} per scan, ${plural(registers, 'register')}, ${plural(bits, 'bit')}, ${plural(tagCount, 'tag')}`;
  if (unused > 0) total += ` (${unused} read only to bridge gaps)`;
  lines.push(total);
  return lines;
}

/** Registers (or bits) of a request that some tag uses; the rest were read to bridge gaps. */
function covered(r: ReadRequest): number {
  const sorted = [...r.tags].sort((a, b) => a.index - b.index);
  let n = 0;
  let reach = -Infinity;
  for (const t of sorted) {
    const from = Math.max(t.index, reach);
    if (end(t) > from) n += end(t) - from;
    reach = Math.max(reach, end(t));
  }
  return n;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function checkLimits(l: PlanLimits): void {
  const within = (x: number, lo: number, hi: number) => Number.isInteger(x) && x >= lo && x <= hi;
  if (!within(l.maxRegisters, 1, PROTOCOL_MAX_REGISTERS)) {
    throw new RangeError(`maxRegisters ${l.maxRegisters}: a register read carries 1 to ${PROTOCOL_MAX_REGISTERS} registers`);
  }
  if (!within(l.maxBits, 1, PROTOCOL_MAX_BITS)) {
    throw new RangeError(`maxBits ${l.maxBits}: a coil or input read carries 1 to ${PROTOCOL_MAX_BITS} bits`);
  }
  if (!within(l.maxGap, 0, LAST_ADDRESS)) throw new RangeError(`maxGap ${l.maxGap} must be a whole number ≥ 0`);
  if (!within(l.maxBitGap, 0, LAST_ADDRESS)) throw new RangeError(`maxBitGap ${l.maxBitGap} must be a whole number ≥ 0`);
}

function checkTag(t: PlanTag, l: PlanLimits): void {
  const bits = isBitTable(t.table);
  const limit = bits ? l.maxBits : l.maxRegisters;
  if (!Number.isInteger(t.index) || t.index < 0 || t.index > LAST_ADDRESS) {
    throw new RangeError(`tag "${t.name}": address ${t.index} is outside 0–${LAST_ADDRESS}`);
  }
  if (!Number.isInteger(t.span) || t.span < 1 || (bits && t.span !== 1)) {
    throw new RangeError(`tag "${t.name}": span ${t.span} is not valid for ${t.table}${bits ? ' (a coil or input is 1 bit)' : ''}`);
  }
  if (t.span > limit) {
    throw new RangeError(`tag "${t.name}" spans ${t.span} registers; this device reads at most ${limit} per request`);
  }
  if (end(t) - 1 > LAST_ADDRESS) {
    throw new RangeError(`tag "${t.name}" at ${t.table}:${t.index} runs past ${LAST_ADDRESS}, the last Modbus address`);
  }
}
