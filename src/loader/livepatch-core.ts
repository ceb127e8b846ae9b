/**
 * The livepatch core, as kernel/livepatch/core.c (6.1/6.3) splits it: klp_enable_patch() from a
 * patch module's init, klp_init_object_loaded() for each present object, klp_module_coming() and
 * klp_module_going() from the module loader, klp_cleanup_module_patches_limited() between them,
 * klp_apply_section_relocs() with klp_resolve_symbols(), klp_clear_object_relocs() (6.3) and
 * klp_find_object_symbol(). What differs between designs (who writes which relocations, what
 * happens to an object's part when it goes) is asked of the design's hooks (designs/).
 */
import { hashedPointer } from '../arch/printk.js';
import type { Arch } from '../arch/types.js';
import { SHN } from '../elf/constants.js';
import type { ElfSymbol, Section } from '../elf/model.js';
import { parseKlpRelaObject, parseKlpSym } from '../klp/names.js';
import { readKlpPatches, type KlpObjectInfo } from '../klp/objects.js';
import { findObjectSymbol, klpFindAmong } from '../symbols/sympos.js';
import type { EmulatedKernel } from './kernel.js';
import type { Writer } from './memory.js';
import { archOf, isStageError, relocatedBytes, apply_relocate_add, type LoadedModule, type StageError } from './module-loader.js';

/** struct klp_patch, with the objects read from the module's klp_patch data. */
export interface KlpPatch {
  name: string;
  mod: LoadedModule;
  objects: KlpObjectInfo[];
  enabled: boolean;
  /** st_value the livepatch core stored for each .klp.sym symbol (6.3 clearing recomputes from it). */
  klpValues: Map<ElfSymbol, bigint>;
}

/** The patch a livepatch module will register (or a stand-in owner for a module that is none). */
export function klpPatchOf(mod: LoadedModule): KlpPatch {
  return { name: mod.name, mod, objects: mod.livepatch ? readKlpPatches(mod.elf)[0]?.objects ?? [] : [], enabled: false, klpValues: new Map() };
}

/** Enabled patches that have an object named `name` (klp_patches walked for an object). */
export function patchesFor(k: EmulatedKernel, name: string): KlpPatch[] {
  return [...k.patches.values()].filter((p) => p.enabled && p.objects.some((o) => o.name === name));
}

/** The `.klp.rela.<obj>.*` sections of a patch whose targets were allocated. */
export function klpRelaSections(p: KlpPatch, obj: string): Section[] {
  return p.mod.elf.sections.filter((rs) => rs.isLivepatchRela && parseKlpRelaObject(rs.name) === obj && rs.infoSection && p.mod.sectionAddr.has(rs.infoSection));
}

/** The `.klp.arch.<obj>.*` sections of a patch that were allocated. */
export function klpArchSections(p: KlpPatch, obj: string): Section[] {
  return p.mod.elf.sections.filter((s) => s.name.startsWith(`.klp.arch.${obj}.`) && !s.isRelocation && p.mod.sectionAddr.has(s));
}

/** klp_find_object_symbol() on vmlinux (database) or on a module's full (COMING) symbol table. */
export function klp_find_object_symbol(k: EmulatedKernel, obj: string, mod: LoadedModule | undefined, name: string, pos: number): { ok: true; address: bigint } | { ok: false; message: string } {
  if (obj === 'vmlinux') {
    const r = findObjectSymbol(k.db, 'vmlinux', name, pos);
    return r.ok ? { ok: true, address: r.address ?? 0n } : r;
  }
  const matches: bigint[] = [];
  for (const [y, v] of mod?.symbolValue ?? []) if (y.section && y.name === name) matches.push(v);
  const r = klpFindAmong(matches, obj, name, pos);
  return r.ok ? { ok: true, address: r.match } : r;
}

/**
 * klp_apply_section_relocs(): klp_resolve_symbols() then apply_relocate_add() for one
 * `.klp.rela.<obj>.<sec>` section of a patch, with the kernel's messages; records each symbol's
 * value for 6.3's clearing.
 */
