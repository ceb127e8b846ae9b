/**
 * x86 alternatives, as arch/x86/kernel/alternative.c apply_alternatives() (6.1) patches them at
 * module_finalize() with text_poke_early() (a plain copy: the module is not read-only yet):
 *
 *   struct alt_instr { s32 instr_offset; s32 repl_offset; u16 cpuid; u8 instrlen; u8 replacementlen; } __packed;
 *
 * For each entry whose feature the CPU has, the replacement is copied over the original
 * instruction, a 5-byte call's displacement adjusted by `replacement - instr` (the copy moves it),
 * and the rest padded with NOPs. The emulated CPU has every feature (entries flagged
 * ALTINSTR_FLAG_INV, "when the CPU lacks it", are left alone): what matters here is which bytes
 * the copy carries, above all a call into a module whose relocation is not written yet.
 */
import { x86_64 } from '../arch/x86_64.js';
import type { Section } from '../elf/model.js';
import type { Memory } from './memory.js';
import type { LoadedModule } from './module-loader.js';

export const ALT_ENTRY_SIZE = x86_64.specialEntrySizes!['.altinstructions']!;
const ALTINSTR_FLAG_INV = 0x8000;

export interface AltSite { instr: bigint; replacement: bigint; instrlen: number; replacementlen: number; inverted: boolean }

const s32 = (b: Uint8Array, o: number): bigint => BigInt(new DataView(b.buffer, b.byteOffset + o, 4).getInt32(0, true));

export function readAlternatives(memory: Memory, mod: LoadedModule, table: Section): AltSite[] {
  const base = mod.sectionAddr.get(table);
  if (base === undefined) return [];
  const out: AltSite[] = [];
  for (let off = 0; off + ALT_ENTRY_SIZE <= table.size; off += ALT_ENTRY_SIZE) {
    const e = base + BigInt(off);
    const b = memory.read(e, ALT_ENTRY_SIZE);
    if (!b) break;
    const cpuid = b[8]! | (b[9]! << 8);
    out.push({ instr: BigInt.asUintN(64, e + s32(b, 0)), replacement: BigInt.asUintN(64, e + 4n + s32(b, 4)), instrlen: b[10]!, replacementlen: b[11]!, inverted: (cpuid & ALTINSTR_FLAG_INV) !== 0 });
  }
  return out;
}

/** apply_alternatives() over one `.altinstructions` (or `.klp.arch.<obj>..altinstructions`) table. */
export function applyAlternatives(memory: Memory, mod: LoadedModule, table: Section, stage: string, say: (m: string) => void): number {
  let n = 0;
  for (const a of readAlternatives(memory, mod, table)) {
    if (a.inverted) continue;
    const repl = memory.read(a.replacement, a.replacementlen);
    if (!repl || a.replacementlen > a.instrlen || !memory.read(a.instr, a.instrlen)) {
      say(`alternatives: ${mod.name}: ${table.name} entry for 0x${a.instr.toString(16)} is out of bounds; not applied`);
      continue;
    }
    const buf = new Uint8Array(a.instrlen).fill(0x90);
    buf.set(repl);
    if (a.replacementlen === 5 && (buf[0] === 0xe8 || buf[0] === 0xe9)) {
      // *(s32 *)(insn_buff + 1) += replacement - instr (and recompute_jump() for a jmp)
      const dv = new DataView(buf.buffer);
      dv.setInt32(1, Number(BigInt.asIntN(32, BigInt(dv.getInt32(1, true)) + a.replacement - a.instr)), true);
    }
    memory.write(a.instr, buf, stage, 'memcpy', `${mod.name}: alternative at 0x${a.instr.toString(16)} (${table.name})`);
    n++;
  }
  if (n > 0) say(`alternatives: ${mod.name}: ${n} site(s) of ${table.name} patched`);
  return n;
}
