/**
 * The seed's proposal (shared/design/per-object-loader.md): a livepatch module's per-object parts
 * (`.klp.text.<obj>` and its rodata/data, `.klp.rela.<obj>.*`, `.klp.arch.<obj>.*`) are handled by
 * the module loader at its own stages, on the patch's side for objects already present and on
 * the object's side when it arrives later: relocations at apply_relocations(), arch entries at
 * module_finalize(), permissions at module_enable_ro(). klp_module_coming() only enables. When
 * the object goes its parts are released, so a reload starts clean. A patch that is not split
 * keeps 6.3's path (text_poke on arrival, cleared on going).
 *
 * Two variants: `per-object` leaves an absent object's parts RW+NX (never executable, never
 * written while executable); `per-object-ro` keeps them RO+NX (Petr Mladek's request), at the cost
 * of one flip when the object arrives and one when it goes.
 *
 * The functions below carry the names of the kernel series in kernel/patches/ that implements
 * the design on 6.12 (kernel/module/livepatch.c, kernel/module/strict_rwx.c,
 * kernel/livepatch/core.c), and run at the same points: the patch's parts for present objects
 * at the end of its apply_relocations() (klp_apply_present_parts), protected by its
 * complete_formation(); an arriving module's parts right after its post_relocation()
 * (klp_module_apply_parts), written then protected; released by klp_clear_object_relocs() when
 * it goes. A part's jump table (`.klp.arch.<obj>.__jump_table`) is linked to the object's keys
 * once the object's own jump labels are (klp_module_notify() at its COMING, after jump_label's
 * notifier, or klp_init_object() when it is live) and unlinked, its sites put back as built,
 * when the object goes or the patch is freed (kernel/patches/0003, 0004). A part's alternatives
 * are applied once its relocations are written, before it is protected; its static call sites
 * keep calling the object's trampoline (0005). One thing here goes beyond the series, and the
 * kernel tests do not run it: the per-object-ro variant.
 */
import type { Arch } from '../../arch/types.js';
import type { Section } from '../../elf/model.js';
import { parseKlpRelaObject } from '../../klp/names.js';
import { applyAlternatives } from '../alternatives.js';
import type { EmulatedKernel } from '../kernel.js';
import { klpArchSections, klpRelaSections, klp_apply_section_relocs, klp_clear_object_relocs, klp_write_object_relocs, patchesFor, type KlpPatch } from '../livepatch-core.js';
import { RO_NX, RO_X, RW_NX, type Perms, type PermChange, type Writer } from '../memory.js';
import { freeModule, isStageError, type LoadedModule, type StageError } from '../module-loader.js';
import type { DesignHooks } from './hooks.js';

/** klp_section_part(): whether relocation section `rs` writes into the patch's part for `obj`. */
function klp_section_part(p: KlpPatch, rs: Section, obj: string): boolean {
  const addr = p.mod.sectionAddr.get(rs.infoSection!);
  return addr !== undefined && [...p.mod.regions.entries()].some(([key, r]) =>
    key.startsWith(`klp.${obj}.`) && addr >= r.base && addr < r.base + BigInt(r.bytes.length));
}

/**
 * How a patch's relocations for `obj` reach their target: a split patch's targets are its own
 * `.klp.*.<obj>` parts, writable while the object arrives (memcpy); a patch built without
 * -ffunction-sections keeps them in its core text, read-only since it was formed, so the design
 * takes 6.3's path for them (text_poke, and text_poke again to clear them when the object goes):
 * every existing livepatch keeps working, at the cost of late text pokes.
 */
function klp_object_writer(k: EmulatedKernel, p: KlpPatch, rs: Section, obj: string): Writer {
  if (klp_section_part(p, rs, obj)) return 'memcpy';
  const key = `${p.name}:${obj}`;
  if (!k.unsplit.has(key)) {
    k.unsplit.add(key);
    k.trace(`${p.name}: ${rs.name} targets ${rs.infoSection!.name}, not a .klp part of ${obj} (the patch is not split): written with text_poke, as 6.3 does`);
  }
  return 'text_poke';
}

/**
 * module_klp_protect_part() (`present`: text RO+X, the rest RO+NX) and module_klp_release_part()
 * (RW+NX) on every part a patch has for `obj`; per-object-ro's other states too.
 */
function klp_protect_parts(k: EmulatedKernel, mod: LoadedModule, obj: string, to: Perms | 'present', kind: PermChange['kind']): void {
  for (const part of ['text', 'rodata', 'ro_after_init']) {
    k.protect(mod, `klp.${obj}.${part}`, to !== 'present' ? to : part === 'text' ? RO_X : RO_NX, kind);
  }
}

