/**
 * Build a symbol database from the sources a user has: a kernel image, a kallsyms dump, a
 * System.map, an unstripped vmlinux, Module.symvers, a module tree, or an upstream symbols.klp.
 */
import { stat } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { ElfError } from '../elf/errors.js';
import { maybeDecompress } from '../elf/compress.js';
import { loadElf, readInputFile } from '../elf/load.js';
import { readElf } from '../elf/reader.js';
import { BuildNames, SymbolDb, type BuildInput } from './database.js';
import { kallsymsExports, parseKallsyms, parseSystemMap } from './kallsyms-text.js';
import { listModuleFiles, MODULE_FILE, scanFailure, scanModules, type ScanFailure } from './scan.js';
import { parseSymbolsKlp } from './symbols-klp.js';
import { parseSymvers } from './symvers.js';
import type { ExportInfo, ModuleSymbols, RawSymbol } from './types.js';
import { vmlinuxElfSymbols, vmlinuxExports } from './vmlinux.js';
import { decompressBzImage } from './vmlinuz.js';
import { extractKallsyms } from './kallsyms-table.js';
import { unitsFromDebugCopy, vmlinuxUnitsFromDebug } from './debug-units.js';
import { readDebMembers } from './deb.js';
import { moduleSymbols } from './module-symbols.js';

export interface BuildOptions {
  systemMap?: string | undefined;
  kallsyms?: string | undefined;
  vmlinux?: string | undefined;
  vmlinuz?: string | undefined;
  symvers?: string | undefined;
  modules?: string | undefined;
  /** Unstripped copies of the modules (a debug package, unpacked or the .deb): their STT_FILE units. */
  debug?: string | undefined;
  symbolsKlp?: string | undefined;
  jobs?: number | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
}

export interface BuildResult {
  db: SymbolDb;
  failures: ScanFailure[];
  modulesScanned: number;
}

const readText = async (path: string): Promise<string> => (await readInputFile(path)).toString('latin1');

