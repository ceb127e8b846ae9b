/**
 * x86-64 (psABI "System V Application Binary Interface, AMD64 Architecture Processor Supplement").
 *
 * Kernel modules are built with -mcmodel=kernel: code and data live in the top 2 GiB, so absolute
 * 32-bit references are sign-extended (R_X86_64_32S) and calls/jumps are PC32/PLT32. The module
 * loader (arch/x86/kernel/module.c `__write_relocate_add`, 6.1) accepts exactly NONE, 64, 32, 32S,
 * PC32, PLT32 and PC64; anything else is "Unknown rela relocation" (-ENOEXEC). 32 and 32S are
 * overflow-checked; PC32/PLT32 are not (their check was #if 0 and removed in 6.3).
 */
import type { KernelVersion } from '../kernel-version.js';
import { EM } from '../elf/constants.js';
import { hashedPointer } from './printk.js';
import { relocTable, type Arch, type RelaInput, type RelaOutcome } from './types.js';

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
  applyRela,
  applyRelaInPlace,
};

const zero = (b: Uint8Array, off: number, n: number): boolean => {
  for (let i = 0; i < n; i++) if (b[off + i] !== 0) return false;
  return true;
};

/** applyRela without allocations, for the scale run: the same values and the same refusals. */
function applyRelaInPlace(bytes: Uint8Array, dv: DataView, off: number, type: number, val: bigint, loc: bigint): boolean {
  switch (type) {
    case 0: return true;
    case 1:
      if (off + 8 > bytes.length || !zero(bytes, off, 8)) return false;
      dv.setBigUint64(off, BigInt.asUintN(64, val), true);
      return true;
    case 10: {
      const v = BigInt.asUintN(64, val);
      if (v > 0xffffffffn || off + 4 > bytes.length || !zero(bytes, off, 4)) return false;
      dv.setUint32(off, Number(v), true);
      return true;
    }
    case 11: {
      const v = BigInt.asIntN(64, val);
      if (v < -0x80000000n || v > 0x7fffffffn || off + 4 > bytes.length || !zero(bytes, off, 4)) return false;
      dv.setInt32(off, Number(v), true);
      return true;
    }
    case 2: case 4:
      if (off + 4 > bytes.length || !zero(bytes, off, 4)) return false;
      dv.setInt32(off, Number(BigInt.asIntN(32, val - loc)), true);
      return true;
    case 24:
      if (off + 8 > bytes.length || !zero(bytes, off, 8)) return false;
      dv.setBigUint64(off, BigInt.asUintN(64, val - loc), true);
      return true;
    default:
      return false;
  }
}

const U64 = (1n << 64n) - 1n;

/**
 * arch/x86/kernel/module.c for one relocation, in each version's order: 6.1's
 * __apply_relocate_add() checks the target is zero, then computes (PC32/PLT32: val -= loc),
 * writes, and checks 32/32S overflow after the write; 6.3's __write_relocate_add() checks
 * overflow and computes first, then checks the target. The zero check's message says "Skipping
 * invalid relocation target" up to 6.2 and "Invalid relocation target" from 6.3 (commit
 * 0c05e7bd2d01), and prints val as it stands at that point; loc is `%p`, a hashed pointer.
 */
function applyRela(r: RelaInput, k: KernelVersion): RelaOutcome {
  const sa = r.val & U64; // S + A
  const since63 = k.major > 6 || (k.major === 6 && k.minor >= 3);
  let size: number;
  let pcrel = false;
  let check: 'u32' | 's32' | undefined;
  switch (r.type) {
    case 0: return { ok: true, size: 0 }; // R_X86_64_NONE: nothing to write
    case 1: size = 8; break; // 64
    case 10: size = 4; check = 'u32'; break; // 32
    case 11: size = 4; check = 's32'; break; // 32S
    case 2: case 4: size = 4; pcrel = true; break; // PC32, PLT32: no overflow check (#if 0, removed in 6.3)
    case 24: size = 8; pcrel = true; break; // PC64
    default:
      return { ok: false, errno: 'ENOEXEC', kind: 'unknown-type', messages: [`${r.module}: Unknown rela relocation: ${r.type}`] };
  }
  const val = pcrel ? (sa - r.loc) & U64 : sa;
  const overflows = check === 'u32' ? sa !== BigInt.asUintN(32, sa) : check === 's32' ? BigInt.asIntN(64, sa) !== BigInt.asIntN(32, sa) : false;
  const overflow = (): RelaOutcome => ({
    ok: false, errno: 'ENOEXEC', kind: 'overflow',
    messages: [`overflow in relocation type ${r.type} val ${val.toString(16)}`, `\`${r.module}' likely not compiled with -mcmodel=kernel`],
  });
  // 6.3+ (__write_relocate_add): the switch checks overflow and computes val (S+A-P for PC
  // relocations), then the zero check prints that val. Before 6.3 (__apply_relocate_add): each
  // case checks the target first and prints val as S+A (the check precedes `val -= loc`), and the
  // 32/32S overflow check comes after the write.
  if (since63 && overflows) return overflow();
  const cur = r.read(size);
  if (!cur) return { ok: false, errno: 'ENOEXEC', kind: 'outside', messages: [`${r.module}: relocation at 0x${r.loc.toString(16)} is outside the module`] };
  if (cur.some((b) => b !== 0)) {
    const what = since63 ? 'Invalid relocation target' : 'Skipping invalid relocation target';
    return { ok: false, errno: 'ENOEXEC', kind: 'nonzero', messages: [`x86/modules: ${what}, existing value is nonzero for type ${r.type}, loc ${hashedPointer(r.loc)}, val ${(since63 ? val : sa).toString(16)}`] };
  }
  if (overflows) return overflow();
  const bytes = new Uint8Array(size);
  const dv = new DataView(bytes.buffer);
  if (size === 8) dv.setBigUint64(0, val, true);
  else dv.setUint32(0, Number(val & 0xffffffffn), true);
  return { ok: true, size, bytes };
}
