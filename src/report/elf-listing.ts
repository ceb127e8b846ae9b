/**
 * `klp elf`: what a livepatch engineer wants to see of a module, as one data structure rendered
 * as readelf-like text or as JSON (the same data in both).
 */
import { relocTypeName } from '../arch/index.js';
import {
  bindName, EM, machineName, SHF, SHN, sectionTypeName, symTypeName, visibilityName,
} from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol, Section } from '../elf/model.js';
import { moduleName, readModinfo, readModversions, type ModinfoEntry } from '../elf/module.js';
import { escapeText, hex } from './escape.js';

export interface SectionRow {
  index: number;
  name: string;
  type: number;
  typeName: string;
  flags: string; // hex
  flagLetters: string;
  addr: string;
  offset: number;
  size: number;
  entsize: number;
  link: number;
  info: number;
  align: number;
  livepatch: boolean;
}

export interface SymbolRow {
  table: string;
  index: number;
  name: string;
  value: string;
  size: number;
  type: string;
  bind: string;
  visibility: string;
  /** Section index, or the special index's name (UND, ABS, COMMON, LIVEPATCH, ...). */
  shndx: number | string;
  section: string | null;
  livepatch: boolean;
}

export interface RelocationRow {
  section: string;
  target: string | null;
  index: number;
  offset: string;
  type: number;
  typeName: string;
  symbolIndex: number;
  symbol: string;
  addend: string;
  livepatch: boolean;
}

export interface ElfListing {
  file: string;
  compression: string | null;
  class: number;
  endian: 'little' | 'big';
  type: number;
  machine: number;
  machineName: string;
  module: string | null;
  livepatch: boolean;
  sections: SectionRow[];
  symbols: SymbolRow[];
  relocations: RelocationRow[];
  modinfo: ModinfoEntry[];
  modversions: Array<{ crc: string; name: string }>;
}

/** readelf's one-letter section flags (binutils readelf.c get_elf_section_flags, non-verbose). */
export function flagLetters(flags: bigint, machine: number): string {
  let out = '';
  let f = flags;
  while (f !== 0n) {
    const bit = f & -f;
    f &= ~bit;
    switch (bit) {
      case SHF.WRITE: out += 'W'; break;
      case SHF.ALLOC: out += 'A'; break;
      case SHF.EXECINSTR: out += 'X'; break;
      case SHF.MERGE: out += 'M'; break;
      case SHF.STRINGS: out += 'S'; break;
      case SHF.INFO_LINK: out += 'I'; break;
      case SHF.LINK_ORDER: out += 'L'; break;
      case SHF.OS_NONCONFORMING: out += 'O'; break;
      case SHF.GROUP: out += 'G'; break;
      case SHF.TLS: out += 'T'; break;
      case SHF.EXCLUDE: out += 'E'; break;
      case SHF.COMPRESSED: out += 'C'; break;
      default:
        if (machine === EM.X86_64 && bit === 0x10000000n) out += 'l';
        else if (bit === SHF.GNU_RETAIN) out += 'R';
        else if ((bit & SHF.MASKOS) !== 0n) { out += 'o'; f &= ~SHF.MASKOS; }
        else if ((bit & SHF.MASKPROC) !== 0n) { out += 'p'; f &= ~SHF.MASKPROC; }
        else out += 'x';
    }
  }
  return out;
}

export function specialIndexName(shndx: number): string {
  switch (shndx) {
    case SHN.UNDEF: return 'UND';
    case SHN.ABS: return 'ABS';
    case SHN.COMMON: return 'COM';
    case SHN.LIVEPATCH: return 'LIVEPATCH';
    default:
      if (shndx >= SHN.LOPROC && shndx <= SHN.HIPROC) return `PRC[0x${hex(shndx)}]`;
      if (shndx >= SHN.LOOS && shndx <= SHN.HIOS) return `OS[0x${hex(shndx)}]`;
      return `RSV[0x${hex(shndx)}]`;
  }
}

