/** i386 (ELF32, REL). Present so that the ELF layer is exercised on 32-bit objects (gcc -m32). */
import { EM } from '../elf/constants.js';
import { relocTable, type Arch } from './types.js';

export const i386: Arch = {
  name: 'i386',
  machine: EM[386],
  elfClass: 32,
  endian: 'little',
  rela: false,
  relocs: relocTable('R_386_', [
    [0, 'NONE', { kind: 'none', size: 0 }], [1, '32', { kind: 'abs', size: 4 }], [2, 'PC32', { kind: 'pcrel', size: 4 }],
    [3, 'GOT32'], [4, 'PLT32'], [5, 'COPY'], [6, 'GLOB_DAT'], [7, 'JUMP_SLOT'], [8, 'RELATIVE'],
    [9, 'GOTOFF'], [10, 'GOTPC'], [11, '32PLT'], [14, 'TLS_TPOFF'], [15, 'TLS_IE'], [16, 'TLS_GOTIE'],
    [17, 'TLS_LE'], [18, 'TLS_GD'], [19, 'TLS_LDM'], [20, '16'], [21, 'PC16'], [22, '8'], [23, 'PC8'],
    [24, 'TLS_GD_32'], [25, 'TLS_GD_PUSH'], [26, 'TLS_GD_CALL'], [27, 'TLS_GD_POP'], [28, 'TLS_LDM_32'],
    [29, 'TLS_LDM_PUSH'], [30, 'TLS_LDM_CALL'], [31, 'TLS_LDM_POP'], [32, 'TLS_LDO_32'], [33, 'TLS_IE_32'],
    [34, 'TLS_LE_32'], [35, 'TLS_DTPMOD32'], [36, 'TLS_DTPOFF32'], [37, 'TLS_TPOFF32'], [38, 'SIZE32'],
    [39, 'TLS_GOTDESC'], [40, 'TLS_DESC_CALL'], [41, 'TLS_DESC'], [42, 'IRELATIVE'], [43, 'GOT32X'],
  ]),
};
