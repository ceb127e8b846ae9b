/**
 * The designs the emulator runs: when the module loader and the livepatch core write livepatch
 * relocations, and how they treat page permissions. Sources: anchors.md sections 2 and 6,
 * kernel/livepatch/core.c and kernel/module/main.c of the versions named, and
 * shared/design/per-object-loader.md for the seed's proposal.
 */
import type { KernelVersion } from '../kernel-version.js';

export type Design = '4.x' | '6.1' | '6.3' | 'per-object' | 'per-object-ro';

export const DESIGNS: readonly Design[] = ['4.x', '6.1', '6.3', 'per-object', 'per-object-ro'];

export interface DesignTraits {
  /** Kernel version whose messages and name rules apply. */
  kernel: KernelVersion;
  /**
   * Who writes livepatch relocations:
   *  late-flip: all of them in klp_init_object_loaded(), between module_disable_ro() and
   *    module_enable_ro() of the patch module, with plain stores (before 5.8);
   *  early-vmlinux: vmlinux ones in apply_relocations() while UNFORMED, module ones in
   *    klp_init_object_loaded() through text_poke() (5.8 onwards);
   *  per-object: each object's at the loader stages of whichever of patch and object loads last.
   */
  relocs: 'late-flip' | 'early-vmlinux' | 'per-object';
  /** klp_clear_object_relocs() when a patched module goes (6.3, commit 0c05e7bd2d01). */
  clearOnGoing: boolean;
  /** per-object-ro: code of an absent object is read-only (flipped when the object arrives). */
  absentReadOnly: boolean;
  summary: string;
}

export const DESIGN_TRAITS: Readonly<Record<Design, DesignTraits>> = {
  '4.x': {
    kernel: { major: 5, minor: 4 }, relocs: 'late-flip', clearOnGoing: false, absentReadOnly: false,
    summary: 'before 5.8: the loader skips every livepatch relocation; klp_init_object_loaded() writes them all between module_disable_ro() and module_enable_ro() of the patch, and applies .klp.arch sections',
  },
  '6.1': {
    kernel: { major: 6, minor: 1 }, relocs: 'early-vmlinux', clearOnGoing: false, absentReadOnly: false,
    summary: "5.8 to 6.2 (Debian bookworm's 6.1): vmlinux relocations early in apply_relocations(), module ones late through text_poke(); nothing cleared when a patched module goes, so x86 refuses its reload",
  },
  '6.3': {
    kernel: { major: 6, minor: 3 }, relocs: 'early-vmlinux', clearOnGoing: true, absentReadOnly: false,
    summary: '6.3 onwards: as 6.1, and klp_module_going() clears the relocations of a departing module, so it can be reloaded',
  },
  'per-object': {
    kernel: { major: 6, minor: 3 }, relocs: 'per-object', clearOnGoing: true, absentReadOnly: false,
    summary: "the seed's proposal: .klp.text/.klp.rela/.klp.arch.<obj> handled at apply_relocate_add(), module_finalize() and module_enable_ro() of whichever loads last; absent code stays RW+NX",
  },
  'per-object-ro': {
    kernel: { major: 6, minor: 3 }, relocs: 'per-object', clearOnGoing: true, absentReadOnly: true,
    summary: 'per-object with absent code read-only (Petr Mladek\'s request): one permission flip when the object arrives and one when it goes',
  },
};

export function parseDesign(s: string): Design {
  if ((DESIGNS as readonly string[]).includes(s)) return s as Design;
  throw new Error(`unknown design '${s}': use one of ${DESIGNS.join(', ')}`);
}

