/**
 * 5.8 to 6.2 (Debian bookworm's 6.1): apply_relocations() writes a patch's vmlinux livepatch
 * relocations while the patch is UNFORMED (commit 7c8e2bdd5f0d, "livepatch: Apply vmlinux-specific
 * KLP relocations early"); klp_init_object_loaded() writes a module's through
 * apply_relocate_add(), which on x86 uses text_poke() once the patch is formed. Nothing is
 * cleared when a patched module goes, so x86 refuses its reload ("Invalid relocation target,
 * existing value is nonzero"). Source: 6.1 kernel/module/main.c, kernel/livepatch/core.c.
 */
import type { KlpObjectInfo } from '../../klp/objects.js';
import { parseKlpRelaObject } from '../../klp/names.js';
import type { EmulatedKernel } from '../kernel.js';
import { klpRelaSections, klp_apply_section_relocs, klp_write_object_relocs, type KlpPatch } from '../livepatch-core.js';
import type { LoadedModule } from '../module-loader.js';
import type { DesignHooks } from './hooks.js';

/** klp_apply_object_relocs(): a module object's sections, through text_poke(); vmlinux's were applied at load. */
function initObjectRelocs(k: EmulatedKernel, p: KlpPatch, obj: KlpObjectInfo, target: LoadedModule | undefined): number {
  return obj.name === null ? 0 : klp_write_object_relocs(k, p, klpRelaSections(p, obj.name), () => 'text_poke', target);
}

export const V6_1: DesignHooks = {
  name: '6.1',
  kernel: { major: 6, minor: 1 },
  summary: "5.8 to 6.2 (Debian bookworm's 6.1): vmlinux relocations early in apply_relocations(), module ones late through text_poke(); nothing cleared when a patched module goes, so x86 refuses its reload",
  perObject: false,
  // (6.1's apply_relocations() does not ask whether the module is a livepatch before it applies a
  // SHF_RELA_LIVEPATCH section for vmlinux, so neither does this.)
  applyKlpRela: (k, owner, rs, arch) => (parseKlpRelaObject(rs.name) === 'vmlinux' ? klp_apply_section_relocs(k, owner, rs, arch, 'memcpy') : 0),
  initObjectRelocs,
  appliedByLoader: (obj) => obj === 'vmlinux',
  objectGoing: () => undefined,
};
