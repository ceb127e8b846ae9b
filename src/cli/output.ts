/** What commands that rewrite a module share: where the result goes, and how refusals are told. */
import { realpathSync, statSync } from 'node:fs';
import { sep } from 'node:path';
import type { Problem } from '../convert/convert.js';
import { compressionOfName, type Compression } from '../elf/compress.js';
import { UsageError } from '../errors.js';
import { escapeText } from '../report/escape.js';
import { err } from './run.js';

/**
 * `-o OUT`, `--in-place` (the input itself, replaced atomically) or, where offered, `--dry-run`
 * (undefined: nothing is written); never the input under another spelling.
 */
export function outputPath(input: string, opts: { output?: string | undefined; inPlace?: boolean | undefined; dryRun?: boolean | undefined }, dryRunOffered: boolean): string | undefined {
  if (opts.inPlace && opts.output) throw new UsageError('give -o OUT.ko or --in-place, not both');
  if (!opts.dryRun && !opts.output && !opts.inPlace) throw new UsageError(dryRunOffered ? 'give -o OUT.ko, --in-place or --dry-run' : 'give -o OUT.ko or --in-place');
  if (opts.output) refuseInputs(opts.output, '-o', [{ flag: 'the input', path: input }], 'give another -o, or --in-place');
  return opts.inPlace ? input : opts.output;
}

/**
 * How the written module is compressed: `--in-place` keeps the input's format (a `.ko.xz` is
 * replaced by a `.ko.xz`); `-o` follows the name it is given (`-o out.ko.zst` compresses,
 * `-o out.ko` does not), as `make modules_install` names its files.
 */
export function outputCompression(output: string, inPlace: boolean | undefined, input: Compression | undefined): Compression | undefined {
  return inPlace ? input : compressionOfName(output);
}

/** An input of a command: the option that named it (for the message) and its path. */
export interface NamedInput { flag: string; path: string | undefined }

/**
 * Refuse (exit 2) an output that would replace any input of the command: the same file reached by
 * another spelling, a symlink or a hard link (compared by device and inode), or an existing file
 * inside an input directory (`symbols build -o` a module of `--modules`). A new file can be no
 * input, and a character device or FIFO is written as a stream, never replaced, so both pass.
 */
export function refuseInputs(output: string, outputFlag: string, inputs: readonly NamedInput[], hint = `give another ${outputFlag}`): void {
  let out;
  try {
    out = statSync(output);
  } catch {
    return;
  }
  if (out.isCharacterDevice() || out.isFIFO()) return;
  const outReal = realpathSync(output);
  for (const { flag, path } of inputs) {
    if (!path) continue;
    let st;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    const same = st.dev === out.dev && st.ino === out.ino;
    const inside = st.isDirectory() && outReal.startsWith(realpathSync(path) + sep);
    if (same || inside) {
      throw new UsageError(`refusing to write ${outputFlag} ${escapeText(output)}: it would replace ${same ? '' : 'a file inside '}${flag} ${escapeText(path)}; ${hint}`);
    }
  }
}

/** The symbol-data options every command shares, as inputs. */
export function sourceInputs(opts: { db?: string | undefined; vmlinuz?: string | undefined; kallsyms?: string | undefined; systemMap?: string | undefined; vmlinux?: string | undefined; symbolsKlp?: string | undefined; symvers?: string | undefined; modules?: string | undefined; debug?: string | undefined }): NamedInput[] {
  return [
    { flag: '--db', path: opts.db }, { flag: '--vmlinuz', path: opts.vmlinuz }, { flag: '--kallsyms', path: opts.kallsyms },
    { flag: '--system-map', path: opts.systemMap }, { flag: '--vmlinux', path: opts.vmlinux }, { flag: '--symbols-klp', path: opts.symbolsKlp },
    { flag: '--symvers', path: opts.symvers }, { flag: '--modules', path: opts.modules }, { flag: '--debug', path: opts.debug },
  ];
}

/** Each problem on stderr with what to do (multi-line messages keep their lines), then the count. */
export function reportProblems(input: string, problems: readonly Problem[]): void {
  for (const p of problems) err(`klp: error: ${escapeText(input)}: ${escapeText(p.where)}: ${escapeText(p.message).replace(/\\x0a/g, '\n')}\n  -> ${escapeText(p.hint)}\n`);
  err(`klp: ${problems.length} problem(s); nothing written\n`);
}
