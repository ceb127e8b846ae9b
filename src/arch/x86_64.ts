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

/**
 * The relocation types by number: name, and for the ones the module loader applies, how the value
 * is computed (kind), its width and its overflow check. The table drives applyRela, its in-place
 * fast path and klp check's "Unknown rela relocation".
 */
const RELOCS = relocTable('R_X86_64_', [
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
  ]);

export const x86_64: Arch = {
  name: 'x86_64',
  machine: EM.X86_64,
  elfClass: 64,
  endian: 'little',
  rela: true,
  relocs: RELOCS,
  applyRela,
  applyRelaInPlace,
  specialEntrySizes: {
    __jump_table: 16, // struct jump_entry { s32 code; s32 target; long key; }
    '.static_call_sites': 8, // struct static_call_site { s32 addr; s32 key; }
  },
};

const zero = (b: Uint8Array, off: number, n: number): boolean => {
  for (let i = 0; i < n; i++) if (b[off + i] !== 0) return false;
  return true;
};

/** The table as an array by type for the bulk path: width, PC-relative, overflow check. */
const FAST: Array<{ size: number; pcrel: boolean; check: 'u32' | 's32' | undefined } | undefined> = [];
for (const [n, info] of RELOCS) if (info.kind !== undefined) FAST[n] = { size: info.size ?? 0, pcrel: info.kind === 'pcrel', check: info.check };

const TWO32 = 0x100000000;

/**
 * applyRela without allocations, for the scale run: the same values and the same refusals. S + A
 * and P come as numbers, each the signed reading of its 64 bits (a kernel address is a small
 * negative number, exact in a double; the caller takes the BigInt path for any that is not), and
 * the arithmetic is done on 32-bit halves, modulo 2^64 as the kernel's u64.
 */
function applyRelaInPlace(bytes: Uint8Array, dv: DataView, off: number, type: number, val: number, loc: number): boolean {
  const f = FAST[type];
  if (!f) return false;
  if (f.size === 0) return true;
  if (off + f.size > bytes.length || !zero(bytes, off, f.size)) return false;
  // v = val (- loc) as its low and high words (hi's low 32 bits are the u64's high word).
  let lo = val % TWO32;
  let hi = Math.floor(val / TWO32);
  if (lo < 0) lo += TWO32;
  if (f.pcrel) {
    let l = loc % TWO32;
    if (l < 0) l += TWO32;
    lo -= l;
    hi -= Math.floor(loc / TWO32);
    if (lo < 0) {
      lo += TWO32;
      hi -= 1;
    }
  }
  const hiWord = hi >>> 0;
  if (f.size === 8) {
    dv.setUint32(off, lo, true);
    dv.setUint32(off + 4, hiWord, true);
  } else if (f.check === 'u32') {
    if (hiWord !== 0) return false; // (u64)val > U32_MAX
    dv.setUint32(off, lo, true);
  } else if (f.check === 's32') {
    if (!(hiWord === 0 && lo < 0x80000000) && !(hiWord === 0xffffffff && lo >= 0x80000000)) return false;
    dv.setUint32(off, lo, true);
  } else {
    dv.setUint32(off, lo, true); // the low 32 bits, as the kernel's memcpy of 4 bytes
  }
  return true;
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
  // The table says what apply_relocate_add() accepts, how wide and how computed.
  const info = RELOCS.get(r.type);
  if (info?.kind === undefined) {
    return { ok: false, errno: 'ENOEXEC', kind: 'unknown-type', messages: [`${r.module}: Unknown rela relocation: ${r.type}`] };
  }
  if (info.kind === 'none') return { ok: true, size: 0 }; // R_X86_64_NONE: nothing to write
  const size = info.size!;
  const pcrel = info.kind === 'pcrel';
  const check = info.check;
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
