/** `klp check PATCH.ko`: will it load, and what does every livepatch relocation and klp_func resolve to. */
import type { Command } from '@commander-js/extra-typings';
import { checkModule, type CheckResult } from '../check/check.js';
import { resolve } from 'node:path';
import { loadElf, writeFileAtomic } from '../elf/load.js';
import { UsageError } from '../errors.js';
import { renderCheckHtml } from '../report/html.js';
import { escapeText } from '../report/escape.js';
import { dbFromOptions } from './convert.js';
import { EXIT, out, runCommand, toJson } from './run.js';
import { addSourceOptions } from './symbols.js';

export function renderCheckText(r: CheckResult): string {
  const e = escapeText;
  const lines = [`${e(r.file)}: livepatch module ${e(r.module ?? '?')}, kernel rules ${r.target}`];
  lines.push(`objects: ${r.objects.map((o) => `${e(o.name)}${o.present ? '' : ' (not in database: late)'}`).join(', ') || 'none'}`);
  if (r.resolved.length) {
    lines.push('resolutions:');
    for (const x of r.resolved) {
      lines.push(`  ${x.kind.padEnd(10)} ${e(x.object).padEnd(16)} ${e(x.name).padEnd(32)} sympos ${String(x.sympos).padEnd(3)} ${x.status === 'ok' ? (x.address ?? '(module)') : x.status.toUpperCase()}  ${e(x.detail)}`);
    }
  }
  const errors = r.findings.filter((f) => f.severity === 'error');
  for (const f of r.findings) {
    lines.push(`${f.severity}: ${e(f.where)}: ${e(f.message)}${f.kernelCatches ? '' : '  [the kernel does not catch this]'}\n  -> ${e(f.hint)}`);
  }
  lines.push(errors.length ? `result: will NOT load cleanly (${errors.length} error(s))` : 'result: loads cleanly');
  return lines.join('\n');
}

export function registerCheck(program: Command): void {
  addSourceOptions(program.command('check')
    .description('will this livepatch load on that kernel: every klp_func and livepatch relocation resolved, hazards the kernel misses')
    .argument('<patch>', 'livepatch module (.ko)')
    .option('--db <db>', 'symbol database of the target kernel; or give source options'))
    .option('--target-kernel <version>', 'kernel whose rules apply', '6.1')
    .option('--json', 'JSON')
    .option('--html <file>', 'also write a self-contained HTML report (written even when the patch will fail)')
    .action((patch, opts) => runCommand(async () => {
      const elf = await loadElf(patch);
      const db = await dbFromOptions(opts);
      const r = checkModule(elf, { db, targetKernel: opts.targetKernel });
      if (opts.html) {
        if (resolve(opts.html) === resolve(patch)) throw new UsageError('refusing to write the report over the patch');
        await writeFileAtomic(opts.html, Buffer.from(renderCheckHtml(r), 'utf8'));
      }
      if (opts.json) {
        const { patches: _p, ...rest } = r;
        out(toJson(rest));
      } else {
        out(renderCheckText(r));
      }
      return r.findings.some((f) => f.severity === 'error') ? EXIT.FINDINGS : EXIT.OK;
    }));
}
