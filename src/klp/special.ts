/**
 * Special sections: sections that the module loader (or a notifier) reads and acts on at load
 * time, before livepatch writes any module-specific livepatch relocation
 * (klp_init_object_loaded / klp_module_coming). An entry that needs such a relocation would be
 * processed with the target still zero. vmlinux relocations are applied early, inside
 * apply_relocations (kernel/module/main.c, since 5.8: "livepatch: Apply vmlinux-specific KLP
 * relocations early"), so entries that need only vmlinux symbols are fine from 5.8 on.
 */
import { x86_64 } from '../arch/x86_64.js';
import { isInitSection } from '../elf/module.js';
import { atLeast, type KernelVersion } from './names.js';

export interface SpecialSection {
  why: string;
  wayOut: string;
}

export const SPECIAL_SECTIONS: Readonly<Record<string, SpecialSection>> = {
  __jump_table: {
    why: 'jump labels are set up when the patch module is COMING (jump_label_module_notify), before module-specific livepatch relocations are written, so the key would be read as NULL',
    wayOut: 'test the key with static_key_enabled() (a plain reference, which klp convert converts) instead of static_branch_likely()/unlikely()',
  },
  '.static_call_sites': {
    why: 'static call sites are registered when the patch module is COMING (static_call_module_notify), before module-specific livepatch relocations are written',
    wayOut: 'call through the function pointer of the static call key instead of static_call() (kpatch calls this KPATCH_STATIC_CALL())',
  },
  '.altinstructions': {
    why: 'alternatives are applied in module_finalize(), before module-specific livepatch relocations are written (.klp.arch sections are gone since 5.8)',
    wayOut: 'keep alternative()/ALTERNATIVE users out of the patched code, or reference only vmlinux symbols there',
  },
  '.altinstr_replacement': {
    why: 'replacement instructions are copied in module_finalize() (apply_alternatives), before module-specific livepatch relocations are written',
    wayOut: 'keep alternative()/ALTERNATIVE users out of the patched code, or reference only vmlinux symbols there',
  },
  '.parainstructions': {
    why: 'paravirt patch sites are applied in module_finalize(), before module-specific livepatch relocations are written',
    wayOut: 'avoid paravirt call sites that reference module symbols in the patched code',
  },
  __ex_table: {
    why: 'exception table entries are sorted and used as soon as the module is formed, before module-specific livepatch relocations are written',
    wayOut: 'keep uaccess/fixup sites that need a module symbol out of the patched code',
  },
  '.smp_locks': {
    why: 'lock prefixes are patched in module_finalize() (alternatives_smp_module_add)',
    wayOut: 'avoid the reference from a LOCK_PREFIX site in the patched code',
  },
  __bug_table: {
    why: 'the bug table is registered in module_finalize() (module_bug_finalize)',
    wayOut: 'avoid BUG()/WARN() sites that need a module symbol in the patched code',
  },
  '.retpoline_sites': { why: 'retpoline sites are patched in module_finalize()', wayOut: 'avoid the reference from an indirect-call site' },
  '.return_sites': { why: 'return thunk sites are patched in module_finalize()', wayOut: 'avoid the reference from a return site' },
  '.ibt_endbr_seal': { why: 'ENDBR sealing happens in module_finalize()', wayOut: 'avoid the reference' },
  '.orc_unwind_ip': { why: 'the ORC table is registered in module_finalize() (unwind_module_init)', wayOut: 'avoid the reference' },
  __mcount_loc: { why: 'ftrace call sites are recorded while the module is COMING (ftrace_module_init)', wayOut: 'avoid the reference' },
};

const SPECIAL = new Map(Object.entries(SPECIAL_SECTIONS));
/**
 * The second characters of the special sections' names. klp convert asks about the target of each
 * relocation section, 20,000 of them for a patch of 20,000 functions, all but a few `.text.NAME`:
 * a look-up of each name hashes a string made for it (8 ms, cold), where this test of one
 * character answers for most.
 */
const SECOND = new Set([...SPECIAL.keys()].map((k) => k.charCodeAt(1)));

/** The special section named `section`, if it is one (its own entries only: a section may be named `constructor`). */
export function specialSection(section: string): SpecialSection | undefined {
  return SECOND.has(section.charCodeAt(1)) ? SPECIAL.get(section) : undefined;
}

/** Why a livepatch relocation for `object` in special section `section` cannot work, if it cannot. */
export function specialSectionProblem(section: string, object: string, k: KernelVersion): SpecialSection | undefined {
  const s = specialSection(section);
  if (!s) return undefined;
  if (object === 'vmlinux' && atLeast(k, 5, 8)) return undefined;
  if (object === 'vmlinux') {
    return { why: `before 5.8 vmlinux livepatch relocations were written late too, and special sections needed .klp.arch sections, which klpkit does not write`, wayOut: s.wayOut };
  }
  return s;
}

/**
 * A livepatch relocation for a module that targets the patch's init code or data
 * (`.klp.rela.<mod>..init.text`). Sections whose name starts with `.init` are laid out as init
 * memory (kernel/module/main.c module_init_layout_section) and freed once the patch's init
 * function returns (do_init_module -> do_free_init); if the module arrives later,
 * klp_module_coming -> klp_init_object_loaded -> klp_apply_section_relocs writes through the
 * section's old address into freed memory: the kernel checks nothing. References to vmlinux from
 * init code are fine: vmlinux relocations are applied while the patch loads, before init runs.
 */
export function initTargetProblem(target: string, object: string): { message: string; hint: string } | undefined {
  if (object === 'vmlinux' || !isInitSection(target)) return undefined;
  return {
    message: `a relocation for module '${object}' in ${target}: if ${object} loads after the patch, the kernel applies it after the patch's init memory has been freed, writing into freed memory`,
    hint: `move the reference to ${object} out of __init code (into a helper without __init), or load ${object} before the patch every time`,
  };
}

/**
 * Whether a relocation's place can matter to specialSectionProblem() or initTargetProblem() for
 * any object: false for the code and data of most targets, which those need not be asked about.
 */
export function targetMayMatter(target: string): boolean {
  return specialSection(target) !== undefined || isInitSection(target);
}

/** Entry sizes of the special sections klp split can cut per entry (x86_64's, from the arch file). */
export const SPLITTABLE_SPECIAL: Readonly<Record<string, number>> = {
  __jump_table: x86_64.specialEntrySizes!.__jump_table!,
  '.static_call_sites': x86_64.specialEntrySizes!['.static_call_sites']!,
};

/** The entry size of a special section klp split can cut per entry, if `section` is one. */
export function splittableEntrySize(section: string): number | undefined {
  return Object.hasOwn(SPLITTABLE_SPECIAL, section) ? SPLITTABLE_SPECIAL[section] : undefined;
}
