// Alarm snapshots: the camera driver writes them, the alarm engine names them in its event, the
// console serves them. The name is the contract between the three, so it is made and checked here.

/** Takes a snapshot for `rule` on `camera` at `t` (epoch ms) and returns the file name it will have, or undefined. */
export type SnapshotHook = (camera: string, rule: string, t: number) => string | undefined;

/** What snapshotName() makes, and all the console will serve from the snapshots folder. */
export const SNAPSHOT_FILE = /^[a-z0-9_-]+-\d{8}T\d{9}Z\.jpg$/;

/**
 * A safe file name for the snapshot of `rule` at `t` (epoch ms): `wet_well_hh-20261123T191500123Z.jpg`.
 * Only `[a-z0-9_-]` from the rule id (it comes from the configuration, but the name goes to disk and
 * into URLs), never a leading `-` that a tool could take for an option, UTC time to the millisecond.
 */
export function snapshotName(rule: string, t: number): string {
  const id = rule.toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^[-_]+/, '').slice(0, 64) || 'alarm';
  const stamp = new Date(t).toISOString().replace(/[-:.]/g, '');
  return `${id}-${stamp}.jpg`;
}
