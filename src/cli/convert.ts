/** `klp convert IN.ko -o OUT.ko`: relocations to non-exported symbols become livepatch relocations. */
import type { Command } from '@commander-js/extra-typings';
import { splitModule } from '../convert/split.js';
import { renderSplitText } from './split.js';
import { outputCompression, outputPath, refuseInputs, reportProblems, sourceInputs } from './output.js';
import { convertModule, convertSummary, namesToResolve, parseMapFile, parseSymOption, type ConvertResult, type Resolution } from '../convert/convert.js';
import type { ElfFile } from '../elf/file.js';
import { loadElf, readInputFile, writeModuleAtomic } from '../elf/load.js';
import { writeElfParts } from '../elf/writer.js';
import { UsageError } from '../errors.js';
import { escapeText } from '../report/escape.js';
import type { SymbolDb } from '../symbols/database.js';
import { DbFile } from '../symbols/db-file.js';
import { addSourceOptions, dbFromOptions, wholeDb } from './db-source.js';
import { EXIT, out, runCommand, toJson } from './run.js';

/** The plan: every relocation with --dry-run or --verbose, else one line per converted symbol. */
export function renderConvertText(r: ConvertResult, dryRun: boolean, verbose = false): string {
  const batches: string[] = [];
  emitConvertText(r, dryRun, verbose, (batch) => batches.push(batch));
  return batches.join('\n');
}

/**
 * Lines a batch: the report of 20,000 symbols is not held whole, text and lines, to be printed;
 * and a batch's text (some 100 bytes a line) stays below the size V8 gives a large object of its
 * own, fresh pages each time (docs/performance.md).
 */
const BATCH = 512;

/**
 * renderConvertText()'s lines, given to `emit` a batch at a time, each batch its lines joined by
 * newlines (so the batches joined by newlines are the whole text). The command prints each as it
 * comes: the report of a 20,000-function patch held whole was 10 MB at the command's peak.
 */
export function emitConvertText(r: ConvertResult, dryRun: boolean, verbose: boolean, emit: (batch: string) => void): void {
  let lines: string[] = [];
  const line = (l: string): void => {
    lines.push(l);
    if (lines.length === BATCH) {
      emit(lines.join('\n'));
      lines = [];
    }
  };
  const summary = convertSummary(r);
  const every = dryRun || verbose;
  const count = every ? r.plan.length : summary.symbols.reduce((n, s) => n + s.count, 0);
  line(`${dryRun ? 'plan' : 'converted'}: ${count} livepatch relocation(s) in ${summary.sections} section(s)${r.module ? ` of module ${escapeText(r.module)}` : ''}`);
  if (count && !every) {
    for (const s of summary.symbols) {
      line(`  ${escapeText(s.newSymbol).padEnd(56)} ${String(s.count).padStart(6)} relocation(s)  (${s.resolvedBy}${s.file ? `, from ${escapeText(s.file)}` : ''})`);
    }
  } else if (count) {
    line(`  ${'section+offset'.padEnd(34)} ${'type'.padEnd(16)} ${'symbol'.padEnd(28)} ${'object'.padEnd(16)} pos  new section                     resolved by`);
    for (const p of r.plan) {
      line(`  ${escapeText(`${p.target}+${p.offset}`).padEnd(34)} ${p.typeName.padEnd(16)} ${escapeText(p.symbol).padEnd(28)} ${escapeText(p.object).padEnd(16)} ${String(p.sympos).padStart(3)}  ${escapeText(p.newSection).padEnd(31)} ${p.resolvedBy}${p.file ? ` (from ${escapeText(p.file)})` : ''}`);
    }
  }
  for (const k of r.kept) line(`  kept: ${escapeText(k.symbol)} (${k.reason}, ${k.count} relocation(s))`);
  for (const s of r.removedSections) line(`  removed annotation section ${escapeText(s)}`);
  if (lines.length > 0) emit(lines.join('\n'));
}

/** Heap in use above which the command collects its garbage before the write (see below). */
const GC_BEFORE_WRITE = 32 << 20;

