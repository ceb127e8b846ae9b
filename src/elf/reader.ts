/**
 * Read an ELF file into the model of model.ts.
 *
 * Only headers are parsed eagerly; tables are decoded on demand by ElfFile. Every count and offset
 * read from the file is checked against the file's size before it is used or allocated, so a
 * hostile file gets an ElfError naming the place, never a RangeError or a huge allocation.
 */
import { ByteReader, cString } from './bytes.js';
import type { Compression } from './compress.js';
import { SHF, SHN, SHT, SIZES } from './constants.js';
import { ElfError } from './errors.js';
import { ElfFile } from './file.js';
import { EMPTY_BYTES, Section, type ElfHeader, type ElfIdent } from './model.js';

export interface ReadOptions {
  /** Shown in errors and listings; '<memory>' when absent. */
  path?: string;
  /** Recorded on the result when the bytes were decompressed from a .ko.xz/.zst/.gz. */
  compression?: Compression;
}

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

/** Types whose sh_link is a section index (gABI "sh_link and sh_info Interpretation"). */
const LINK_IS_SECTION = new Set<number>([
  SHT.SYMTAB, SHT.DYNSYM, SHT.REL, SHT.RELA, SHT.HASH, SHT.GNU_HASH, SHT.DYNAMIC, SHT.GROUP,
  SHT.SYMTAB_SHNDX, SHT.GNU_versym, SHT.GNU_verdef, SHT.GNU_verneed,
]);

