// The SQLite journal's bounds: which telemetry goes when the journal holds more than its quota or
// older than its age limit. The oldest first, in pages of 1,000 records; events are never dropped.
import type { Statements } from './sqlite-schema.ts';

export interface Dropped { records: number; points: number; bodyBytes: number }

/**
 * Deletes the oldest telemetry while the bytes held (bodies plus `overhead` per record) are above
 * `target` or a record is older than `ageLimit` (epoch ms); `onDrop` hears each record's id and
 * point count before it goes. Runs inside the caller's transaction.
 */
export function dropOldestTelemetry(st: Statements, o: { bytes: number; target: number; ageLimit: number; overhead: number },
  onDrop: (id: number, points: number) => void): Dropped {
  const total: Dropped = { records: 0, points: 0, bodyBytes: 0 };
  let bytes = o.bytes;
  for (;;) {
    const rows = st.oldestTelemetry.all(1000) as { id: number; ts: number; count: number; bytes: number }[];
    let last = -1;
    for (const r of rows) {
      if (bytes <= o.target && r.ts >= o.ageLimit) break;
      bytes -= r.bytes + o.overhead;
      last = r.id;
      onDrop(r.id, r.count);
    }
    if (last < 0) break;
    const gone = st.sumTelemetryUpTo.get(last) as { n: number; points: number; bytes: number };
    st.deleteTelemetryUpTo.run(last);
    total.records += gone.n;
    total.points += gone.points;
    total.bodyBytes += gone.bytes;
    if (rows.length < 1000 || last !== rows.at(-1)!.id) break;
  }
  return total;
}
