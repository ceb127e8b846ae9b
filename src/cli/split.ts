/** `klp split IN.ko -o OUT.ko`: each module object's code into `.klp.text.<obj>` (the per-object design). */
import type { Command } from '@commander-js/extra-typings';
import { splitModule, type SplitResult } from '../convert/split.js';
import { outputCompression, outputPath, reportProblems } from './output.js';
import { loadElf, writeModuleAtomic } from '../elf/load.js';
import { writeElf } from '../elf/writer.js';
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

export function registerSplit(program: Command): void {
  program.command('split')
    .description('move each klp_object\'s code into .klp.text.<obj> (and data, and .klp.arch.<obj> special entries) for the per-object loader design')
    .argument('<in>', 'livepatch module (.ko), converted or not, built with -ffunction-sections -fdata-sections')
    .option('-o, --output <out>', 'split module to write')
    .option('--in-place', 'replace IN with the split module (atomically)')
    .option('--json', 'machine-readable result')
    .action((input, opts) => runCommand(async () => {
      const output = outputPath(input, opts, false)!;
      const elf = await loadElf(input);
      const r = splitModule(elf);
      if (opts.json) out(toJson({ input, output: r.problems.length ? null : output, ...r }));
      else out(renderSplitText(r));
      if (r.problems.length > 0) {
        reportProblems(input, r.problems);
        return EXIT.FINDINGS;
      }
      await writeModuleAtomic(output, r.changed ? writeElf(elf) : elf.source, outputCompression(output, opts.inPlace, elf.compression));
      return EXIT.OK;
    }));
}
