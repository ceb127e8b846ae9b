/**
 * The part of load_module() (kernel/module/main.c, 6.1) that places a module in memory and links
 * it: layout_sections, module_alloc + move_module (memcpy of every allocated section),
 * simplify_symbols, apply_relocations (with the early vmlinux livepatch relocations). Later stages
 * (module_finalize, complete_formation's RO/NX, the COMING notifiers, init) and the livepatch core
 * build on this.
 */
import { archForMachine } from '../arch/index.js';
import { SHF, SHN, STB } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol, Section } from '../elf/model.js';
import { moduleName } from '../elf/module.js';
import { parseKlpRelaObject, parseKlpSym } from '../convert/names.js';
import { moduleExports } from '../symbols/module-symbols.js';
import { layoutSections, loaderFlags, type ModuleLayout } from './layout.js';
import { Memory, type Region } from './memory.js';

export interface KernelEnv {
  kernel: { major: number; minor: number };
  memory: Memory;
  /** An export of vmlinux or of a loaded module (resolve_symbol). */
  resolveExport(name: string): bigint | undefined;
  /** klp_find_object_symbol() on vmlinux, for early livepatch relocations. */
  findVmlinuxSymbol?(name: string, sympos: number): { ok: true; address: bigint | null } | { ok: false; message: string };
  /** module_alloc(): the next free address in the modules area. */
  allocModule(size: number): bigint;
  /** __alloc_reserved_percpu(). */
  allocPercpu(size: number, align: number): bigint;
}

export interface LoadedModule {
  name: string;
  elf: ElfFile;
  layout: ModuleLayout;
  core: Region;
  init: Region;
  /** Final address of every allocated section. */
  sectionAddr: Map<Section, bigint>;
  /** st_value after simplify_symbols. */
  symbolValue: Map<ElfSymbol, bigint>;
  exports: Map<string, bigint>;
}

export type LoadResult =
  | { ok: true; module: LoadedModule; log: string[]; applied: number }
  | { ok: false; name: string; errno: string; log: string[]; stage: string; kind: string };

