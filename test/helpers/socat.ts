// A socat pseudo-terminal pair: a null-modem cable between two processes (or two ports of one), so
// Modbus RTU runs over a real serial path, termios and all. socat is stopped by the test's teardown.
import type { Test } from 'tap';
import { spawnProcess } from './proc.ts';

/** A socat pty pair, like a null-modem cable: the simulator opens one end, the master the other. */
export async function ptyPair(tt: Test): Promise<[string, string]> {
  const socat = await spawnProcess('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { t: tt, readyLine: /starting data transfer loop/ });
  const ptys = [...socat.output().matchAll(/PTY is (\/dev\/pts\/\d+)/g)].map((m) => m[1]!);
  if (ptys.length !== 2) throw new Error(`socat printed no pty pair:\n${socat.output()}`);
  return [ptys[0]!, ptys[1]!];
}
