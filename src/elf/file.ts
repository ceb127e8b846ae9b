/**
 * ElfFile: one relocatable (or linked) ELF object in memory, its lazy table decoders and the verbs
 * that edit it while keeping ELF's invariants (objtool's elf_create_section / elf_create_reloc
 * style: callers never compute sh_link, sh_info or indices themselves).
 */
import { ByteReader, cString } from './bytes.js';
import type { Compression } from './compress.js';
import { SHF, SHN, SHT, SIZES, STB, STT } from './constants.js';
import { ElfError } from './errors.js';
import { ElfSymbol, Section, type ElfHeader, type ElfIdent, type GroupInfo, type Relocation } from './model.js';

export class ElfFile {
  readonly path: string;
  readonly ident: ElfIdent;
  readonly header: ElfHeader;
  /** Sections in index order; index 0 is the null section. Edit through the verbs below. */
  sections: Section[];
  /** The sections as read, by original index (decoders resolve indices through it). */
  readonly origSections: readonly Section[];
  /** The (decompressed) input bytes. */
  readonly source: Uint8Array;
  /** Raw program header table (empty for ET_REL). */
  readonly programHeaders: Uint8Array;
  /** The section-name string table. */
  shstrtab: Section | null;
  /** How the input was compressed, if it was ('xz', 'zstd', 'gzip'). */
  readonly compression: Compression | undefined;

  /** @internal */
  readonly reader: ByteReader;

  constructor(init: {
    path: string; ident: ElfIdent; header: ElfHeader; sections: Section[]; source: Uint8Array;
    programHeaders: Uint8Array; shstrtab: Section | null; reader: ByteReader; compression?: Compression | undefined;
  }) {
    this.path = init.path;
    this.ident = init.ident;
    this.header = init.header;
    this.sections = init.sections;
    this.origSections = [...init.sections];
    this.source = init.source;
    this.programHeaders = init.programHeaders;
    this.shstrtab = init.shstrtab;
    this.reader = init.reader;
    this.compression = init.compression;
  }

  get elfClass(): 32 | 64 {
    return this.ident.elfClass;
  }
  get littleEndian(): boolean {
    return this.ident.littleEndian;
  }
  get machine(): number {
    return this.header.machine;
  }
  private get sizes() {
    return SIZES[this.ident.elfClass];
  }

  // ---------------------------------------------------------------------------------------------
  // Lookups (named after objtool's find_section_by_name & co.)