export function readElf(bytes: Uint8Array, opts: ReadOptions = {}): ElfFile {
  const file = opts.path ?? '<memory>';
  if (bytes.length < 16 || !isElf(bytes)) {
    throw new ElfError('NOT_ELF', { file, offset: 0 }, 'not an ELF file (bad magic)',
      'expected a kernel module (.ko, .ko.xz, .ko.zst, .ko.gz) or an object file');
  }
  const cls = bytes[4];
  if (cls !== 1 && cls !== 2) {
    throw new ElfError('BAD_CLASS', { file, offset: 4 }, `unknown ELF class ${cls} (EI_CLASS)`);
  }
  const data = bytes[5];
  if (data !== 1 && data !== 2) {
    throw new ElfError('BAD_ENDIAN', { file, offset: 5 }, `unknown data encoding ${data} (EI_DATA)`);
  }
  if (bytes[6] !== 1) {
    throw new ElfError('BAD_VERSION', { file, offset: 6 }, `unknown ELF version ${bytes[6]} (EI_VERSION)`);
  }
  const elfClass = cls === 2 ? 64 : 32;
  const le = data === 1;
  const sz = SIZES[elfClass];
  const r = new ByteReader(bytes, le, file);
  r.need(0, sz.ehdr, 'ELF header');

  const ident: ElfIdent = {
    elfClass, littleEndian: le, version: bytes[6]!, osabi: bytes[7]!, abiversion: bytes[8]!,
    pad: bytes.slice(9, 16),
  };
  const header = readHeader(r, elfClass);
  if (header.ehsize !== sz.ehdr) {
    throw new ElfError('BAD_HEADER', { file, offset: elfClass === 64 ? 52 : 40 },
      `e_ehsize is ${header.ehsize}, expected ${sz.ehdr}`);
  }

  // Program headers: kept raw (needed to round-trip linked files such as vmlinux).
  let programHeaders: Uint8Array = new Uint8Array(0);
  if (header.phnum > 0) {
    if (header.phentsize !== sz.phdr) {
      throw new ElfError('BAD_HEADER', { file, offset: elfClass === 64 ? 54 : 42 },
        `e_phentsize is ${header.phentsize}, expected ${sz.phdr}`);
    }
    r.need(header.phoff, header.phnum * sz.phdr, 'program header table');
    programHeaders = bytes.subarray(header.phoff, header.phoff + header.phnum * sz.phdr);
  }

  // Section headers, with extended numbering: e_shnum == 0 means shdr[0].sh_size holds the count,
  // e_shstrndx == SHN_XINDEX means shdr[0].sh_link holds the index.
  let sections: Section[] = [];
  let shstrndx = header.shstrndx;
  if (header.shoff !== 0) {
    if (header.shentsize !== sz.shdr) {
      throw new ElfError('BAD_HEADER', { file, offset: elfClass === 64 ? 58 : 46 },
        `e_shentsize is ${header.shentsize}, expected ${sz.shdr}`);
    }
    r.need(header.shoff, sz.shdr, 'section header 0');
    let count = header.shnum;
    // One header, reused for every section (the loop below reads each into it): header 0 first.
    const h: RawShdr = { name: 0, type: 0, flags: 0n, addr: 0n, offset: 0, size: 0, link: 0, info: 0, addralign: 0n, entsize: 0n };
    readShdr(r, header.shoff, elfClass, h);
    if (count === 0) count = h.size;
    if (shstrndx === SHN.XINDEX) shstrndx = h.link;
    // Check the whole table against the file before allocating anything per entry.
    if (!Number.isSafeInteger(count) || count * sz.shdr > r.length - header.shoff) {
      throw new ElfError('TRUNCATED', { file, offset: header.shoff },
        `section header table of ${count} entries (${count} x ${sz.shdr} bytes) runs past the end of the file (${r.length} bytes)`,
        'the file is truncated or its section count is corrupt');
    }
    // The header and one constructor argument, reused for every section (Section copies their
    // fields): two objects a section were 80,000 short-lived objects for a 40,000-section file.
    const init: ConstructorParameters<typeof Section>[0] = { name: '', type: 0 };
    // Made at its size: grown a push at a time to 40,000 entries, the list is copied into fresh
    // large objects of V8's heap again and again (pages touched for the first time, each a fault).
    sections = new Array<Section>(count);
    for (let i = 0; i < count; i++) {
      const off = header.shoff + i * sz.shdr;
      readShdr(r, off, elfClass, h);
      let hasContent = false;
      if (h.type !== SHT.NOBITS && h.type !== SHT.NULL) {
        if (!Number.isSafeInteger(h.offset) || !Number.isSafeInteger(h.size) || h.offset + h.size > r.length) {
          throw new ElfError('TRUNCATED', { file, offset: off, section: `[${i}]` },
            `section contents (0x${h.size.toString(16)} bytes at 0x${h.offset.toString(16)}) run past the end of the file (${r.length} bytes)`,
            'the file is truncated or this section header is corrupt');
        }
        hasContent = true;
      }
      init.type = h.type;
      init.flags = h.flags;
      init.addr = h.addr;
      init.offset = Number.isSafeInteger(h.offset) ? h.offset : 0;
      init.size = Number.isSafeInteger(h.size) ? h.size : 0;
      init.link = h.link;
      init.info = h.info;
      init.addralign = h.addralign;
      init.entsize = h.entsize;
      init.data = hasContent ? undefined : EMPTY_BYTES;
      init.source = hasContent ? bytes : undefined;
      init.from = h.offset;
      init.origIndex = i;
      init.origNameOffset = h.name;
      sections[i] = new Section(init);
    }
  } else if (header.shnum !== 0) {
    throw new ElfError('BAD_HEADER', { file, offset: elfClass === 64 ? 40 : 32 },
      `e_shoff is 0 but e_shnum is ${header.shnum}`);
  }

  // Section names.
  let shstrtab: Section | null = null;
  if (shstrndx !== SHN.UNDEF && sections.length > 0) {
    shstrtab = sections[shstrndx] ?? null;
    if (!shstrtab || shstrtab.type === SHT.NOBITS) {
      throw new ElfError('BAD_SECTION_INDEX', { file, offset: elfClass === 64 ? 62 : 50 },
        `e_shstrndx ${shstrndx} does not name a section with contents (the file has ${sections.length})`);
    }
    const names = shstrtab.data;
    for (let i = 0; i < sections.length; i++) {
      const s = sections[i]!;
      const n = s.origNameOffset === 0 ? '' : cString(names, s.origNameOffset);
      if (n === undefined) {
        throw new ElfError('BAD_STRING', { file, offset: header.shoff + i * sz.shdr, section: `[${i}]` },
          `section name offset ${s.origNameOffset} is outside the section-name table (${names.length} bytes) or unterminated`);
      }
      s.name = n;
      s.origName = n;
    }
  }

  // Cross references: sh_link and sh_info as section objects, where the type says they are.
  // Where section i's header is, made for an error only (not an object a section).
  const here = (i: number): { file: string; offset: number; section: string } => ({ file, offset: header.shoff + i * sz.shdr, section: sections[i]!.name || `[${i}]` });
  for (let i = 0; i < sections.length; i++) {
    const s = sections[i]!;
    if (LINK_IS_SECTION.has(s.type) || (s.flags & SHF.LINK_ORDER) !== 0n) {
      if (s.link !== 0) {
        const t = sections[s.link];
        if (!t) {
          throw new ElfError('BAD_SECTION_INDEX', here(i), `sh_link ${s.link} is not a section (the file has ${sections.length})`);
        }
        s.linkSection = t;
      }
    }
    const infoIsSection = s.type === SHT.REL || s.type === SHT.RELA || (s.flags & SHF.INFO_LINK) !== 0n;
    if (infoIsSection && s.info !== 0) {
      const t = sections[s.info];
      if (!t) {
        throw new ElfError('BAD_SECTION_INDEX', here(i), `sh_info ${s.info} is not a section (the file has ${sections.length})`);
      }
      s.infoSection = t;
    }
  }

  return new ElfFile({
    path: file, ident, header, sections, source: bytes, programHeaders, shstrtab, reader: r,
    compression: opts.compression,
  });
}

