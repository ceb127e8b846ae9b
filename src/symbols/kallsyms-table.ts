/**
 * Recover the kernel's own kallsyms table from a decompressed kernel image, without symbols and
 * without booting.
 *
 * scripts/kallsyms.c emits, each array after `.balign 8` on 64-bit (6.1 order):
 *   kallsyms_offsets[N] (s32) | kallsyms_relative_base (u64) | kallsyms_num_syms (u32) |
 *   kallsyms_names (u8: len, tokens...) | kallsyms_markers[(N+255)/256] (u32) |
 *   kallsyms_token_table (256 NUL-terminated strings) | kallsyms_token_index[256] (u16)
 * 6.2 added kallsyms_seqs_of_names after the markers and 6.4 moved offsets and relative_base to
 * the end (Masahiro Yamada, "scripts/kallsyms: change the output order"); both are handled, and
 * checked against the running kernel's /proc/kallsyms for Debian's 6.1 and 6.12 images.
 *
 * We find the token table by its digits ("0\0" ... "9\0" are the tokens for bytes 0x30..0x39,
 * since digits occur in symbol names), prove it with the token index that follows, walk back over
 * the markers to the names and their count, and decode every entry exactly as
 * kernel/kallsyms.c kallsyms_expand_symbol() and kallsyms_sym_address() do.
 */
import { ElfError } from '../elf/errors.js';
import type { RawSymbol } from './types.js';

export interface KallsymsTable {
  symbols: RawSymbol[];
  relativeBase: bigint;
  /** Byte offsets of the arrays inside the image, for diagnostics. */
  layout: { names: number; markers: number; tokenTable: number; tokenIndex: number; offsets: number; order: 'pre-6.4' | '6.4+' };
}

const DIGITS = new Uint8Array([...'0123456789'].flatMap((c) => [c.charCodeAt(0), 0]));
const align = (v: number, a: number): number => Math.ceil(v / a) * a;

/** Index of the first NUL in img[from, from + max], or -1: a token is short, so never scan the image for one. */
function nulWithin(img: Uint8Array, from: number, max: number): number {
  const end = Math.min(img.length, from + max + 1);
  for (let i = from; i < end; i++) if (img[i] === 0) return i;
  return -1;
}

function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  for (let i = hay.indexOf(first, from); i >= 0 && i <= hay.length - needle.length; i = hay.indexOf(first, i + 1)) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
  }
  return -1;
}

interface Tokens { table: number; index: number; end: number; strings: string[] }

/** Prove a digits hit is the token table: the u16 index after it must describe every token. */
function tryTokens(img: Uint8Array, dv: DataView, digits: number): Tokens | undefined {
  // Tokens 0x30..0xff: 208 strings from the '0' token on.
  let p = digits;
  for (let n = 0; n < 208; n++) {
    const z = nulWithin(img, p, 512);
    if (z < 0) return undefined;
    p = z + 1;
  }
  for (const a of [8, 4, 2]) {
    const ti = align(p, a);
    if (ti + 512 > img.length) continue;
    const idx = (i: number): number => dv.getUint16(ti + 2 * i, true);
    if (idx(0) !== 0) continue;
    const table = digits - idx(0x30);
    if (table < 0) continue;
    const strings: string[] = [];
    let ok = true;
    for (let i = 0; i < 256 && ok; i++) {
      const s = table + idx(i);
      const z = nulWithin(img, s, 512);
      if (z < 0) { ok = false; break; }
      if (i < 255 && idx(i + 1) !== idx(i) + (z - s) + 1) ok = false;
      if (i === 255 && z + 1 !== p) ok = false;
      strings.push(Buffer.from(img.buffer, img.byteOffset + s, z - s).toString('latin1'));
    }
    if (ok) return { table, index: ti, end: ti + 512, strings };
  }
  return undefined;
}

/** Length of a kallsyms_names entry at `off` (6.1: one byte, or two when the high bit is set). */
function entryLen(img: Uint8Array, off: number): [number, number] {
  const b = img[off]!;
  if (b & 0x80) return [(b & 0x7f) | (img[off + 1]! << 7), 2];
  return [b, 1];
}

