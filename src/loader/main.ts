/**
 * The module loader, as kernel/module/main.c (6.1/6.12) splits it: load_module() runs
 * layout_and_allocate(), simplify_symbols(), apply_relocations(), post_relocation(),
 * complete_formation(), prepare_coming_module() and do_init_module() in order, and
 * delete_module() takes a module out. The design's hooks (designs/) say what each stage does to
 * livepatch parts; the livepatch core (livepatch-core.ts) is called where the kernel calls it.
 * The memory work of each stage (layout, move_module, symbol values, apply_relocate_add) is in
 * module-loader.ts.
 */
import type { Arch } from '../arch/types.js';
import { SHF } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol } from '../elf/model.js';
import { isLivepatchModule, modinfoValue, moduleName } from '../elf/module.js';
import { applyAlternatives } from './alternatives.js';
import type { EmulatedKernel } from './kernel.js';
import { loaderFlags } from './layout.js';
import { klpPatchOf, klp_enable_patch, klp_module_coming, klp_module_going, type KlpPatch } from './livepatch-core.js';
import {
  apply_relocate_add, archOf, collectExports, freeModule, isStageError, move_module, sharedValue, simplify_symbols,
  type LoadedModule, type StageError,
} from './module-loader.js';
import { module_enable_ro } from './strict-rwx.js';

/** A stage failed: the kernel's messages, the memory freed, the errno insmod reports. */
function fail(k: EmulatedKernel, mod: LoadedModule | undefined, e: StageError): number {
  k.printError(e);
  if (mod) freeModule(mod, k.memory);
  return k.errno(e.errno);
}

/** pr_*_once(): printed the first time this boot only. */
function printOnce(k: EmulatedKernel, key: string, line: string): void {
  if (k.once.has(key)) return;
  k.once.add(key);
  k.printk(line);
}

/**
 * check_modinfo(), from layout_and_allocate(): "loading out-of-tree module taints kernel." unless
 * already TAINT_OOT_MODULE, and check_modinfo_livepatch()'s TAINT_LIVEPATCH notice, each once.
 */
function check_modinfo(k: EmulatedKernel, elf: ElfFile, name: string): void {
  if (modinfoValue(elf, 'intree') === undefined) printOnce(k, 'oot', `${name}: loading out-of-tree module taints kernel.`);
  if (isLivepatchModule(elf)) printOnce(k, 'livepatch', `${name}: tainting kernel with TAINT_LIVEPATCH`);
}

/**
 * load_module()'s notice for a module without a valid signature (CONFIG_MODULE_SIG without
 * _FORCE, as Debian builds), once. A signature is taken as valid when one is appended (it is not
 * verified).
 */
function module_sig_notice(k: EmulatedKernel, elf: ElfFile, name: string): void {
  const tail = Buffer.from(elf.source.subarray(Math.max(0, elf.source.length - 28))).toString('latin1');
  if (tail !== '~Module signature appended~\n') printOnce(k, 'unsigned', `${name}: module verification failed: signature and/or required key missing - tainting kernel`);
}

/** layout_and_allocate(): check_modinfo, layout_sections, module_alloc and move_module. */
function layout_and_allocate(k: EmulatedKernel, elf: ElfFile, name: string): LoadedModule | StageError {
  k.at('layout_and_allocate');
  check_modinfo(k, elf, name);
  const mod = move_module(elf, k.env, k.hooks.perObject);
  if (isStageError(mod)) return mod;
  const core = mod.layout.core;
  k.trace(`${name}: ${mod.livepatch ? 'livepatch module, ' : ''}core at 0x${mod.regions.get('core.text')!.base.toString(16)} (text ${core.textSize}, rodata ${core.roSize - core.textSize}, ro_after_init ${core.roAfterInitSize - core.roSize}, data ${core.size - core.roAfterInitSize} bytes)`
    + [...mod.layout.klp.keys()].map((o) => `, .klp sections of ${o} at 0x${mod.regions.get(`klp.${o}.text`)!.base.toString(16)}`).join(''));
  return mod;
}

