/**
 * The little of DWARF that provenance needs: each compilation unit's name (`DW_TAG_compile_unit`'s
 * `DW_AT_name`, the path the compiler was given, e.g. `fs/ext4/inode.c` under Kbuild) and where
 * its functions and variables are (`DW_AT_low_pc` of a `DW_TAG_subprogram`, the `DW_OP_addr` of a
 * `DW_TAG_variable`'s `DW_AT_location`), so a symbol at that place can be given that unit.
 *
 * DWARF 2 to 5, 32- and 64-bit units. In a relocatable object (a `.ko`) the fields that point
 * into other sections (abbreviation and string offsets, addresses) are zero in the section and
 * carried by `.rela.debug_*`: they are read through the relocations (S + A, the only thing the
 * linker does to debug sections). In a linked object (vmlinux) they are final. Compressed debug
 * sections (`SHF_COMPRESSED`, zlib or zstd, CONFIG_DEBUG_INFO_COMPRESSED) are inflated first.
 * Split DWARF (.dwo) and type units carry no places and are skipped. Only a unit's own children
 * are read (DW_AT_sibling jumps over the rest), so a function's static variables are not among
 * the places.
 */
import { inflateSync } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { concatBytes } from './bytes.js';
import { ET, SHF, SHT } from './constants.js';
import { ElfError } from './errors.js';
import type { ElfFile } from './file.js';
import type { Section } from './model.js';

/** A function or variable of a unit's top level with an address, and the unit that defines it. */
export interface DwarfPlace {
  /** The section it is in (a relocatable object), or null when `address` is final (linked). */
  section: Section | null;
  /** Offset in `section`, or the address. */
  address: bigint;
  /** Index into DwarfUnits.units. */
  unit: number;
}

export interface DwarfUnits {
  /** Each compile unit's DW_AT_name, in `.debug_info` order ('' when it has none). */
  units: string[];
  places: DwarfPlace[];
}

const DW_TAG_compile_unit = 0x11;
const DW_TAG_partial_unit = 0x3c;
const DW_TAG_subprogram = 0x2e;
const DW_TAG_variable = 0x34;
const DW_AT_sibling = 0x01;
const DW_AT_name = 0x03;
const DW_AT_location = 0x02;
const DW_AT_low_pc = 0x11;
const DW_AT_str_offsets_base = 0x72;
const DW_AT_addr_base = 0x73;
const DW_OP_addr = 0x03;
const DW_OP_addrx = 0xa1;
const DW_UT_compile = 1;
const DW_UT_partial = 3;
const ELFCOMPRESS_ZLIB = 1;
const CORRUPT = 'the debug information is corrupt: strip it (objcopy --strip-debug) to use the symbol table alone, or give an intact debug copy';
const ELFCOMPRESS_ZSTD = 2;

// Form codes (DWARF 5 section 7.5.6, plus GNU's).
const F = {
  addr: 0x01, block2: 0x03, block4: 0x04, data2: 0x05, data4: 0x06, data8: 0x07, string: 0x08,
  block: 0x09, block1: 0x0a, data1: 0x0b, flag: 0x0c, sdata: 0x0d, strp: 0x0e, udata: 0x0f,
  ref_addr: 0x10, ref1: 0x11, ref2: 0x12, ref4: 0x13, ref8: 0x14, ref_udata: 0x15, indirect: 0x16,
  sec_offset: 0x17, exprloc: 0x18, flag_present: 0x19, strx: 0x1a, addrx: 0x1b, ref_sup4: 0x1c,
  strp_sup: 0x1d, data16: 0x1e, line_strp: 0x1f, ref_sig8: 0x20, implicit_const: 0x21,
  loclistx: 0x22, rnglistx: 0x23, ref_sup8: 0x24, strx1: 0x25, strx2: 0x26, strx3: 0x27,
  strx4: 0x28, addrx1: 0x29, addrx2: 0x2a, addrx3: 0x2b, addrx4: 0x2c,
  GNU_addr_index: 0x1f01, GNU_str_index: 0x1f02, GNU_ref_alt: 0x1f20, GNU_strp_alt: 0x1f21,
} as const;

/** A debug section's bytes (inflated) and, in a relocatable object, what its relocations put where. */
interface DebugSection {
  name: string;
  bytes: Uint8Array;
  view: DataView;
  /** offset -> [target section or null, S + A] */
  relocs: ((offset: number) => [Section | null, bigint] | undefined) | null;
}

interface Abbrev {
  tag: number;
  children: boolean;
  attrs: Int32Array;
  forms: Int32Array;
}

