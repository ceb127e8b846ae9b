/**
 * 6.3 onwards (6.12 included): as 6.1, and when a patched module goes, klp_module_going() ->
 * klp_cleanup_module_patches_limited() clears the relocations written into the patch for it
 * (klp_clear_object_relocs, commit 0c05e7bd2d01), through text_poke(), so the module can be
 * loaded again.
 */
import { klp_clear_object_relocs } from '../livepatch-core.js';
import type { DesignHooks } from './hooks.js';
import { V6_1 } from './v6-1.js';

export const V6_3: DesignHooks = {
  ...V6_1,
  name: '6.3',
  kernel: { major: 6, minor: 3 },
  summary: '6.3 onwards: as 6.1, and klp_module_going() clears the relocations of a departing module, so it can be reloaded',
  objectGoing: (k, q, name) => klp_clear_object_relocs(k, q, name, () => 'text_poke'),
};