export function listElf(elf: ElfFile): ElfListing {
  const m = elf.machine;
  // One map instead of elf.indexOf() per row: files with SHN_XINDEX have 10^5 sections.
  const secIndex = new Map(elf.sections.map((s, i) => [s, i]));
  const ref = (s: Section | null, raw: number): number => (s ? secIndex.get(s) ?? -1 : raw);
  const sectionRow = (s: Section, i: number): SectionRow => ({
    index: i, name: s.name, type: s.type, typeName: sectionTypeName(s.type, m), flags: `0x${hex(s.flags)}`,
    flagLetters: flagLetters(s.flags, m), addr: `0x${hex(s.addr)}`, offset: s.offset, size: s.isNobits ? s.size : s.data.length,
    entsize: Number(s.entsize), link: ref(s.linkSection, s.link),
    info: s.infoSection ? ref(s.infoSection, s.info) : elf.infoIndex(s), align: Number(s.addralign),
    livepatch: s.isLivepatchRela,
  });
  const symbols: SymbolRow[] = [];
  for (const st of elf.sections.filter((s) => s.isSymbolTable)) {
    elf.symbols(st).forEach((y, i) => {
      symbols.push({
        table: st.name, index: i, name: y.name, value: `0x${hex(y.value)}`, size: Number(y.size),
        type: symTypeName(y.type), bind: bindName(y.bind), visibility: visibilityName(y.other),
        shndx: y.section ? ref(y.section, 0) : y.shndx === SHN.UNDEF ? 'UND' : specialIndexName(y.shndx),
        section: y.section?.name ?? null, livepatch: y.isLivepatch,
      });
    });
  }
  const relocations: RelocationRow[] = [];
  const symIndex = new Map<Section, Map<ElfSymbol, number>>();
  for (const rs of elf.sections.filter((s) => s.isRelocation)) {
    const st = rs.linkSection?.isSymbolTable ? rs.linkSection : null;
    let idx = st ? symIndex.get(st) : undefined;
    if (!idx) {
      idx = new Map((st ? elf.symbols(st) : []).map((y, i) => [y, i]));
      if (st) symIndex.set(st, idx);
    }
    elf.relocations(rs).forEach((r, i) => {
      relocations.push({
        section: rs.name, target: rs.infoSection?.name ?? null, index: i, offset: `0x${hex(r.offset)}`,
        type: r.type, typeName: relocTypeName(m, r.type), symbolIndex: idx.get(r.symbol) ?? 0,
        symbol: r.symbol.type === 3 && r.symbol.section ? r.symbol.section.name : r.symbol.name,
        addend: r.addend < 0n ? `-0x${hex(-r.addend)}` : `0x${hex(r.addend)}`, livepatch: rs.isLivepatchRela,
      });
    });
  }
  const modinfo = readModinfo(elf);
  return {
    file: elf.path, compression: elf.compression ?? null, class: elf.elfClass, endian: elf.littleEndian ? 'little' : 'big',
    type: elf.header.type, machine: m, machineName: machineName(m), module: moduleName(elf) ?? null,
    livepatch: modinfo.some((e) => e.key === 'livepatch' && e.value === 'Y'),
    sections: elf.sections.map(sectionRow), symbols, relocations, modinfo,
    modversions: readModversions(elf).map((v) => ({ crc: `0x${hex(v.crc, 8)}`, name: v.name })),
  };
}

export interface TextParts {
  header?: boolean;
  sections?: boolean;
  symbols?: boolean;
  relocs?: boolean;
  modinfo?: boolean;
}

const ET_NAMES: Record<number, string> = { 0: 'NONE', 1: 'REL (Relocatable file)', 2: 'EXEC (Executable file)', 3: 'DYN (Shared object file)', 4: 'CORE (Core file)' };