/**
 * The units and places of `elf`'s `.debug_info`, or null when it has none. Throws ElfError,
 * naming the section and offset, on DWARF it cannot walk.
 */
export function readDwarfUnits(elf: ElfFile): DwarfUnits | null {
  try {
    return walkDebugInfo(elf);
  } catch (e) {
    // A field read past its section by hostile sizes (DataView's RangeError): the same refusal.
    if (e instanceof RangeError) {
      throw new ElfError('BAD_SECTION', { file: elf.path, section: '.debug_info' }, `a field runs past the end of its section (${e.message})`,
        CORRUPT);
    }
    throw e;
  }
}

function walkDebugInfo(elf: ElfFile): DwarfUnits | null {
  const info = debugSection(elf, '.debug_info');
  if (!info) return null;
  const abbrevSec = debugSection(elf, '.debug_abbrev');
  const str = debugSection(elf, '.debug_str');
  const lineStr = debugSection(elf, '.debug_line_str');
  const strOffsets = debugSection(elf, '.debug_str_offsets');
  const addrSec = debugSection(elf, '.debug_addr');
  const le = elf.littleEndian;
  const file = elf.path;
  const fail = (sec: DebugSection, offset: number, what: string): ElfError =>
    new ElfError('BAD_SECTION', { file, section: sec.name, offset }, what, CORRUPT);
  if (!abbrevSec) throw fail(info, 0, 'there is .debug_info but no .debug_abbrev');

  const out: DwarfUnits = { units: [], places: [] };
  const abbrevCache = new Map<number, Map<number, Abbrev>>();
  const b = info.bytes;
  const view = info.view;
  let p = 0;

  const u16 = (o: number): number => view.getUint16(o, le);
  const u32 = (o: number): number => view.getUint32(o, le);
  const u64 = (o: number): bigint => view.getBigUint64(o, le);
  const uleb = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (p >= end) throw fail(info, p, 'a LEB128 number runs past the end of its unit');
      const byte = b[p++]!;
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) return result;
      mul *= 128;
    }
  };
  const cString = (sec: DebugSection | undefined, off: number): string => {
    if (!sec || off < 0 || off >= sec.bytes.length) throw fail(info, p, `a string offset (0x${off.toString(16)}) is outside ${sec?.name ?? 'its string section, which is missing'}`);
    let e = off;
    while (e < sec.bytes.length && sec.bytes[e] !== 0) e++;
    return Buffer.from(sec.bytes.buffer, sec.bytes.byteOffset + off, e - off).toString('utf8');
  };
  // An offset or address field of `size` bytes: through its relocation in a relocatable object.
  const sectionWord = (sec: DebugSection | undefined, o: number, size: number): [Section | null, bigint] => {
    if (!sec || o < 0 || o + size > sec.bytes.length) throw fail(info, p, `a field at 0x${o.toString(16)} is outside ${sec?.name ?? 'a missing section'}`);
    return sec.relocs?.(o) ?? [null, size === 4 ? BigInt(sec.view.getUint32(o, le)) : sec.view.getBigUint64(o, le)];
  };
  const offsetField = (o: number, size: number): number => Number(sectionWord(info, o, size)[1]);

  let end = b.length;
  while (p < b.length) {
    const unitStart = p;
    end = b.length;
    if (p + 4 > b.length) throw fail(info, p, 'a unit header is truncated');
    let length = u32(p);
    let offsetSize = 4;
    p += 4;
    if (length === 0xffffffff) {
      if (p + 8 > b.length) throw fail(info, unitStart, 'a 64-bit unit header is truncated');
      length = Number(u64(p));
      offsetSize = 8;
      p += 8;
    } else if (length >= 0xfffffff0) {
      throw fail(info, unitStart, `unit length 0x${length.toString(16)} is reserved`);
    }
    end = p + length;
    if (end > b.length) throw fail(info, unitStart, `a unit of ${length} bytes runs past the end of the section`);
    const next = end;
    const version = u16(p);
    p += 2;
    if (version < 2 || version > 5) throw fail(info, unitStart, `DWARF version ${version} is not 2 to 5`);
    let addrSize: number;
    let abbrevOffset: number;
    if (version >= 5) {
      const unitType = b[p]!;
      addrSize = b[p + 1]!;
      p += 2;
      abbrevOffset = offsetField(p, offsetSize);
      p += offsetSize;
      if (unitType !== DW_UT_compile && unitType !== DW_UT_partial) {
        p = next; // type, skeleton and split units: no places of this object
        continue;
      }
    } else {
      abbrevOffset = offsetField(p, offsetSize);
      p += offsetSize;
      addrSize = b[p]!;
      p += 1;
    }
    if (addrSize !== 4 && addrSize !== 8) throw fail(info, unitStart, `address size ${addrSize} is not 4 or 8`);
    let abbrevs = abbrevCache.get(abbrevOffset);
    if (!abbrevs) {
      abbrevs = readAbbrevs(abbrevSec, abbrevOffset, (o, w) => fail(abbrevSec, o, w));
      abbrevCache.set(abbrevOffset, abbrevs);
    }
    const unit = out.units.length;
    out.units.push('');
    let strOffsetsBase = version >= 5 ? 8 : 0; // DWARF 5 section 7.26: after the 8-byte header
    let addrBase = 8;
    const strx = (i: number): string => {
      const [, off] = sectionWord(strOffsets, strOffsetsBase + i * offsetSize, offsetSize);
      return cString(str, Number(off));
    };
    const addrx = (i: number): [Section | null, bigint] => sectionWord(addrSec, addrBase + i * addrSize, addrSize);
    let first = true;
    while (p < end) {
      const code = uleb();
      if (code === 0) continue; // the end of a DIE's children
      const ab = abbrevs.get(code);
      if (!ab) throw fail(info, p, `abbreviation ${code} is not in .debug_abbrev at 0x${abbrevOffset.toString(16)}`);
      const isCu = first && (ab.tag === DW_TAG_compile_unit || ab.tag === DW_TAG_partial_unit);
      const wantPlace = ab.tag === DW_TAG_subprogram || ab.tag === DW_TAG_variable;
      let place: [Section | null, bigint] | undefined;
      let nameForm = -1;
      let nameAt = 0;
      let nameIndex = 0;
      let sibling = -1;
      for (let i = 0; i < ab.forms.length; i++) {
        let form = ab.forms[i]!;
        const attr = ab.attrs[i]!;
        if (form === F.indirect) form = uleb();
        const at = p;
        if (p >= end && form !== F.flag_present && form !== F.implicit_const) throw fail(info, at, 'a DIE runs past the end of its unit');
        switch (form) {
          case F.addr: {
            if (wantPlace && attr === DW_AT_low_pc) place = sectionWord(info, at, addrSize);
            p += addrSize;
            break;
          }
          case F.addrx: case F.GNU_addr_index: {
            const i2 = uleb();
            if (wantPlace && attr === DW_AT_low_pc) place = addrx(i2);
            break;
          }
          case F.addrx1: case F.addrx2: case F.addrx3: case F.addrx4: {
            const n = form - F.addrx1 + 1;
            if (wantPlace && attr === DW_AT_low_pc) place = addrx(littleNumber(b, at, n, le));
            p += n;
            break;
          }
          case F.data1: case F.ref1: case F.flag: case F.strx1: p += 1; break;
          case F.data2: case F.ref2: case F.strx2: p += 2; break;
          case F.strx3: p += 3; break;
          case F.data4: case F.ref4: case F.ref_sup4: case F.strx4: p += 4; break;
          case F.data8: case F.ref8: case F.ref_sig8: case F.ref_sup8: p += 8; break;
          case F.data16: p += 16; break;
          case F.strp: case F.line_strp: case F.sec_offset: case F.strp_sup: case F.GNU_ref_alt: case F.GNU_strp_alt:
            p += offsetSize;
            break;
          case F.ref_addr: p += version === 2 ? addrSize : offsetSize; break;
          case F.sdata: case F.udata: case F.ref_udata: case F.strx: case F.GNU_str_index:
          case F.loclistx: case F.rnglistx:
            uleb();
            break;
          case F.string:
            while (p < end && b[p] !== 0) p++;
            p++;
            break;
          case F.block1: case F.block2: case F.block4: case F.block: case F.exprloc: {
            // DWARF 2 and 3 give a location as a block (block1 from gcc), DWARF 4 on as exprloc.
            let n: number;
            if (form === F.block1) n = b[p++]!;
            else if (form === F.block2) { n = u16(p); p += 2; }
            else if (form === F.block4) { n = u32(p); p += 4; }
            else n = uleb();
            const start = p;
            p += n;
            if (wantPlace && attr === DW_AT_location && ab.tag === DW_TAG_variable) {
              if (n === 1 + addrSize && b[start] === DW_OP_addr) place = sectionWord(info, start + 1, addrSize);
              else if (b[start] === DW_OP_addrx) {
                p = start + 1; // its index, read as any LEB128 of the unit is (bounded by the unit)
                place = addrx(uleb());
                p = start + n;
              }
            }
            break;
          }
          case F.flag_present: case F.implicit_const: break;
          default:
            throw fail(info, at, `form 0x${form.toString(16)} is unknown`);
        }
        if (p > end) throw fail(info, at, 'an attribute runs past the end of its unit');
        if (attr === DW_AT_sibling && form >= F.ref1 && form <= F.ref_udata) {
          sibling = unitStart + (form === F.ref4 ? u32(at) : form === F.ref2 ? u16(at) : form === F.ref1 ? b[at]!
            : form === F.ref_udata ? littleLeb(b, at) : Number(u64(at)));
        }
        if (isCu) {
          if (attr === DW_AT_name) {
            nameForm = form;
            nameAt = at;
            if (form === F.strx || form === F.GNU_str_index) nameIndex = littleLeb(b, at);
          } else if (attr === DW_AT_str_offsets_base) {
            strOffsetsBase = offsetField(at, offsetSize);
          } else if (attr === DW_AT_addr_base) {
            addrBase = offsetField(at, offsetSize);
          }
        }
      }
      if (isCu && nameForm >= 0) {
        // Read after the loop: DW_AT_str_offsets_base may come after DW_AT_name.
        out.units[unit] = nameForm === F.string ? cString(info, nameAt)
          : nameForm === F.strp ? cString(str, offsetField(nameAt, offsetSize))
            : nameForm === F.line_strp ? cString(lineStr, offsetField(nameAt, offsetSize))
              : nameForm === F.strx || nameForm === F.GNU_str_index ? strx(nameIndex)
                : nameForm >= F.strx1 && nameForm <= F.strx4 ? strx(littleNumber(b, nameAt, nameForm - F.strx1 + 1, le))
                  : '';
      }
      first = false;
      if (place) out.places.push({ section: place[0], address: place[1], unit });
      // Below a unit's own children only parameters, locals, blocks and members: a function's
      // static variables are there too, but a unit is found for them through their STT_FILE
      // run (src/symbols/dwarf-units.ts). Skipping them is most of the walk's speed.
      if (!isCu && ab.children && sibling > p && sibling <= end) p = sibling;
    }
    p = next;
  }
  return out;
}