export function klp_apply_section_relocs(k: EmulatedKernel, p: KlpPatch, rs: Section, arch: Arch, by: Writer, target?: LoadedModule): number | StageError {
  const objName = parseKlpRelaObject(rs.name) ?? '';
  const values = new Map<ElfSymbol, bigint>();
  for (const [index, r] of p.mod.elf.relocations(rs).entries()) {
    const einval = (m: string): StageError => ({ errno: 'EINVAL', kind: 'klp', messages: [`livepatch: ${m}`], at: { module: p.name, section: rs.name, index } });
    const y = r.symbol;
    if (values.has(y)) continue;
    if (!(y.section === null && y.shndx === SHN.LIVEPATCH)) return einval(`symbol ${y.name} is not marked as a livepatch symbol`);
    const s = parseKlpSym(y.name, k.version);
    if (!s) return einval(`symbol ${y.name} has an incorrectly formatted name`);
    if (objName !== 'vmlinux' && s.obj === 'vmlinux') return einval(`invalid access to vmlinux symbol '${s.name}' from module-specific livepatch relocation section`);
    const mod = s.obj === 'vmlinux' ? undefined : s.obj === target?.name ? target : k.modules.get(s.obj);
    const found = klp_find_object_symbol(k, s.obj, mod, s.name, s.pos);
    if (!found.ok) return einval(found.message);
    values.set(y, found.address);
    p.klpValues.set(y, found.address);
  }
  // klp_resolve_symbols() has resolved every symbol of the section; now each relocation.
  if (k.memory.record) {
    for (const r of p.mod.elf.relocations(rs)) {
      const s = parseKlpSym(r.symbol.name, k.version)!;
      k.trace(`${p.name}:${rs.infoSection!.name}+0x${r.offset.toString(16)} ${arch.relocs.get(r.type)?.name ?? r.type} -> ${s.name} in ${s.obj} sympos ${s.pos} = 0x${values.get(r.symbol)!.toString(16)} (${rs.name})`);
    }
  }
  return apply_relocate_add(p.mod, rs, arch, k.env, k.stage, by, (y) => values.get(y)!);
}

/**
 * klp_write_object_relocs(), as klp_init_object_loaded() runs it: each section through
 * klp_apply_section_relocs(), written as `by` says (memcpy or text_poke); the first failure is
 * printed and returned as an errno, else 0.
 */
export function klp_write_object_relocs(k: EmulatedKernel, p: KlpPatch, sections: readonly Section[], by: (rs: Section) => Writer, target: LoadedModule | undefined): number {
  const arch = archOf(p.mod.elf);
  if (isStageError(arch)) return 0; // the patch itself loaded, so its arch is known
  for (const rs of sections) {
    const n = klp_apply_section_relocs(k, p, rs, arch, by(rs), target);
    if (isStageError(n)) {
      k.printError(n);
      return k.errno(n.errno);
    }
  }
  return 0;
}

/**
 * klp_clear_object_relocs() (6.3): for each relocation, the target must still hold the value
 * computed from the stored st_value, then it is zeroed (arch/x86/kernel/module.c
 * __write_relocate_add with apply=false). Per-object clears the same way, with plain stores
 * into memory it has just made writable again (`writer` says how each section is written), and
 * passes over places still zero (`unwrittenOk`: an arrival that failed stopped before them).
 */
export function klp_clear_object_relocs(k: EmulatedKernel, p: KlpPatch, objName: string, writer: (rs: Section) => Writer, unwrittenOk = false): void {
  const arch = archOf(p.mod.elf);
  if (isStageError(arch)) return;
  for (const rs of klpRelaSections(p, objName)) {
    const by = writer(rs);
    const base = p.mod.sectionAddr.get(rs.infoSection!)!;
    for (const r of p.mod.elf.relocations(rs)) {
      const loc = base + r.offset;
      const size = arch.relocs.get(r.type)?.size ?? 0;
      if (size === 0) continue;
      const value = p.klpValues.get(r.symbol);
      const expected = value === undefined ? undefined : relocatedBytes(arch, r.type, value + r.addend, loc, k.version);
      const cur = k.memory.read(loc, size);
      if (!cur) continue;
      if (unwrittenOk && cur.every((b) => b === 0)) continue;
      if (expected && !expected.every((b, i) => b === cur[i])) {
        // 6.3's __write_relocate_add(apply=false) prints val as computed: S+A-P for PC relocations.
        const sa = BigInt.asUintN(64, value! + r.addend);
        const val = arch.relocs.get(r.type)?.kind === 'pcrel' ? BigInt.asUintN(64, sa - loc) : sa;
        k.printk(`module: x86/modules: Invalid relocation target, existing value does not match expected value for type ${r.type}, loc ${hashedPointer(loc)}, val ${val.toString(16)}`);
        return;
      }
      k.memory.write(loc, new Uint8Array(size), k.stage, by, `${p.name}:${rs.infoSection!.name}+0x${r.offset.toString(16)} cleared`);
    }
  }
}

/**
 * klp_init_object_loaded(): the relocations the design has the livepatch core write, then every
 * function looked up (klp_init_object_loaded's klp_find_object_symbol loop). Returns 0 or an
 * errno, with the kernel's message printed.
 */
