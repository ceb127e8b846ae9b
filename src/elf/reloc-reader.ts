/**
 * Reading a relocation section entry by entry without an object per entry: the bulk paths (klp
 * convert over tens of thousands of relocations) ask each entry's symbol, type and offset, and
 * most never need a `Relocation` with its two BigInts.
 *
 * An unedited section is read where it lies, in its bytes; a section whose relocations were
 * decoded (and so may have been edited) is read through that array, which is authoritative.
 */
import { SHT, SIZES } from './constants.js';
import { badRelocationSymbol, type ElfFile } from './file.js';
import { ElfSymbol, type Relocation, type Section } from './model.js';

export interface RelocReader {
  readonly count: number;
  symbol(i: number): ElfSymbol;
  type(i: number): number;
  /** r_offset as a number (exact below 2^53; ET_REL offsets are section offsets). */
  offset(i: number): number;
  /** r_offset, exact, as `0x...`. */
  offsetHex(i: number): string;
  /** r_offset's high and low 32 bits (ELF32: 0 and all of it): exact, as numbers. */
  offsetHi(i: number): number;
  offsetLo(i: number): number;
  /** True when entry i is still at index i of the section's bytes (the raw reader). */
  readonly raw: boolean;
}

/** Over the decoded (authoritative) relocation array. */
class ArrayReader implements RelocReader {
  readonly raw = false;
  private readonly relocs: readonly Relocation[];
  constructor(relocs: readonly Relocation[]) {
    this.relocs = relocs;
  }
  get count(): number {
    return this.relocs.length;
  }
  symbol(i: number): ElfSymbol {
    return this.relocs[i]!.symbol;
  }
  type(i: number): number {
    return this.relocs[i]!.type;
  }
  offset(i: number): number {
    return Number(this.relocs[i]!.offset);
  }
  offsetHex(i: number): string {
    return `0x${this.relocs[i]!.offset.toString(16)}`;
  }
  offsetHi(i: number): number {
    return Number(BigInt.asUintN(64, this.relocs[i]!.offset) >> 32n);
  }
  offsetLo(i: number): number {
    return Number(BigInt.asUintN(32, this.relocs[i]!.offset));
  }
}

/** Over the section's bytes, validated as decodeRelocations() validates them. */
class RawReader implements RelocReader {
  readonly raw = true;
  readonly count: number;
  private readonly view: DataView;
  /** Where the section's bytes start in `view`. */
  private readonly base: number;
  private readonly ent: number;
  private readonly le: boolean;
  private readonly is64: boolean;
  private readonly syms: readonly ElfSymbol[];
  private readonly nullSym: ElfSymbol;
  /** What it was made from: it stands while the section still has these. */
  private readonly backing: Uint8Array;
  private readonly start: number;
  private readonly sectionType: number;
  private readonly entsize: bigint;

  constructor(elf: ElfFile, rs: Section, syms: readonly ElfSymbol[]) {
    const isRela = rs.type === SHT.RELA;
    this.is64 = elf.elfClass === 64;
    this.le = elf.littleEndian;
    this.ent = isRela ? SIZES[elf.elfClass].rela : SIZES[elf.elfClass].rel;
    // The section's bytes read where they lie, no view made of them (Section.backing).
    this.backing = rs.backing;
    this.start = rs.backingStart;
    this.view = viewOf(this.backing.buffer);
    this.base = this.backing.byteOffset + this.start;
    this.count = rs.dataLength / this.ent;
    this.syms = syms;
    this.nullSym = syms[0] ?? new ElfSymbol({ name: '' });
    this.sectionType = rs.type;
    this.entsize = rs.entsize;
    // Every symbol index checked up front, with decodeRelocations()'s words: a hostile index is
    // refused before anything is read, the same whichever way the section is read.
    for (let i = 0; i < this.count; i++) {
      const idx = this.symIndex(i);
      if (idx !== 0 && idx >= syms.length) throw badRelocationSymbol(elf.path, rs, i, rs.offset + i * this.ent, idx, syms.length);
    }
  }

