/**
 * Read a livepatch module's own `struct klp_patch` / `klp_object` / `klp_func` data out of its
 * ELF: the structures are static data whose pointers are relocations, so we follow relocations.
 *
 * Layouts (include/linux/livepatch.h), x86_64, measured from Debian's 6.1 headers with a Kbuild
 * module that stores sizeof/offsetof (see docs/convert.md): the external fields come first and
 * have not moved since 4.x; only the sizes (internal fields) change between versions.
 */
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol, Relocation, Section } from '../elf/model.js';
import { relocationReader } from '../elf/reloc-reader.js';

export interface KlpLayout {
  func: { size: number; oldName: number; newFunc: number; oldSympos: number };
  object: { size: number; name: number; funcs: number };
  patch: { size: number; mod: number; objs: number };
}

/** struct sizes and offsets by kernel version (x86_64). */
export const KLP_LAYOUTS: Record<string, KlpLayout> = {
  '6.1': {
    func: { size: 152, oldName: 0, newFunc: 8, oldSympos: 16 },
    object: { size: 168, name: 0, funcs: 8 },
    patch: { size: 200, mod: 0, objs: 8 },
  },
};

export interface KlpFuncInfo {
  oldName: string;
  /** The replacement function's symbol. */
  newFunc: ElfSymbol | undefined;
  oldSympos: number;
  /** Where the klp_func lives (for reports). */
  at: { section: string; offset: number };
}

export interface KlpObjectInfo {
  /** null means vmlinux (klp_object.name == NULL). */
  name: string | null;
  funcs: KlpFuncInfo[];
}

export interface KlpPatchInfo {
  at: { section: string; offset: number };
  objects: KlpObjectInfo[];
}

interface Target { section: Section; offset: number; symbol: ElfSymbol }

/**
 * Relocations by target section and offset, indexed a section at a time on first use: a patch
 * with 20,000 functions has 20,000 relocation sections, and only the few holding klp_patch,
 * klp_object and klp_func data are ever asked.
 */
class RelocIndex {
  private readonly bySection = new Map<Section, Map<number, Relocation>>();
  private readonly elf: ElfFile;
  constructor(elf: ElfFile) {
    this.elf = elf;
  }
  private of(section: Section): Map<number, Relocation> {
    let m = this.bySection.get(section);
    if (!m) {
      m = new Map();
      for (const rs of this.elf.relocationSectionsFor(section)) for (const r of this.elf.relocations(rs)) m.set(Number(r.offset), r);
      this.bySection.set(section, m);
    }
    return m;
  }
  at(section: Section, offset: number): Relocation | undefined {
    return this.of(section).get(offset);
  }
  /** Where a pointer-sized relocation points: a defined symbol's section and offset. */
  target(section: Section, offset: number): Target | undefined {
    const r = this.at(section, offset);
    if (!r || !r.symbol.section) return undefined;
    return { section: r.symbol.section, offset: Number(r.symbol.value + r.addend), symbol: r.symbol };
  }
  /**
   * Relocations to `name`, by target section and offset, in section order (a later section's
   * entry at the same place replaces an earlier one, as in a per-section map). Read in place.
   */
  to(name: string): Array<[Section, number, Relocation]> {
    const named = new Set<Section>();
    // The symbols so named, a symbol table at a time: relocations are matched by symbol, and a
    // section whose table has none is passed over unread (a patch has 20,000 relocation sections).
    const symbolsNamed = new Map<Section | null, Set<ElfSymbol>>();
    const namedIn = (symtab: Section | null): Set<ElfSymbol> => {
      let set = symbolsNamed.get(symtab);
      if (!set) {
        set = new Set(symtab?.isSymbolTable ? this.elf.symbols(symtab).filter((y) => y.name === name) : []);
        if (symtab?._origSymbols) for (const y of symtab._origSymbols) if (y.name === name) set.add(y);
        symbolsNamed.set(symtab, set);
      }
      return set;
    };
    for (const rs of this.elf.sections) {
      if (!rs.isRelocation || !rs.infoSection || named.has(rs.infoSection)) continue;
      const wanted = rs.linkSection?.isSymbolTable ? namedIn(rs.linkSection) : undefined;
      if (wanted?.size === 0) continue;
      const rr = relocationReader(this.elf, rs);
      for (let i = 0; i < rr.count; i++) {
        if (wanted ? wanted.has(rr.symbol(i)) : rr.symbol(i).name === name) {
          named.add(rs.infoSection);
          break;
        }
      }
    }
    // Targets in the order their first relocation section comes, as one map over all would be:
    // found once the few named are known (a map of every target was 20,000 entries).
    const order: Section[] = [];
    if (named.size > 0) {
      for (const rs of this.elf.sections) {
        const t = rs.isRelocation ? rs.infoSection : null;
        if (t && named.has(t) && !order.includes(t)) order.push(t);
      }
    }
    const out: Array<[Section, number, Relocation]> = [];
    for (const t of order) {
      for (const [off, r] of this.of(t)) if (r.symbol.name === name) out.push([t, off, r]);
    }
    return out;
  }
}

