/**
 * Write an ElfFile back to bytes.
 *
 * Two passes, as pdf-lib's writer: first decide every section's contents, header fields and file
 * offset (layout), then fill one preallocated buffer (emit).
 *
 * Byte identity: a file read and written back unchanged is identical, because
 *  - tables that were not edited are copied verbatim, and decoded tables re-encode to the same
 *    bytes (names keep their original string-table offsets while the string table is kept);
 *  - every section keeps its original file offset while nothing before it grew, and the bytes
 *    between two such sections (padding) are copied from the input when both neighbours are the
 *    same as in the input.
 * After edits, what moved is placed after the last preserved byte with its alignment, string
 * tables whose users changed are rebuilt, and every index (sh_link, sh_info, r_info, group
 * members, st_shndx with SHN_XINDEX, e_shstrndx) is recomputed from the object references.
 */
import { alignUp, ByteWriter } from './bytes.js';
import { SHN, SHT, SIZES } from './constants.js';
import { ElfError } from './errors.js';
import { firstNonLocal, type ElfFile } from './file.js';
import type { ElfSymbol, Section } from './model.js';
import { StringTableBuilder } from './strtab.js';

export interface WriteOptions {
  /**
   * Re-encode every table from the decoded model even when nothing changed (decodes them first).
   * The result must still be byte-identical: the corpus test uses this to check the encoders.
   */
  reencode?: boolean;
}

export function writeElf(elf: ElfFile, opts: WriteOptions = {}): Uint8Array {
  return layOut(elf, opts, false)[0] ?? new Uint8Array(0);
}

/**
 * The file writeElf() makes, as consecutive parts to write one after the other: the stretches
 * that stay as the input has them, when large, are views of the input (not copied), and the rest
 * is in fresh arrays. A patch of 20,000 functions converted is an 11 MB file: writing its parts
 * spares that copy (docs/performance.md). The parts view the input's bytes: write them before
 * anything changes those.
 */
export function writeElfParts(elf: ElfFile, opts: WriteOptions = {}): Uint8Array[] {
  return layOut(elf, opts, true);
}

