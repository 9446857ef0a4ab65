// The data model of DESIGN.md: a sample is one reading of one tag, with its quality and the time
// it was read. A device that stops answering yields `bad` samples, never a stale value as good.
export const Qualities = ['good', 'bad', 'uncertain'] as const;
export type Quality = (typeof Qualities)[number];
export type Value = number | boolean | string;

export interface Sample {
  /** `device.tag` */
  readonly tag: string;
  /** null only with quality `bad`: there is no value to report. */
  readonly value: Value | null;
  readonly quality: Quality;
  /** epoch milliseconds of the read */
  readonly ts: number;
}

const PART = /^[a-z0-9_-]+$/;
export const tagPath = (device: string, tag: string): string => `${device}.${tag}`;

/** Splits `device.tag`; undefined when the path is not of that form. */
export function splitTagPath(path: string): { device: string; tag: string } | undefined {
  const dot = path.indexOf('.');
  if (dot < 0) return undefined;
  const device = path.slice(0, dot);
  const tag = path.slice(dot + 1);
  return PART.test(device) && PART.test(tag) ? { device, tag } : undefined;
}
