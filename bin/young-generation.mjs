// V8's young generation for `cityedge run` (docs/operations.md, "Memory"). Plain JavaScript, applied
// by bin/cityedge.mjs before the gateway's bundle is even read: loading and compiling it already
// grew the young generation to two 4 MB semi-spaces when the cap came later, in `run` itself, and
// they stayed that size until V8's first memory-reducing collection some 20 s on.
import { setFlagsFromString } from 'node:v8';

/**
 * Keeps V8's young generation at the size it starts with (two 1 MB semi-spaces) instead of letting
 * it grow to two of 16 MB under load: at 10,000 points/s those 32 MB, fully touched, were the largest
 * single part of the gateway's RSS, and the gateway's per-point garbage is small enough that
 * collecting it more often costs little (docs/performance.md, "Memory, in more detail"). The
 * maximum itself cannot change once V8 runs; not growing towards it can. An operator who gives
 * --max-semi-space-size (NODE_OPTIONS or node's arguments) has chosen, and is left alone. A worker
 * thread started later puts the default back, so the gateway starts none on this path.
 * @returns {boolean} whether the cap was applied
 */
export function capYoungGeneration() {
  if ([...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => a.includes('semi-space'))) return false;
  try {
    setFlagsFromString('--semi-space-growth-factor=1');
    return true;
  } catch {
    return false;
  }
}
