/**
 * 64-bit PowerPC (ELFv1 big-endian ppc64 and ELFv2 little-endian ppc64le). Calls to livepatch
 * symbols (R_PPC64_REL24 to SHN_LIVEPATCH) go through a module stub and need the following `nop`
 * to become a TOC restore (arch/powerpc/kernel/module_64.c); `.TOC.` is never converted. Names only.
 */
import { EM } from '../elf/constants.js';
import { relocTable, type Arch } from './types.js';

export const ppc64: Arch = {
  name: 'ppc64le',
  machine: EM.PPC64,
  elfClass: 64,
  endian: 'both',
  rela: true,
  relocs: relocTable('R_PPC64_', [
    [0, 'NONE', { kind: 'none', size: 0 }], [1, 'ADDR32', { kind: 'abs', size: 4 }], [2, 'ADDR24'], [3, 'ADDR16'],
    [4, 'ADDR16_LO'], [5, 'ADDR16_HI'], [6, 'ADDR16_HA'], [7, 'ADDR14'], [8, 'ADDR14_BRTAKEN'],
    [9, 'ADDR14_BRNTAKEN'], [10, 'REL24'], [11, 'REL14'], [12, 'REL14_BRTAKEN'], [13, 'REL14_BRNTAKEN'],
    [14, 'GOT16'], [15, 'GOT16_LO'], [16, 'GOT16_HI'], [17, 'GOT16_HA'], [19, 'COPY'], [20, 'GLOB_DAT'],
    [21, 'JMP_SLOT'], [22, 'RELATIVE'], [24, 'UADDR32'], [25, 'UADDR16'], [26, 'REL32', { kind: 'pcrel', size: 4 }],
    [27, 'PLT32'], [28, 'PLTREL32'], [29, 'PLT16_LO'], [30, 'PLT16_HI'], [31, 'PLT16_HA'], [33, 'SECTOFF'],
    [34, 'SECTOFF_LO'], [35, 'SECTOFF_HI'], [36, 'SECTOFF_HA'], [37, 'REL30'], [38, 'ADDR64', { kind: 'abs', size: 8 }],
    [39, 'ADDR16_HIGHER'], [40, 'ADDR16_HIGHERA'], [41, 'ADDR16_HIGHEST'], [42, 'ADDR16_HIGHESTA'],
    [43, 'UADDR64'], [44, 'REL64', { kind: 'pcrel', size: 8 }], [45, 'PLT64'], [46, 'PLTREL64'], [47, 'TOC16'],
    [48, 'TOC16_LO'], [49, 'TOC16_HI'], [50, 'TOC16_HA'], [51, 'TOC'], [52, 'PLTGOT16'], [53, 'PLTGOT16_LO'],
    [54, 'PLTGOT16_HI'], [55, 'PLTGOT16_HA'], [56, 'ADDR16_DS'], [57, 'ADDR16_LO_DS'], [58, 'GOT16_DS'],
    [59, 'GOT16_LO_DS'], [60, 'PLT16_LO_DS'], [61, 'SECTOFF_DS'], [62, 'SECTOFF_LO_DS'], [63, 'TOC16_DS'],
    [64, 'TOC16_LO_DS'], [65, 'PLTGOT16_DS'], [66, 'PLTGOT16_LO_DS'], [67, 'TLS'], [68, 'DTPMOD64'],
    [107, 'TLSGD'], [108, 'TLSLD'], [109, 'TOCSAVE'], [110, 'ADDR16_HIGH'], [111, 'ADDR16_HIGHA'],
    [116, 'REL24_NOTOC'], [117, 'ADDR64_LOCAL'], [118, 'ENTRY'], [248, 'IRELATIVE'],
    [249, 'REL16'], [250, 'REL16_LO'], [251, 'REL16_HI'], [252, 'REL16_HA'],
  ]),
};
