/** LoongArch 64 (livepatch since 6.9). Names only. */
import { EM } from '../elf/constants.js';
import { relocTable, type Arch } from './types.js';

export const loongarch64: Arch = {
  name: 'loongarch64',
  machine: EM.LOONGARCH,
  elfClass: 64,
  endian: 'little',
  rela: true,
  relocs: relocTable('R_LARCH_', [
    [0, 'NONE', { kind: 'none', size: 0 }], [1, '32', { kind: 'abs', size: 4 }], [2, '64', { kind: 'abs', size: 8 }],
    [3, 'RELATIVE'], [4, 'COPY'], [5, 'JUMP_SLOT'], [6, 'TLS_DTPMOD32'], [7, 'TLS_DTPMOD64'],
    [8, 'TLS_DTPREL32'], [9, 'TLS_DTPREL64'], [10, 'TLS_TPREL32'], [11, 'TLS_TPREL64'], [12, 'IRELATIVE'],
    [20, 'MARK_LA'], [21, 'MARK_PCREL'], [22, 'SOP_PUSH_PCREL'], [23, 'SOP_PUSH_ABSOLUTE'],
    [24, 'SOP_PUSH_DUP'], [25, 'SOP_PUSH_GPREL'], [26, 'SOP_PUSH_TLS_TPREL'], [27, 'SOP_PUSH_TLS_GOT'],
    [28, 'SOP_PUSH_TLS_GD'], [29, 'SOP_PUSH_PLT_PCREL'], [30, 'SOP_ASSERT'], [31, 'SOP_NOT'],
    [32, 'SOP_SUB'], [33, 'SOP_SL'], [34, 'SOP_SR'], [35, 'SOP_ADD'], [36, 'SOP_AND'], [37, 'SOP_IF_ELSE'],
    [38, 'SOP_POP_32_S_10_5'], [39, 'SOP_POP_32_U_10_12'], [40, 'SOP_POP_32_S_10_12'],
    [41, 'SOP_POP_32_S_10_16'], [42, 'SOP_POP_32_S_10_16_S2'], [43, 'SOP_POP_32_S_5_20'],
    [44, 'SOP_POP_32_S_0_5_10_16_S2'], [45, 'SOP_POP_32_S_0_10_10_16_S2'], [46, 'SOP_POP_32_U'],
    [47, 'ADD8'], [48, 'ADD16'], [49, 'ADD24'], [50, 'ADD32'], [51, 'ADD64'], [52, 'SUB8'], [53, 'SUB16'],
    [54, 'SUB24'], [55, 'SUB32'], [56, 'SUB64'], [57, 'GNU_VTINHERIT'], [58, 'GNU_VTENTRY'],
    [64, 'B16'], [65, 'B21'], [66, 'B26'], [67, 'ABS_HI20'], [68, 'ABS_LO12'], [69, 'ABS64_LO20'],
    [70, 'ABS64_HI12'], [71, 'PCALA_HI20'], [72, 'PCALA_LO12'], [73, 'PCALA64_LO20'], [74, 'PCALA64_HI12'],
    [75, 'GOT_PC_HI20'], [76, 'GOT_PC_LO12'], [77, 'GOT64_PC_LO20'], [78, 'GOT64_PC_HI12'], [79, 'GOT_HI20'],
    [80, 'GOT_LO12'], [81, 'GOT64_LO20'], [82, 'GOT64_HI12'], [83, 'TLS_LE_HI20'], [84, 'TLS_LE_LO12'],
    [85, 'TLS_LE64_LO20'], [86, 'TLS_LE64_HI12'], [87, 'TLS_IE_PC_HI20'], [88, 'TLS_IE_PC_LO12'],
    [89, 'TLS_IE64_PC_LO20'], [90, 'TLS_IE64_PC_HI12'], [91, 'TLS_IE_HI20'], [92, 'TLS_IE_LO12'],
    [93, 'TLS_IE64_LO20'], [94, 'TLS_IE64_HI12'], [95, 'TLS_LD_PC_HI20'], [96, 'TLS_LD_HI20'],
    [97, 'TLS_GD_PC_HI20'], [98, 'TLS_GD_HI20'], [99, '32_PCREL', { kind: 'pcrel', size: 4 }], [100, 'RELAX'],
    [102, 'ALIGN'], [103, 'PCREL20_S2'], [105, 'ADD6'], [106, 'SUB6'], [107, 'ADD_ULEB128'], [108, 'SUB_ULEB128'],
    [109, '64_PCREL', { kind: 'pcrel', size: 8 }],
  ]),
};
