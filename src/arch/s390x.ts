/**
 * s390x (z/Architecture, big-endian). Late livepatch relocations use s390_kernel_write() (5.8);
 * expoline thunks `__s390_indirect_jump_r*` stay normal relocations. Names only.
 */
import { EM } from '../elf/constants.js';
import { relocTable, type Arch } from './types.js';

export const s390x: Arch = {
  name: 's390x',
  machine: EM.S390,
  elfClass: 64,
  endian: 'big',
  rela: true,
  relocs: relocTable('R_390_', [
    [0, 'NONE', { kind: 'none', size: 0 }], [1, '8'], [2, '12'], [3, '16'], [4, '32', { kind: 'abs', size: 4 }],
    [5, 'PC32', { kind: 'pcrel', size: 4 }], [6, 'GOT12'], [7, 'GOT32'], [8, 'PLT32'], [9, 'COPY'],
    [10, 'GLOB_DAT'], [11, 'JMP_SLOT'], [12, 'RELATIVE'], [13, 'GOTOFF32'], [14, 'GOTPC'], [15, 'GOT16'],
    [16, 'PC16'], [17, 'PC16DBL'], [18, 'PLT16DBL'], [19, 'PC32DBL'], [20, 'PLT32DBL'], [21, 'GOTPCDBL'],
    [22, '64', { kind: 'abs', size: 8 }], [23, 'PC64', { kind: 'pcrel', size: 8 }], [24, 'GOT64'], [25, 'PLT64'],
    [26, 'GOTENT'], [27, 'GOTOFF16'], [28, 'GOTOFF64'], [29, 'GOTPLT12'], [30, 'GOTPLT16'], [31, 'GOTPLT32'],
    [32, 'GOTPLT64'], [33, 'GOTPLTENT'], [34, 'PLTOFF16'], [35, 'PLTOFF32'], [36, 'PLTOFF64'],
    [56, 'TLS_TPOFF'], [57, '20'], [58, 'GOT20'], [59, 'GOTPLT20'], [60, 'TLS_GOTIE20'], [61, 'IRELATIVE'],
    [62, 'PC12DBL'], [63, 'PLT12DBL'], [64, 'PC24DBL'], [65, 'PLT24DBL'],
  ]),
};