export async function buildDatabase(opts: BuildOptions): Promise<BuildResult> {
  const vmlinuxSources = (['vmlinuz', 'kallsyms', 'vmlinux', 'systemMap', 'symbolsKlp'] as const).filter((k) => opts[k]);
  if (vmlinuxSources.length > 1) {
    throw new UsageError(`conflicting inputs: ${vmlinuxSources.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(' and ')} both give vmlinux symbols; give one`);
  }
  // --debug: a .deb (a file) or a directory of unstripped copies.
  const debugIsDeb = opts.debug ? (await stat(opts.debug).catch((e: NodeJS.ErrnoException) => {
    throw new ElfError('READ', { file: opts.debug! }, `cannot read the debug copies (${e.code ?? 'EIO'})`);
  })).isFile() : false;
  if (opts.debug && !opts.modules && !(debugIsDeb && vmlinuxSources.length > 0)) {
    throw new UsageError('--debug gives units to the modules of --modules (and, from a .deb, to vmlinux\'s symbols): give --modules, or a vmlinux source with the .deb');
  }
  if (vmlinuxSources.length === 0 && !opts.modules) {
    throw new UsageError('nothing to build from: give --vmlinuz, --kallsyms, --vmlinux, --system-map or --symbols-klp, and/or --modules');
  }
  const input: BuildInput = { sources: [] };
  const exports: ExportInfo[] = [];
  let exportsFrom: string[] = [];
  const addExports = (found: ExportInfo[], from: string): void => {
    if (found.length === 0) return;
    exports.push(...found);
    exportsFrom.push(from);
  };

  // The modules are scanned by workers while this thread reads vmlinux's symbols and
  // Module.symvers, and interns the names of each module as it comes. Once this thread has
  // nothing else to do and most modules are in, it sorts the names so far: the build after the
  // scan then sorts only the last modules' new names, and merges (the database is the same
  // whenever that happens: it orders names, not the order they came in).
  let names = new BuildNames();
  let delivered = 0;
  let presortAt = Infinity;
  let scanning: Promise<Awaited<ReturnType<typeof scanModules>>> | undefined;
  let files: string[] = [];
  const stop = new AbortController();
  if (opts.modules) {
    files = await listModuleFiles(opts.modules).catch((e: NodeJS.ErrnoException) => {
      throw new ElfError('READ', { file: opts.modules! }, `cannot read module directory (${e.code ?? 'EIO'})`);
    });
    if (files.length === 0) throw new UsageError(`${opts.modules}: no .ko, .ko.xz, .ko.zst or .ko.gz files found`);
    names = new BuildNames(128 * files.length + 131072); // a module holds some 100 names of its own; vmlinux 100,000
    const onModule = (m: ModuleSymbols): void => {
      names.addModule(m);
      if (++delivered === presortAt) names.presort();
    };
    scanning = scanModules(files, { jobs: opts.jobs, onProgress: opts.onProgress, signal: stop.signal, onModule });
    scanning.catch(() => undefined); // awaited below; an abort's rejection is not news
  }
  let symvers: ExportInfo[] | undefined;
  try {
    if (opts.vmlinuz) {
      const k = await decompressBzImage(await readInputFile(opts.vmlinuz), opts.vmlinuz);
      const table = extractKallsyms(k.image, opts.vmlinuz);
      input.vmlinux = { symbols: table.symbols, source: opts.vmlinuz, order: 'kallsyms' };
      input.kernel = k.version?.split(' ')[0] ?? null;
      if (!opts.symvers) {
        exports.push(...vmlinuxExports(readElf(k.image, { path: `${opts.vmlinuz} (decompressed)` })));
        exportsFrom.push('vmlinuz __ksymtab');
      }
    } else if (opts.kallsyms) {
      const dump = parseKallsyms(await readText(opts.kallsyms), opts.kallsyms);
      input.vmlinux = { symbols: dump.vmlinux, source: opts.kallsyms, order: 'kallsyms' };
      if (dump.modules.size > 0) input.dumpModules = dump.modules;
      if (!opts.symvers) addExports(kallsymsExports(dump.vmlinux), 'kallsyms __ksymtab_ entries');
    } else if (opts.systemMap) {
      input.vmlinux = { symbols: parseSystemMap(await readText(opts.systemMap), opts.systemMap), source: opts.systemMap, order: 'address' };
      if (!opts.symvers) addExports(kallsymsExports(input.vmlinux.symbols), 'System.map __ksymtab_ entries');
    } else if (opts.vmlinux) {
      const elf = await loadElf(opts.vmlinux);
      input.vmlinux = { symbols: vmlinuxElfSymbols(elf), source: opts.vmlinux, order: 'address' };
      vmlinuxUnitsFromDebug(input.vmlinux.symbols, elf); // an unstripped vmlinux has its own STT_FILEs
      if (!opts.symvers) {
        exports.push(...vmlinuxExports(elf));
        exportsFrom.push('vmlinux __ksymtab');
      }
    } else if (opts.symbolsKlp) {
      const s = parseSymbolsKlp(await readText(opts.symbolsKlp), opts.symbolsKlp);
      const vm = s.objects.get('vmlinux');
      if (vm) input.vmlinux = { symbols: vm, source: opts.symbolsKlp, order: 'address' };
      s.objects.delete('vmlinux');
      input.dumpModules = s.objects;
      exports.push(...s.exports);
      exportsFrom.push('symbols.klp __ksymtab_ entries');
    }
    // Read before the scan is awaited, while the workers still have modules to read.
    if (opts.symvers) symvers = parseSymvers(await readText(opts.symvers), opts.symvers);
  } catch (e) {
    stop.abort(e);
    throw e;
  }
  for (const k of vmlinuxSources) input.sources!.push(`${k}: ${opts[k]}`);
  if (scanning) {
    if (input.vmlinux) names.addSymbols(input.vmlinux.symbols);
    presortAt = Math.max(delivered + 1, Math.ceil(0.8 * files.length));
  }

  let failures: ScanFailure[] = [];
  let modulesScanned = 0;
  if (opts.modules && scanning) {
    const scan = await scanning;
    failures = scan.failures;
    modulesScanned = files.length;
    input.modules = scan.modules;
    if (input.dumpModules) for (const m of scan.modules) input.dumpModules.delete(m.name); // ELF beats the dump: full view
    if (!opts.symvers) {
      for (const m of scan.modules) exports.push(...m.exports);
      exportsFrom.push('module __ksymtab');
    }
    input.sources!.push(`modules: ${opts.modules}`);
    input.kernel ??= /\/lib\/modules\/([^/]+)\//.exec(`${opts.modules}/`)?.[1] ?? null;
  }
  if (opts.debug) {
    failures.push(...await addDebugUnits(input.modules ?? [], input.vmlinux?.symbols, opts.debug, debugIsDeb, opts.jobs));
    input.sources!.push(`debug: ${opts.debug}`);
  }
  if (opts.symvers && symvers) {
    exports.push(...symvers);
    exportsFrom = [`Module.symvers: ${opts.symvers}`];
    input.sources!.push(`symvers: ${opts.symvers}`);
  }
  input.exports = exports;
  input.exportsFrom = exportsFrom.join(', ') || 'none';
  return { db: SymbolDb.build(input, names), failures, modulesScanned };
}