  /** Does it still read `rs`: the same bytes, type and entry size, and symbol table decoding? */
  readsFrom(rs: Section): boolean {
    return this.backing === rs.backing && this.start === rs.backingStart && this.count * this.ent === rs.dataLength && this.sectionType === rs.type && this.entsize === rs.entsize && this.syms === rs.linkSection?._origSymbols;
  }

  symIndex(i: number): number {
    const o = this.base + i * this.ent;
    if (this.is64) return this.view.getUint32(o + (this.le ? 12 : 8), this.le);
    return this.view.getUint32(o + 4, this.le) >>> 8;
  }
  symbol(i: number): ElfSymbol {
    const idx = this.symIndex(i);
    return idx === 0 ? this.nullSym : this.syms[idx]!;
  }
  type(i: number): number {
    const o = this.base + i * this.ent;
    if (this.is64) return this.view.getUint32(o + (this.le ? 8 : 12), this.le);
    return this.view.getUint32(o + 4, this.le) & 0xff;
  }
  offsetLo(i: number): number {
    return this.view.getUint32(this.base + i * this.ent + (this.is64 && !this.le ? 4 : 0), this.le);
  }
  offsetHi(i: number): number {
    return this.is64 ? this.view.getUint32(this.base + i * this.ent + (this.le ? 4 : 0), this.le) : 0;
  }
  offset(i: number): number {
    return this.offsetHi(i) * 0x100000000 + this.offsetLo(i);
  }
  offsetHex(i: number): string {
    return offsetHexOf(this.offsetHi(i), this.offsetLo(i));
  }
}

/** An r_offset given as its high and low 32 bits, exact, as `0x...`. */
export function offsetHexOf(hi: number, lo: number): string {
  return `0x${((BigInt(hi) << 32n) | BigInt(lo)).toString(16)}`;
}

/**
 * One DataView a buffer, shared by the readers of the sections that lie in it (a module's
 * relocation sections are views of its file's bytes: one a function with -ffunction-sections).
 */
const views = new WeakMap<ArrayBufferLike, DataView>();
function viewOf(buffer: ArrayBufferLike): DataView {
  let v = views.get(buffer);
  if (!v) views.set(buffer, (v = new DataView(buffer)));
  return v;
}

/**
 * A reader for `rs`: its bytes when its relocations were never decoded, else the decoded array.
 * Throws as ElfFile.relocations() does on a malformed section. `keep: false` leaves a new reader
 * to its caller alone: a walk that reads each section once (klp convert's, over 20,000 of them)
 * need not leave 20,000 readers alive on the sections it passed (2.5 MB of V8's heap).
 */
export function relocationReader(elf: ElfFile, rs: Section, opts: { keep?: boolean } = {}): RelocReader {
  if (rs._relocs) return new ArrayReader(rs._relocs);
  // A raw reader stands while the section's bytes and its symbol table's decoding do: one a
  // section for all who ask (klp_patch discovery, then convert, walk every relocation section).
  const known = rs._reader as RawReader | undefined;
  if (known && known.readsFrom(rs)) return known;
  const reader = rawReader(elf, rs);
  if (reader instanceof RawReader && opts.keep !== false) rs._reader = reader;
  return reader;
}

function rawReader(elf: ElfFile, rs: Section): RelocReader {
  const symtab = rs.linkSection;
  const isRela = rs.type === SHT.RELA;
  const ent = isRela ? SIZES[elf.elfClass].rela : SIZES[elf.elfClass].rel;
  // The checks decodeRelocations() makes; on any of them, let it make them and word the error.
  if (!rs.isRelocation || rs.entsize !== BigInt(ent) || rs.dataLength % ent !== 0 || !symtab || !symtab.isSymbolTable) {
    return new ArrayReader(elf.relocations(rs));
  }
  elf.symbols(symtab);
  return new RawReader(elf, rs, symtab._origSymbols!);
}
