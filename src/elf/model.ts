/**
 * The ELF object model.
 *
 * Two levels, as in mold and objtool: on-disk fields keep their spec names (`sh_link`, `st_shndx`,
 * `r_info` parts) so the code greps against readelf and kernel sources, while cross references are
 * object references (a relocation points at its `ElfSymbol`, a rela section at its target
 * `Section`). Indices are derived from array positions when the file is written, so adding or
 * removing sections and symbols never leaves a stale index behind.
 *
 * Bulk tables (symbols, relocations, group members) are decoded lazily: a module that is only
 * listed or copied never pays for them. Decoding always goes through the *original* section and
 * symbol arrays, so it stays correct even after the arrays were edited.
 */
import { SHF, SHN, SHT, STB } from './constants.js';

export interface ElfIdent {
  /** 32 or 64 (EI_CLASS). */
  readonly elfClass: 32 | 64;
  /** EI_DATA: true for ELFDATA2LSB. */
  readonly littleEndian: boolean;
  /** EI_VERSION */
  readonly version: number;
  /** EI_OSABI */
  osabi: number;
  /** EI_ABIVERSION */
  abiversion: number;
  /** e_ident[9..16), kept for a byte-exact round trip. */
  readonly pad: Uint8Array;
}

export interface ElfHeader {
  type: number;
  machine: number;
  version: number;
  entry: bigint;
  flags: number;
  /** As read; the writer recomputes the layout fields below. */
  readonly phoff: number;
  readonly shoff: number;
  readonly ehsize: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shentsize: number;
  /** Raw e_shnum (0 with extended numbering). */
  readonly shnum: number;
  /** Raw e_shstrndx (SHN_XINDEX with extended numbering). */
  readonly shstrndx: number;
}

/** No bytes: the contents of every NOBITS and empty section, shared (an empty array cannot change). */
export const EMPTY_BYTES = new Uint8Array(0);

export class Section {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  /** Where the section was in the input (or 0 for a new one); the writer keeps it when it can. */
  offset: number;
  /** sh_size. For every type but NOBITS the writer uses data.length instead. */
  size: number;
  /** sh_link as read. Where sh_link names a section, `linkSection` is authoritative. */
  link: number;
  /** sh_info as read. For REL/RELA, `infoSection` is authoritative; for SYMTAB it is recomputed. */
  info: number;
  addralign: bigint;
  entsize: bigint;
  /** The section that sh_link refers to, for the types where sh_link is a section index. */
  linkSection: Section | null = null;
  /** The section that sh_info refers to (the target of a REL/RELA section, or SHF_INFO_LINK). */
  infoSection: Section | null = null;
  /**
   * The contents as read, until first asked for: a view of the input is made then. A converted
   * patch of 20,000 functions has 60,000 sections, most of which nothing reads and the writer
   * copies from the input where they lie (writer.ts): a view each was 80,000 allocations.
   */
  private _data: Uint8Array | undefined;
  private _source: Uint8Array | undefined;
  private _from: number;
  private _length: number;

  /** Index in the input file, or -1 for a section created in memory. */
  readonly origIndex: number;
  /**
   * sh_size as read (0 for a new section): the extent the section had in the input, which the
   * writer must know after setData() changed `size`, to tell what it may copy from the input.
   */
  readonly origSize: number;
  /** sh_name as read; reused by the writer while `name` is unchanged. */
  readonly origNameOffset: number;
  /** The name as read (the reader fills it in once the section-name table is known). */
  origName: string;

  /**
   * What was decoded of its contents, once anything was: one field, not five, on 60,000 sections of
   * which a few hold anything (docs/performance.md, tenth round).
   */
  private _decoded: Decoded | undefined = undefined;
  /** @internal its index when the writer last wrote its file (writer.ts checks it is still there). */
  _writeIndex = -1;

