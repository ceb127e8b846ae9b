/**
 * Shared CLI plumbing: exit codes, error printing and stdout handling.
 *
 * Exit codes (docs/cli.md): 0 success, 1 findings (the command worked and found problems),
 * 2 bad input or usage, 3 internal error (a bug in klpkit: please report it).
 */
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
  if (process.env.KLP_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return EXIT.INTERNAL;
}

/**
 * Write to stdout; a closed pipe (`klp ... | head`) ends the process quietly. Every byte a terminal
 * would interpret is escaped here, whatever the caller forgot (docs/threat-model.md).
 */
export function out(text: string): void {
  const safe = termSafe(text);
  process.stdout.write(safe.endsWith('\n') ? safe : `${safe}\n`);
}

/** Write a message to stderr: escaped as out() is, and each line cut to a readable length. */
export function err(text: string): void {
  const lines = termSafe(text.endsWith('\n') ? text.slice(0, -1) : text).split('\n');
  process.stderr.write(`${lines.map((l) => clip(l, 2000)).join('\n')}\n`);
}

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

/**
 * JSON with bigints as decimal strings (listings already carry hex strings for addresses). Names
 * are latin1 (one char per byte); every char from DEL up is written as a \u escape, so the output
 * is pure ASCII and no C1 control byte can reach a terminal, while JSON.parse returns exact names.
 */
export function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
