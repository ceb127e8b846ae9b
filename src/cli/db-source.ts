/**
 * Where a command's symbol data comes from: a database file (--db), or the sources `klp symbols
 * build` takes (--vmlinuz, --kallsyms, --modules, ...), built on the fly. Shared by the commands
 * that look symbols up (symbols, convert, check, sim); the builder itself is imported only when a
 * database is built, not by every command that reads one.
 */
import { InvalidArgumentError, type Command, type OptionValues } from '@commander-js/extra-typings';
import { readFileSync } from 'node:fs';
import { readInputFile } from '../elf/load.js';
import { UsageError } from '../errors.js';
import { SymbolDb } from '../symbols/database.js';
import { DatabaseError } from '../symbols/errors.js';

/** `-j N`: a thread count, 1 to 64. */
export function parseJobs(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('--jobs must be a whole number from 1 to 64');
  return n;
}

/** A database file, read whole. */
export async function loadDb(path: string): Promise<SymbolDb> {
  return SymbolDb.load(await readInputFile(path, 'symbol database', 'build one with klp symbols build'), path);
}

/** The source options shared by `symbols build` and the commands that can build on the fly. */
// Explicit return type: declaration emit would otherwise spell out commander's whole generic type.
export function addSourceOptions<Args extends unknown[], Opts extends OptionValues>(cmd: Command<Args, Opts>): Command<Args, Opts & SourceOptionValues> {
  return cmd
    .option('--vmlinuz <file>', 'kernel image: its embedded kallsyms table is read (exact kallsyms order), and its exports')
    .option('--kallsyms <file>', 'a /proc/kallsyms dump (root, nokaslr for stable addresses); module lines are used too')
    .option('--system-map <file>', 'System.map (address order; Debian ships a placeholder)')
    .option('--vmlinux <file>', 'unstripped vmlinux ELF (address order, approximates kallsyms)')
    .option('--symbols-klp <file>', "upstream klp-convert's symbols.klp")
    .option('--symvers <file>', 'Module.symvers: exports, export types and namespaces')
    .option('--modules <dir>', 'a tree of modules (.ko, .ko.xz, .ko.zst, .ko.gz), e.g. /lib/modules/$(uname -r)/kernel')
    .option('--debug <dir|deb>', "unstripped copies of those modules: Debian's linux-image-<abi>-dbg .deb itself (read in one pass, not unpacked) or a directory holding them; their STT_FILE symbols give stripped modules' compilation units") as unknown as Command<Args, Opts & SourceOptionValues>;
}

export interface SourceOptionValues {
  vmlinuz?: string; kallsyms?: string; systemMap?: string; vmlinux?: string; symbolsKlp?: string; symvers?: string; modules?: string; debug?: string;
}

export interface DbSourceOpts {
  db?: string | undefined; vmlinuz?: string | undefined; kallsyms?: string | undefined; systemMap?: string | undefined;
  vmlinux?: string | undefined; symbolsKlp?: string | undefined; symvers?: string | undefined; modules?: string | undefined; debug?: string | undefined;
}

/** --db, or a database built on the fly from the same source options as `klp symbols build`. */
export async function dbFromOptions(opts: DbSourceOpts): Promise<SymbolDb> {
  const { db } = opts;
  const sources = {
    vmlinuz: opts.vmlinuz, kallsyms: opts.kallsyms, systemMap: opts.systemMap, vmlinux: opts.vmlinux,
    symbolsKlp: opts.symbolsKlp, symvers: opts.symvers, modules: opts.modules, debug: opts.debug,
  };
  const given = Object.values(sources).some(Boolean);
  if (db && given) throw new UsageError('give either --db or source options (--vmlinuz, --kallsyms, ...), not both');
  if (db) return loadDb(db);
  if (!given) throw new UsageError('no symbol data: give --db DB (klp symbols build) or source options such as --vmlinuz and --modules');
  // The builder (module scan workers, kernel image and .deb readers) is loaded only to build.
  const { buildDatabase } = await import('../symbols/build.js');
  const r = await buildDatabase(sources);
  if (r.failures.length > 0) throw new UsageError(`${r.failures.length} modules could not be read (first: ${r.failures[0]!.message}); build a database with klp symbols build --keep-going`);
  return r.db;
}

/** The whole database, read synchronously (a look-up past the rows read asks for it). */
export function wholeDb(path: string): SymbolDb {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DatabaseError('BAD_DATABASE', { file: path }, `cannot read symbol database (${(e as NodeJS.ErrnoException).code ?? 'EIO'})`, 'check the path');
  }
  return SymbolDb.load(bytes, path);
}