function littleLeb(b: Uint8Array, at: number): number {
  let v = 0;
  let mul = 1;
  for (let p = at; p < b.length; p++) {
    v += (b[p]! & 0x7f) * mul;
    if (b[p]! < 0x80) break;
    mul *= 128;
  }
  return v;
}

function littleNumber(b: Uint8Array, at: number, n: number, le: boolean): number {
  let v = 0;
  for (let i = 0; i < n; i++) v += b[at + (le ? i : n - 1 - i)]! * 2 ** (8 * i);
  return v;
}

function readAbbrevs(sec: DebugSection, offset: number, fail: (o: number, what: string) => ElfError): Map<number, Abbrev> {
  const b = sec.bytes;
  let p = offset;
  const leb = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (p >= b.length) throw fail(p, 'an abbreviation runs past the end of the section');
      const byte = b[p++]!;
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) return result;
      mul *= 128;
    }
  };
  const out = new Map<number, Abbrev>();
  if (offset >= b.length) throw fail(offset, `abbreviation offset 0x${offset.toString(16)} is outside the section`);
  for (;;) {
    const code = leb();
    if (code === 0) return out;
    const tag = leb();
    if (p >= b.length) throw fail(p, 'an abbreviation runs past the end of the section');
    const children = b[p++] === 1;
    const attrs: number[] = [];
    const forms: number[] = [];
    for (;;) {
      const attr = leb();
      const form = leb();
      if (attr === 0 && form === 0) break;
      attrs.push(attr);
      forms.push(form);
      if (form === F.implicit_const) leb(); // its value is in the abbreviation, not the DIE
    }
    out.set(code, { tag, children, attrs: Int32Array.from(attrs), forms: Int32Array.from(forms) });
  }
}

