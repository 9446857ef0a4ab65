// Reads journal records straight from the pages of a damaged SQLite file, for when SQLite itself
// cannot walk the b-tree (a truncated file loses interior pages, which SQLite allocates late, and
// then not one row is reachable through it). File format: https://www.sqlite.org/fileformat2.html
// Table b-tree leaf pages (type 0x0D) hold the rows; in the journal only `records` is a rowid
// table besides sqlite_master (5 columns, told apart by its column count). Pages on the freelist
// are skipped, so records already delivered and deleted do not come back.
import { readFileSync } from 'node:fs';

export interface SalvagedRow { id: number; lane: number; channel: string; device: string; seq: number; ts: number; count: number; body: string }

function varint(b: Buffer, at: number): [value: number, next: number] {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const byte = b[at + i];
    if (byte === undefined) throw new RangeError('varint past the end');
    v = v * 128 + (byte & 0x7f);
    if (byte < 0x80) return [v, at + i + 1];
  }
  return [v * 256 + b[at + 8]!, at + 9];
}

/** Value of a record column of serial type `st` at `at`: [value, bytes]. */
function column(b: Buffer, st: number, at: number): [unknown, number] {
  switch (st) {
    case 0: return [null, 0];
    case 1: return [b.readInt8(at), 1];
    case 2: return [b.readInt16BE(at), 2];
    case 3: return [b.readIntBE(at, 3), 3];
    case 4: return [b.readInt32BE(at), 4];
    case 5: return [b.readIntBE(at, 6), 6];
    case 6: return [Number(b.readBigInt64BE(at)), 8];
    case 7: return [b.readDoubleBE(at), 8];
    case 8: return [0, 0];
    case 9: return [1, 0];
    default: {
      if (st < 12) throw new RangeError('reserved serial type');
      const len = Math.floor((st - (st % 2 === 0 ? 12 : 13)) / 2);
      if (at + len > b.length) throw new RangeError('column past the end');
      return [st % 2 === 0 ? b.subarray(at, at + len) : b.toString('utf8', at, at + len), len];
    }
  }
}

export function salvagePages(file: string): SalvagedRow[] {
  const f = readFileSync(file);
  if (f.length < 100 || f.toString('latin1', 0, 15) !== 'SQLite format 3') return [];
  const raw = f.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  const usable = pageSize - f[20]!;
  const pages = Math.floor(f.length / pageSize);
  const page = (n: number) => (n >= 1 && n <= pages ? f.subarray((n - 1) * pageSize, n * pageSize) : undefined);
  const free = new Set<number>();
  for (let trunk = f.readUInt32BE(32), guard = 0; trunk && guard < pages; guard++) {
    const p = page(trunk);
    if (!p) break;
    free.add(trunk);
    const n = Math.min(p.readUInt32BE(4), (usable - 8) / 4);
    for (let i = 0; i < n; i++) free.add(p.readUInt32BE(8 + i * 4));
    trunk = p.readUInt32BE(0);
  }
  const maxLocal = usable - 35;
  const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
  const rows: SalvagedRow[] = [];
  for (let n = 1; n <= pages; n++) {
    if (free.has(n)) continue;
    const p = page(n)!;
    const hdr = n === 1 ? 100 : 0;
    if (p[hdr] !== 0x0d) continue;
    const cells = p.readUInt16BE(hdr + 3);
    for (let c = 0; c < cells; c++) {
      try {
        let at = p.readUInt16BE(hdr + 8 + c * 2);
        let size: number; let rowid: number;
        [size, at] = varint(p, at);
        [rowid, at] = varint(p, at);
        let payload: Buffer;
        if (size <= maxLocal) {
          payload = p.subarray(at, at + size);
        } else {
          const k = minLocal + ((size - minLocal) % (usable - 4));
          const local = k <= maxLocal ? k : minLocal;
          const parts = [p.subarray(at, at + local)];
          let got = local;
          let next = p.readUInt32BE(at + local);
          while (got < size) {
            const o = page(next);
            if (!o) throw new RangeError('overflow page lost');
            const take = Math.min(usable - 4, size - got);
            parts.push(o.subarray(4, 4 + take));
            got += take;
            next = o.readUInt32BE(0);
          }
          payload = Buffer.concat(parts);
        }
        const row = decodeRecord(payload, rowid);
        if (row) rows.push(row);
      } catch { /* a damaged cell: skip it */ }
    }
  }
  return rows;
}

function decodeRecord(b: Buffer, rowid: number): SalvagedRow | undefined {
  const [headerLen, start] = varint(b, 0);
  const types: number[] = [];
  for (let at = start; at < headerLen;) { const [st, next] = varint(b, at); types.push(st); at = next; }
  if (types.length !== 8) return undefined;
  const v: unknown[] = [];
  let at = headerLen;
  for (const st of types) { const [val, len] = column(b, st, at); v.push(val); at += len; }
  const [, lane, channel, device, seq, ts, count, body] = v;
  if (typeof channel !== 'string' || typeof device !== 'string' || typeof body !== 'string') return undefined;
  if (typeof lane !== 'number' || typeof seq !== 'number' || typeof ts !== 'number' || typeof count !== 'number') return undefined;
  return { id: rowid, lane, channel, device, seq, ts, count, body };
}