export function loadModuleImage(elf: ElfFile, env: KernelEnv): LoadResult {
  const name = moduleName(elf) ?? '?';
  const log: string[] = [];
  const fail = (stage: string, errno: string, kind: string, ...messages: string[]): LoadResult => {
    log.push(...messages);
    return { ok: false, name, errno, log, stage, kind };
  };
  const arch = archForMachine(elf.machine);
  if (!arch?.applyRela) return fail('apply_relocations', 'ENOEXEC', 'arch', `${name}: the emulator has no module loader for ${arch?.name ?? `machine ${elf.machine}`}`);

  // layout_sections + module_alloc + move_module.
  const layout = layoutSections(elf);
  const core = env.memory.map({ name: `${name}:core`, base: env.allocModule(layout.core.size), bytes: new Uint8Array(layout.core.size), perms: { r: true, w: true, x: false } });
  const init = env.memory.map({ name: `${name}:init`, base: env.allocModule(layout.init.size), bytes: new Uint8Array(layout.init.size), perms: { r: true, w: true, x: false } });
  const sectionAddr = new Map<Section, bigint>();
  for (const [s, p] of layout.placement) {
    const region = p.init ? init : core;
    sectionAddr.set(s, region.base + BigInt(p.offset));
    if (!s.isNobits) region.bytes.set(s.data, p.offset);
  }
  let percpuBase = 0n;
  if (layout.percpu && layout.percpu.size > 0) {
    percpuBase = env.allocPercpu(layout.percpu.size, Number(layout.percpu.addralign || 1n));
  }

  // simplify_symbols: every unknown symbol is reported before the load fails.
  const symbolValue = new Map<ElfSymbol, bigint>();
  const unknown: string[] = [];
  const syms = elf.allSymbols;
  for (let i = 1; i < syms.length; i++) {
    const y = syms[i]!;
    if (y.section) {
      const base = y.section === layout.percpu ? percpuBase : sectionAddr.get(y.section) ?? 0n;
      symbolValue.set(y, y.value + base);
      continue;
    }
    switch (y.shndx) {
      case SHN.COMMON:
        if (!y.name.startsWith('__gnu_lto')) return fail('simplify_symbols', 'ENOEXEC', 'common', `${name}: please compile with -fno-common`);
        break;
      case SHN.ABS:
        symbolValue.set(y, y.value);
        break;
      case SHN.LIVEPATCH:
        break; // "Livepatch symbols are resolved by livepatch"
      case SHN.UNDEF: {
        if (y.name === '') break;
        const addr = env.resolveExport(y.name);
        if (addr !== undefined) symbolValue.set(y, addr);
        else if (y.bind !== STB.WEAK) unknown.push(`${name}: Unknown symbol ${y.name} (err -2)`);
        else symbolValue.set(y, 0n);
        break;
      }
      default:
        symbolValue.set(y, y.value);
    }
  }

  if (unknown.length > 0) return fail('simplify_symbols', 'ENOENT', 'unknown-symbol', ...unknown);

  // apply_relocations: every REL/RELA section whose target is allocated; livepatch sections only
  // for vmlinux (klp_apply_section_relocs(..., NULL)), the rest waits for the livepatch core.
  let applied = 0;
  for (const rs of elf.sections) {
    if (!rs.isRelocation || !rs.infoSection || !(loaderFlags(rs.infoSection) & SHF.ALLOC)) continue;
    const target = rs.infoSection;
    const base = sectionAddr.get(target);
    if (base === undefined) continue;
    let klpValues: Map<ElfSymbol, bigint> | undefined;
    if (rs.isLivepatchRela) {
      if (parseKlpRelaObject(rs.name) !== 'vmlinux') continue;
      klpValues = new Map();
      for (const r of elf.relocations(rs)) {
        const p = parseKlpSym(r.symbol.name, env.kernel);
        if (!(r.symbol.section === null && r.symbol.shndx === SHN.LIVEPATCH)) return fail('apply_relocations', 'EINVAL', 'klp', `livepatch: symbol ${r.symbol.name} is not marked as a livepatch symbol`);
        if (!p) return fail('apply_relocations', 'EINVAL', 'klp', `livepatch: symbol ${r.symbol.name} has an incorrectly formatted name`);
        const found = env.findVmlinuxSymbol?.(p.name, p.pos) ?? { ok: false as const, message: `symbol '${p.name}' not found in symbol table` };
        if (!found.ok) return fail('apply_relocations', 'EINVAL', 'klp', `livepatch: ${found.message}`);
        klpValues.set(r.symbol, found.address ?? 0n);
      }
    }
    for (const r of elf.relocations(rs)) {
      const S = klpValues?.get(r.symbol) ?? symbolValue.get(r.symbol) ?? 0n;
      const loc = base + r.offset;
      const out = arch.applyRela({ type: r.type, val: S + r.addend, loc, module: name, read: (size) => env.memory.read(loc, size) }, env.kernel);
      if (!out.ok) return fail('apply_relocations', out.errno, out.kind, ...out.messages);
      if ('bytes' in out) {
        env.memory.write(loc, out.bytes, 'apply_relocations', 'memcpy');
        applied++;
      }
    }
  }

  // Exports (find_symbol looks them up in the module's __ksymtab once it is formed).
  const exports = new Map<string, bigint>();
  const globals = new Map<string, ElfSymbol>();
  for (const y of syms) if (y.section && y.bind !== STB.LOCAL) globals.set(y.name, y);
  for (const e of moduleExports(elf, name)) {
    const y = globals.get(e.name);
    if (y) exports.set(e.name, symbolValue.get(y) ?? 0n);
  }
  return { ok: true, module: { name, elf, layout, core, init, sectionAddr, symbolValue, exports }, log, applied };
}