/**
 * apply_relocations(): every REL/RELA section whose target is allocated, through
 * apply_relocate_add(); SHF_RELA_LIVEPATCH sections as the design says. Returns 0 or the errno.
 */
function apply_relocations(k: EmulatedKernel, mod: LoadedModule, arch: Arch, owner: KlpPatch): number {
  k.at('apply_relocations');
  let applied = 0;
  // One function for every section: the bulk path keeps S by symbol a module, not a section.
  const value = sharedValue((y: ElfSymbol): bigint => mod.symbolValue.get(y) ?? 0n);
  for (const rs of mod.elf.sections) {
    if (!rs.isRelocation || !rs.infoSection || !(loaderFlags(rs.infoSection) & SHF.ALLOC)) continue;
    if (!mod.sectionAddr.has(rs.infoSection)) continue;
    const n = rs.isLivepatchRela
      ? k.hooks.applyKlpRela(k, owner, rs, arch)
      : apply_relocate_add(mod, rs, arch, k.env, k.stage, 'memcpy', value);
    if (isStageError(n)) return fail(k, mod, n);
    applied += n;
  }
  k.relocationsApplied += applied;
  return 0;
}

/**
 * post_relocation() -> module_finalize(): x86 applies the module's alternatives (ORC, retpoline
 * and return sites, paravirt and SMP locks are not modelled byte for byte), then the design's hook.
 */
function post_relocation(k: EmulatedKernel, mod: LoadedModule, patch: KlpPatch | undefined): void {
  k.at('module_finalize');
  const alt = mod.elf.findSectionByName('.altinstructions');
  if (alt && mod.sectionAddr.has(alt)) applyAlternatives(k.memory, mod, alt, k.stage, (m) => k.trace(m));
  k.hooks.moduleFinalize?.(k, mod, patch);
}

/** complete_formation(): module_enable_ro(mod, false), module_enable_nx(), module_enable_x(); state COMING. */
function complete_formation(k: EmulatedKernel, mod: LoadedModule, patch: KlpPatch | undefined): void {
  k.at('complete_formation');
  module_enable_ro(k, mod, false);
  k.hooks.completeFormation?.(k, mod, patch);
  k.setState(mod, 'COMING');
}

/** prepare_coming_module(): klp_module_coming(), then the COMING notifiers (jump labels, then the design's). */
function prepare_coming_module(k: EmulatedKernel, mod: LoadedModule): number {
  const err = klp_module_coming(k, mod);
  if (err) {
    k.setState(mod, 'GOING');
    freeModule(mod, k.memory);
    return err;
  }
  k.at('jump_label_module_notify');
  const table = mod.elf.findSectionByName('__jump_table');
  if (table) k.jumpLabels.addModule(mod, table, k.stage, (a) => k.within(mod, a));
  if (k.hooks.moduleNotify) {
    k.at('klp_module_notify');
    k.hooks.moduleNotify(k, mod, 'COMING');
  }
  return 0;
}

/**
 * The module joins the list that find_symbol() and the livepatch core search, with its exports,
 * and ref_module() ties it to every module whose export it resolved. (The kernel lists it UNFORMED
 * from add_unformed_module() and find_symbol() skips it until it is formed; the emulator lists it
 * once COMING has succeeded, which no lookup can tell apart.)
 */
function add_module(k: EmulatedKernel, mod: LoadedModule): void {
  k.modules.set(mod.name, mod);
  collectExports(mod);
  for (const [n, address] of mod.exports) k.moduleExports.set(n, { address, owner: mod.name });
  k.uses.set(mod.name, k.resolvedFrom);
  for (const u of k.resolvedFrom) {
    if (!k.holders.has(u)) k.holders.set(u, new Set());
    k.holders.get(u)!.add(mod.name);
  }
}