export function registerConvert(program: Command): void {
  addSourceOptions(program.command('convert')
    .description('rewrite relocations to non-exported symbols into livepatch relocations (.klp.rela.<obj>.<sec>, .klp.sym.<obj>.<name>,<pos>)')
    .argument('<in>', 'livepatch module (.ko) or its pre-link object (ET_REL)')
    .option('-o, --output <out>', 'converted module to write')
    .option('--in-place', 'replace IN with the converted module (atomically)')
    .option('--db <db>', 'symbol database (klp symbols build); or give source options'))
    .option('--map <file>', 'file of NAME=OBJ[,POS] lines resolving symbols')
    .option('--sym <NAME=OBJ[,POS]|NAME=OBJ@FILE>', 'resolve a symbol explicitly, by sympos or by the compilation unit that defines it, e.g. --sym jhash=vmlinux,3 or --sym homonym=mymod@b.c (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--target-kernel <version>', 'kernel whose rules apply (names, special sections)', '6.1')
    .option('--dry-run', 'print the plan; write nothing')
    .option('--json', 'machine-readable plan and problems')
    .option('-v, --verbose', 'print every converted relocation')
    .option('--per-object', 'for the per-object loader design: convert module-keyed __jump_table/.static_call_sites entries too, then klp split')
    .action((input, opts) => runCommand(async () => {
      const output = outputPath(input, opts, true);
      if (output) refuseInputs(output, opts.inPlace ? '--in-place' : '-o', [...sourceInputs(opts), { flag: '--map', path: opts.map }]);
      const explicit = new Map<string, Resolution>();
      if (opts.map) {
        const text = (await readInputFile(opts.map, '--map file')).toString('latin1');
        try {
          for (const [k, v] of parseMapFile(text, opts.map)) explicit.set(k, v);
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      for (const s of opts.sym ?? []) {
        try {
          const [k, v] = parseSymOption(s);
          explicit.set(k, v);
        } catch (e) {
          throw new UsageError(`--sym ${(e as Error).message}`);
        }
      }
      try {
        parseKernelVersionOrThrow(opts.targetKernel);
      } catch (e) {
        throw new UsageError(`--target-kernel: ${(e as Error).message}`);
      }
      // A database file is read in part: the rows of the names the module uses (a patch names a
      // few thousand of a kernel's million symbols), once the module is read.
      const part = opts.db && !sourceInputs(opts).some((x) => x.path && x.flag !== '--db') ? DbFile.open(opts.db) : undefined;
      let db = part ? undefined : await dbFromOptions(opts);
      let elf;
      try {
        elf = await loadElf(input);
        if (part) db = part.rowsFor(namesToResolve(elf), () => wholeDb(opts.db!)) ?? wholeDb(opts.db!);
      } finally {
        part?.close();
      }
      // The conversion and its report in a function of their own: what they hold (a relocation's
      // worth of plan for 40,000 relocations) is garbage by the time the module is written.
      const { findings, changed } = convertAndReport(elf, db!, explicit, opts, input, output);
      db = undefined;
      if (findings) return EXIT.FINDINGS;
      // The conversion's own data (its plan, the database's rows: half the heap by now) is garbage:
      // collected here, before the writer's allocations, it is not left for V8 to grow the heap
      // past it. `gc` is there when Node runs with --expose-gc, as bin/klp runs convert (the peak
      // of a 20,000-function patch 156 MB to 141, docs/performance.md); else nothing is done. A
      // small heap is left alone: the collection is a pass over what lives (8 ms for the 11 MB a
      // ten-function patch leaves, 21 ms for the 55 MB of 20,000 functions).
      if (!opts.dryRun && changed && process.memoryUsage().heapUsed > GC_BEFORE_WRITE) globalThis.gc?.();
      if (!opts.dryRun) await writeModuleAtomic(output!, changed ? writeElfParts(elf) : elf.source, outputCompression(output!, opts.inPlace, elf.compression));
      return EXIT.OK;
    }));
}

/** Convert, split with --per-object, and print the plan or the problems. */
function convertAndReport(elf: ElfFile, db: SymbolDb, explicit: ReadonlyMap<string, Resolution>,
  opts: { targetKernel: string; perObject?: true | undefined; json?: true | undefined; dryRun?: true | undefined; verbose?: true | undefined },
  input: string, output: string | undefined): { findings: boolean; changed: boolean } {
  const r = convertModule(elf, { db, explicit, targetKernel: opts.targetKernel, perObject: !!opts.perObject });
  const split = opts.perObject && r.problems.length === 0 ? splitModule(elf) : undefined;
  if (split) r.problems.push(...split.problems);
  if (opts.json) {
    const { patches: _p, ...rest } = r;
    out(toJson({ input, output: opts.dryRun || r.problems.length ? null : output ?? null, ...rest, ...(split ? { split: { objects: split.objects, kept: split.kept } } : {}) }));
  } else {
    emitConvertText(r, !!opts.dryRun || r.problems.length > 0, !!opts.verbose, out);
    if (split) out(renderSplitText(split));
  }
  if (r.problems.length > 0) reportProblems(input, r.problems);
  return { findings: r.problems.length > 0, changed: r.changed || !!split?.changed };
}

function parseKernelVersionOrThrow(v: string): void {
  if (!/^\d+\.\d+/.test(v)) throw new Error(`'${v}' is not a kernel version (e.g. 6.1)`);
}