/** readelf-like text. Every name goes through escapeText. */
export function renderElfText(l: ElfListing, parts: TextParts): string {
  const out: string[] = [];
  const e = escapeText;
  if (parts.header) {
    out.push(`File: ${e(l.file)}${l.compression ? ` (${l.compression}-compressed)` : ''}`);
    out.push(`  Class: ELF${l.class}  Data: ${l.endian} endian  Type: ${ET_NAMES[l.type] ?? l.type}  Machine: ${l.machineName}`);
    if (l.module !== null) out.push(`  Module: ${e(l.module)}${l.livepatch ? '  [livepatch=Y]' : ''}`);
    out.push(`  ${l.sections.length} sections, ${l.symbols.length} symbols, ${l.relocations.length} relocations` +
      `, ${l.sections.filter((s) => s.livepatch).length} livepatch relocation sections`);
    out.push('');
  }
  if (parts.sections) {
    out.push('Section Headers:');
    out.push('  [Nr] Name                 Type            Address          Off    Size   ES Flg Lk Inf Al');
    for (const s of l.sections) {
      out.push(`  [${String(s.index).padStart(2)}] ${e(s.name).padEnd(20)} ${s.typeName.padEnd(15).slice(0, 15)} ` +
        `${s.addr.slice(2).padStart(16, '0')} ${hex(s.offset, 6)} ${hex(s.size, 6)} ${hex(s.entsize, 2)} ` +
        `${s.flagLetters.padStart(3)} ${String(s.link).padStart(2)} ${String(s.info).padStart(3)} ${String(s.align).padStart(2)}` +
        `${s.livepatch ? '  <- livepatch relocations' : ''}`);
    }
    out.push('Key to Flags:');
    out.push('  W (write), A (alloc), X (execute), M (merge), S (strings), I (info), L (link order),');
    out.push('  O (extra OS processing required), G (group), T (TLS), C (compressed), x (unknown),');
    out.push('  o (OS specific: 0x00100000 is SHF_RELA_LIVEPATCH), E (exclude), R (retain), l (large), p (processor specific)');
    out.push('');
  }
  if (parts.symbols) {
    let table = '';
    for (const y of l.symbols) {
      if (y.table !== table) {
        table = y.table;
        out.push(`Symbol table '${e(table)}' contains ${l.symbols.filter((z) => z.table === table).length} entries:`);
        out.push('   Num:    Value          Size Type    Bind   Vis      Ndx       Name');
      }
      out.push(`${String(y.index).padStart(6)}: ${y.value.slice(2).padStart(16, '0')} ${String(y.size).padStart(5)} ` +
        `${y.type.padEnd(7)} ${y.bind.padEnd(6)} ${y.visibility.padEnd(8)} ${String(y.shndx).padStart(9)} ${e(y.name)}`);
    }
    out.push('');
  }
  if (parts.relocs) {
    let sec = '';
    for (const r of l.relocations) {
      if (r.section !== sec) {
        sec = r.section;
        const n = l.relocations.filter((z) => z.section === sec).length;
        out.push(`Relocation section '${e(sec)}'${r.livepatch ? ' [SHF_RELA_LIVEPATCH]' : ''} for '${e(r.target ?? '')}' contains ${n} entries:`);
        out.push('    Offset             Type                  Sym#  Symbol + Addend');
      }
      out.push(`  ${r.offset.slice(2).padStart(16, '0')}  ${r.typeName.padEnd(20)} ${String(r.symbolIndex).padStart(5)}  ` +
        `${e(r.symbol)} ${r.addend.startsWith('-') ? '-' : '+'} ${r.addend.replace(/^-?0x/, '')}`);
    }
    out.push('');
  }
  if (parts.modinfo) {
    out.push(`Module info (.modinfo, ${l.modinfo.length} entries):`);
    for (const m of l.modinfo) out.push(`  ${e(m.key)}=${e(m.value)}`);
    if (l.modversions.length) {
      out.push(`Module versions (__versions, ${l.modversions.length} entries):`);
      for (const v of l.modversions) out.push(`  ${v.crc}  ${e(v.name)}`);
    }
    out.push('');
  }
  return out.join('\n');
}