/** A debug section's contents, inflated if compressed, with its relocations in an ET_REL object. */
function debugSection(elf: ElfFile, name: string): DebugSection | undefined {
  const sec = elf.sections.find((s) => s.name === name && s.type === SHT.PROGBITS);
  if (!sec) return undefined;
  const bytes = (sec.flags & SHF.COMPRESSED) !== 0n ? inflateSection(elf, sec) : sec.data;
  const relsecs = elf.header.type === ET.REL ? elf.relocationSectionsFor(sec) : [];
  return { name, bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), relocs: relsecs.length === 0 ? null : relocationTable(elf, relsecs, bytes) };
}

/**
 * The relocations of a debug section as a look-up by offset. Read straight from the bytes, not as
 * Relocation objects: a module's `.rela.debug_info` has tens of thousands of entries, and the walk
 * asks for a few hundred of them.
 */
function relocationTable(elf: ElfFile, relsecs: Section[], bytes: Uint8Array): (o: number) => [Section | null, bigint] | undefined {
  const is64 = elf.elfClass === 64;
  const le = elf.littleEndian;
  const field = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tables = relsecs.map((rs) => {
    const rela = rs.type === SHT.RELA;
    const step = (is64 ? 8 : 4) * (rela ? 3 : 2);
    const d = rs.data;
    const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const count = Math.floor(d.length / step);
    const rOffset = (i: number): number => (is64 ? dv.getUint32(i * step + (le ? 0 : 4), le) + dv.getUint32(i * step + (le ? 4 : 0), le) * 2 ** 32 : dv.getUint32(i * step, le));
    // Linkers write them in offset order, and then they are searched where they are; sorted
    // (entry numbers by offset) only when they are not.
    let order: Int32Array | null = null;
    // r_offset's low word (ELF64: its high word as well, 0 in any section under 4 GiB), one entry after another.
    const lowAt = is64 && !le ? 4 : 0;
    const highAt = is64 ? (le ? 4 : 0) : -1;
    let prev = 0;
    for (let o = 0; o < count * step; o += step) {
      const off = dv.getUint32(o + lowAt, le);
      if (off < prev || (highAt >= 0 && dv.getUint32(o + highAt, le) !== 0)) {
        order = Int32Array.from({ length: count }, (_, k) => k).sort((x, y) => rOffset(x) - rOffset(y));
        break;
      }
      prev = off;
    }
    const at = order ? (i: number): number => rOffset(order![i]!) : rOffset;
    return { rs, rela, step, dv, count, at, order };
  });
  return (o) => {
    for (const t of tables) {
      let lo = 0, hi = t.count;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (t.at(mid) < o) lo = mid + 1;
        else hi = mid;
      }
      if (lo === t.count || t.at(lo) !== o) continue;
      const e = (t.order ? t.order[lo]! : lo) * t.step;
      const symIdx = is64 ? t.dv.getUint32(e + (le ? 12 : 8), le) : t.dv.getUint32(e + 4, le) >>> 8;
      const symtab = t.rs.linkSection;
      const sym = symtab?.isSymbolTable ? (elf.symbols(symtab), symtab._origSymbols![symIdx]) : undefined;
      if (!sym) {
        throw new ElfError('BAD_RELOCATION', { file: elf.path, section: t.rs.name, offset: t.rs.offset + e },
          `relocation refers to symbol ${symIdx}, which ${symtab?.name ?? 'the missing symbol table'} does not have`);
      }
      // REL keeps its addend in the field (a 32-bit one for the offsets DWARF relocates).
      const addend = t.rela ? (is64 ? t.dv.getBigInt64(e + 16, le) : BigInt(t.dv.getInt32(e + 8, le)))
        : o + 4 <= bytes.length ? BigInt(field.getUint32(o, le)) : 0n;
      return [sym.section, sym.value + addend];
    }
    return undefined;
  };
}

