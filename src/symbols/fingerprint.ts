/**
 * A fingerprint of a symbol's bytes in a relocatable object: FNV-1a (32 bits) over its st_size
 * bytes, with every field a relocation writes zeroed first. Those fields are filled by the module
 * loader and differ between builds whose code is the same (addresses, offsets of other symbols),
 * so two builds of one function give one fingerprint, and a function whose code changed gives
 * another. klp convert records the fingerprint of each homonym it binds to; klp check compares it
 * with every build the patch ships to (its code changed, or it moved to another sympos).
 */
import { archForMachine } from '../arch/index.js';
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol, Section } from '../elf/model.js';

/** The byte ranges of `section` that its relocations write, by the arch's relocation widths. */
function relocatedFields(elf: ElfFile, section: Section): Array<[number, number]> {
  const arch = archForMachine(elf.header.machine);
  const out: Array<[number, number]> = [];
  for (const rs of elf.relocationSectionsFor(section)) {
    for (const r of elf.relocations(rs)) {
      // A relocation type the table does not know: zero 8 bytes, the widest field, rather than hash them.
      const width = arch?.relocs.get(r.type)?.size ?? 8;
      out.push([Number(r.offset), width]);
    }
  }
  return out;
}

/** Fingerprints of `symbols` (0 for one without bytes: undefined, NOBITS, empty). */
export function fingerprints(elf: ElfFile, symbols: readonly ElfSymbol[]): number[] {
  const fields = new Map<Section, Array<[number, number]>>();
  return symbols.map((y) => {
    const sec = y.section;
    const start = Number(y.value);
    const size = Number(y.size);
    if (!sec || sec.isNobits || size === 0 || start + size > sec.data.length) return 0;
    let f = fields.get(sec);
    if (!f) fields.set(sec, (f = relocatedFields(elf, sec)));
    const bytes = sec.data.slice(start, start + size);
    for (const [off, width] of f) {
      for (let k = Math.max(off, start); k < Math.min(off + width, start + size); k++) bytes[k - start] = 0;
    }
    let h = 0x811c9dc5;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    return h === 0 ? 1 : h; // 0 means "no fingerprint"
  });
}
