/**
 * x86-64 (psABI "System V Application Binary Interface, AMD64 Architecture Processor Supplement").
 *
 * Kernel modules are built with -mcmodel=kernel: code and data live in the top 2 GiB, so absolute
 * 32-bit references are sign-extended (R_X86_64_32S) and calls/jumps are PC32/PLT32. The module
 * loader (arch/x86/kernel/module.c `__write_relocate_add`, 6.1) accepts exactly NONE, 64, 32, 32S,
 * PC32, PLT32 and PC64; anything else is "Unknown rela relocation" (-ENOEXEC). 32 and 32S are
 * overflow-checked; PC32/PLT32 are not (their check was #if 0 and removed in 6.3).
 */
import { EM } from '../elf/constants.js';
import { relocTable, type Arch } from './types.js';

export const x86_64: Arch = {
  name: 'x86_64',
  machine: EM.X86_64,
  elfClass: 64,
  endian: 'little',
  rela: true,
  relocs: relocTable('R_X86_64_', [
    [0, 'NONE', { kind: 'none', size: 0 }],
    [1, '64', { kind: 'abs', size: 8 }],
    [2, 'PC32', { kind: 'pcrel', size: 4 }],
    [3, 'GOT32'], [4, 'PLT32', { kind: 'pcrel', size: 4 }], [5, 'COPY'], [6, 'GLOB_DAT'], [7, 'JUMP_SLOT'],
    [8, 'RELATIVE'], [9, 'GOTPCREL'],
    [10, '32', { kind: 'abs', size: 4, check: 'u32' }],
    [11, '32S', { kind: 'abs', size: 4, check: 's32' }],
    [12, '16'], [13, 'PC16'], [14, '8'], [15, 'PC8'], [16, 'DTPMOD64'], [17, 'DTPOFF64'], [18, 'TPOFF64'],
    [19, 'TLSGD'], [20, 'TLSLD'], [21, 'DTPOFF32'], [22, 'GOTTPOFF'], [23, 'TPOFF32'],
    [24, 'PC64', { kind: 'pcrel', size: 8 }],
    [25, 'GOTOFF64'], [26, 'GOTPC32'], [27, 'GOT64'], [28, 'GOTPCREL64'], [29, 'GOTPC64'], [30, 'GOTPLT64'],
    [31, 'PLTOFF64'], [32, 'SIZE32'], [33, 'SIZE64'], [34, 'GOTPC32_TLSDESC'], [35, 'TLSDESC_CALL'],
    [36, 'TLSDESC'], [37, 'IRELATIVE'], [38, 'RELATIVE64'], [39, 'PC32_BND'], [40, 'PLT32_BND'], [41, 'GOTPCRELX'], [42, 'REX_GOTPCRELX'],
  ]),
};
