/**
 * The designs the emulator runs: when the module loader and the livepatch core write livepatch
 * relocations, and how they treat page permissions. One file per design (hooks.ts is their
 * interface). Sources: anchors.md sections 2 and 6, kernel/livepatch/core.c and
 * kernel/module/main.c of the versions named, and shared/design/per-object-loader.md for the
 * seed's proposal.
 */
import type { Design, DesignHooks } from './hooks.js';
import { V4 } from './v4.js';
import { V6_1 } from './v6-1.js';
import { V6_3 } from './v6-3.js';
import { PER_OBJECT, PER_OBJECT_RO } from './per-object.js';

export type { Design, DesignHooks } from './hooks.js';

export const DESIGN_HOOKS: Readonly<Record<Design, DesignHooks>> = {
  '4.x': V4, '6.1': V6_1, '6.3': V6_3, 'per-object': PER_OBJECT, 'per-object-ro': PER_OBJECT_RO,
};

export const DESIGNS: readonly Design[] = Object.keys(DESIGN_HOOKS) as Design[];

export function parseDesign(s: string): Design {
  if ((DESIGNS as readonly string[]).includes(s)) return s as Design;
  throw new Error(`unknown design '${s}': use one of ${DESIGNS.join(', ')}`);
}
