/**
 * The one interface every design implements: what it does at each point where the module loader
 * (kernel/module/main.c) or the livepatch core (kernel/livepatch/core.c) meets a livepatch part.
 * main.ts and livepatch-core.ts run the stages the kernels share and call these hooks; one design
 * is one file of this folder, so reading a design means reading one file.
 */
import type { KernelVersion } from '../../kernel-version.js';
import type { Arch } from '../../arch/types.js';
import type { Section } from '../../elf/model.js';
import type { KlpObjectInfo } from '../../klp/objects.js';
import type { EmulatedKernel } from '../kernel.js';
import type { KlpPatch } from '../livepatch-core.js';
import type { LoadedModule, StageError } from '../module-loader.js';

export type Design = '4.x' | '6.1' | '6.3' | 'per-object' | 'per-object-ro';

export interface DesignHooks {
  readonly name: Design;
  /** Kernel version whose messages and name rules apply. */
  readonly kernel: KernelVersion;
  readonly summary: string;
  /** layout_sections(): each object's `.klp.*.<obj>` sections laid out in page-aligned parts of their own. */
  readonly perObject: boolean;
  /**
   * apply_relocations(), for a SHF_RELA_LIVEPATCH section of the module being loaded: write it
   * now (the count) or leave it to the livepatch core or to the object's arrival (0).
   */
  applyKlpRela(k: EmulatedKernel, owner: KlpPatch, rs: Section, arch: Arch): number | StageError;
  /**
   * load_module(), right after post_relocation() of any module: the loaded patches' parts for
   * it (per-object: klp_module_apply_parts()). Returns an errno when the module is refused (its
   * memory is freed by the hook).
   */
  afterPostRelocation?(k: EmulatedKernel, mod: LoadedModule, arch: Arch): number | undefined;
  /** post_relocation() -> module_finalize(), after the module's own alternatives. */
  moduleFinalize?(k: EmulatedKernel, mod: LoadedModule, patch: KlpPatch | undefined): void;
  /** complete_formation(), after module_enable_ro(mod, false) of the module's own text and rodata. */
  completeFormation?(k: EmulatedKernel, mod: LoadedModule, patch: KlpPatch | undefined): void;
  /** do_init_module(), after module_enable_ro(mod, true) of the module's own ro_after_init. */
  enableRoAfterInit?(k: EmulatedKernel, mod: LoadedModule, patch: KlpPatch | undefined): void;
  /**
   * klp_init_object_loaded(): the livepatch relocations (and, before 5.8, arch fix-ups) the
   * livepatch core writes for `obj`. Returns 0 or an errno, with the kernel's message printed.
   */
  initObjectRelocs(k: EmulatedKernel, p: KlpPatch, obj: KlpObjectInfo, target: LoadedModule | undefined): number;
  /**
   * klp_init_object(), in klp_enable_patch(), after klp_init_object_loaded() succeeded for a
   * present object. Returns 0 or an errno.
   */
  initObject?(k: EmulatedKernel, p: KlpPatch, obj: KlpObjectInfo, target: LoadedModule | undefined): number;
  /** klp_free_patch_start(): the patch leaves the list of patches when it is disabled. */
  freePatch?(k: EmulatedKernel, p: KlpPatch): void;
  /**
   * A module notifier after jump_label's (kernel/patches/0004's klp_module_notify()): at COMING,
   * once the module's own jump labels are set up; at GOING, before klp_module_going().
   */
  moduleNotify?(k: EmulatedKernel, mod: LoadedModule, state: 'COMING' | 'GOING'): void;
  /** klp_enable_patch() never reaches a section of an undeclared object, unless this says the loader applied it. */
  appliedByLoader(obj: string): boolean;
  /** klp_cleanup_module_patches_limited(), for each patch reverted on the departing object `name`. */
  objectGoing(k: EmulatedKernel, q: KlpPatch, name: string): void;
  /**
   * klp_module_coming() failed on `name`: called for the failing patch and every one after it,
   * once the patches before it were reverted (the module is refused).
   */
  comingFailed?(k: EmulatedKernel, p: KlpPatch, name: string): void;
}