/** Lay the file out and emit it, as one array or (`views`) as parts. */
function layOut(elf: ElfFile, opts: WriteOptions, views: boolean): Uint8Array[] {
  const file = elf.path;
  const cls = elf.elfClass;
  const sz = SIZES[cls];
  const sections = elf.sections;
  if (sections.length > 0 && sections[0]!.type !== SHT.NULL) throw new ElfError('WRITE', { file }, 'section 0 must be the null section');
  const secIndex = new SectionIndex(sections);
  const sectionsMoved = sections.length !== elf.origSections.length || sections.some((s, i) => s.origIndex !== i);

  if (opts.reencode) elf.decodeAll();

  // 1. Which tables must be re-encoded. Symbols carry section indices, so every symbol table is
  //    re-encoded when sections moved; relocations carry symbol indices, so they are re-encoded
  //    when their symbol table was reordered.
  const symtabs = sections.filter((s) => s.isSymbolTable);
  if (sectionsMoved) for (const st of symtabs) elf.symbols(st);
  const reindexed = new Set<Section>();
  for (const st of symtabs) {
    const now = st._symbols;
    const orig = st._origSymbols;
    if (now && orig && (now.length !== orig.length || now.some((s, i) => s !== orig[i]))) reindexed.add(st);
  }
  for (const s of sections) {
    if (s.isRelocation && s.linkSection && reindexed.has(s.linkSection)) elf.relocations(s);
    if (s.type === SHT.GROUP && sectionsMoved) elf.group(s);
  }

  // 2. String tables: keep each one unless a name that lives in it changed or is new.
  // Name offsets where a table is rebuilt: by section index, and by symbol index a symbol table.
  let secName: Int32Array | undefined;
  const symName = new Map<Section, Int32Array>();
  const newStrtab = new Map<Section, Uint8Array>();
  for (const strtab of sections.filter((s) => s.type === SHT.STRTAB)) {
    const holdsSectionNames = strtab === elf.shstrtab;
    const users = symtabs.filter((st) => st.linkSection === strtab);
    const changedSym = users.some((st) => st._symbols?.some((y) => y.origNameOffset < 0 || y.name !== y.origName));
    const changedSec = holdsSectionNames && sections.some((s) => s.origNameOffset < 0 || s.name !== s.origName);
    if (!changedSym && !changedSec) continue; // unchanged, or the caller supplied its own bytes
    // Sized for every name it may hold: growing a table of 100,000 names rehashed it eight times.
    const b = new StringTableBuilder((holdsSectionNames ? sections.length : 0) + users.reduce((t, st) => t + elf.symbols(st).length, 0));
    if (holdsSectionNames) {
      secName = new Int32Array(sections.length);
      for (let i = 0; i < sections.length; i++) secName[i] = b.add(sections[i]!.name);
    }
    for (const st of users) {
      const syms = elf.symbols(st);
      const offs = new Int32Array(syms.length);
      for (let i = 0; i < syms.length; i++) offs[i] = b.add(syms[i]!.name);
      symName.set(st, offs);
    }
    newStrtab.set(strtab, b.finish());
  }
  if (elf.shstrtab && !newStrtab.has(elf.shstrtab)) {
    secName = undefined; // every section keeps its offset
  } else if (!elf.shstrtab && sections.some((s) => s.name !== '')) {
    throw new ElfError('WRITE', { file }, 'sections have names but the file has no section-name string table');
  }

  // 3. Contents and header fields of every section. Symbol index maps are built once per table:
  //    objects with -ffunction-sections have one relocation section per function.
  const symIndexes = new Map<Section, Map<ElfSymbol, number>>();
  const symIndexOf = (st: Section | null): Map<ElfSymbol, number> => {
    if (!st?._symbols) return new Map();
    let m = symIndexes.get(st);
    if (!m) {
      m = new Map(st._symbols.map((y, i) => [y, i]));
      symIndexes.set(st, m);
    }
    return m;
  };
  /** A section's sh_link or sh_info: the index of the section it names, which must still be here. */
  const ref = (s: Section, i: number, t: Section | null, field: string, raw: number): number => {
    if (!t) return raw;
    const idx = secIndex.get(t);
    if (idx === undefined) {
      throw new ElfError('WRITE', { file, section: s.name || `[${i}]` }, `${field} refers to section '${t.name}', which is no longer in the file`);
    }
    return idx;
  };
  // A section's plan, in columns (an object a section was 60,000 of them for a converted patch of
  // 20,000 functions): contents to write (empty for NOBITS), sh_name, sh_link, sh_info, sh_size,
  // and the file offset layout gives it.
  const n = sections.length;
  // Contents a section's own (undefined) are read where they lie only when emitted: most are the
  // input's, never viewed (Section.data).
  const planBytes = new Array<Uint8Array | undefined>(n);
  const planName = new Uint32Array(n), planLink = new Uint32Array(n), planInfo = new Uint32Array(n);
  const planSize = new Float64Array(n), planOffset = new Float64Array(n);
  for (let i = 0; i < sections.length; i++) {
    const s = sections[i]!;
    let bytes: Uint8Array | undefined;
    if (newStrtab.has(s)) bytes = newStrtab.get(s)!;
    else if (s.isSymbolTable && s._symbols) bytes = encodeSymbols(elf, s, secIndex, symName.get(s));
    else if (s.isRelocation && s._relocs) bytes = encodeRelocations(elf, s, symIndexOf(s.linkSection));
    else if (s.type === SHT.GROUP && s._group) bytes = encodeGroup(elf, s, secIndex);
    else if (s.type === SHT.SYMTAB_SHNDX && s.linkSection?._symbols) bytes = encodeShndx(elf, s.linkSection, secIndex);

    const link = ref(s, i, s.linkSection, 'sh_link', s.linkSection ? 0 : s.link);
    let info = ref(s, i, s.infoSection, 'sh_info', s.infoSection ? 0 : s.info);
    if (s.isSymbolTable && s._symbols) info = firstNonLocal(s._symbols);
    if (s.type === SHT.GROUP && s.linkSection && reindexed.has(s.linkSection)) {
      const sig = elf.groupSignature(s);
      const now = sig ? s.linkSection._symbols!.indexOf(sig) : -1;
      if (now < 0) throw new ElfError('WRITE', { file, section: s.name || `[${i}]` }, 'the group signature symbol was removed');
      info = now;
    }
    const name = secName ? secName[i]! : s.origNameOffset;
    if (name < 0) throw new ElfError('WRITE', { file, section: s.name || `[${i}]` }, 'internal: section name has no string-table offset');
    planBytes[i] = bytes;
    planName[i] = name;
    planLink[i] = link;
    planInfo[i] = info;
    planSize[i] = s.isNobits ? s.size : bytes ? bytes.length : s.dataLength;
  }

  // 4. Layout.
  const ehsize = sz.ehdr;
  const phSize = elf.programHeaders.length;
  const phoff = phSize > 0 ? elf.header.phoff : 0;
  const shSize = n * sz.shdr;

  // Extents of the input in file order, to know which padding bytes may be copied. Each is keyed
  // by a number: an original section by its index as read, the headers past those.
  const origCount = elf.origSections.length;
  const EHDR = origCount, PHDR = origCount + 1, SHDR = origCount + 2, NEW = -1, NONE = -2;
  // Columns of typed arrays sized for the most there can be (every original section, and the
  // three headers), not arrays grown a push at a time: grown to 60,000 entries, each is copied
  // into fresh large objects of the heap again and again, pages first touched each time.
  const maxExtents = origCount + 3;
  const srcKey = new Int32Array(maxExtents), srcStart = new Float64Array(maxExtents), srcEnd = new Float64Array(maxExtents);
  let extents = 0;
  const extent = (key: number, start: number, end: number): void => {
    srcKey[extents] = key;
    srcStart[extents] = start;
    srcEnd[extents++] = end;
  };
  extent(EHDR, 0, ehsize);
  if (phSize > 0) extent(PHDR, elf.header.phoff, elf.header.phoff + phSize);
  for (let i = 0; i < origCount; i++) {
    const s = elf.origSections[i]!;
    if (s.type !== SHT.NULL && !s.isNobits && s.origIndex >= 0) extent(s.origIndex, s.offset, s.offset + s.origSize);
  }
  if (elf.header.shoff !== 0) extent(SHDR, elf.header.shoff, elf.header.shoff + origCount * sz.shdr);
  const inFileOrder = orderBy(srcStart.subarray(0, extents), (a, b) => srcEnd[a]! - srcEnd[b]! || a - b);
  /** The extent before each one in the input, by key. */
  const prevInSource = new Int32Array(origCount + 3).fill(NONE);
  for (let k = 1; k < inFileOrder.length; k++) prevInSource[srcKey[inFileOrder[k]!]!] = srcKey[inFileOrder[k - 1]!]!;

  // What is copied from the input to the same offset, as runs [start, end): the padding between
  // extents that stay where they were, and the untouched sections among them. A patch of 20,000
  // functions is a few runs, not a copy a gap and a section (80,000 of them).
  // They are pieces of the output, with the bytes layout gives each section of its own and the
  // headers: each piece's offset, length and what it is (a section's index, or one of the kinds
  // below), noted in the order laid out, which is the order of their offsets.
  const RUN = -1, EHDR_PIECE = -2, PHDR_PIECE = -3, SHDR_PIECE = -4;
  // At most: the three headers, a gap and the bytes of each section, the gap before the section
  // headers, and what follows the last extent.
  const maxPieces = 2 * n + 6;
  const pieceAt = new Float64Array(maxPieces), pieceLen = new Float64Array(maxPieces), pieceKind = new Int32Array(maxPieces);
  let pieces = 0;
  const piece = (at: number, len: number, kind: number): void => {
    pieceAt[pieces] = at;
    pieceLen[pieces] = len;
    pieceKind[pieces++] = kind;
  };
  const copy = (start: number, end: number): void => {
    const last = pieces - 1;
    if (last >= 0 && pieceKind[last] === RUN && pieceAt[last]! + pieceLen[last]! === start) pieceLen[last] = end - pieceAt[last]!;
    else piece(start, end - start, RUN);
  };
  piece(0, ehsize, EHDR_PIECE);
  if (phSize > 0) piece(phoff, phSize, PHDR_PIECE);
  let cursor = Math.max(ehsize, phoff + phSize);
  let lastKey = phSize > 0 && phoff + phSize >= ehsize ? PHDR : EHDR;
  let lastPreserved = true;
  /** `key`: an extent's, or NEW for a section not in the input (whose origStart is undefined). */
  const place = (key: number, origStart: number | undefined, origLen: number | undefined, len: number, align: number): number => {
    let at: number;
    if (origStart !== undefined && origStart >= cursor && origStart % Math.max(align, 1) === 0) {
      at = origStart;
      if (lastPreserved && prevInSource[key] === lastKey && at > cursor) copy(cursor, at);
    } else {
      at = alignUp(cursor, align);
    }
    if (len > 0) {
      lastPreserved = origStart === at && origLen === len;
      lastKey = key;
      cursor = at + len;
    }
    return at;
  };

  // Sections as the input has them, then the new ones in index order.
  const kept = new Int32Array(n), added = new Int32Array(n);
  let keptCount = 0, addedCount = 0;
  for (let i = 0; i < n; i++) {
    if (sections[i]!.type === SHT.NULL) continue;
    if (sections[i]!.origIndex >= 0) kept[keptCount++] = i;
    else added[addedCount++] = i;
  }
  const keptOffset = new Float64Array(keptCount);
  for (let k = 0; k < keptCount; k++) keptOffset[k] = sections[kept[k]!]!.offset;
  const keptOrder = orderBy(keptOffset, (a, b) => a - b);
  const placeSection = (i: number): void => {
    const s = sections[i]!;
    const align = Number(s.addralign > 0n ? s.addralign : 1n);
    if (!Number.isSafeInteger(align) || align > 1 << 30) {
      throw new ElfError('WRITE', { file, section: s.name }, `alignment ${s.addralign} is too large to lay out`);
    }
    const hasOrig = s.origIndex >= 0;
    if (s.isNobits) {
      planOffset[i] = hasOrig && s.offset >= cursor ? s.offset : alignUp(cursor, align);
      return;
    }
    const at = place(hasOrig ? s.origIndex : NEW, hasOrig ? s.offset : undefined, hasOrig ? s.origSize : undefined, planSize[i]!, align);
    planOffset[i] = at;
    // Its own bytes: the input's, where the input has them, part of a run; else a piece of its own.
    let inRun = false;
    if (hasOrig && at === s.offset && planBytes[i] === undefined && at + planSize[i]! <= elf.source.length) {
      const b = s.backing;
      inRun = b.buffer === elf.source.buffer && b.byteOffset + s.backingStart === elf.source.byteOffset + at;
    }
    if (inRun) copy(at, at + planSize[i]!);
    else if (planSize[i]! > 0) piece(at, planSize[i]!, i);
    if (elf.programHeaders.length > 0 && hasOrig && at !== s.offset && s.addr !== 0n) {
      throw new ElfError('UNSUPPORTED', { file, section: s.name },
        'this edit would move an allocated section of a linked file (program headers are not rewritten)');
    }
  };
  for (let k = 0; k < keptOrder.length; k++) placeSection(kept[keptOrder[k]!]!);
  for (let k = 0; k < addedCount; k++) placeSection(added[k]!);
  const origShoff = elf.header.shoff !== 0 ? elf.header.shoff : undefined;
  const shoff = n === 0 ? 0 : place(SHDR, origShoff, origCount * sz.shdr, shSize, sz.word);
  if (shSize > 0) piece(shoff, shSize, SHDR_PIECE);
  let total = cursor;
  // Bytes past the last extent of the input (rare) survive while everything before them did.
  let srcEndMax = 0;
  for (let e = 0; e < extents; e++) srcEndMax = Math.max(srcEndMax, srcEnd[e]!);
  const lastInSource = srcKey[inFileOrder[inFileOrder.length - 1]!];
  if (lastPreserved && lastKey === lastInSource && elf.source.length > srcEndMax && cursor === srcEndMax) {
    copy(srcEndMax, elf.source.length);
    total = elf.source.length;
  }

  // 5. Emit: the section headers, then the pieces in the order of their offsets, a large stretch
  //    of the input as a view of it (when `views`), the others copied into a fresh array a
  //    stretch between two such (gaps between pieces stay zero).
  const shdrs = new Uint8Array(shSize);
  const sw = new ByteWriter(shdrs, elf.littleEndian);
  const origExtended = elf.header.shnum === 0 && elf.header.shoff !== 0;
  const h: ShdrFields = { name: 0, type: 0, flags: 0n, addr: 0n, offset: 0, size: 0, link: 0, info: 0, addralign: 0n, entsize: 0n };
  for (let i = 0; i < n; i++) {
    const s = sections[i]!;
    h.size = planSize[i]!;
    h.link = planLink[i]!;
    if (i === 0) {
      // Extended numbering lives in section 0 (gABI "Sections").
      const shstrndx = elf.shstrtab ? secIndex.get(elf.shstrtab)! : 0;
      h.size = n >= SHN.LORESERVE ? n : origExtended ? 0 : s.size;
      h.link = shstrndx >= SHN.LORESERVE ? shstrndx : origExtended && elf.header.shstrndx === SHN.XINDEX ? 0 : s.link;
    }
    h.name = planName[i]!;
    h.type = s.type;
    h.flags = s.flags;
    h.addr = s.addr;
    h.offset = s.type === SHT.NULL ? s.offset : planOffset[i]!;
    h.info = planInfo[i]!;
    h.addralign = s.addralign;
    h.entsize = s.entsize;
    writeShdr(sw, i * sz.shdr, cls, h);
  }
  const ehdr = new Uint8Array(ehsize);
  writeHeader(elf, new ByteWriter(ehdr, elf.littleEndian), shoff, n, elf.shstrtab ? secIndex.get(elf.shstrtab) ?? -1 : 0, phoff);

  let order: ArrayLike<number> | undefined;
  for (let p = 1; p < pieces && !order; p++) if (pieceAt[p]! < pieceAt[p - 1]!) order = orderBy(pieceAt.subarray(0, pieces), (a, b) => a - b);
  /** The array piece p's bytes lie in, and where they start there. */
  const arrayOf = (p: number): Uint8Array => {
    const kind = pieceKind[p]!;
    if (kind >= 0) return planBytes[kind] ?? sections[kind]!.backing;
    return kind === RUN ? elf.source : kind === EHDR_PIECE ? ehdr : kind === PHDR_PIECE ? elf.programHeaders : shdrs;
  };
  const startOf = (p: number): number => {
    const kind = pieceKind[p]!;
    if (kind >= 0) return planBytes[kind] ? 0 : sections[kind]!.backingStart;
    return kind === RUN ? pieceAt[p]! : 0;
  };
  // A piece at least this long is a part of its own, viewed where it lies.
  const BIG = views ? 1 << 16 : Infinity;
  const parts: Uint8Array[] = [];
  let from = 0; // where the stretch being gathered starts
  let first = 0; // its first piece, in `order`
  /** The stretch [from, to) as one fresh array: pieces first..last-1 copied in. */
  const gather = (to: number, last: number): void => {
    if (to <= from) return;
    const out = new Uint8Array(to - from);
    for (let q = first; q < last; q++) {
      const p = order ? order[q]! : q;
      const b = arrayOf(p), start = startOf(p);
      const size = pieceLen[p]!, at = pieceAt[p]! - from;
      // A few bytes (a converted function's two relocations) are copied by hand: a view and a
      // native call a section cost more, for 20,000 sections of 48 bytes.
      if (size <= 64) for (let k = 0; k < size; k++) out[at + k] = b[start + k]!;
      else out.set(b.subarray(start, start + size), at);
    }
    parts.push(out);
  };
  for (let q = 0; q < pieces; q++) {
    const p = order ? order[q]! : q;
    if (pieceLen[p]! < BIG) continue;
    gather(pieceAt[p]!, q);
    const start = startOf(p);
    parts.push(arrayOf(p).subarray(start, start + pieceLen[p]!));
    from = pieceAt[p]! + pieceLen[p]!;
    first = q + 1;
  }
  gather(total, pieces);
  return parts;
}

