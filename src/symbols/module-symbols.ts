/**
 * A module's symbols as the kernel's kallsyms sees them.
 *
 * Order: the module's ELF .symtab order with SHN_UNDEF entries skipped, which is the order
 * module_kallsyms_on_each_symbol() walks (kernel/module/kallsyms.c) and so the order sympos counts.
 * Two tables exist at run time:
 *  - while the module is COMING (its own load, and late module patching in klp_module_coming),
 *    mod->kallsyms is the full symbol table;
 *  - after init the kernel switches to core_kallsyms, which keeps only is_core_symbol() entries
 *    (CONFIG_KALLSYMS_ALL, which livepatch requires): a name, a real section that is SHF_ALLOC and
 *    not an init section, or the per-cpu section.
 */
import { SHF, SHN, STB, STT } from '../elf/constants.js';
import { ElfError } from '../elf/errors.js';
import type { ElfFile } from '../elf/file.js';
import { isInitSection, moduleName } from '../elf/module.js';
import type { Section } from '../elf/model.js';
import type { ElfSymbol } from '../elf/model.js';
import { dwarfUnitsOf, preferDwarf } from './dwarf-units.js';
import { fingerprints } from './fingerprint.js';
import { MODSYM_CORE, type ExportInfo, type ModuleSymbols } from './types.js';

/**
 * Type letter as kernel/module/kallsyms.c elf_type() computes it (lower case; /proc/kallsyms
 * prints it upper case for exported symbols).
 */
function elfType(elf: ElfFile, sym: { bind: number; type: number; section: Section | null; shndx: number }, pcpu: Section | undefined): string {
  if (sym.bind === STB.WEAK) return sym.type === STT.OBJECT ? 'v' : 'w';
  const sec = sym.section;
  if (!sec) return sym.shndx === SHN.UNDEF ? 'U' : sym.shndx === SHN.ABS ? 'a' : '?';
  if (sec === pcpu) return 'a';
  if (sec.hasFlag(SHF.EXECINSTR)) return 't';
  if (sec.hasFlag(SHF.ALLOC) && !sec.isNobits) return sec.hasFlag(SHF.WRITE) ? 'd' : 'r';
  if (sec.isNobits) return 'b';
  if (sec.name.startsWith('.debug')) return 'n';
  return '?';
}

/**
 * `unitsOnly`: for a debug copy, read only what gives the module its units (names, sections,
 * values, units, build id): no fingerprints, no exports, which the module itself gives.
 */
