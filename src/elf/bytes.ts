/**
 * Endian-aware, bounds-checked access to a byte buffer.
 *
 * 64-bit fields come in two flavours: `u64` returns a bigint (addresses, values, addends), `u64n`
 * returns a number and is used for file offsets and sizes, which can never exceed the file length
 * and so always fit in a double once checked (BigInt creation dominates parse time otherwise).
 */
import { ElfError, type ElfErrorPlace } from './errors.js';

const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 256 }, (_, i) => BigInt(i));

export class ByteReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly le: boolean;
  readonly file: string;

  constructor(bytes: Uint8Array, le: boolean, file: string) {
    this.bytes = bytes;
    // byteOffset matters: Node Buffers from the pool share one ArrayBuffer.
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.le = le;
    this.file = file;
  }

  get length(): number {
    return this.bytes.length;
  }

  /** Throws TRUNCATED unless [offset, offset+size) lies inside the buffer. */
  need(offset: number, size: number, what: string, place: Partial<ElfErrorPlace> = {}): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 ||
        offset + size > this.bytes.length) {
      throw new ElfError('TRUNCATED', { file: this.file, offset, ...place },
        `${what} (${size} bytes at 0x${offset.toString(16)}) runs past the end of the file (${this.bytes.length} bytes)`,
        'the file is truncated or corrupt');
    }
  }

  u8(off: number): number {
    return this.view.getUint8(off);
  }
  u16(off: number): number {
    return this.view.getUint16(off, this.le);
  }
  u32(off: number): number {
    return this.view.getUint32(off, this.le);
  }
  i32(off: number): number {
    return this.view.getInt32(off, this.le);
  }
  u64(off: number): bigint {
    // Small values (flags, alignments, entry sizes, zero) come from a table: a BigInt is an
    // allocation, and a file of 40,000 sections has four of them a section header.
    const lo = this.view.getUint32(off + (this.le ? 0 : 4), this.le);
    if (lo < SMALL_BIGINTS.length && this.view.getUint32(off + (this.le ? 4 : 0), this.le) === 0) return SMALL_BIGINTS[lo]!;
    return this.view.getBigUint64(off, this.le);
  }
  i64(off: number): bigint {
    return this.view.getBigInt64(off, this.le);
  }
  /**
   * A 64-bit offset or size as a number. A value past 2^53 fits no file and no memory, and a double
   * would round it: it is refused here, with its exact value, so no size is ever a float.
   */
  u64n(off: number, what = 'offset or size'): number {
    const lo = this.view.getUint32(off + (this.le ? 0 : 4), this.le);
    const hi = this.view.getUint32(off + (this.le ? 4 : 0), this.le);
    if (hi >= 0x200000) {
      throw new ElfError('BAD_HEADER', { file: this.file, offset: off },
        `${what} 0x${this.u64(off).toString(16)} is larger than any file or memory (2^53 bytes)`, 'the header is corrupt');
    }
    return hi * 0x100000000 + lo;
  }
}

export class ByteWriter {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly le: boolean;

  constructor(bytes: Uint8Array, le: boolean) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.le = le;
  }

  u8(off: number, v: number): void {
    this.view.setUint8(off, v);
  }
  u16(off: number, v: number): void {
    this.view.setUint16(off, v, this.le);
  }
  u32(off: number, v: number): void {
    this.view.setUint32(off, v >>> 0, this.le);
  }
  u64(off: number, v: bigint): void {
    // Most fields are small and not negative: two 32-bit stores, no BigInt made on the way. Told
    // by the value as a number (exact up to 2^32, and a larger BigInt never rounds below it): a
    // conversion is cheaper than two BigInt comparisons in code that runs once, cold (60,000
    // section headers).
    const n = Number(v);
    if (n >= 0 && n <= 0xffffffff) {
      this.view.setUint32(off + (this.le ? 0 : 4), n, this.le);
      this.view.setUint32(off + (this.le ? 4 : 0), 0, this.le);
      return;
    }
    this.view.setBigUint64(off, BigInt.asUintN(64, v), this.le);
  }
  /** A number that fits in 53 bits, written as a 64-bit field. */
  u64n(off: number, v: number): void {
    const lo = v % 0x100000000;
    const hi = Math.floor(v / 0x100000000);
    this.view.setUint32(off + (this.le ? 0 : 4), lo, this.le);
    this.view.setUint32(off + (this.le ? 4 : 0), hi, this.le);
  }
}

import { Buffer } from 'node:buffer';

/**
 * Decode a NUL-terminated string from a string table. Names are kept as latin1 (one char per
 * byte), which round-trips every byte exactly; any byte value may appear in a hostile name.
 */
export function cString(table: Uint8Array, off: number): string | undefined {
  if (off < 0 || off >= table.length) return undefined;
  const end = table.indexOf(0, off);
  if (end < 0) return undefined;
  return latin1Of(table, off, end);
}

export function latin1Of(bytes: Uint8Array, start: number, end: number): string {
  // One native call, whatever the length: a short name built a String.fromCharCode at a time
  // made a string a character (40,000 names of 1 to 12 characters: 22 ms cold against 9, and a
  // name of 13 or more would be a cons string, a tree of its pieces). Not TextDecoder('latin1'):
  // WHATWG maps it to windows-1252, which is not byte-exact.
  return Buffer.prototype.latin1Slice.call(bytes, start, end);
}

/** Bytes of a latin1 string (inverse of latin1Of). */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  latin1Write(out, s, 0);
  return out;
}

/**
 * Write a latin1 string into `out` at `at` (a character's low byte, as latin1Bytes); returns
 * where it ends. One native call a string, for tables of thousands of names.
 */
export function latin1Write(out: Uint8Array, s: string, at: number): number {
  return at + Buffer.prototype.latin1Write.call(out, s, at);
}

export const alignUp = (v: number, a: number): number => (a <= 1 ? v : Math.ceil(v / a) * a);

/** Chunks (of a stream) as one array; the one chunk itself when there is only one. */
export function concatBytes(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