  constructor(init: {
    name: string; type: number; flags?: bigint | undefined; addr?: bigint | undefined; offset?: number | undefined; size?: number | undefined;
    link?: number | undefined; info?: number | undefined; addralign?: bigint | undefined; entsize?: bigint | undefined; data?: Uint8Array | undefined;
    origIndex?: number; origNameOffset?: number;
    /** Instead of `data`: the contents are `size` bytes at `from` of `source`, viewed when first used. */
    source?: Uint8Array | undefined; from?: number;
  }) {
    this.name = init.name;
    this.type = init.type;
    this.flags = init.flags ?? 0n;
    this.addr = init.addr ?? 0n;
    this.offset = init.offset ?? 0;
    this._source = init.source;
    this._from = init.from ?? 0;
    this._length = init.source ? (init.size ?? 0) : 0;
    this._data = init.source ? undefined : (init.data ?? EMPTY_BYTES);
    this.size = init.size ?? this._data?.length ?? 0;
    this.link = init.link ?? 0;
    this.info = init.info ?? 0;
    this.addralign = init.addralign ?? 1n;
    this.entsize = init.entsize ?? 0n;
    this.origIndex = init.origIndex ?? -1;
    this.origSize = init.origIndex !== undefined ? this.size : 0;
    this.origNameOffset = init.origNameOffset ?? -1;
    this.origName = init.origIndex !== undefined ? init.name : '';
  }

  /** @internal decoded symbol table, when this is SYMTAB/DYNSYM */
  get _symbols(): ElfSymbol[] | undefined {
    return this._decoded?.symbols;
  }
  set _symbols(v: ElfSymbol[] | undefined) {
    this.setDecoded('symbols', v);
  }
  /** @internal the symbol array as first decoded, for decoding relocations against original indices */
  get _origSymbols(): readonly ElfSymbol[] | undefined {
    return this._decoded?.origSymbols;
  }
  set _origSymbols(v: readonly ElfSymbol[] | undefined) {
    this.setDecoded('origSymbols', v);
  }
  /** @internal decoded relocations, when this is REL/RELA */
  get _relocs(): Relocation[] | undefined {
    return this._decoded?.relocs;
  }
  set _relocs(v: Relocation[] | undefined) {
    this.setDecoded('relocs', v);
  }
  /** @internal decoded group, when this is GROUP */
  get _group(): GroupInfo | undefined {
    return this._decoded?.group;
  }
  set _group(v: GroupInfo | undefined) {
    this.setDecoded('group', v);
  }
  /**
   * @internal the reader of its relocation entries as they lie, once made (elf/reloc-reader.ts
   * checks it still reads them): a field, not a map keyed by 20,000 sections.
   */
  get _reader(): unknown {
    return this._decoded?.reader;
  }
  set _reader(v: unknown) {
    this.setDecoded('reader', v);
  }

  /** Set a field of the holder: made for a value, dropped when its last value is cleared. */
  private setDecoded<K extends keyof Decoded>(key: K, v: Decoded[K]): void {
    if (v !== undefined) {
      (this._decoded ??= new Decoded())[key] = v;
      return;
    }
    const d = this._decoded;
    if (!d) return;
    d[key] = v;
    if (d.symbols === undefined && d.origSymbols === undefined && d.relocs === undefined && d.group === undefined && d.reader === undefined) this._decoded = undefined;
  }

