// The SQLite journal's files as they are on disk now, copied into `to`: what a kill -9 at this moment
// leaves. The journal writes synchronously on the event loop, so between two calls its files hold
// exactly what was committed; opening the copy is the restart.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export function crashImage(from: string, to: string): string {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) if (f.startsWith('journal.db')) copyFileSync(join(from, f), join(to, f));
  return to;
}
