/** `klp check PATCH.ko`: will it load, and what does every livepatch relocation and klp_func resolve to. */
import { Option, type Command } from '@commander-js/extra-typings';
import { checkAgainstDatabases } from '../check/batch.js';
import { checkModule, type CheckResult, type Finding } from '../check/check.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ElfFile } from '../elf/file.js';
import { loadElf, writeFileAtomic } from '../elf/load.js';
import { DESIGNS, parseDesign, DESIGN_HOOKS, type Design } from '../loader/designs/index.js';
import { simulateLoads, simulatePatchLoad, type PatchSimulation } from '../loader/patch-sim.js';
import { UsageError } from '../errors.js';
import { renderCheckHtml } from '../report/html.js';
import { escapeText } from '../report/escape.js';
import { EXIT, out, runCommand, toJson } from './run.js';
import { progressBar } from './progress.js';
import { refuseInputs, sourceInputs } from './output.js';
import { addSourceOptions, dbFromOptions, parseJobs } from './db-source.js';

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

export function renderPatchSimulation(s: PatchSimulation): string {
  const what = s.order ? `insmod ${s.order.map((o) => escapeText(o)).join(', then ')}` : 'insmod';
  const lines = [`emulated kernel, design ${s.design}: ${what} -> ${s.status}${s.status === 0 ? ' (loaded)' : ''}; ${s.violations} permission violation(s), ${s.flips} flip(s)`];
  for (const l of s.log) lines.push(`  ${escapeText(l)}`);
  return lines.join('\n');
}

export function registerCheck(program: Command): void {
  addSourceOptions(program.command('check')
    .description('will this livepatch load on that kernel: every klp_func and livepatch relocation resolved, hazards the kernel misses')
    .argument('<patch>', 'livepatch module (.ko)')
    .option('--db <db>', 'symbol database of the target kernel; or give source options'))
    .option('--target-kernel <version>', 'kernel whose rules apply', '6.1')
    .addOption(new Option('--design <design>', 'also load the patch in the loader emulator under this design (sets the kernel rules too), or under all').choices([...DESIGNS, 'all'] as const))
    .option('--with <module...>', 'with --design: also load these modules (the ones the patch patches) in the emulator, patch first and patch last')
    .option('--json', 'JSON')
    .option('--html <file>', 'also write a self-contained HTML report (written even when the patch will fail)')
    .option('--dbs <dir>', 'check against every *.klpdb in DIR (one per kernel build) and print one summary table')
    .option('-q, --quiet', 'no progress bar (batch mode)')
    .addOption(new Option('-j, --jobs <n>', 'with --dbs: threads (default: all cores)').argParser(parseJobs))
    .action((patch, opts) => runCommand(async () => {
      if (opts.html) refuseInputs(opts.html, '--html', [{ flag: 'the patch', path: patch }, { flag: '--dbs', path: opts.dbs }, ...sourceInputs(opts), ...(opts.with ?? []).map((m) => ({ flag: '--with', path: m }))]);
      const elf = await loadElf(patch);
      if (opts.dbs) return batch(elf, opts.dbs, opts.targetKernel, !!opts.json, !!opts.quiet, opts.jobs);
      const db = await dbFromOptions(opts);
      const designs: Design[] = opts.design === 'all' ? [...DESIGNS] : opts.design ? [parseDesign(opts.design)] : [];
      const rulesOf = (d: Design): string => `${DESIGN_HOOKS[d].kernel.major}.${DESIGN_HOOKS[d].kernel.minor}`;
      const checkUnder = (d: Design): CheckResult => checkModule(elf, { db, targetKernel: rulesOf(d), perObject: DESIGN_HOOKS[d].perObject });
      const r = designs.length === 1 ? checkUnder(designs[0]!) : checkModule(elf, { db, targetKernel: opts.targetKernel });
      if (opts.with && designs.length === 0) throw new UsageError('--with needs --design D (or all): the modules are loaded in the loader emulator');
      const withElfs = await Promise.all((opts.with ?? []).map((m) => loadElf(m)));
      // Per design: the patch alone, or with the modules in both orders (late patching first).
      const runs = designs.map((d) => withElfs.length === 0 ? [simulatePatchLoad(db, d, elf)] : [simulateLoads(db, d, [elf, ...withElfs]), simulateLoads(db, d, [...withElfs, elf])]);
      const simulations: PatchSimulation[] = runs.flat();
      // One verdict per design, however it is asked: a design's verdict is the check under its
      // kernel's rules plus the emulator's load. Under --design all, what a design's rules find
      // beyond the main check's is added as that design's findings.
      const verdicts: Array<{ design: Design; errors: Finding[] }> = [];
      for (const [i, d] of designs.entries()) {
        const own = designs.length === 1 ? r : checkUnder(d);
        const errors = own.findings.filter((f) => f.severity === 'error');
        for (const s of runs[i]!) {
          if (s.status === 0) continue;
          errors.push({ severity: 'error', code: 'EMULATOR', where: `emulated kernel, design ${s.design}${s.order ? `, order ${s.order.join(' -> ')}` : ''}`,
            message: `insmod exits ${s.status}: ${s.log.slice(-2).join(' / ')}`, hint: 'see the messages above; they are the kernel\'s', kernelCatches: true });
        }
        verdicts.push({ design: d, errors });
        const seen = new Set(r.findings.map((f) => `${f.code}\0${f.where}\0${f.message}`));
        for (const f of errors) {
          if (seen.has(`${f.code}\0${f.where}\0${f.message}`)) continue;
          r.findings.push(f.code === 'EMULATOR' || own === r ? f : { ...f, where: `design ${d} (kernel rules ${rulesOf(d)}): ${f.where}` });
        }
      }
      if (opts.html) {
        await writeFileAtomic(opts.html, Buffer.from(renderCheckHtml(r, simulations), 'utf8'));
      }
      if (opts.json) {
        const { patches: _p, ...rest } = r;
        out(toJson({ ...rest, ...(simulations.length ? { simulations, verdicts: verdicts.map((v) => ({ design: v.design, loadsCleanly: v.errors.length === 0, errors: v.errors.length })) } : {}) }));
      } else {
        out(renderCheckText(r));
        for (const s of simulations) out(renderPatchSimulation(s));
        if (verdicts.length > 1) {
          out('verdict by design:');
          for (const v of verdicts) out(`  ${v.design.padEnd(14)} ${v.errors.length ? `will NOT load cleanly (${v.errors.length} error(s)): ${escapeText(v.errors[0]!.message)}` : 'loads cleanly'}`);
        }
      }
      return r.findings.some((f) => f.severity === 'error') ? EXIT.FINDINGS : EXIT.OK;
    }));
}

