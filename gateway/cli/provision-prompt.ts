// Questions on the command line for `provision` and `passwd`. On a terminal, passwords are typed
// without echo: readline writes through a stream that is muted while one is typed. Without a
// terminal (`--interactive` with answers piped in, for scripts and tests) each answer is a line.
//
// Lines are taken from the interface's async iterator, not from question(): piped input arrives at
// once, and readline drops the lines that come while no question is pending.
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';

/** The person pressed Ctrl-C, or the input ended before every question was answered. */
export class PromptClosed extends Error {
  constructor(readonly interrupted: boolean) {
    super(interrupted ? 'cancelled' : 'the input ended before every question was answered');
  }
}

export interface Prompter {
  /** One answer, trimmed; an empty answer is `def` when there is one. */
  ask(question: string, def?: string): Promise<string>;
  /** A secret, typed without echo on a terminal; taken as typed (not trimmed). */
  secret(question: string): Promise<string>;
  /** A line for the person (a problem with the last answer, a warning). */
  say(text: string): void;
  close(): void;
}

export function openPrompter(input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Prompter {
  const terminal = input.isTTY === true;
  let muted = false;
  // What readline writes (the prompt, the echo of each key, redraws) goes through here.
  const screen = new Writable({
    write(chunk: Buffer | string, encoding: BufferEncoding, done: (e?: Error | null) => void) {
      if (!muted) output.write(chunk, encoding);
      done();
    },
  });
  Object.defineProperty(screen, 'columns', { get: () => output.columns });
  // historySize 0: otherwise the up-arrow at the next question would bring a password back.
  const rl = createInterface({ input, output: screen, terminal, historySize: 0 });
  let interrupted = false;
  rl.on('SIGINT', () => { interrupted = true; rl.close(); });
  const lines = rl[Symbol.asyncIterator]();

  const next = async (question: string, hidden: boolean): Promise<string> => {
    rl.setPrompt(question);
    rl.prompt();
    muted = hidden;
    try {
      const r = await lines.next();
      if (r.done) throw new PromptClosed(interrupted);
      return r.value;
    } finally {
      muted = false;
      // The Enter that ended a hidden line was muted with the rest; a piped answer has no echo at all.
      if (hidden || !terminal) output.write('\n');
    }
  };

  return {
    async ask(question, def) {
      const answer = (await next(def !== undefined && def !== '' ? `${question} [${def}]: ` : `${question}: `, false)).trim();
      return answer === '' && def !== undefined ? def : answer;
    },
    secret: (question) => next(`${question}: `, true),
    say(text) { output.write(`${text}\n`); },
    close() { rl.close(); },
  };
}

/**
 * A new password, asked twice until both agree and `problem` has nothing against it (at most
 * `tries` times, so a script feeding wrong answers ends instead of looping).
 */
export async function askNewSecret(p: Prompter, label: string, problem: (s: string) => string | undefined, tries = 5): Promise<string> {
  for (let i = 0; i < tries; i++) {
    const first = await p.secret(label);
    const why = problem(first);
    if (why !== undefined) { p.say(`  refused: ${why}`); continue; }
    const again = await p.secret(`${label}, again`);
    if (again === first) return first;
    p.say('  the two entries differ; once more');
  }
  throw new Error(`${label}: no acceptable answer after ${tries} tries`);
}