/**
 * klp_apply_part_alternatives(): the `.klp.arch.<obj>..altinstructions` of a present object,
 * once every part for it is written and before any is protected (the end of the patch's
 * apply_relocations(), or klp_apply_parts() for an arriving object). A jump table is not written:
 * klp_link_parts() links it once the object's own jump labels are set up. Static call sites are
 * not registered: they keep calling the object's trampoline, which static_call_update()
 * retargets (kernel/patches/0005).
 */
function klp_apply_part_alternatives(k: EmulatedKernel, p: KlpPatch, obj: string): void {
  for (const s of klpArchSections(p, obj)) {
    const special = s.name.slice(`.klp.arch.${obj}.`.length);
    if (special === '.altinstructions') {
      applyAlternatives(k.memory, p.mod, s, k.stage, (m) => k.trace(m));
    } else if (special === '.static_call_sites') {
      k.trace(`${p.name}: ${s.name}: the sites keep calling ${obj}'s trampolines`);
    }
  }
}

/** A part's jump table, `.klp.arch.<obj>.__jump_table`, when it was allocated. */
function klp_part_jump_table(p: KlpPatch, obj: string): Section | undefined {
  return klpArchSections(p, obj).find((s) => s.name === `.klp.arch.${obj}.__jump_table`);
}

/**
 * klp_link_parts(): a present part's jump table linked to its object's keys
 * (jump_label_link_entries()), once the object's own jump labels are set up: from
 * klp_module_notify() at the object's COMING, or klp_init_object() when it is live.
 */
function klp_link_parts(k: EmulatedKernel, p: KlpPatch, obj: string): void {
  const table = klp_part_jump_table(p, obj);
  if (!table || k.jumpLabels.linked(p.name, table.name)) return;
  k.jumpLabels.addModule(p.mod, table, k.stage, (a) => k.within(p.mod, a));
}

/** klp_unlink_parts(): the sites put back as built and unlinked (jump_label_unlink_entries()). */
function klp_unlink_parts(k: EmulatedKernel, p: KlpPatch, obj: string): void {
  const table = klp_part_jump_table(p, obj);
  if (table && k.jumpLabels.linked(p.name, table.name)) k.jumpLabels.unlinkEntries(p.name, table.name, k.stage);
}

/**
 * klp_release_parts(): a patch's parts for an object that goes (or failed to arrive) become
 * RW+NX, then their relocations are cleared with plain stores, so the next arrival writes them
 * as the first did. An alternative's site keeps its replacement: the next arrival applies the
 * alternative again over the whole site. (Their jump tables were unlinked before, by
 * klp_module_notify() at GOING, or were never linked.)
 */
function klp_release_parts(k: EmulatedKernel, ro: boolean, q: KlpPatch, name: string): void {
  klp_protect_parts(k, q.mod, name, RW_NX, 'release');
  klp_clear_object_relocs(k, q, name, (rs) => klp_object_writer(k, q, rs, name), true);
  if (ro) klp_protect_parts(k, q.mod, name, RO_NX, 'protect');
}

/**
 * klp_module_apply_parts(), called by load_module() right after post_relocation() of every
 * module: each loaded patch's parts for it, written with plain stores (the parts are RW+NX) and
 * their arch entries applied, then protected, before the module goes COMING. A failure refuses
 * the module, and what was written for it is released (klp_module_release_parts()).
 */
function klp_module_apply_parts(k: EmulatedKernel, ro: boolean, mod: LoadedModule, arch: Arch): number | undefined {
  k.at('klp_module_apply_parts');
  const patches = patchesFor(k, mod.name);
  for (const p of patches) {
    if (ro) klp_protect_parts(k, p.mod, mod.name, RW_NX, 'flip');
    for (const rs of klpRelaSections(p, mod.name)) {
      if (!klp_section_part(p, rs, mod.name)) continue; // not split: klp_init_object_loaded() writes it
      const n = klp_apply_section_relocs(k, p, rs, arch, 'memcpy', mod);
      if (isStageError(n)) return klp_refuse_module(k, ro, mod, p, n);
    }
    klp_apply_part_alternatives(k, p, mod.name);
    klp_protect_parts(k, p.mod, mod.name, 'present', 'protect');
  }
  return undefined;
}

function klp_refuse_module(k: EmulatedKernel, ro: boolean, mod: LoadedModule, p: KlpPatch, e: StageError): number {
  k.printError(e);
  k.printk(`livepatch: patch '${p.name}' failed for module '${mod.name}', refusing to load module '${mod.name}'`);
  for (const q of patchesFor(k, mod.name)) klp_release_parts(k, ro, q, mod.name);
  freeModule(mod, k.memory);
  return k.errno(e.errno);
}

