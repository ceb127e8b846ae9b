/** What commands that rewrite a module share: where the result goes, and how refusals are told. */
import { resolve } from 'node:path';
import type { Problem } from '../convert/convert.js';
import { UsageError } from '../errors.js';
import { escapeText } from '../report/escape.js';

/**
 * `-o OUT`, `--in-place` (the input itself, replaced atomically) or, where offered, `--dry-run`
 * (undefined: nothing is written); never the input under another spelling.
 */
export function outputPath(input: string, opts: { output?: string | undefined; inPlace?: boolean | undefined; dryRun?: boolean | undefined }, dryRunOffered: boolean): string | undefined {
  if (opts.inPlace && opts.output) throw new UsageError('give -o OUT.ko or --in-place, not both');
  if (!opts.dryRun && !opts.output && !opts.inPlace) throw new UsageError(dryRunOffered ? 'give -o OUT.ko, --in-place or --dry-run' : 'give -o OUT.ko or --in-place');
  if (opts.output && resolve(opts.output) === resolve(input)) throw new UsageError('refusing to write over the input; give another -o, or --in-place');
  return opts.inPlace ? input : opts.output;
}

/** Each problem on stderr with what to do (multi-line messages keep their lines), then the count. */
export function reportProblems(input: string, problems: readonly Problem[]): void {
  for (const p of problems) process.stderr.write(`klp: error: ${escapeText(input)}: ${escapeText(p.where)}: ${escapeText(p.message).replace(/\\x0a/g, '\n')}\n  -> ${escapeText(p.hint)}\n`);
  process.stderr.write(`klp: ${problems.length} problem(s); nothing written\n`);
}