function readHeader(r: ByteReader, cls: 32 | 64): ElfHeader {
  if (cls === 64) {
    return {
      type: r.u16(16), machine: r.u16(18), version: r.u32(20), entry: r.u64(24),
      phoff: r.u64n(32, 'e_phoff'), shoff: r.u64n(40, 'e_shoff'), flags: r.u32(48), ehsize: r.u16(52),
      phentsize: r.u16(54), phnum: r.u16(56), shentsize: r.u16(58), shnum: r.u16(60), shstrndx: r.u16(62),
    };
  }
  return {
    type: r.u16(16), machine: r.u16(18), version: r.u32(20), entry: BigInt(r.u32(24)),
    phoff: r.u32(28), shoff: r.u32(32), flags: r.u32(36), ehsize: r.u16(40),
    phentsize: r.u16(42), phnum: r.u16(44), shentsize: r.u16(46), shnum: r.u16(48), shstrndx: r.u16(50),
  };
}

interface RawShdr {
  name: number; type: number; flags: bigint; addr: bigint; offset: number; size: number;
  link: number; info: number; addralign: bigint; entsize: bigint;
}

/** Read the section header at `off` into `h`. */
function readShdr(r: ByteReader, off: number, cls: 32 | 64, h: RawShdr): void {
  if (cls === 64) {
    h.name = r.u32(off); h.type = r.u32(off + 4); h.flags = r.u64(off + 8); h.addr = r.u64(off + 16);
    h.offset = r.u64n(off + 24, 'sh_offset'); h.size = r.u64n(off + 32, 'sh_size'); h.link = r.u32(off + 40); h.info = r.u32(off + 44);
    h.addralign = r.u64(off + 48); h.entsize = r.u64(off + 56);
    return;
  }
  h.name = r.u32(off); h.type = r.u32(off + 4); h.flags = BigInt(r.u32(off + 8)); h.addr = BigInt(r.u32(off + 12));
  h.offset = r.u32(off + 16); h.size = r.u32(off + 20); h.link = r.u32(off + 24); h.info = r.u32(off + 28);
  h.addralign = BigInt(r.u32(off + 32)); h.entsize = BigInt(r.u32(off + 36));
}