  get isNobits(): boolean {
    return this.type === SHT.NOBITS;
  }
  get isRelocation(): boolean {
    return this.type === SHT.RELA || this.type === SHT.REL;
  }
  get isSymbolTable(): boolean {
    return this.type === SHT.SYMTAB || this.type === SHT.DYNSYM;
  }
  hasFlag(f: bigint): boolean {
    return (this.flags & f) !== 0n;
  }
  /** A livepatch relocation section: SHF_RELA_LIVEPATCH set on a RELA/REL section. */
  get isLivepatchRela(): boolean {
    return this.isRelocation && this.hasFlag(SHF.RELA_LIVEPATCH);
  }
  /** File contents (empty for NOBITS). Replace them with setData() rather than changing them in place. */
  get data(): Uint8Array {
    return (this._data ??= this._source!.subarray(this._from, this._from + this._length));
  }
  /** The contents' length, without making a view of them. */
  get dataLength(): number {
    return this._data ? this._data.length : this._length;
  }
  /**
   * The array the contents lie in and where they start there (`dataLength` bytes): a reader of a
   * few bytes of many sections (klp convert reads 40,000 relocation and target sections) need
   * not make a view of each.
   */
  get backing(): Uint8Array {
    return this._data ?? this._source!;
  }
  get backingStart(): number {
    return this._data ? 0 : this._from;
  }
  /** Size in the file (NOBITS occupy none). */
  get fileSize(): number {
    return this.isNobits ? 0 : this.dataLength;
  }
  /** Replace the contents. */
  setData(data: Uint8Array): void {
    this._data = data;
    this.size = data.length;
  }
  /**
   * Replace the contents with `length` bytes at `start` of `bytes`, viewed when first used: many
   * sections given parts of one array (klp convert's 20,000 new relocation sections) need no view
   * each.
   */
  setDataRange(bytes: Uint8Array, start: number, length: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > bytes.length) {
      throw new RangeError(`setDataRange: ${length} bytes at ${start} are not within ${bytes.length}`);
    }
    this._data = undefined;
    this._source = bytes;
    this._from = start;
    this._length = length;
    this.size = length;
  }
}

/** What a section's contents were decoded into (Section's `_symbols`, `_relocs`, ...). */
class Decoded {
  symbols: ElfSymbol[] | undefined = undefined;
  origSymbols: readonly ElfSymbol[] | undefined = undefined;
  relocs: Relocation[] | undefined = undefined;
  group: GroupInfo | undefined = undefined;
  reader: unknown = undefined;
}

export class ElfSymbol {
  name: string;
  value: bigint;
  size: bigint;
  /** st_info high nibble (STB_*) */
  bind: number;
  /** st_info low nibble (STT_*) */
  type: number;
  /** st_other (visibility in the low two bits) */
  other: number;
  /**
   * The section the symbol is defined in, or null when `shndx` is a special index
   * (SHN_UNDEF, SHN_ABS, SHN_COMMON, SHN_LIVEPATCH, ...).
   */
  section: Section | null;
  /** The special st_shndx when `section` is null; ignored otherwise. Never SHN_XINDEX. */
  shndx: number;

  /** Index in the input symbol table, or -1 for a symbol created in memory. */
  readonly origIndex: number;
  readonly origName: string;
  readonly origNameOffset: number;

  constructor(init: {
    name: string; value?: bigint; size?: bigint; bind?: number; type?: number; other?: number;
    section?: Section | null; shndx?: number; origIndex?: number; origNameOffset?: number;
  }) {
    this.name = init.name;
    this.value = init.value ?? 0n;
    this.size = init.size ?? 0n;
    this.bind = init.bind ?? STB.LOCAL;
    this.type = init.type ?? 0;
    this.other = init.other ?? 0;
    this.section = init.section ?? null;
    this.shndx = init.shndx ?? SHN.UNDEF;
    this.origIndex = init.origIndex ?? -1;
    this.origNameOffset = init.origNameOffset ?? -1;
    this.origName = init.origIndex !== undefined ? init.name : '';
  }

  get info(): number {
    return ((this.bind << 4) | (this.type & 0xf)) & 0xff;
  }
  get isUndefined(): boolean {
    return this.section === null && this.shndx === SHN.UNDEF;
  }
  get isLocal(): boolean {
    return this.bind === STB.LOCAL;
  }
  get isLivepatch(): boolean {
    return this.section === null && this.shndx === SHN.LIVEPATCH;
  }
}

export interface Relocation {
  /** r_offset: offset in the target section (ET_REL) */
  offset: bigint;
  /** ELF_R_TYPE(r_info) */
  type: number;
  /** ELF_R_SYM(r_info) as an object; the null symbol (index 0) is the table's entry 0. */
  symbol: ElfSymbol;
  /** r_addend (0n for REL, whose addend is implicit in the section contents) */
  addend: bigint;
}

export interface GroupInfo {
  /** The GRP_* flag word (GRP_COMDAT). */
  flags: number;
  members: Section[];
}
