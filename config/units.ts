// Durations and sizes as the config writes them.
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a config duration: a number is seconds, a string carries its unit. */
export function durationMs(value: number | string): number {
  if (typeof value === 'number') return value * 1000;
  const m = DURATION.exec(value.trim());
  if (!m) throw new Error(`"${value}" is not a duration like 250ms, 30s, 5m, 2h or 7d`);
  return Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/;
const SIZE_BYTES = {
  B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12,
  KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4,
} as const;

/** Bytes of a config size: a number is bytes, a string carries its unit. */
export function byteSize(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = SIZE.exec(value.trim());
  if (!m) throw new Error(`"${value}" is not a size like 512MiB or 1GiB`);
  return Math.floor(Number(m[1]) * SIZE_BYTES[m[2] as keyof typeof SIZE_BYTES]);
}
