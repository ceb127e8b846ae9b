/**
 * Before 5.8 (the 4.x and 5.4 kernels): the module loader skips every livepatch relocation
 * section ("Livepatch relocation sections are applied by livepatch", kernel/module.c
 * apply_relocations); klp_init_object_loaded() writes them all with plain stores between
 * module_disable_ro() and module_enable_ro() of the patch module, under text_mutex, and applies
 * the `.klp.arch` sections there (arch_klp_init_object_loaded: x86 alternatives and paravirt).
 * Nothing is cleared when a patched module goes. Source: 5.4 kernel/livepatch/core.c.
 */
import type { KlpObjectInfo } from '../../klp/objects.js';
import { applyAlternatives } from '../alternatives.js';
import type { EmulatedKernel } from '../kernel.js';
import { klpArchSections, klpRelaSections, klp_write_object_relocs, type KlpPatch } from '../livepatch-core.js';
import type { LoadedModule } from '../module-loader.js';
import { RO_NX, RO_X, RW_NX, RW_X } from '../memory.js';
import type { DesignHooks } from './hooks.js';

/**
 * 5.4's module_disable_ro() and module_enable_ro(mod, true) on the patch's core layout
 * (kernel/module.c): text stays executable while it is writable. (5.4 also flips the init
 * layout, which holds the code running klp_enable_patch(); the emulator leaves it RO+X, which
 * changes no write's verdict: nothing writes to init text.)
 */
function frobCore(k: EmulatedKernel, mod: LoadedModule, writable: boolean): void {
  k.protect(mod, 'core.text', writable ? RW_X : RO_X, 'flip');
  k.protect(mod, 'core.rodata', writable ? RW_NX : RO_NX, 'flip');
  k.protect(mod, 'core.ro_after_init', writable ? RW_NX : RO_NX, 'flip');
}

/** klp_write_object_relocations() and arch_klp_init_object_loaded() under module_disable_ro(). */
function initObjectRelocs(k: EmulatedKernel, p: KlpPatch, obj: KlpObjectInfo, target: LoadedModule | undefined): number {
  const objName = obj.name ?? 'vmlinux';
  const sections = klpRelaSections(p, objName);
  const archSections = klpArchSections(p, objName);
  if (sections.length === 0 && archSections.length === 0) return 0;
  frobCore(k, p.mod, true);
  const err = klp_write_object_relocs(k, p, sections, () => 'memcpy', target);
  if (err) {
    frobCore(k, p.mod, false);
    return err;
  }
  for (const s of archSections) {
    const what = s.name.slice(`.klp.arch.${objName}.`.length);
    if (what === '.altinstructions') applyAlternatives(k.memory, p.mod, s, k.stage, (m) => k.trace(`arch_klp_init_object_loaded: ${m}`));
    else k.trace(`arch_klp_init_object_loaded: ${p.name}: ${what === '.parainstructions' ? 'apply_paravirt (not modelled)' : 'ignored'} on ${s.name}`);
  }
  frobCore(k, p.mod, false);
  return 0;
}

export const V4: DesignHooks = {
  name: '4.x',
  kernel: { major: 5, minor: 4 },
  summary: 'before 5.8: the loader skips every livepatch relocation; klp_init_object_loaded() writes them all between module_disable_ro() and module_enable_ro() of the patch, and applies .klp.arch sections',
  perObject: false,
  applyKlpRela: () => 0,
  initObjectRelocs,
  appliedByLoader: () => false,
  objectGoing: () => undefined,
};
