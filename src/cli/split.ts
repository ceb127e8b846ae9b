/** `klp split IN.ko -o OUT.ko`: each module object's code into `.klp.text.<obj>` (the per-object design). */
import { resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import type { Problem } from '../convert/convert.js';
import { splitModule, type SplitResult } from '../convert/split.js';
import { loadElf, writeFileAtomic } from '../elf/load.js';
import { writeElf } from '../elf/writer.js';
import { UsageError } from '../errors.js';
import { escapeText } from '../report/escape.js';
import { EXIT, out, runCommand, toJson } from './run.js';

export function renderSplitText(r: SplitResult): string {
  const lines: string[] = [];
  if (!r.changed && r.problems.length === 0) lines.push('klp split: nothing to move (no module object code, or already split)');
  for (const o of r.objects) {
    lines.push(`object ${escapeText(o.object)}:`);
    for (const [sec, from] of Object.entries(o.sections)) lines.push(`  ${escapeText(sec).padEnd(28)} <- ${from.map(escapeText).join(', ')}`);
    if (o.functions.length) lines.push(`  functions: ${o.functions.map(escapeText).join(', ')}`);
    for (const [sec, n] of Object.entries(o.entries)) lines.push(`  .klp.arch.${escapeText(o.object)}.${escapeText(sec)} <- ${n} ${escapeText(sec)} entr${n === 1 ? 'y' : 'ies'}`);
  }
  for (const k of r.kept) lines.push(`  kept in shared code: ${escapeText(k.function)} (${escapeText(k.object)}): ${escapeText(k.reason)}`);
  return lines.join('\n');
}

export function reportProblems(input: string, problems: readonly Problem[]): void {
  for (const p of problems) process.stderr.write(`klp: error: ${escapeText(input)}: ${escapeText(p.where)}: ${escapeText(p.message)}\n  -> ${escapeText(p.hint)}\n`);
  process.stderr.write(`klp: ${problems.length} problem(s); nothing written\n`);
}

export function registerSplit(program: Command): void {
  program.command('split')
    .description('move each klp_object\'s code into .klp.text.<obj> (and data, and .klp.arch.<obj> special entries) for the per-object loader design')
    .argument('<in>', 'livepatch module (.ko), converted or not, built with -ffunction-sections -fdata-sections')
    .option('-o, --output <out>', 'split module to write')
    .option('--in-place', 'replace IN with the split module (atomically)')
    .option('--json', 'machine-readable result')
    .action((input, opts) => runCommand(async () => {
      if (opts.inPlace && opts.output) throw new UsageError('give -o OUT.ko or --in-place, not both');
      if (!opts.output && !opts.inPlace) throw new UsageError('give -o OUT.ko or --in-place');
      if (opts.output && resolve(opts.output) === resolve(input)) throw new UsageError('refusing to write over the input; give another -o, or --in-place');
      const output = opts.inPlace ? input : opts.output!;
      const elf = await loadElf(input);
      const r = splitModule(elf);
      if (opts.json) out(toJson({ input, output: r.problems.length ? null : output, ...r }));
      else out(renderSplitText(r));
      if (r.problems.length > 0) {
        reportProblems(input, r.problems);
        return EXIT.FINDINGS;
      }
      await writeFileAtomic(output, r.changed ? writeElf(elf) : elf.source);
      return EXIT.OK;
    }));
}
