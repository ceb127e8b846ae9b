/**
 * ELF constants, spelled as in the gABI and in the kernel's include/uapi/linux/elf.h.
 *
 * Plain `as const` objects (no TS enums: the code stays type-strippable) plus reverse tables for
 * printing. Architecture relocation types live in src/arch/, one file per architecture.
 */

export const ELFCLASS = { NONE: 0, CLASS32: 1, CLASS64: 2 } as const;
export const ELFDATA = { NONE: 0, LSB: 1, MSB: 2 } as const;

export const ET = { NONE: 0, REL: 1, EXEC: 2, DYN: 3, CORE: 4 } as const;

export const SHT = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  HASH: 5,
  DYNAMIC: 6,
  NOTE: 7,
  NOBITS: 8,
  REL: 9,
  SHLIB: 10,
  DYNSYM: 11,
  INIT_ARRAY: 14,
  FINI_ARRAY: 15,
  PREINIT_ARRAY: 16,
  GROUP: 17,
  SYMTAB_SHNDX: 18,
  RELR: 19,
  GNU_ATTRIBUTES: 0x6ffffff5,
  GNU_HASH: 0x6ffffff6,
  GNU_LIBLIST: 0x6ffffff7,
  GNU_verdef: 0x6ffffffd,
  GNU_verneed: 0x6ffffffe,
  GNU_versym: 0x6fffffff,
  X86_64_UNWIND: 0x70000001,
  AARCH64_ATTRIBUTES: 0x70000003,
  RISCV_ATTRIBUTES: 0x70000003,
} as const;

const SHT_NAMES: Record<number, string> = {
  0: 'NULL', 1: 'PROGBITS', 2: 'SYMTAB', 3: 'STRTAB', 4: 'RELA', 5: 'HASH', 6: 'DYNAMIC',
  7: 'NOTE', 8: 'NOBITS', 9: 'REL', 10: 'SHLIB', 11: 'DYNSYM', 14: 'INIT_ARRAY',
  15: 'FINI_ARRAY', 16: 'PREINIT_ARRAY', 17: 'GROUP', 18: 'SYMTAB SECTION INDICES', 19: 'RELR',
  0x6ffffff5: 'GNU_ATTRIBUTES', 0x6ffffff6: 'GNU_HASH', 0x6ffffff7: 'GNU_LIBLIST',
  0x6ffffffd: 'VERDEF', 0x6ffffffe: 'VERNEED', 0x6fffffff: 'VERSYM',
};

/** Section type name as readelf prints it (machine-specific types need the machine). */
export function sectionTypeName(type: number, machine = 0): string {
  const name = SHT_NAMES[type];
  if (name !== undefined) return name;
  if (type === 0x70000001 && machine === EM.X86_64) return 'X86_64_UNWIND';
  if (type === 0x70000003 && machine === EM.AARCH64) return 'AARCH64_ATTRIBUTES';
  if (type === 0x70000003 && machine === EM.RISCV) return 'RISCV_ATTRIBUTES';
  if (type >= 0x60000000 && type <= 0x6fffffff) return `LOOS+0x${(type - 0x60000000).toString(16)}`;
  if (type >= 0x70000000 && type <= 0x7fffffff) return `LOPROC+0x${(type - 0x70000000).toString(16)}`;
  return `0x${type.toString(16)}`;
}

/** Section flags. bigint because sh_flags is 64 bits wide on ELF64 and the OS/processor masks use bit 31. */
export const SHF = {
  WRITE: 0x1n,
  ALLOC: 0x2n,
  EXECINSTR: 0x4n,
  MERGE: 0x10n,
  STRINGS: 0x20n,
  INFO_LINK: 0x40n,
  LINK_ORDER: 0x80n,
  OS_NONCONFORMING: 0x100n,
  GROUP: 0x200n,
  TLS: 0x400n,
  COMPRESSED: 0x800n,
  /** Linux: a livepatch relocation section (include/uapi/linux/elf.h). Inside SHF_MASKOS. */
  RELA_LIVEPATCH: 0x00100000n,
  /** Linux: __ro_after_init data (include/uapi/linux/elf.h). */
  RO_AFTER_INIT: 0x00200000n,
  MASKOS: 0x0ff00000n,
  GNU_RETAIN: 0x00200000n,
  MASKPROC: 0xf0000000n,
  EXCLUDE: 0x80000000n,
} as const;

export const SHN = {
  UNDEF: 0,
  LORESERVE: 0xff00,
  LOPROC: 0xff00,
  HIPROC: 0xff1f,
  /** Linux: a symbol resolved by the livepatch core, see Documentation/livepatch/module-elf-format.rst. */
  LIVEPATCH: 0xff20,
  LOOS: 0xff20,
  HIOS: 0xff3f,
  ABS: 0xfff1,
  COMMON: 0xfff2,
  XINDEX: 0xffff,
  HIRESERVE: 0xffff,
} as const;

export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2, GNU_UNIQUE: 10 } as const;
export const STT = {
  NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6, GNU_IFUNC: 10,
} as const;
export const STV = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 } as const;

const STB_NAMES: Record<number, string> = { 0: 'LOCAL', 1: 'GLOBAL', 2: 'WEAK', 10: 'UNIQUE' };
const STT_NAMES: Record<number, string> = {
  0: 'NOTYPE', 1: 'OBJECT', 2: 'FUNC', 3: 'SECTION', 4: 'FILE', 5: 'COMMON', 6: 'TLS', 10: 'IFUNC',
};
const STV_NAMES = ['DEFAULT', 'INTERNAL', 'HIDDEN', 'PROTECTED'] as const;

export const bindName = (b: number): string => STB_NAMES[b] ?? `<unknown>: ${b}`;
export const symTypeName = (t: number): string => STT_NAMES[t] ?? `<unknown>: ${t}`;
export const visibilityName = (v: number): string => STV_NAMES[v & 3] ?? 'DEFAULT';

export const GRP_COMDAT = 0x1;

/** e_machine values for the architectures klpkit knows. */
export const EM = {
  NONE: 0,
  386: 3,
  PPC: 20,
  PPC64: 21,
  S390: 22,
  ARM: 40,
  X86_64: 62,
  AARCH64: 183,
  RISCV: 243,
  LOONGARCH: 258,
} as const;

const EM_NAMES: Record<number, string> = {
  0: 'None',
  3: 'Intel 80386',
  20: 'PowerPC',
  21: 'PowerPC64',
  22: 'IBM S/390',
  40: 'ARM',
  62: 'Advanced Micro Devices X86-64',
  183: 'AArch64',
  243: 'RISC-V',
  258: 'LoongArch',
};

export const machineName = (m: number): string => EM_NAMES[m] ?? `<unknown>: 0x${m.toString(16)}`;

/** Sizes of the on-disk records per ELF class. */
export const SIZES = {
  32: { ehdr: 52, shdr: 40, phdr: 32, sym: 16, rel: 8, rela: 12, word: 4 },
  64: { ehdr: 64, shdr: 64, phdr: 56, sym: 24, rel: 16, rela: 24, word: 8 },
} as const;

/** Linux kernel limits that shape livepatch names (include/linux/module.h, include/linux/kallsyms.h). */
export const MODULE_NAME_LEN_64 = 64 - 8;
export const MODULE_NAME_LEN_32 = 64 - 4;
