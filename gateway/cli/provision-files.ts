// Files for `provision` and `passwd`: the configuration written whole or not at all, and secrets
// read from files or the environment (never from argv: any user of the box sees argv in `ps`).
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UsageError } from './args.ts';

export class FileExists extends Error {}

export interface WriteOptions {
  /** Permission bits of the new file (0o600 for a file with secrets). */
  mode: number;
  /** Replace an existing file; otherwise FileExists when there is one. */
  replace: boolean;
  /** Owner to give the file (passwd run by root keeps the service user's file readable to it). */
  owner?: { uid: number; gid: number };
}

/**
 * Writes `text` to `path` atomically: a temporary file in the same folder, synced, then renamed
 * over the target (or hard-linked to it, which fails if it exists, when `replace` is false). A
 * crash or power cut leaves the old file or the new one, never half of one, and no reader ever
 * sees the file with looser permissions than `mode`.
 */
export async function writeFileAtomic(path: string, text: string, opts: WriteOptions): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', opts.mode);
  let placed = false;
  try {
    try {
      await fh.chmod(opts.mode); // open()'s mode is cut by the umask
      if (opts.owner) await fh.chown(opts.owner.uid, opts.owner.gid).catch(() => { /* not root: it stays ours */ });
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.replace) {
      await rename(tmp, path);
    } else {
      try {
        await link(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExists(`${path} exists`);
        throw e;
      }
    }
    placed = opts.replace;
    await syncDir(dirname(path));
  } finally {
    if (!placed) await unlink(tmp).catch(() => { /* gone already */ });
  }
}

/** The rename itself is durable only once the folder is synced. */
async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  if (!d) return;
  try { await d.sync(); } catch { /* some file systems refuse; the data itself is synced */ } finally { await d.close(); }
}

/** A secret from a file (one trailing newline dropped, as `echo` and editors add one). */
export async function secretFromFile(file: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`--${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new Error(`--${flag} ${file}: the file is empty`);
  if (secret.includes('\n')) throw new Error(`--${flag} ${file}: more than one line; the file holds the password alone`);
  return secret;
}

export function secretFromEnv(name: string, flag: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`--${flag} ${name}: the environment variable is not set`);
  return v;
}

/** A password on the command line is refused before anything else, with what to do instead. */
export function refuseSecretsOnArgv(argv: string[], instead: string): void {
  const bad = argv.find((a) => /^--([a-z]+-)?password(=|$)/.test(a));
  if (bad) throw new UsageError(`${bad.split('=')[0]}: passwords are not taken on the command line (any user of the box sees it in ps); ${instead}`);
}