function perObject(ro: boolean): Omit<DesignHooks, 'name' | 'summary'> {
  return {
    kernel: { major: 6, minor: 3 },
    perObject: true,
    /**
     * Patch side, apply_relocations(): vmlinux's sections, and every present object's
     * (klp_apply_present_parts(), which the kernel runs at the end of the same stage).
     */
    applyKlpRela: (k, owner, rs, arch) => {
      const obj = parseKlpRelaObject(rs.name) ?? '';
      const now = obj === 'vmlinux' || (k.modules.has(obj) && klp_section_part(owner, rs, obj));
      return now ? klp_apply_section_relocs(k, owner, rs, arch, 'memcpy') : 0;
    },
    /**
     * The end of klp_apply_present_parts(): the alternatives of present objects' parts. The
     * kernel runs it at the end of apply_relocations(); the emulator's next hook is
     * module_finalize(), and nothing in between reads or writes the parts.
     */
    moduleFinalize: (k, mod, patch) => {
      if (patch) for (const o of patch.objects) if (o.name !== null && k.modules.has(o.name)) klp_apply_part_alternatives(k, patch, o.name);
    },
    afterPostRelocation: (k, mod, arch) => klp_module_apply_parts(k, ro, mod, arch),
    /**
     * complete_formation(): module_enable_text_rox() and module_enable_rodata_ro() protect the
     * parts of present objects with the rest of the patch and leave absent ones RW+NX (or, for
     * per-object-ro, make them RO+NX).
     */
    completeFormation: (k, mod, patch) => {
      if (!patch) return;
      for (const obj of mod.layout.klp.keys()) {
        if (k.modules.has(obj)) {
          k.protect(mod, `klp.${obj}.text`, RO_X, 'protect');
          k.protect(mod, `klp.${obj}.rodata`, RO_NX, 'protect');
        } else if (ro) {
          klp_protect_parts(k, mod, obj, RO_NX, 'protect');
        }
      }
    },
    enableRoAfterInit: (k, mod, patch) => {
      if (!patch) return;
      for (const obj of mod.layout.klp.keys()) if (k.modules.has(obj)) k.protect(mod, `klp.${obj}.ro_after_init`, RO_NX, 'protect');
    },
    /**
     * klp_init_object_loaded() writes only what is not in a part (a patch that was not split),
     * as 6.12 does: through text_poke(), into the patch's formed text.
     */
    initObjectRelocs: (k, p, obj, target) => {
      const name = obj.name;
      if (name === null) return 0;
      const unsplit = klpRelaSections(p, name).filter((rs) => !klp_section_part(p, rs, name));
      return klp_write_object_relocs(k, p, unsplit, (rs) => klp_object_writer(k, p, rs, name), target);
    },
    /** klp_init_object(): a live object's part linked now; a coming one's by klp_module_notify(). */
    initObject: (k, p, obj, target) => {
      if (obj.name !== null && target?.state === 'LIVE') klp_link_parts(k, p, obj.name);
      return 0;
    },
    /** klp_module_notify(): link at the object's COMING, unlink at its GOING (before the part is released). */
    moduleNotify: (k, mod, state) => {
      for (const p of patchesFor(k, mod.name)) {
        if (state === 'COMING') klp_link_parts(k, p, mod.name);
        else klp_unlink_parts(k, p, mod.name);
      }
    },
    /** klp_free_patch_start(): every linked part of the patch unlinked. */
    freePatch: (k, p) => {
      for (const o of p.objects) if (o.name !== null) klp_unlink_parts(k, p, o.name);
    },
    appliedByLoader: (obj) => obj === 'vmlinux',
    objectGoing: (k, q, name) => klp_release_parts(k, ro, q, name),
    comingFailed: (k, p, name) => klp_release_parts(k, ro, p, name),
  };
}

export const PER_OBJECT: DesignHooks = {
  ...perObject(false),
  name: 'per-object',
  summary: "the seed's proposal, as kernel/patches/ implements it on 6.12: each object's .klp parts written by the loader of whichever loads last (the patch's apply_relocations(), or right after the module's post_relocation()), then protected; absent parts stay RW+NX",
};

export const PER_OBJECT_RO: DesignHooks = {
  ...perObject(true),
  name: 'per-object-ro',
  summary: 'per-object with absent code read-only (Petr Mladek\'s request): one permission flip when the object arrives and one when it goes',
};
