/**
 * A fingerprint of a symbol's bytes in a relocatable object (or a linked one that kept its
 * relocations, as vmlinux does with --emit-relocs): FNV-1a (32 bits) over its st_size
 * bytes, with every field a relocation writes zeroed first. Those fields are filled by the module
 * loader and differ between builds whose code is the same (addresses, offsets of other symbols),
 * so two builds of one function give one fingerprint, and a function whose code changed gives
 * another. klp convert records the fingerprint of each homonym it binds to; klp check compares it
 * with every build the patch ships to (its code changed, or it moved to another sympos).
 *
 * The relocations are read straight from the sections' bytes (offset and type only), sorted once
 * per section: a database build fingerprints every homonym of every module, and building a
 * relocation object per entry of a large .text would cost more than reading the module.
 */
import { archForMachine } from '../arch/index.js';
import { ET, SHT } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol, Section } from '../elf/model.js';

/** The fields `section`'s relocations write: offsets ascending, and each one's width. */
interface Fields { offset: Float64Array; width: Uint8Array }

function relocatedFields(elf: ElfFile, section: Section): Fields {
  // A linked object's r_offset is an address (vmlinux keeps them with --emit-relocs).
  // Subtracted in halves: an address past 2^53 (every kernel address) is not exact in a double.
  const base = elf.header.type === ET.REL ? 0n : section.addr;
  const baseHi = Number(base >> 32n), baseLo = Number(base & 0xffffffffn);
  const arch = archForMachine(elf.machine);
  // A relocation type the table does not know: zero 8 bytes, the widest field, rather than hash them.
  const widthOf = (type: number): number => arch?.relocs.get(type)?.size ?? 8;
  const is64 = elf.elfClass === 64;
  const entry = (rs: Section): number => (is64 ? 8 : 4) * (rs.type === SHT.RELA ? 3 : 2);
  const sections = elf.relocationSectionsFor(section);
  const total = sections.reduce((n, rs) => n + Math.floor(rs.data.length / entry(rs)), 0);
  const offset = new Float64Array(total);
  const width = new Uint8Array(total);
  let n = 0;
  let sorted = true;
  for (const rs of sections) {
    const d = rs.data;
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const le = elf.littleEndian;
    const step = entry(rs);
    for (let o = 0; o + step <= d.length; o += step, n++) {
      // r_offset, then r_info: ELF64_R_TYPE is its low 32 bits, ELF32_R_TYPE its low 8.
      offset[n] = is64 ? dv.getUint32(o + (le ? 0 : 4), le) - baseLo + (dv.getUint32(o + (le ? 4 : 0), le) - baseHi) * 2 ** 32 : dv.getUint32(o, le) - baseLo;
      width[n] = widthOf(is64 ? dv.getUint32(o + (le ? 8 : 12), le) : dv.getUint32(o + 4, le) & 0xff);
      if (n > 0 && offset[n]! < offset[n - 1]!) sorted = false;
    }
  }
  if (sorted) return { offset, width };
  // Linkers write them in offset order; sort when they are not.
  const order = Array.from({ length: total }, (_, i) => i).sort((a, b) => offset[a]! - offset[b]!);
  return { offset: Float64Array.from(order, (i) => offset[i]!), width: Uint8Array.from(order, (i) => width[i]!) };
}

/** A fingerprint as the bindings record and the findings print it: 8 hex digits. */
export const fingerprintHex = (h: number): string => h.toString(16).padStart(8, '0');

/** Fingerprints of `symbols` (0 for one without bytes: undefined, NOBITS, empty). */
export function fingerprints(elf: ElfFile, symbols: readonly ElfSymbol[]): number[] {
  const fields = new Map<Section, Fields>();
  return symbols.map((y) => {
    const sec = y.section;
    const start = Number(elf.header.type === ET.REL || !sec ? y.value : y.value - sec.addr);
    const size = Number(y.size);
    if (!sec || sec.isNobits || size === 0 || start < 0 || start + size > sec.data.length) return 0;
    let f = fields.get(sec);
    if (!f) fields.set(sec, (f = relocatedFields(elf, sec)));
    const bytes = sec.data.slice(start, start + size);
    // The first field that can reach into the symbol (no field is wider than 8 bytes).
    let lo = 0, hi = f.offset.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (f.offset[mid]! < start - 8) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < f.offset.length && f.offset[i]! < start + size; i++) {
      const from = f.offset[i]!;
      for (let k = Math.max(from, start); k < Math.min(from + f.width[i]!, start + size); k++) bytes[k - start] = 0;
    }
    let h = 0x811c9dc5;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return h === 0 ? 1 : h; // 0 means "no fingerprint"
  });
}
