/**
 * Compilation units from DWARF: a symbol is in the unit whose `DW_TAG_subprogram` (`DW_AT_low_pc`)
 * or `DW_TAG_variable` (`DW_OP_addr` location) sits at its place (src/elf/dwarf.ts). DWARF names
 * the unit by the path the compiler was given (`arch/x86/events/intel/uncore_snb.c` under Kbuild),
 * where an STT_FILE symbol has the file name alone: two units of one object with the same file
 * name in different directories are told apart only this way, and `@DIR/FILE.c` can be checked.
 */
import { ET, STB, STT } from '../elf/constants.js';
import { readDwarfUnits } from '../elf/dwarf.js';
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol, Section } from '../elf/model.js';
import { fileRuns } from './units.js';

/**
 * The DWARF unit of each of `symbols` (null where none is known), or null when `elf` has no
 * `.debug_info`. A symbol at the place of a unit's function or variable takes that unit; a local
 * that DWARF does not place (a function's static variable: the walk reads a unit's own children
 * only; an assembler label) takes the unit of the other locals of its STT_FILE run, which are one
 * object file's and so one unit's. A place two units claim, or a run whose symbols name two
 * units, gives none.
 */
export function dwarfUnitsOf(elf: ElfFile, symbols: readonly ElfSymbol[]): (string | null)[] | null {
  const dw = readDwarfUnits(elf);
  if (!dw) return null;
  // Places by section (null: a linked object's addresses), then offset; -1 when two units claim one.
  const at = new Map<Section | null, Map<bigint, number>>();
  for (const p of dw.places) {
    let m = at.get(p.section);
    if (!m) at.set(p.section, (m = new Map()));
    const had = m.get(p.address);
    m.set(p.address, had === undefined || had === p.unit ? p.unit : -1);
  }
  const linked = elf.header.type !== ET.REL; // symbol values are addresses, as DWARF's are
  const placed = (y: ElfSymbol): number | undefined => at.get(linked ? null : y.section)?.get(y.value);
  // Each STT_FILE run's unit, from its placed locals (a section symbol sits where its section's
  // first function does, and is no vote).
  const all = elf.allSymbols;
  const runOf = fileRuns(all);
  const runUnit = new Map<number, number>();
  for (let i = 1; i < all.length; i++) {
    const y = all[i]!;
    const u = runOf[i]! < 0 || y.type === STT.SECTION ? undefined : placed(y);
    if (u === undefined || u < 0) continue;
    const had = runUnit.get(runOf[i]!);
    runUnit.set(runOf[i]!, had === undefined || had === u ? u : -1);
  }
  return symbols.map((y) => {
    let u = placed(y);
    if (u === undefined && y.bind === STB.LOCAL && y.origIndex > 0 && all[y.origIndex] === y) u = runUnit.get(runOf[y.origIndex]!);
    return u === undefined || u < 0 || dw.units[u] === '' ? null : dw.units[u]!;
  });
}

/**
 * The unit to record when DWARF and STT_FILE both name one: DWARF's path when it ends with the
 * STT_FILE name (the same unit, said in full), else the STT_FILE name (DWARF describing another
 * place than the symbol table means the two disagree: the symbol table is what kallsyms shows).
 */
export function preferDwarf(dwarf: string | null, stt: string | null): string | null {
  if (dwarf === null) return stt;
  if (stt === null || dwarf === stt || dwarf.endsWith(`/${stt}`)) return dwarf;
  return stt;
}
