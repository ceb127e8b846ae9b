/** Compilation units as the symbol database records them (STT_FILE names, DWARF paths). */
import { STB, STT } from '../elf/constants.js';
import type { ElfSymbol } from '../elf/model.js';

/**
 * Each symbol's STT_FILE run: the index of the FILE symbol whose locals it is among, or -1 (the
 * FILE symbols themselves, globals, locals before any FILE). In `.symtab` an STT_FILE symbol
 * precedes the locals of its compilation unit (the linker keeps each input's locals together
 * after its FILE symbol); globals follow all locals and belong to none.
 */
export function fileRuns(symbols: readonly ElfSymbol[]): Int32Array {
  const runOf = new Int32Array(symbols.length).fill(-1);
  let run = -1;
  for (let i = 1; i < symbols.length; i++) {
    const y = symbols[i]!;
    if (y.type === STT.FILE) run = i;
    else if (y.bind !== STB.LOCAL) run = -1;
    else runOf[i] = run;
  }
  return runOf;
}

/**
 * Does a compilation unit match what the user wrote after `@`? STT_FILE names are usually the
 * file name alone (`bar_v2.c`), sometimes a path: they match when one ends with the other at a
 * path-component boundary (`@fs/foo/bar_v2.c` matches `bar_v2.c`, and `@bar_v2.c` matches
 * `fs/foo/bar_v2.c`).
 */
export function unitMatches(unit: string, wanted: string): boolean {
  const ends = (a: string, b: string): boolean => a === b || a.endsWith(`/${b}`);
  return ends(unit, wanted) || ends(wanted, unit);
}
