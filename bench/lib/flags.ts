// What every bench entry point checks of its command line: numeric flags that must be positive (or
// may be zero), and `--gateway-node-args` split into Node's argv. A wrong flag exits 2 with a line
// naming it, before anything is started.

/** Exits 2 naming the first of `keys` whose value is not a number > 0 (≥ 0 for those in `zeroOk`). */
export function requirePositive(bench: string, flags: Readonly<Record<string, unknown>>, keys: readonly string[], zeroOk: readonly string[] = []): void {
  for (const k of keys) {
    const v = Number(flags[k]);
    const may0 = zeroOk.includes(k);
    if (may0 ? v >= 0 : v > 0) continue;
    console.error(`bench:${bench}: --${k} must be a ${may0 ? 'number ≥ 0' : 'positive number'}, not "${String(flags[k])}"`);
    process.exit(2);
  }
}

/** `--gateway-node-args="--a --b=1"` as argv for the gateway's Node: ['--a', '--b=1']. */
export const nodeArgs = (value: string | undefined): string[] => (value ?? '').split(/\s+/).filter(Boolean);