/**
 * Each section's index in the file being written, as a `Map` would answer (undefined for one no
 * longer in it), without a map of every section: the index is noted on the section and checked
 * against the list. A converted patch of 20,000 functions has 60,000 sections.
 */
class SectionIndex {
  private readonly sections: readonly Section[];
  constructor(sections: readonly Section[]) {
    this.sections = sections;
    for (let i = 0; i < sections.length; i++) sections[i]!._writeIndex = i;
  }
  get(s: Section): number | undefined {
    const i = s._writeIndex;
    return i >= 0 && this.sections[i] === s ? i : undefined;
  }
}

function writeHeader(elf: ElfFile, w: ByteWriter, shoff: number, shCount: number, shstrndx: number, phoff: number): void {
  const h = elf.header;
  const id = elf.ident;
  const b = w.bytes;
  b.set([0x7f, 0x45, 0x4c, 0x46, id.elfClass === 64 ? 2 : 1, id.littleEndian ? 1 : 2, id.version, id.osabi, id.abiversion]);
  b.set(id.pad, 9);
  w.u16(16, h.type);
  w.u16(18, h.machine);
  w.u32(20, h.version);
  const extendedCount = shCount >= SHN.LORESERVE;
  const shnum = extendedCount ? 0 : shCount;
  const strndx = shstrndx >= SHN.LORESERVE ? SHN.XINDEX : shstrndx < 0 ? 0 : shstrndx;
  const shentsize = shCount > 0 ? SIZES[id.elfClass].shdr : h.shentsize;
  if (id.elfClass === 64) {
    w.u64(24, h.entry); w.u64n(32, phoff); w.u64n(40, shoff); w.u32(48, h.flags);
    w.u16(52, SIZES[64].ehdr); w.u16(54, h.phentsize); w.u16(56, h.phnum);
    w.u16(58, shentsize); w.u16(60, shnum); w.u16(62, strndx);
  } else {
    w.u32(24, Number(BigInt.asUintN(32, h.entry))); w.u32(28, phoff); w.u32(32, shoff); w.u32(36, h.flags);
    w.u16(40, SIZES[32].ehdr); w.u16(42, h.phentsize); w.u16(44, h.phnum);
    w.u16(46, shentsize); w.u16(48, shnum); w.u16(50, strndx);
  }
}

