/**
 * Shared CLI plumbing: exit codes, error printing and stdout handling.
 *
 * Exit codes (docs/cli.md): 0 success, 1 findings (the command worked and found problems),
 * 2 bad input or usage, 3 internal error (a bug in klpkit: please report it).
 */
import { writeSync } from 'node:fs';
import { clip, InputError, UsageError } from '../errors.js';
import { termSafe } from '../report/escape.js';

export { UsageError };

export const EXIT = { OK: 0, FINDINGS: 1, BAD_INPUT: 2, INTERNAL: 3 } as const;


/** Run a command body, turning every error into a one-line message and an exit code. */
export async function runCommand(body: () => Promise<number | void>): Promise<void> {
  let code: number;
  try {
    code = (await body()) ?? EXIT.OK;
  } catch (e) {
    code = reportError(e);
  }
  process.exitCode = code;
}

export function reportError(e: unknown): number {
  if (e instanceof InputError || e instanceof UsageError) {
    // One line, whatever the message holds: names from the input may contain newlines.
    err(`klp: error: ${e.message.replace(/\n/g, '\\x0a')}`);
    return EXIT.BAD_INPUT;
  }
  const msg = e instanceof Error ? e.message : String(e);
  err(`klp: internal error: ${msg}\n  this is a bug in klpkit; set KLP_DEBUG=1 for a stack trace and report it`);
  if (process.env.KLP_DEBUG && e instanceof Error && e.stack) writeFd(2, `${e.stack}\n`);
  return EXIT.INTERNAL;
}

/**
 * Write to stdout; a closed pipe (`klp ... | head`) ends the process quietly. Every byte a terminal
 * would interpret is escaped here, whatever the caller forgot (docs/threat-model.md).
 */
export function out(text: string): void {
  const safe = termSafe(text);
  writeFd(1, safe.endsWith('\n') ? safe : `${safe}\n`);
}

/** Bytes to stdout as they are (a file's contents the user asked for), as out() writes text. */
export function outBytes(bytes: Uint8Array): void {
  writeFd(1, bytes);
}

/** Write a message to stderr: escaped as out() is, and each line cut to a readable length. */
export function err(text: string): void {
  const lines = termSafe(text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
  writeFd(2, `${lines.map((l) => clip(l, 2000)).join('\n')}\n`);
}

/**
 * All of `data` to file descriptor 1 or 2, synchronously, as Node's own process.stdout writes to
 * a file or a pipe on Linux, but without it: process.stdout is a stream, and making it loads
 * Node's stream modules, some 7 ms of every command (docs/performance.md, eleventh round). A
 * closed pipe (EPIPE: Node ignores SIGPIPE) ends the process quietly with its exit status so far;
 * a descriptor left non-blocking by whoever opened it (EAGAIN) is waited on a millisecond at a
 * time. Any other failure (a full disk) is the user's to know, not a bug: an InputError naming
 * standard output. A stderr that fails (closed, full) loses the rest of the message: there is
 * nowhere left to say it.
 */
function writeFd(fd: 1 | 2, data: string | Uint8Array): void {
  let bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  while (bytes.length > 0) {
    let n: number;
    try {
      n = writeSync(fd, bytes);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'EAGAIN') {
        Atomics.wait(PAUSE, 0, 0, 1);
        continue;
      }
      // (The exit status of an error being reported is not set yet: stderr's failure ends nothing.)
      if (fd === 2) return;
      if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw new InputError('WRITE', { file: 'standard output' }, `cannot write (${code})`, 'check where the output goes: is its disk full?');
    }
    bytes = bytes.subarray(n);
  }
}
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * JSON with bigints as decimal strings (listings already carry hex strings for addresses). Names
 * are latin1 (one char per byte); every char from DEL up is written as a \u escape, so the output
 * is pure ASCII and no C1 control byte can reach a terminal, while JSON.parse returns exact names.
 */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