/** An SHF_COMPRESSED section's contents (Elf_Chdr, then zlib or zstd data). */
function inflateSection(elf: ElfFile, sec: Section): Uint8Array {
  const d = sec.data;
  const is64 = elf.elfClass === 64;
  const hdr = is64 ? 24 : 12;
  const place = { file: elf.path, section: sec.name, offset: sec.offset };
  if (d.length < hdr) throw new ElfError('BAD_SECTION', place, 'a compressed section is shorter than its header');
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const type = view.getUint32(0, elf.littleEndian);
  const size = is64 ? Number(view.getBigUint64(8, elf.littleEndian)) : view.getUint32(4, elf.littleEndian);
  const body = d.subarray(hdr);
  let out: Uint8Array;
  try {
    if (type === ELFCOMPRESS_ZLIB) {
      out = inflateSync(body, { maxOutputLength: Math.max(size, 1) });
    } else if (type === ELFCOMPRESS_ZSTD) {
      const chunks: Uint8Array[] = [];
      let total = 0;
      new ZstdDecompress((c) => {
        total += c.length;
        chunks.push(c);
      }).push(body, true);
      out = concatBytes(chunks, total);
    } else {
      throw new ElfError('UNSUPPORTED', place, `compression type ${type} is neither zlib (1) nor zstd (2)`);
    }
  } catch (e) {
    if (e instanceof ElfError) throw e;
    throw new ElfError('DECOMPRESS', place, `compressed section is corrupt: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (out.length !== size) throw new ElfError('DECOMPRESS', place, `compressed section inflates to ${out.length} bytes, its header says ${size}`);
  return out;
}