export function extractKallsyms(img: Uint8Array, file: string): KallsymsTable {
  const dv = new DataView(img.buffer, img.byteOffset, img.byteLength);
  let tokens: Tokens | undefined;
  for (let at = indexOfBytes(img, DIGITS, 0); at >= 0 && !tokens; at = indexOfBytes(img, DIGITS, at + 1)) {
    tokens = tryTokens(img, dv, at);
  }
  if (!tokens) {
    throw new ElfError('UNSUPPORTED', { file }, 'no kallsyms token table found in the kernel image',
      'the kernel may lack CONFIG_KALLSYMS; use --kallsyms with a /proc/kallsyms dump instead');
  }

  // Markers: strictly increasing u32 offsets into the names, from 0, one per 256 symbols. They
  // end right before the token table in 6.1 as released, or before kallsyms_seqs_of_names (3
  // bytes a symbol) where that was added (6.2, and backported to some 6.1 stable kernels, such
  // as Debian's). Scan back from the token table for the end of such a run.
  //
  // Each candidate end is walked back until the run breaks. A candidate that starts inside a run
  // already walked breaks at the same place with fewer values, so the next candidate starts at the
  // break: every word is read at most twice, whatever the image holds (a crafted run of 65,536
  // increasing words took minutes when every 4-byte position restarted the walk).
  let markers: number[] = [];
  let markersStart = -1;
  let markersEnd = -1;
  const lowest = Math.max(0, tokens.table - 16 * 1024 * 1024);
  for (let end = tokens.table - (tokens.table % 4); end > lowest && markersStart < 0;) {
    const vals: number[] = [];
    let p = end - 4;
    let prev = Infinity;
    while (p >= 0) {
      const v = dv.getUint32(p, true);
      if (v >= prev || (prev !== Infinity && (prev - v < 256 || prev - v > 256 * 520))) break;
      vals.push(v);
      prev = v;
      if (v === 0) break;
      p -= 4;
    }
    if (vals.length >= 16 && vals[vals.length - 1] === 0) {
      markers = vals.reverse();
      markersStart = p;
      markersEnd = end;
    }
    // The word at p broke the run (or was its 0): the next walk starts there.
    end = Math.min(end - 4, p + 4);
  }
  if (markersStart < 0) throw new ElfError('UNSUPPORTED', { file, offset: tokens.table }, 'kallsyms markers not found before the token table');
  const m = markers.length;
  const lastMarker = markers[m - 1]!;

  // kallsyms_num_syms is a u32 just before the names (after alignment); its value N satisfies
  // (N + 255) / 256 == markers. Scan back from the markers and accept the first N whose names
  // parse to exactly the marker offsets and end at the markers.
  const minN = (m - 1) * 256 + 1;
  const maxN = m * 256;
  let n = -1, names = -1, numSymsAt = -1;
  // kallsyms_num_syms is 4-aligned; the scan must step over aligned places whatever the names' length.
  // The names end at the markers: the last block holds at most 256 entries of at most 2 + 512
  // bytes (KSYM_NAME_LEN tokens), so num_syms lies within that much before the last marker's name.
  const window = markersStart - lastMarker - 256 * (2 + 512) - 16;
  for (let p = (markersStart - 4 - lastMarker) & ~3; p >= 0 && p > window; p -= 4) {
    const v = dv.getUint32(p, true);
    if (v < minN || v > maxN) continue;
    const start = align(p + 4, 8);
    let off = start;
    let good = true;
    for (let i = 0; i < v; i++) {
      if ((i & 0xff) === 0 && off - start !== markers[i >> 8]) { good = false; break; }
      if (off >= markersStart) { good = false; break; }
      const [len, hdr] = entryLen(img, off);
      off += hdr + len;
    }
    if (good && align(off, 4) <= markersStart && markersStart - off < 8) {
      n = v;
      names = start;
      numSymsAt = p;
      break;
    }
  }
  if (n < 0) {
    throw new ElfError('UNSUPPORTED', { file, offset: markersStart }, 'kallsyms_num_syms / kallsyms_names not found before the markers (a kallsyms layout klpkit does not read yet)',
      'build from the booted kernel\'s symbols instead: --kallsyms with a copy of /proc/kallsyms (as root, nokaslr for stable addresses)');
  }
  // Whatever lies between markers and token table must be nothing or exactly the seqs array.
  const gap = tokens.table - align(markersEnd, 8);
  if (gap !== 0 && align(align(markersEnd, 8) + 3 * n, 8) !== tokens.table) {
    throw new ElfError('UNSUPPORTED', { file, offset: markersEnd }, `unexpected ${gap} bytes between kallsyms_markers and kallsyms_token_table`);
  }

  // Offsets and relative base: before num_syms (up to 6.3) or after the token index (6.4+).
  const isKernelAddr = (b: bigint): boolean => b >= 0xffff800000000000n;
  let order: 'pre-6.4' | '6.4+' = 'pre-6.4';
  let relBaseAt = numSymsAt - 8;
  let offsets = relBaseAt - align(n * 4, 8);
  if (relBaseAt < 0 || offsets < 0 || !isKernelAddr(dv.getBigUint64(relBaseAt, true))) {
    order = '6.4+';
    offsets = align(tokens.end, 8);
    relBaseAt = align(offsets + n * 4, 8);
    if (relBaseAt + 8 > img.length || !isKernelAddr(dv.getBigUint64(relBaseAt, true))) {
      throw new ElfError('UNSUPPORTED', { file, offset: numSymsAt }, 'kallsyms_relative_base not found (CONFIG_KALLSYMS_BASE_RELATIVE=n is not supported)');
    }
  }
  const relativeBase = dv.getBigUint64(relBaseAt, true);

  // With CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP) non-negative offsets are absolute values
  // (per-cpu symbols) and negative ones are relative to relative_base - 1; otherwise offsets are
  // unsigned and relative to relative_base (kernel/kallsyms.c kallsyms_sym_address).
  let negatives = 0;
  for (let i = 0; i < n; i++) if (dv.getInt32(offsets + 4 * i, true) < 0) negatives++;
  const absolutePercpu = negatives > n / 2;

  const symbols: RawSymbol[] = new Array(n);
  let off = names;
  for (let i = 0; i < n; i++) {
    const [len, hdr] = entryLen(img, off);
    off += hdr;
    let s = '';
    for (let k = 0; k < len; k++) s += tokens.strings[img[off + k]!];
    off += len;
    const o = dv.getInt32(offsets + 4 * i, true);
    const address = absolutePercpu ? (o >= 0 ? BigInt(o) : relativeBase - 1n - BigInt(o)) : relativeBase + BigInt(o >>> 0);
    symbols[i] = { type: s.charAt(0), name: s.slice(1), address };
  }
  return {
    symbols, relativeBase,
    layout: { names, markers: markersStart, tokenTable: tokens.table, tokenIndex: tokens.index, offsets, order },
  };
}
