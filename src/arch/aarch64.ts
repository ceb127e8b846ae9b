/**
 * AArch64 (ELF for the Arm 64-bit Architecture). Livepatch support arrived in 6.17; module
 * relocations are handled by arch/arm64/kernel/module.c `apply_relocate_add` (instruction-field
 * types, PLTs for out-of-range CALL26/JUMP26). Names only for now.
 */
import { EM } from '../elf/constants.js';
import { relocTable, type Arch } from './types.js';

export const aarch64: Arch = {
  name: 'aarch64',
  machine: EM.AARCH64,
  elfClass: 64,
  endian: 'both',
  rela: true,
  relocs: relocTable('R_AARCH64_', [
    [0, 'NONE', { kind: 'none', size: 0 }], [257, 'ABS64', { kind: 'abs', size: 8 }], [258, 'ABS32', { kind: 'abs', size: 4 }],
    [259, 'ABS16'], [260, 'PREL64', { kind: 'pcrel', size: 8 }], [261, 'PREL32', { kind: 'pcrel', size: 4 }], [262, 'PREL16'],
    [263, 'MOVW_UABS_G0'], [264, 'MOVW_UABS_G0_NC'], [265, 'MOVW_UABS_G1'], [266, 'MOVW_UABS_G1_NC'],
    [267, 'MOVW_UABS_G2'], [268, 'MOVW_UABS_G2_NC'], [269, 'MOVW_UABS_G3'], [270, 'MOVW_SABS_G0'],
    [271, 'MOVW_SABS_G1'], [272, 'MOVW_SABS_G2'], [273, 'LD_PREL_LO19'], [274, 'ADR_PREL_LO21'],
    [275, 'ADR_PREL_PG_HI21'], [276, 'ADR_PREL_PG_HI21_NC'], [277, 'ADD_ABS_LO12_NC'],
    [278, 'LDST8_ABS_LO12_NC'], [279, 'TSTBR14'], [280, 'CONDBR19'], [282, 'JUMP26'], [283, 'CALL26'],
    [284, 'LDST16_ABS_LO12_NC'], [285, 'LDST32_ABS_LO12_NC'], [286, 'LDST64_ABS_LO12_NC'],
    [287, 'MOVW_PREL_G0'], [288, 'MOVW_PREL_G0_NC'], [289, 'MOVW_PREL_G1'], [290, 'MOVW_PREL_G1_NC'],
    [291, 'MOVW_PREL_G2'], [292, 'MOVW_PREL_G2_NC'], [293, 'MOVW_PREL_G3'], [299, 'LDST128_ABS_LO12_NC'],
    [309, 'GOT_LD_PREL19'], [311, 'ADR_GOT_PAGE'], [312, 'LD64_GOT_LO12_NC'],
    [1024, 'COPY'], [1025, 'GLOB_DAT'], [1026, 'JUMP_SLOT'], [1027, 'RELATIVE'], [1032, 'IRELATIVE'],
  ]),
};
