// A progress line on stderr for long CLI operations (a 0–65535 scan of a slow device takes minutes).
// stderr, so that stdout stays the result alone (`--json | jq` keeps working). On a terminal the
// line is rewritten in place with \r; in a log file or a pipe every rewrite would be a line of its
// own, so there it prints one line per ~10 % instead.

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Default: whether the stream is a terminal. */
  tty?: boolean;
  /** Least time between two rewrites on a terminal; a fast loop must not flood it. Default 100 ms. */
  minIntervalMs?: number;
}

export interface Progress {
  /** `done` of the total so far; `note` is appended ("3 answering"). */
  update(done: number, note?: string): void;
  /** Clears the terminal line (or prints the last line when not a terminal). Safe to call twice. */
  end(note?: string): void;
}

export function progress(label: string, total: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? stream.isTTY === true;
  const minIntervalMs = opts.minIntervalMs ?? 100;
  let lastDraw = 0;
  let lastDecile = 0;
  let ended = false;
  let lastDone = 0;

  const text = (done: number, note?: string): string => {
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    return `${label}: ${pct} % (${done}/${total})${note ? `, ${note}` : ''}`;
  };

  return {
    update(done, note) {
      if (ended) return;
      lastDone = done;
      if (tty) {
        const now = Date.now();
        if (now - lastDraw < minIntervalMs && done < total) return;
        lastDraw = now;
        // \x1b[K erases what a longer previous line left behind; the width keeps it one line.
        const width = Math.max(20, (stream.columns || 80) - 1); // 0 on a terminal of unknown size
        stream.write(`\r${text(done, note).slice(0, width)}\x1b[K`);
        return;
      }
      const decile = total > 0 ? Math.floor((done / total) * 10) : 10;
      if (decile > lastDecile) {
        lastDecile = decile;
        stream.write(`${text(done, note)}\n`);
      }
    },
    end(note) {
      if (ended) return;
      ended = true;
      if (tty) stream.write('\r\x1b[K');
      else if (lastDecile < 10 && note !== undefined) stream.write(`${text(lastDone, note)}\n`);
    },
  };
}