export function moduleSymbols(elf: ElfFile, opts: { unitsOnly?: boolean } = {}): ModuleSymbols {
  const name = moduleName(elf);
  if (!name) {
    throw new ElfError('BAD_SECTION', { file: elf.path }, 'no module name: .gnu.linkonce.this_module and .modinfo name= are both missing',
      'is this a kernel module? objects without a name cannot be told apart in the database');
  }
  const pcpu = elf.findSectionByName('.data..percpu');
  // The loader stops tracking these as allocated (rewrite_section_headers), so symbols in them
  // are not core symbols.
  const notKept = new Set(['.modinfo', '__versions']);
  const all = elf.allSymbols;
  const names: string[] = [];
  // The per-symbol columns, exactly as long as the symbols kept (the defined ones), share one
  // buffer: the scan's workers hand it over whole (postMessage's transfer list), no copy made.
  let count = 0;
  for (let i = 1; i < all.length; i++) if (!all[i]!.isUndefined) count++;
  const columns = new ArrayBuffer(17 * count);
  const value = new Uint32Array(columns, 0, count);
  const size = new Uint32Array(columns, 4 * count, count);
  const hash = new Uint32Array(columns, 8 * count, count);
  const section = new Uint16Array(columns, 12 * count, count);
  const file = new Uint16Array(columns, 14 * count, count);
  const flags = new Uint8Array(columns, 16 * count, count);
  const sections: string[] = [];
  const sectionIds = new Map<string, number>();
  // Provenance: in .symtab an STT_FILE symbol precedes the local symbols of its compilation unit
  // (ld -r keeps each input's run of locals together); globals follow all locals and belong to none.
  const files: string[] = [];
  const fileIds = new Map<string, number>();
  // 1 + its index in `files`; 0 once the table is full (no unit rather than a wrong one).
  const fileId = (unit: string): number => {
    let id = fileIds.get(unit);
    if (id === undefined && files.length < 0xfffe) {
      id = files.length + 1;
      files.push(unit);
      fileIds.set(unit, id);
    }
    return id ?? 0;
  };
  const u32 = (x: bigint): number => (x > 0xffffffffn ? 0xffffffff : Number(x));
  const kept: ElfSymbol[] = [];
  const bySection = new Map<Section, { sid: number; core: boolean; letter: string }>();
  const typeCodes = new Uint8Array(count);
  let unit = 0;
  let n = 0;
  for (let i = 1; i < all.length; i++) {
    const y = all[i]!;
    if (y.type === STT.FILE) {
      unit = fileId(y.name);
    } else if (y.bind !== STB.LOCAL) {
      unit = 0;
    }
    if (y.isUndefined) continue; // module_kallsyms_on_each_symbol skips SHN_UNDEF
    const sec = y.section;
    // What the section says of its symbols, worked out once a section: its id in `sections`,
    // whether its symbols are core ones, and the type letter of a global in it.
    let facts = sec ? bySection.get(sec) : undefined;
    if (!facts) {
      const secName = sec?.name ?? (y.shndx === SHN.ABS ? '*ABS*' : '');
      let sid = sectionIds.get(secName);
      if (sid === undefined) {
        sid = sections.length;
        sections.push(secName);
        sectionIds.set(secName, sid);
      }
      facts = {
        sid,
        core: sec !== null && (sec === pcpu || (sec.hasFlag(SHF.ALLOC) && !notKept.has(sec.name) && !isInitSection(sec.name))),
        letter: elfType(elf, { bind: STB.GLOBAL, type: STT.NOTYPE, section: sec, shndx: y.shndx }, pcpu),
      };
      if (sec) bySection.set(sec, facts);
    }
    const core = y.name !== '' && facts.core;
    const sid = facts.sid;
    names.push(y.name);
    typeCodes[n] = (y.bind === STB.WEAK ? elfType(elf, y, pcpu) : facts.letter).charCodeAt(0);
    flags[n] = (y.bind === STB.WEAK ? 2 : y.bind === STB.LOCAL ? 0 : 1) | (core ? MODSYM_CORE : 0);
    section[n] = sid;
    file[n] = y.bind === STB.LOCAL && y.type !== STT.FILE ? unit : 0;
    value[n] = u32(y.value);
    size[n] = u32(y.size);
    kept.push(y);
    n++;
  }
  // Fingerprints for the names defined more than once: the homonyms a sympos chooses among.
  // One look-up a name: where each name was first seen, and a mark on both where it comes again.
  const firstAt = new Map<string, number>();
  const again = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const x = names[i]!;
    const f = firstAt.get(x);
    if (f === undefined) firstAt.set(x, i);
    else again[f] = again[i] = 1;
  }
  const homonyms: number[] = [];
  for (let i = 0; i < n; i++) if (again[i] && names[i] !== '') homonyms.push(i);
  if (!opts.unitsOnly) fingerprints(elf, homonyms.map((i) => kept[i]!)).forEach((h, k) => { hash[homonyms[k]!] = h; });
  // Their units from DWARF, when the module has it (a build tree's, or the debug package's copy):
  // the path, where STT_FILE has the file name alone. Only then: walking a module's .debug_info
  // costs more than the rest of its scan, and a unit matters where a sympos is chosen.
  const dwarf = homonyms.length > 0 ? dwarfUnitsOf(elf, homonyms.map((i) => kept[i]!)) : null;
  dwarf?.forEach((u, k) => {
    const i = homonyms[k]!;
    if (kept[i]!.bind !== STB.LOCAL) return;
    const unit = preferDwarf(u, file[i] ? files[file[i]! - 1]! : null);
    if (unit === null) return;
    file[i] = fileId(unit) || file[i]!;
  });
  return { name, path: elf.path, count: n, names: names.join('\0'), types: Buffer.from(typeCodes.buffer, 0, n).toString('latin1'), flags, section, sections, exports: opts.unitsOnly ? [] : moduleExports(elf, name), files, file, value, size, hash, buildId: buildId(elf) };
}

/** The NT_GNU_BUILD_ID of `.note.gnu.build-id` as hex, if the object has a well-formed one. */
function buildId(elf: ElfFile): string | undefined {
  const b = elf.findSectionByName('.note.gnu.build-id')?.data;
  if (!b || b.length < 16) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const little = elf.littleEndian;
  const namesz = dv.getUint32(0, little);
  const descsz = dv.getUint32(4, little);
  const desc = 12 + Math.ceil(namesz / 4) * 4;
  if (dv.getUint32(8, little) !== 3 || desc + descsz > b.length) return undefined; // NT_GNU_BUILD_ID
  return Buffer.from(b.subarray(desc, desc + descsz)).toString('hex');
}

/**
 * Exports of a 6.1-era module: EXPORT_SYMBOL leaves a `__ksymtab_<sym>` symbol in `__ksymtab`
 * (or `__ksymtab_gpl`) and, with a namespace, `__kstrtabns_<sym>` pointing at the namespace
 * string in `__ksymtab_strings` (include/linux/export.h, 5.4 to 6.3).
 */
export function moduleExports(elf: ElfFile, object: string): ExportInfo[] {
  const out: ExportInfo[] = [];
  const byName = new Map<string, { section: Section | null; value: bigint }>();
  for (const y of elf.allSymbols) {
    if (y.name.startsWith('__ksymtab_') || y.name.startsWith('__kstrtabns_')) byName.set(y.name, { section: y.section, value: y.value });
  }
  for (const [n, y] of byName) {
    if (!n.startsWith('__ksymtab_') || !y.section) continue;
    const sec = y.section.name;
    if (sec !== '__ksymtab' && sec !== '__ksymtab_gpl') continue;
    const sym = n.slice('__ksymtab_'.length);
    let namespace = '';
    const ns = byName.get(`__kstrtabns_${sym}`);
    if (ns?.section && !ns.section.isNobits) {
      const d = ns.section.data;
      const off = Number(ns.value);
      const end = d.indexOf(0, off);
      if (off < d.length && end > off) namespace = Buffer.from(d.subarray(off, end)).toString('latin1');
    }
    out.push({ name: sym, object, type: sec === '__ksymtab_gpl' ? 'EXPORT_SYMBOL_GPL' : 'EXPORT_SYMBOL', namespace });
  }
  return out;
}