/** `klp check PATCH --dbs DIR`: one patch against many kernel builds, on every core (check/batch.ts). */
async function batch(elf: ElfFile, dir: string, targetKernel: string, json: boolean, quiet: boolean, jobs: number | undefined): Promise<number> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.klpdb')).sort().map((f) => join(dir, f));
  } catch (e) {
    throw new UsageError(`${dir}: cannot read directory (${(e as NodeJS.ErrnoException).code ?? 'EIO'})`);
  }
  if (files.length === 0) throw new UsageError(`${dir}: no .klpdb files (build them with klp symbols build)`);
  const bar = progressBar('checking', quiet);
  const rows = await checkAgainstDatabases(elf, files, { targetKernel, jobs, onProgress: (d, n) => bar.update(d, n) });
  bar.done();
  if (json) out(toJson(rows));
  else {
    out(`${'database'.padEnd(40)} ${'kernel'.padEnd(24)} ${'verdict'.padEnd(12)} first error`);
    for (const r of rows) out(`${escapeText(r.db.slice(r.db.lastIndexOf('/') + 1)).padEnd(40)} ${escapeText(r.kernel ?? '?').padEnd(24)} ${r.verdict.padEnd(12)} ${escapeText(r.first)}`);
    out(`${rows.filter((r) => r.verdict === 'loads').length} of ${rows.length} kernel builds load it cleanly`);
  }
  return rows.every((r) => r.verdict === 'loads') ? EXIT.OK : rows.some((r) => r.verdict === 'bad database') ? EXIT.BAD_INPUT : EXIT.FINDINGS;
}
