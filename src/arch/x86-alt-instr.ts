/**
 * x86's `struct alt_instr` (arch/x86/include/asm/alternative.h), in its two shapes:
 *
 *   up to 6.2: { s32 instr_offset; s32 repl_offset; u16 cpuid; u8 instrlen; u8 replacementlen; }
 *              12 bytes; bit 15 of cpuid is ALTINSTR_FLAG_INV ("patch when the CPU lacks it")
 *   6.3 on:    { s32 instr_offset; s32 repl_offset; u32 ft_flags; u8 instrlen; u8 replacementlen; }
 *              14 bytes; ft_flags = cpuid:16 | flags:16, ALT_FLAG_NOT (bit 0) and
 *              ALT_FLAG_DIRECT_CALL (bit 1) in the flags ("x86/alternatives: Add alt_instr.flags")
 *
 * Both are __packed and neither has a version mark, so the shape is read off the object: every
 * entry has exactly two relocations (instr_offset and repl_offset, both PC32), so the table's
 * size over half its relocation count is the entry size. Reading a 6.12 table as 6.1's would
 * take a flag byte for a length: the cut of `klp split` and the emulator's copy would both be
 * wrong, silently.
 */
import type { ElfFile } from '../elf/file.js';
import type { Section } from '../elf/model.js';

export interface AltInstrLayout {
  /** Bytes per entry. */
  readonly size: 12 | 14;
  /** Offsets of instrlen and replacementlen. */
  readonly instrlen: number;
  readonly replacementlen: number;
  /** Whether an entry's feature bits say "patch when the CPU lacks the feature". */
  inverted(entry: Uint8Array, off: number): boolean;
  /** ALT_FLAG_DIRECT_CALL (6.3 on): the replacement is a call through a pointer, resolved at patch time. */
  directCall(entry: Uint8Array, off: number): boolean;
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);

export const ALT_INSTR_6_1: AltInstrLayout = {
  size: 12, instrlen: 10, replacementlen: 11,
  inverted: (b, o) => (u16(b, o + 8) & 0x8000) !== 0, // ALTINSTR_FLAG_INV
  directCall: () => false,
};

export const ALT_INSTR_6_3: AltInstrLayout = {
  size: 14, instrlen: 12, replacementlen: 13,
  inverted: (b, o) => (u16(b, o + 10) & 1) !== 0, // ALT_FLAG_NOT
  directCall: (b, o) => (u16(b, o + 10) & 2) !== 0, // ALT_FLAG_DIRECT_CALL
};

/**
 * The layout of `table` (`.altinstructions` or a `.klp.arch.<obj>..altinstructions`), from its
 * size and its relocations; undefined when they fit neither shape (an error for the caller to
 * name: file and section).
 */
export function altInstrLayout(elf: ElfFile, table: Section): AltInstrLayout | undefined {
  if (table.size === 0) return ALT_INSTR_6_3;
  const relocs = altRelocationCount(elf, table);
  if (relocs === 0 || relocs % 2 !== 0) return undefined;
  const size = table.size / (relocs / 2);
  return [ALT_INSTR_6_1, ALT_INSTR_6_3].find((l) => l.size === size);
}

/** How many relocations apply to `table` (two an entry in either shape). */
export function altRelocationCount(elf: ElfFile, table: Section): number {
  return elf.relocationSectionsFor(table).reduce((n, rs) => n + elf.relocations(rs).length, 0);
}
