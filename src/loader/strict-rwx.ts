/**
 * kernel/module/strict_rwx.c (6.1; kernel/module/main.c before 5.19): the permissions a formed
 * module's memory gets. complete_formation() calls module_enable_ro(mod, false),
 * module_enable_nx() and module_enable_x(); do_init_module() calls module_enable_ro(mod, true)
 * once init has run. A design's own parts (per-object's `.klp.*.<obj>`) are its hooks' business.
 */
import type { EmulatedKernel } from './kernel.js';
import { RO_NX, RO_X } from './memory.js';
import type { LoadedModule } from './module-loader.js';

/**
 * module_enable_ro(), with complete_formation()'s module_enable_nx()/module_enable_x() folded in
 * (every region starts RW+NX, so text ends RO+X and rodata RO+NX); `after_init` also seals the
 * core's ro_after_init.
 */
export function module_enable_ro(k: EmulatedKernel, mod: LoadedModule, after_init: boolean): void {
  for (const layout of ['core', 'init']) {
    k.protect(mod, `${layout}.text`, RO_X, 'protect');
    k.protect(mod, `${layout}.rodata`, RO_NX, 'protect');
  }
  if (after_init) k.protect(mod, 'core.ro_after_init', RO_NX, 'protect');
}
