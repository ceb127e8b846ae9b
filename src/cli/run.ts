/**
 * Shared CLI plumbing: exit codes, error printing and stdout handling.
 *
 * Exit codes (docs/cli.md): 0 success, 1 findings (the command worked and found problems),
 * 2 bad input or usage, 3 internal error (a bug in klpkit: please report it).
 */
import { ElfError } from '../elf/errors.js';
import { UsageError } from '../errors.js';

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
  if (e instanceof ElfError) {
    process.stderr.write(`klp: error: ${e.message}\n`);
    return EXIT.BAD_INPUT;
  }
  if (e instanceof UsageError) {
    process.stderr.write(`klp: error: ${e.message}\n`);
    return EXIT.BAD_INPUT;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`klp: internal error: ${msg}\n  this is a bug in klpkit; set KLP_DEBUG=1 for a stack trace and report it\n`);
  if (process.env.KLP_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return EXIT.INTERNAL;
}

/** Write to stdout; a closed pipe (`klp ... | head`) ends the process quietly. */
export function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
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
