// Snapshots for alarms tied to a camera: ffmpeg in the background, the file's name at once, so the
// alarm event goes out without waiting for a picture. A small box is protected twice: alarms that
// fire while a camera's snapshot is being taken share it (a burst of alarms is one ffmpeg, not
// twenty), and the folder keeps the newest KEEP pictures only.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotName, type CameraDeviceConfig, type CodedError, type Logger } from '../../gateway/model/index.ts';
import { takeSnapshot } from './snapshot.ts';

/** About 100 MB of 640×360 JPEGs; weeks of alarms at a station. */
export const KEEP_SNAPSHOTS = 2000;

export function snapshotTaker(cameras: readonly CameraDeviceConfig[], d: { dir: string; logger: Logger; signal: AbortSignal; keep?: number }) {
  const pending = new Map<string, string>();
  // A disabled camera is one a technician switched off (being replaced): no ffmpeg against it.
  const byId = new Map(cameras.filter((c) => c.enabled).map((c) => [c.id, c]));
  const keep = d.keep ?? KEEP_SNAPSHOTS;
  return (camera: string, rule: string, t: number): string | undefined => {
    const busy = pending.get(camera);
    if (busy) return busy;
    const cam = byId.get(camera);
    if (!cam) return undefined;
    const name = snapshotName(rule, t);
    pending.set(camera, name);
    mkdirSync(d.dir, { recursive: true });
    takeSnapshot(cam.url, join(d.dir, name), { timeoutMs: cam.snapshot_timeout_s * 1000, signal: d.signal })
      .then(({ bytes }) => { d.logger.info({ camera, rule, file: name, bytes }, 'alarm snapshot taken'); prune(d.dir, keep, d.logger); })
      .catch((e: Error) => d.logger.warn({ camera, rule, code: (e as CodedError).code, err: e.message }, 'alarm snapshot failed'))
      .finally(() => pending.delete(camera));
    return name;
  };
}

/** Oldest first by the time in the name (`rule-YYYYMMDDTHHMMSSmmmZ.jpg`), whatever the rule. */
function prune(dir: string, keep: number, logger: Logger): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.jpg'));
  if (files.length <= keep) return;
  const stamp = (f: string) => f.slice(f.lastIndexOf('-') + 1);
  files.sort((a, b) => (stamp(a) < stamp(b) ? -1 : stamp(a) > stamp(b) ? 1 : 0));
  const old = files.slice(0, files.length - keep);
  for (const f of old) rmSync(join(dir, f), { force: true });
  logger.info({ removed: old.length, kept: keep }, 'oldest alarm snapshots removed');
}
