// How the journal stores a batch of samples: the JSON array of `{"tag","v","q","t"}` that the JSON
// flavour's telemetry payload carries (docs/mqtt.md), so draining a backlog splices stored text into
// payloads without decoding anything. `tag` is the tag's name; the record names the device.
import type { Sample } from '../model/sample.ts';

// `device.tag` → the tag's name as a JSON string, computed once per tag rather than per point.
const quotedNames = new Map<string, string>();
function quotedName(path: string): string {
  let q = quotedNames.get(path);
  if (q === undefined) {
    q = JSON.stringify(path.slice(path.indexOf('.') + 1));
    quotedNames.set(path, q);
  }
  return q;
}

function jsonValue(v: Sample['value']): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  return v === null ? 'null' : String(v);
}

/**
 * Written out directly, not through JSON.stringify of an object per point: this runs for every
 * point. Joined once rather than grown with `+=`, which leaves V8 a rope of pieces until something
 * flattens it: measured ~310 bytes of heap per point waiting for its commit instead of ~53, and
 * 2–3× slower appends (bench:journal).
 */
export function encodePoints(points: readonly Sample[]): string {
  const parts = new Array<string>(points.length);
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!;
    parts[i] = `{"tag":${quotedName(p.tag)},"v":${jsonValue(p.value)},"q":"${p.quality}","t":${p.ts}}`;
  }
  return `[${parts.join(',')}]`;
}

export interface StoredPoint { tag: string; v: number | boolean | string | null; q: Sample['quality']; t: number }

/** For uplinks of other formats (and tests); the JSON flavour never decodes. */
export function decodePoints(body: string): StoredPoint[] {
  return JSON.parse(body) as StoredPoint[];
}
