/**
 * x86 alternatives, as arch/x86/kernel/alternative.c apply_alternatives() patches them at
 * module_finalize() with text_poke_early() (a plain copy: the module is not read-only yet). The
 * entry is `struct alt_instr`, 12 bytes up to 6.2 and 14 from 6.3 (src/arch/x86-alt-instr.ts).
 *
 * For each entry whose feature the CPU has, the replacement is copied over the original
 * instruction, a 5-byte call's displacement adjusted by `replacement - instr` (the copy moves it),
 * and the rest padded with NOPs. The emulated CPU has every feature (entries flagged "when the
 * CPU lacks it", ALTINSTR_FLAG_INV or ALT_FLAG_NOT, are left alone, and so are 6.3's
 * ALT_FLAG_DIRECT_CALL entries, whose target is read from memory at patch time): what matters
 * here is which bytes the copy carries, above all a call into a module whose relocation is not
 * written yet.
 */
import { altInstrLayout } from '../arch/x86-alt-instr.js';
import type { Section } from '../elf/model.js';
import type { Memory } from './memory.js';
import type { LoadedModule } from './module-loader.js';

export interface AltSite { instr: bigint; replacement: bigint; instrlen: number; replacementlen: number; inverted: boolean; directCall: boolean }

const s32 = (b: Uint8Array, o: number): bigint => BigInt(new DataView(b.buffer, b.byteOffset + o, 4).getInt32(0, true));

export function readAlternatives(memory: Memory, mod: LoadedModule, table: Section): AltSite[] {
  const base = mod.sectionAddr.get(table);
  const layout = altInstrLayout(mod.elf, table);
  if (base === undefined || !layout) return [];
  const size = layout.size;
  const out: AltSite[] = [];
  for (let off = 0; off + size <= table.size; off += size) {
    const e = base + BigInt(off);
    const b = memory.read(e, size);
    if (!b) break;
    out.push({ instr: BigInt.asUintN(64, e + s32(b, 0)), replacement: BigInt.asUintN(64, e + 4n + s32(b, 4)), instrlen: b[layout.instrlen]!, replacementlen: b[layout.replacementlen]!, inverted: layout.inverted(b, 0), directCall: layout.directCall(b, 0) });
  }
  return out;
}

/** apply_alternatives() over one `.altinstructions` (or `.klp.arch.<obj>..altinstructions`) table. */
export function applyAlternatives(memory: Memory, mod: LoadedModule, table: Section, stage: string, say: (m: string) => void): number {
  let n = 0;
  for (const a of readAlternatives(memory, mod, table)) {
    if (a.inverted || a.directCall) continue;
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