/** Drop a module that was listed: its exports, its entry, its memory (free_module). */
function free_module(k: EmulatedKernel, mod: LoadedModule): void {
  for (const n of mod.exports.keys()) k.moduleExports.delete(n);
  for (const u of k.uses.get(mod.name) ?? []) k.holders.get(u)?.delete(mod.name);
  k.uses.delete(mod.name);
  k.modules.delete(mod.name);
  freeModule(mod, k.memory);
}

/**
 * do_init_module(): a livepatch module's init calls klp_enable_patch(); then LIVE,
 * module_enable_ro(mod, true) and the init layout freed.
 */
function do_init_module(k: EmulatedKernel, mod: LoadedModule, patch: KlpPatch | undefined): number {
  if (patch) {
    const err = klp_enable_patch(k, patch);
    if (err) {
      free_module(k, mod);
      return err;
    }
  }
  k.at('do_init_module');
  k.setState(mod, 'LIVE');
  module_enable_ro(k, mod, true);
  k.hooks.enableRoAfterInit?.(k, mod, patch);
  for (const [key, r] of mod.regions) {
    if (key.startsWith('init.')) {
      k.memory.unmap(r);
      mod.regions.delete(key);
    }
  }
  return 0;
}

/** load_module(): finit_module(2) as busybox's insmod calls it; 0 or the errno. */
export function load_module(k: EmulatedKernel, elf: ElfFile): number {
  const name = moduleName(elf) ?? '?';
  k.at('load_module');
  k.resolvedFrom = new Set();
  if (k.modules.has(name)) return k.errno('EEXIST');
  const arch = archOf(elf);
  if (isStageError(arch)) return fail(k, undefined, arch);
  const mod = layout_and_allocate(k, elf, name);
  if (isStageError(mod)) return fail(k, undefined, mod);
  module_sig_notice(k, elf, name);
  k.setState(mod, 'UNFORMED');

  k.at('simplify_symbols');
  const unknown = simplify_symbols(mod, k.env);
  if (unknown) return fail(k, mod, unknown);

  // The patch this module registers from its init (or, for apply_relocations() of a module that
  // is no livepatch, an owner with no objects).
  const patch = mod.livepatch ? klpPatchOf(mod) : undefined;
  const err = apply_relocations(k, mod, arch, patch ?? klpPatchOf(mod));
  if (err) return err;
  post_relocation(k, mod, patch);
  const parts = k.hooks.afterPostRelocation?.(k, mod, arch);
  if (parts) return parts;
  complete_formation(k, mod, patch);
  const coming = prepare_coming_module(k, mod);
  if (coming) return coming;
  add_module(k, mod);
  return do_init_module(k, mod, patch);
}

/** delete_module(2) as busybox's rmmod calls it (O_NONBLOCK); 0 or the errno. */
export function delete_module(k: EmulatedKernel, name: string): number {
  const mod = k.modules.get(name);
  k.at('delete_module');
  if (!mod) return k.errno('ENOENT');
  // Modules that use this one must go first; an enabled patch holds a reference on its own
  // module (klp_init_patch's try_module_get), and with O_NONBLOCK try_stop_module() fails with
  // -EWOULDBLOCK (kernel/module/main.c).
  const usedBy = [...(k.holders.get(name) ?? [])];
  if (usedBy.length > 0) {
    k.trace(`${name}: in use by ${usedBy.join(', ')}`);
    return k.errno('EWOULDBLOCK');
  }
  if (k.patches.get(name)?.enabled) {
    k.trace(`${name}: the enabled patch holds a reference on its module`);
    return k.errno('EWOULDBLOCK');
  }
  // The GOING notifiers (jump labels, then the per-object design's), then klp_module_going().
  k.setState(mod, 'GOING');
  k.at('jump_label_module_notify');
  k.jumpLabels.delModule(name);
  if (k.hooks.moduleNotify) {
    k.at('klp_module_notify');
    k.hooks.moduleNotify(k, mod, 'GOING');
  }
  klp_module_going(k, mod);
  k.patches.delete(name);
  free_module(k, mod);
  return 0;
}