interface ShdrFields {
  name: number; type: number; flags: bigint; addr: bigint; offset: number; size: number;
  link: number; info: number; addralign: bigint; entsize: bigint;
}

function writeShdr(w: ByteWriter, off: number, cls: 32 | 64, h: ShdrFields): void {
  if (cls === 64) {
    w.u32(off, h.name); w.u32(off + 4, h.type); w.u64(off + 8, h.flags); w.u64(off + 16, h.addr);
    w.u64n(off + 24, h.offset); w.u64n(off + 32, h.size); w.u32(off + 40, h.link); w.u32(off + 44, h.info);
    w.u64(off + 48, h.addralign); w.u64(off + 56, h.entsize);
  } else {
    w.u32(off, h.name); w.u32(off + 4, h.type); w.u32(off + 8, Number(h.flags & 0xffffffffn));
    w.u32(off + 12, Number(h.addr & 0xffffffffn)); w.u32(off + 16, h.offset); w.u32(off + 20, h.size);
    w.u32(off + 24, h.link); w.u32(off + 28, h.info); w.u32(off + 32, Number(h.addralign & 0xffffffffn));
    w.u32(off + 36, Number(h.entsize & 0xffffffffn));
  }
}

/** st_shndx for a symbol: its section's current index, or its special index. */
function symbolShndx(elf: ElfFile, y: ElfSymbol, secIndex: SectionIndex, symtab: Section, i: number): number {
  if (!y.section) return y.shndx;
  const idx = secIndex.get(y.section);
  if (idx === undefined) {
    throw new ElfError('WRITE', { file: elf.path, section: symtab.name, index: i },
      `symbol '${y.name}' is defined in section '${y.section.name}', which is no longer in the file`,
      'remove the symbol too, or keep its section');
  }
  return idx;
}