export function klp_init_object_loaded(k: EmulatedKernel, p: KlpPatch, obj: KlpObjectInfo, target: LoadedModule | undefined): number {
  const err = k.hooks.initObjectRelocs(k, p, obj, target);
  if (err) return err;
  const objName = obj.name ?? 'vmlinux';
  for (const f of obj.funcs) {
    const r = klp_find_object_symbol(k, objName, target, f.oldName, f.oldSympos);
    if (!r.ok) {
      k.printk(`livepatch: ${r.message}`);
      return k.errno('EINVAL');
    }
    k.trace(`${p.name}: ${objName}:${f.oldName},${f.oldSympos} (old_func) at 0x${r.address.toString(16)} -> ${f.newFunc?.name ?? '?'}`);
  }
  return 0;
}

/**
 * klp_enable_patch(), called from the patch module's init: each present object initialised,
 * the patch registered and enabled. Returns 0 or an errno (the module is then dropped by the
 * caller, as do_init_module does when init fails).
 */
export function klp_enable_patch(k: EmulatedKernel, patch: KlpPatch): number {
  k.at('klp_enable_patch');
  for (const o of patch.objects) {
    const target = o.name === null ? undefined : k.modules.get(o.name);
    if (o.name !== null && !target) {
      k.trace(`${patch.name}: object '${o.name}' is not loaded: its livepatch relocations wait for it`);
      continue;
    }
    const err = klp_init_object_loaded(k, patch, o, target) || (k.hooks.initObject?.(k, patch, o, target) ?? 0);
    if (err) return err;
  }
  // What the kernel never looks at (klp check flags it): sections for undeclared objects.
  const declared = new Set(patch.objects.map((o) => o.name ?? 'vmlinux'));
  for (const rs of patch.mod.elf.sections) {
    const obj = rs.isLivepatchRela ? parseKlpRelaObject(rs.name) : undefined;
    if (obj && !declared.has(obj) && !k.hooks.appliedByLoader(obj)) k.trace(`${patch.name}: ${rs.name} is never applied: the patch has no klp_object '${obj}' (its targets stay zero)`);
  }
  patch.enabled = true;
  k.patches.set(patch.name, patch);
  k.printk(`livepatch: enabling patch '${patch.name}'`, `livepatch: '${patch.name}': starting patching transition`, `livepatch: '${patch.name}': patching complete`);
  return 0;
}

/** echo 0 > /sys/kernel/livepatch/<patch>/enabled: enabled_store() -> klp_disable_patch(). */
export function klp_disable_patch(k: EmulatedKernel, name: string): number {
  const p = k.patches.get(name);
  k.at('klp_disable_patch');
  if (!p || !p.enabled) return k.errno('EINVAL');
  p.enabled = false;
  k.printk(`livepatch: '${name}': starting unpatching transition`, `livepatch: '${name}': unpatching complete`);
  k.hooks.freePatch?.(k, p);
  return 0;
}

/**
 * klp_cleanup_module_patches_limited(): every patch before `limit` (all when none) that patches
 * the departing module is reverted on it, with the kernel's notice, and its part handled as the
 * design says (6.3 clears its relocations).
 */
export function klp_cleanup_module_patches_limited(k: EmulatedKernel, patches: readonly KlpPatch[], name: string, limit?: KlpPatch): void {
  for (const q of patches) {
    if (q === limit) break;
    k.printk(`livepatch: reverting patch '${q.name}' on unloading module '${name}'`);
    k.hooks.objectGoing(k, q, name);
  }
}

/**
 * klp_module_coming(), from prepare_coming_module(): every enabled patch with an object for the
 * arriving module initialises it. On failure the module is refused: the patches before the
 * failing one are reverted (klp_cleanup_module_patches_limited) and the module goes.
 */
export function klp_module_coming(k: EmulatedKernel, mod: LoadedModule): number {
  k.at('klp_module_coming');
  const coming = patchesFor(k, mod.name);
  for (const [i, p] of coming.entries()) {
    const obj = p.objects.find((o) => o.name === mod.name)!;
    const err = klp_init_object_loaded(k, p, obj, mod);
    if (err) {
      k.printk(`livepatch: failed to initialize patch '${p.name}' for module '${mod.name}' (-${err})`);
      k.printk(`livepatch: patch '${p.name}' failed for module '${mod.name}', refusing to load module '${mod.name}'`);
      klp_cleanup_module_patches_limited(k, coming, mod.name, p);
      for (const q of coming.slice(i)) k.hooks.comingFailed?.(k, q, mod.name);
      return err;
    }
    // Printed only once the object is initialised (kernel/livepatch/core.c klp_module_coming).
    k.printk(`livepatch: applying patch '${p.name}' to loading module '${mod.name}'`);
  }
  return 0;
}

/** klp_module_going(): every patch on the departing module reverted (and, 6.3, cleared). */
export function klp_module_going(k: EmulatedKernel, mod: LoadedModule): void {
  k.at('klp_module_going');
  klp_cleanup_module_patches_limited(k, patchesFor(k, mod.name), mod.name);
}