function cstring(sec: Section, off: number): string | undefined {
  if (sec.isNobits || off < 0 || off >= sec.data.length) return undefined;
  const end = sec.data.indexOf(0, off);
  if (end < 0 || end - off > 4096) return undefined;
  return Buffer.from(sec.data.subarray(off, end)).toString('latin1');
}

function u64(sec: Section, off: number, le: boolean): number {
  if (sec.isNobits || off + 8 > sec.data.length) return 0;
  return Number(new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength).getBigUint64(off, le));
}

/** The function symbol a relocation target names (a FUNC symbol, or the FUNC at that place). */
function funcAt(elf: ElfFile, t: Target): ElfSymbol | undefined {
  if (t.symbol.type === 2) return t.symbol;
  return elf.allSymbols.find((y) => y.type === 2 && y.section === t.section && Number(y.value) === t.offset);
}

/**
 * Find every klp_patch: a place whose `mod` field is a relocation to `__this_module` and whose
 * `objs` field points at a klp_object array whose entries have `funcs` whose `old_name` is a string.
 */
export function readKlpPatches(elf: ElfFile, layout: KlpLayout = KLP_LAYOUTS['6.1']!): KlpPatchInfo[] {
  const idx = new RelocIndex(elf);
  const le = elf.littleEndian;
  const patches: KlpPatchInfo[] = [];
  for (const [sec, off] of idx.to('__this_module')) {
    if (off % 8 !== layout.patch.mod) continue;
    const base = off - layout.patch.mod;
    const objs = idx.target(sec, base + layout.patch.objs);
    if (!objs) continue;
    const objects: KlpObjectInfo[] = [];
    // The kernel's own loop conditions (include/linux/livepatch.h):
    //   klp_for_each_object_static: obj->funcs || obj->name
    //   klp_for_each_func_static:   func && (func->old_name || func->new_func || func->old_sympos)
    // A pointer is set when a relocation fills it or its bytes are not zero. An object whose
    // funcs array holds only the terminator is an object all the same: its relocations are
    // applied (upstream's test_klp_convert selftests declare such objects).
    const set = (section: Section, at: number): boolean => idx.at(section, at) !== undefined || u64(section, at, le) !== 0;
    for (let k = 0; k < 1024; k++) {
      const at = objs.offset + k * layout.object.size;
      if (at + layout.object.size > objs.section.data.length && !objs.section.isNobits) break;
      if (!set(objs.section, at + layout.object.funcs) && !set(objs.section, at + layout.object.name)) break;
      const nameT = idx.target(objs.section, at + layout.object.name);
      const name = nameT ? cstring(nameT.section, nameT.offset) ?? null : null;
      const funcs = idx.target(objs.section, at + layout.object.funcs);
      const list: KlpFuncInfo[] = [];
      for (let j = 0; funcs && j < 4096; j++) {
        const fAt = funcs.offset + j * layout.func.size;
        if (fAt + layout.func.size > funcs.section.data.length) break;
        const oldSympos = u64(funcs.section, fAt + layout.func.oldSympos, le);
        if (!set(funcs.section, fAt + layout.func.oldName) && !set(funcs.section, fAt + layout.func.newFunc) && oldSympos === 0) break;
        const oldNameT = idx.target(funcs.section, fAt + layout.func.oldName);
        const nf = idx.target(funcs.section, fAt + layout.func.newFunc);
        list.push({
          // klp_init_func() refuses a NULL old_name (-EINVAL); '' never resolves either.
          oldName: oldNameT ? cstring(oldNameT.section, oldNameT.offset) ?? '' : '',
          newFunc: nf ? funcAt(elf, nf) : undefined,
          oldSympos,
          at: { section: funcs.section.name, offset: fAt },
        });
      }
      objects.push({ name, funcs: list });
    }
    if (objects.length > 0) patches.push({ at: { section: sec.name, offset: base }, objects });
  }
  return patches;
}

/** Map each replacement function to the object it patches ('vmlinux' for a NULL name). */
export function newFuncObjects(patches: readonly KlpPatchInfo[]): Map<ElfSymbol, string> {
  const m = new Map<ElfSymbol, string>();
  for (const p of patches) for (const o of p.objects) for (const f of o.funcs) if (f.newFunc) m.set(f.newFunc, o.name ?? 'vmlinux');
  return m;
}

/** The FUNC symbol whose extent contains `offset` in `section`, if any. */
export function containingFunction(elf: ElfFile, section: Section, offset: number): ElfSymbol | undefined {
  for (const y of elf.allSymbols) {
    if (y.type !== 2 || y.section !== section) continue;
    const start = Number(y.value);
    if (offset >= start && offset < start + Math.max(1, Number(y.size))) return y;
  }
  return undefined;
}