function encodeSymbols(elf: ElfFile, symtab: Section, secIndex: SectionIndex, names: Int32Array | undefined): Uint8Array {
  const syms = symtab._symbols!;
  const cls = elf.elfClass;
  const ent = SIZES[cls].sym;
  const out = new Uint8Array(syms.length * ent);
  const w = new ByteWriter(out, elf.littleEndian);
  for (let i = 0; i < syms.length; i++) {
    const y = syms[i]!;
    const o = i * ent;
    const name = names ? names[i]! : y.origNameOffset;
    if (name < 0) throw new ElfError('WRITE', { file: elf.path, section: symtab.name, index: i }, `symbol '${y.name}' has no string-table offset`);
    let shndx = symbolShndx(elf, y, secIndex, symtab, i);
    if (y.section && shndx >= SHN.LORESERVE) shndx = SHN.XINDEX;
    if (cls === 64) {
      w.u32(o, name); w.u8(o + 4, y.info); w.u8(o + 5, y.other); w.u16(o + 6, shndx);
      w.u64(o + 8, y.value); w.u64(o + 16, y.size);
    } else {
      w.u32(o, name); w.u32(o + 4, Number(BigInt.asUintN(32, y.value))); w.u32(o + 8, Number(BigInt.asUintN(32, y.size)));
      w.u8(o + 12, y.info); w.u8(o + 13, y.other); w.u16(o + 14, shndx);
    }
  }
  const needsShndx = syms.some((y) => y.section && (secIndex.get(y.section) ?? 0) >= SHN.LORESERVE);
  if (needsShndx && !elf.sections.some((s) => s.type === SHT.SYMTAB_SHNDX && s.linkSection === symtab)) {
    throw new ElfError('WRITE', { file: elf.path, section: symtab.name },
      'symbols need SHN_XINDEX but the file has no SHT_SYMTAB_SHNDX section for this table',
      'add one with addSection({type: SHT.SYMTAB_SHNDX, ...}) linked to the symbol table');
  }
  return out;
}