  indexOf(sec: Section): number {
    return this.sections.indexOf(sec);
  }
  findSectionByName(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name);
  }
  /** The first SHT_SYMTAB section (a relocatable object has at most one). */
  get symtab(): Section | undefined {
    return this.sections.find((s) => s.type === SHT.SYMTAB);
  }
  /** Relocation sections that apply to `target`. */
  relocationSectionsFor(target: Section): Section[] {
    return this.sections.filter((s) => s.isRelocation && s.infoSection === target);
  }
  /** Symbols of the main symbol table ([] when there is none). */
  get allSymbols(): ElfSymbol[] {
    const st = this.symtab;
    return st ? this.symbols(st) : [];
  }
  findSymbolByName(name: string): ElfSymbol | undefined {
    return this.allSymbols.find((s) => s.name === name);
  }

  // ---------------------------------------------------------------------------------------------
  // Lazy decoders

  /** The symbols of a SYMTAB/DYNSYM section, decoded on first use. Entry 0 is the null symbol. */
  symbols(symtab: Section): ElfSymbol[] {
    if (symtab._symbols) return symtab._symbols;
    if (!symtab.isSymbolTable) {
      throw new ElfError('BAD_SECTION', { file: this.path, section: symtab.name }, 'not a symbol table');
    }
    const syms = this.decodeSymbols(symtab);
    symtab._symbols = syms;
    symtab._origSymbols = [...syms];
    return syms;
  }

  private decodeSymbols(symtab: Section): ElfSymbol[] {
    const file = this.path;
    const symSize = this.sizes.sym;
    const data = symtab.data;
    const place = { file, section: symtab.name };
    if (symtab.entsize !== BigInt(symSize) && !(symtab.entsize === 0n && data.length === 0)) {
      throw new ElfError('BAD_SECTION', { ...place, offset: symtab.offset },
        `symbol table entry size is ${symtab.entsize}, expected ${symSize}`);
    }
    if (data.length % symSize !== 0) {
      throw new ElfError('BAD_SECTION', { ...place, offset: symtab.offset },
        `symbol table size ${data.length} is not a multiple of ${symSize}`);
    }
    const strtab = symtab.linkSection;
    if (!strtab || strtab.type !== SHT.STRTAB) {
      throw new ElfError('BAD_SECTION', { ...place, offset: symtab.offset },
        `sh_link (${symtab.link}) does not name a string table`);
    }
    const strs = strtab.data;
    const shndxSec = this.sections.find((s) => s.type === SHT.SYMTAB_SHNDX && s.linkSection === symtab);
    const r = new ByteReader(data, this.ident.littleEndian, file);
    const shndxReader = shndxSec ? new ByteReader(shndxSec.data, this.ident.littleEndian, file) : undefined;
    const count = data.length / symSize;
    const secs = this.origSections;
    const out = new Array<ElfSymbol>(count);
    const is64 = this.ident.elfClass === 64;
    // One constructor argument for every symbol (ElfSymbol copies its fields), not one each.
    const init: ConstructorParameters<typeof ElfSymbol>[0] = { name: '' };
    for (let i = 0; i < count; i++) {
      const o = i * symSize;
      let nameOff: number, info: number, other: number, shndx: number, value: bigint, size: bigint;
      if (is64) {
        nameOff = r.u32(o); info = r.u8(o + 4); other = r.u8(o + 5); shndx = r.u16(o + 6);
        value = r.u64(o + 8); size = r.u64(o + 16);
      } else {
        nameOff = r.u32(o); value = BigInt(r.u32(o + 4)); size = BigInt(r.u32(o + 8));
        info = r.u8(o + 12); other = r.u8(o + 13); shndx = r.u16(o + 14);
      }
      const name = nameOff === 0 ? '' : cString(strs, nameOff);
      if (name === undefined) {
        throw new ElfError('BAD_STRING', { ...place, index: i, offset: symtab.offset + o },
          `symbol name offset ${nameOff} is outside string table ${strtab.name} (${strs.length} bytes) or unterminated`);
      }
      // SHN_XINDEX: the real index is in the parallel SHT_SYMTAB_SHNDX table, and is always a
      // section index; other values from SHN_LORESERVE up are special (ABS, COMMON, LIVEPATCH...).
      let isSectionIndex = shndx !== SHN.UNDEF && shndx < SHN.LORESERVE;
      if (shndx === SHN.XINDEX) {
        if (!shndxReader || (i + 1) * 4 > shndxReader.length) {
          throw new ElfError('BAD_SYMBOL', { ...place, index: i, offset: symtab.offset + o },
            `symbol '${name}' uses SHN_XINDEX but there is no SHT_SYMTAB_SHNDX entry for it`);
        }
        shndx = shndxReader.u32(i * 4);
        isSectionIndex = true;
      }
      let section: Section | null = null;
      let special: number = shndx;
      if (isSectionIndex) {
        const s = secs[shndx];
        if (!s || shndx === 0) {
          throw new ElfError('BAD_SECTION_INDEX', { ...place, index: i, offset: symtab.offset + o },
            `symbol '${name}' has section index ${shndx}, but the file has ${secs.length} sections`);
        }
        section = s;
        special = SHN.UNDEF;
      }
      init.name = name;
      init.value = value;
      init.size = size;
      init.bind = info >> 4;
      init.type = info & 0xf;
      init.other = other;
      init.section = section;
      init.shndx = special;
      init.origIndex = i;
      init.origNameOffset = nameOff;
      out[i] = new ElfSymbol(init);
    }
    return out;
  }

  /** The relocations of a REL/RELA section, decoded on first use. */
  relocations(relsec: Section): Relocation[] {
    if (relsec._relocs) return relsec._relocs;
    relsec._relocs = this.decodeRelocations(relsec);
    return relsec._relocs;
  }

  /** Replace the relocations of a REL/RELA section (the writer encodes them). */
  setRelocations(relsec: Section, relocs: Relocation[]): void {
    relsec._relocs = relocs;
  }

  /**
   * Give a REL/RELA section new raw entries (symbol indices of its symbol table as read, the
   * indices the decoders resolve through); any decoded relocations give way to them. They may be
   * `length` bytes at `start` of `bytes`, which many sections share (Section.setDataRange).
   */
  setRelocationBytes(relsec: Section, bytes: Uint8Array, start = 0, length = bytes.length - start): void {
    const ent = relsec.type === SHT.RELA ? this.sizes.rela : this.sizes.rel;
    if (!relsec.isRelocation || length % ent !== 0) {
      throw new ElfError('WRITE', { file: this.path, section: relsec.name }, `${length} bytes are not whole ${ent}-byte relocation entries`);
    }
    relsec._relocs = undefined;
    relsec.setDataRange(bytes, start, length);
  }

  /** Append relocations to a REL/RELA section. */
  addRelocations(relsec: Section, ...relocs: Relocation[]): void {
    this.relocations(relsec).push(...relocs);
  }

  /** Remove the relocations `drop` selects; returns how many went. */
  removeRelocations(relsec: Section, drop: (r: Relocation) => boolean): number {
    const before = this.relocations(relsec);
    const kept = before.filter((r) => !drop(r));
    relsec._relocs = kept;
    return before.length - kept.length;
  }

  private decodeRelocations(relsec: Section): Relocation[] {
    const file = this.path;
    const place = { file, section: relsec.name };
    if (!relsec.isRelocation) throw new ElfError('BAD_SECTION', place, 'not a relocation section');
    const isRela = relsec.type === SHT.RELA;
    const is64 = this.ident.elfClass === 64;
    const ent = isRela ? this.sizes.rela : this.sizes.rel;
    const data = relsec.data;
    if (relsec.entsize !== BigInt(ent) || data.length % ent !== 0) {
      throw new ElfError('BAD_SECTION', { ...place, offset: relsec.offset },
        `relocation entry size ${relsec.entsize} / section size ${data.length} do not match ${ent}-byte entries`);
    }
    const symtab = relsec.linkSection;
    let syms: readonly ElfSymbol[];
    if (symtab && symtab.isSymbolTable) {
      this.symbols(symtab);
      syms = symtab._origSymbols!;
    } else if (relsec.link === 0) {
      syms = [];
    } else {
      throw new ElfError('BAD_SECTION', { ...place, offset: relsec.offset },
        `sh_link (${relsec.link}) does not name a symbol table`);
    }
    const nullSym = syms[0] ?? new ElfSymbol({ name: '' });
    const r = new ByteReader(data, this.ident.littleEndian, file);
    const count = data.length / ent;
    const out = new Array<Relocation>(count);
    for (let i = 0; i < count; i++) {
      const o = i * ent;
      let offset: bigint, type: number, symIdx: number, addend = 0n;
      if (is64) {
        offset = r.u64(o);
        symIdx = r.u32(o + (this.ident.littleEndian ? 12 : 8));
        type = r.u32(o + (this.ident.littleEndian ? 8 : 12));
        if (isRela) addend = r.i64(o + 16);
      } else {
        offset = BigInt(r.u32(o));
        const info = r.u32(o + 4);
        symIdx = info >>> 8;
        type = info & 0xff;
        if (isRela) addend = BigInt(r.i32(o + 8));
      }
      const symbol = symIdx === 0 ? nullSym : syms[symIdx];
      if (!symbol) throw badRelocationSymbol(file, relsec, i, relsec.offset + o, symIdx, syms.length);
      out[i] = { offset, type, symbol, addend };
    }
    return out;
  }

  /** The members of a SHT_GROUP section, decoded on first use. */
  group(sec: Section): GroupInfo {
    if (sec._group) return sec._group;
    const place = { file: this.path, section: sec.name };
    if (sec.type !== SHT.GROUP) throw new ElfError('BAD_SECTION', place, 'not a group section');
    if (sec.data.length < 4 || sec.data.length % 4 !== 0) {
      throw new ElfError('BAD_GROUP', { ...place, offset: sec.offset }, `group size ${sec.data.length} is not a positive multiple of 4`);
    }
    const r = new ByteReader(sec.data, this.ident.littleEndian, this.path);
    const members: Section[] = [];
    for (let o = 4; o < sec.data.length; o += 4) {
      const idx = r.u32(o);
      const m = this.origSections[idx];
      if (idx === 0 || !m) {
        throw new ElfError('BAD_GROUP', { ...place, offset: sec.offset + o, index: o / 4 - 1 },
          `group member index ${idx} is not a section`);
      }
      members.push(m);
    }
    sec._group = { flags: r.u32(0), members };
    return sec._group;
  }

  /** The signature symbol of a group (sh_info indexes the symbol table named by sh_link). */
  groupSignature(sec: Section): ElfSymbol | undefined {
    const st = sec.linkSection;
    if (!st || !st.isSymbolTable) return undefined;
    this.symbols(st);
    return st._origSymbols![sec.info];
  }

  /** Decode every table; used by tests and the corpus check to exercise every decoder. */
  decodeAll(): void {
    for (const s of this.sections) {
      if (s.isSymbolTable) this.symbols(s);
      else if (s.isRelocation) this.relocations(s);
      else if (s.type === SHT.GROUP) this.group(s);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Verbs that edit the file

  /** Add a section (at the end unless `at` is given) and return it. */
  addSection(init: ConstructorParameters<typeof Section>[0] & { linkSection?: Section | null; infoSection?: Section | null }, at?: number): Section {
    // Field by field (not a rest spread, two objects a section: convert makes 20,000 of them);
    // an original index or name offset given is not taken: the section is a new one.
    const sec = new Section({
      name: init.name, type: init.type, flags: init.flags, addr: init.addr, offset: init.offset, size: init.size,
      link: init.link, info: init.info, addralign: init.addralign, entsize: init.entsize, data: init.data,
    });
    sec.linkSection = init.linkSection ?? null;
    sec.infoSection = init.infoSection ?? null;
    if (at === undefined) this.sections.push(sec);
    else this.sections.splice(at, 0, sec);
    return sec;
  }

  /**
   * Create an empty RELA section for `target`, linked to the symbol table, with the layout every
   * tool and the kernel expect (SHF_INFO_LINK, entsize = sizeof(Elf_Rela), word alignment).
   */
  createRelaSection(name: string, target: Section, extraFlags = 0n, symtab: Section | undefined = this.symtab): Section {
    if (!symtab) throw new ElfError('UNSUPPORTED', { file: this.path }, 'the file has no symbol table');
    const sec = this.addSection({
      name, type: SHT.RELA, flags: shared(SHF.INFO_LINK | extraFlags), addralign: shared(BigInt(this.sizes.word)),
      entsize: shared(BigInt(this.sizes.rela)), linkSection: symtab, infoSection: target,
    });
    sec._relocs = [];
    return sec;
  }

  /**
   * Remove sections. Relocation sections that target a removed section go too, and so do the
   * removed sections' STT_SECTION symbols. Other symbols defined in a removed section must be
   * removed by the caller; the writer refuses dangling references.
   */
  removeSections(toRemove: Iterable<Section>): void {
    const gone = new Set(toRemove);
    for (const s of this.sections) if (s.isRelocation && s.infoSection && gone.has(s.infoSection)) gone.add(s);
    for (const st of this.sections.filter((s) => s.isSymbolTable && !gone.has(s))) {
      this.removeSymbols((y) => y.type === STT.SECTION && y.section !== null && gone.has(y.section), st);
    }
    this.sections = this.sections.filter((s) => !gone.has(s));
    for (const s of this.sections) {
      if (s.type === SHT.GROUP) {
        const g = this.group(s);
        g.members = g.members.filter((m) => !gone.has(m));
      }
    }
  }

  /**
   * Add a symbol to a symbol table, keeping ELF's rule that locals precede globals (the table's
   * sh_info, the first non-local index, is recomputed by the writer).
   */
  addSymbol(sym: ElfSymbol, symtab: Section | undefined = this.symtab): ElfSymbol {
    if (!symtab) throw new ElfError('UNSUPPORTED', { file: this.path }, 'the file has no symbol table');
    const syms = this.symbols(symtab);
    if (sym.bind === STB.LOCAL) {
      let firstGlobal = syms.findIndex((s, i) => i > 0 && s.bind !== STB.LOCAL);
      if (firstGlobal < 0) firstGlobal = syms.length;
      syms.splice(firstGlobal, 0, sym);
    } else {
      syms.push(sym);
    }
    return sym;
  }

  /** Remove symbols from a table; relocations still using them make the writer refuse. */
  removeSymbols(pred: (s: ElfSymbol, index: number) => boolean, symtab: Section | undefined = this.symtab): number {
    if (!symtab) return 0;
    const syms = this.symbols(symtab);
    const kept = syms.filter((s, i) => i === 0 || !pred(s, i));
    const removed = syms.length - kept.length;
    symtab._symbols = kept;
    return removed;
  }

  /** Rename a section (the section-name string table is rebuilt on write). */
  renameSection(sec: Section, name: string): void {
    sec.name = name;
  }

  /** sh_info as the writer will emit it, resolved to current indices. */
  infoIndex(sec: Section): number {
    if (sec.infoSection) return this.indexOf(sec.infoSection);
    if (sec.isSymbolTable && sec._symbols) return firstNonLocal(sec._symbols);
    return sec.info;
  }
}

/** A relocation's symbol index past its table: the decoder's and the raw reader's one error. */
export function badRelocationSymbol(file: string, relsec: Section, index: number, offset: number, symIdx: number, count: number): ElfError {
  return new ElfError('BAD_RELOCATION', { file, section: relsec.name, index, offset },
    `relocation refers to symbol ${symIdx}, but ${relsec.linkSection?.name ?? 'the symbol table'} has ${count} symbols`);
}

export function firstNonLocal(syms: readonly ElfSymbol[]): number {
  for (let i = 1; i < syms.length; i++) if (syms[i]!.bind !== STB.LOCAL) return i;
  return syms.length;
}

/**
 * One BigInt a value, for the header fields of the sections made here: a BigInt is an object of
 * its own, and convert makes 20,000 relocation sections with the same three.
 */
const sharedBigInts = new Map<bigint, bigint>();
function shared(v: bigint): bigint {
  const known = sharedBigInts.get(v);
  if (known !== undefined) return known;
  sharedBigInts.set(v, v);
  return v;
}