/** A module file's name as the kernel names the module: no directory, no suffix, `-` as `_`. */
const moduleNameOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1).replace(MODULE_FILE, '').replace(/-/g, '_');

/**
 * The units of the modules that have none (stripped of STT_FILE), from their unstripped copies,
 * found by module name (unitsFromDebugCopy): in a directory (a debug package unpacked), or in
 * the `.deb` itself, read in one pass and left packed (readDebMembers). A debug copy that cannot
 * be read is a failure like a module that cannot be.
 */
async function addDebugUnits(modules: ModuleSymbols[], vmlinux: RawSymbol[] | undefined, from: string, isDeb: boolean, jobs: number | undefined): Promise<ScanFailure[]> {
  const wanted = new Map(modules.filter((m) => m.files.length === 0).map((m) => [m.name, m]));
  // vmlinux's symbols need units unless their source had them (an unstripped vmlinux).
  const vmWanted = vmlinux && !vmlinux.some((s) => s.file) ? vmlinux : undefined;
  if (isDeb) return unitsFromDeb(wanted, vmWanted, from);
  const files = await listModuleFiles(from).catch((e: NodeJS.ErrnoException) => {
    throw new ElfError('READ', { file: from }, `cannot read debug directory (${e.code ?? 'EIO'})`);
  });
  const byName = new Map(files.map((f) => [moduleNameOf(f), f]));
  const present = [...wanted.values()].filter((m) => byName.has(m.name));
  const scan = await scanModules(present.map((m) => byName.get(m.name)!), { jobs });
  const debug = new Map(scan.modules.map((d) => [d.name, d]));
  const failures = [...scan.failures];
  for (const m of present) {
    const d = debug.get(m.name);
    const other = d && otherBuild(m, d);
    if (other) failures.push(other);
    else if (d) unitsFromDebugCopy(m, d);
  }
  return failures;
}

/**
 * A debug copy from another build than the module's (its build id differs: the -dbg package of
 * another kernel ABI or upload) would give units by position to the wrong symbols: refused.
 */
function otherBuild(m: ModuleSymbols, d: ModuleSymbols): ScanFailure | undefined {
  if (!m.buildId || !d.buildId || m.buildId === d.buildId) return undefined;
  return { path: d.path, message: `${d.path}: the debug copy of ${m.name} is from another build (build id ${d.buildId}; ${m.path} has ${m.buildId}): its units are not used (give the debug package of the same kernel build)` };
}

/**
 * unitsFromDebugCopy for every wanted module whose copy is in the `.deb` (below lib/modules/),
 * and vmlinuxUnitsFromDebug from its `boot/vmlinux-<abi>` when vmlinux's symbols want them.
 */
async function unitsFromDeb(wanted: Map<string, ModuleSymbols>, vmlinux: RawSymbol[] | undefined, deb: string): Promise<ScanFailure[]> {
  const failures: ScanFailure[] = [];
  const left = new Set(wanted.keys());
  let vmLeft = vmlinux !== undefined;
  if (left.size === 0 && !vmLeft) return failures;
  const isVmlinux = (path: string): boolean => /(^|\/)boot\/vmlinux-[^/]+$/.test(path);
  await readDebMembers(deb, (path) => (vmLeft && isVmlinux(path)) || (/\/lib\/modules\/[^/]+\//.test(path) && MODULE_FILE.test(path) && left.has(moduleNameOf(path))), async ({ name, bytes }) => {
    const path = `${deb}:${name}`;
    if (isVmlinux(name)) {
      vmLeft = false;
      try {
        vmlinuxUnitsFromDebug(vmlinux!, readElf(bytes, { path }));
      } catch (e) {
        failures.push(scanFailure(path, e));
      }
      return left.size === 0;
    }
    try {
      const elf = readElf((await maybeDecompress(bytes, { file: path })).bytes, { path });
      const d = moduleSymbols(elf, { unitsOnly: true });
      const m = wanted.get(d.name);
      if (m && left.delete(d.name)) {
        const other = otherBuild(m, d);
        if (other) failures.push(other);
        else unitsFromDebugCopy(m, d);
      }
    } catch (e) {
      failures.push(scanFailure(path, e));
      left.delete(moduleNameOf(name));
    }
    return left.size === 0 && !vmLeft;
  });
  return failures;
}