function encodeShndx(elf: ElfFile, symtab: Section, secIndex: SectionIndex): Uint8Array {
  const syms = symtab._symbols!;
  const out = new Uint8Array(syms.length * 4);
  const w = new ByteWriter(out, elf.littleEndian);
  syms.forEach((y, i) => {
    const idx = y.section ? secIndex.get(y.section) ?? 0 : 0;
    w.u32(i * 4, y.section && idx >= SHN.LORESERVE ? idx : 0);
  });
  return out;
}

function encodeRelocations(elf: ElfFile, relsec: Section, symIndex: Map<ElfSymbol, number>): Uint8Array {
  const relocs = relsec._relocs!;
  const isRela = relsec.type === SHT.RELA;
  const cls = elf.elfClass;
  const ent = isRela ? SIZES[cls].rela : SIZES[cls].rel;
  const symtab = relsec.linkSection;
  const out = new Uint8Array(relocs.length * ent);
  const w = new ByteWriter(out, elf.littleEndian);
  for (let i = 0; i < relocs.length; i++) {
    const r = relocs[i]!;
    const o = i * ent;
    let sym = symIndex.get(r.symbol);
    if (sym === undefined) {
      if (r.symbol.origIndex === 0 || (symtab === null && r.symbol.name === '')) sym = 0;
      else {
        throw new ElfError('WRITE', { file: elf.path, section: relsec.name, index: i },
          `relocation uses symbol '${r.symbol.name}', which is not in ${symtab?.name ?? 'a symbol table'}`);
      }
    }
    if (cls === 64) {
      w.u64(o, r.offset);
      // r_info = sym << 32 | type, as one 64-bit field in the file's byte order.
      w.u64(o + 8, (BigInt(sym) << 32n) | BigInt(r.type >>> 0));
      if (isRela) w.u64(o + 16, r.addend);
    } else {
      w.u32(o, Number(BigInt.asUintN(32, r.offset)));
      w.u32(o + 4, ((sym << 8) | (r.type & 0xff)) >>> 0);
      if (isRela) w.u32(o + 8, Number(BigInt.asUintN(32, r.addend)));
    }
  }
  return out;
}

function encodeGroup(elf: ElfFile, sec: Section, secIndex: SectionIndex): Uint8Array {
  const g = sec._group!;
  const out = new Uint8Array(4 + g.members.length * 4);
  const w = new ByteWriter(out, elf.littleEndian);
  w.u32(0, g.flags);
  g.members.forEach((m, i) => {
    const idx = secIndex.get(m);
    if (idx === undefined) {
      throw new ElfError('WRITE', { file: elf.path, section: sec.name, index: i }, `group member '${m.name}' is no longer in the file`);
    }
    w.u32(4 + i * 4, idx);
  });
  return out;
}

/**
 * The indices of `keys` ordered by key, ties by `tie` (a comparator of indices that orders every
 * two, as `a - b` does last). A native sort of packed numbers (key * n + index) when every key is
 * a whole number small enough for that, then `tie` within runs of equal keys; else a comparison
 * sort. Layout orders the sections of a file by offset, and an object built with
 * -ffunction-sections has tens of thousands, their .rela sections after them all.
 */
function orderBy(keys: ArrayLike<number>, tie: (a: number, b: number) => number): Uint32Array {
  const n = keys.length;
  let max = 0;
  let exact = true;
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    if (!(Number.isInteger(k) && k >= 0)) exact = false;
    else if (k > max) max = k;
  }
  if (!exact || (max + 1) * n > Number.MAX_SAFE_INTEGER) {
    return Uint32Array.from(Array.from(keys, (_, i) => i).sort((a, b) => keys[a]! - keys[b]! || tie(a, b)));
  }
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = keys[i]! * n + i;
  packed.sort();
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = packed[i]! % n;
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && keys[out[j]!] === keys[out[i]!]) j++;
    if (j - i > 1) out.subarray(i, j).sort(tie);
    i = j;
  }
  return out;
}
