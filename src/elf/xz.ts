/**
 * .xz streams: compressed modules (Makefile.modinst: `xz --check=crc32 --lzma2=dict=1MiB`) and the
 * kernel's boot image (scripts/xz_wrap.sh: `xz --check=crc32 --x86 --lzma2=...`).
 *
 * The decoder is xz-embedded built to WebAssembly (the xz-decompress package), read through the
 * stream's own index first, for two things it cannot do alone:
 * - The dictionary size in a block header is what the encoder used, not what decoding needs: no
 *   match reaches further back than the block's decoded size, which the index gives. xz-embedded
 *   allocates the declared size and refuses above 64 MiB, so a valid module with a 1.5 GiB
 *   dictionary (`xz -t` accepts it) would be called corrupt. Each declared size is lowered to the
 *   smallest LZMA2 size that holds the block; only the decoded size is bounded (the bomb ceiling).
 * - It is built without BCJ filters. A stream that uses x86 BCJ is rewritten: every block header
 *   loses its BCJ filter (LZMA2 alone remains), the check becomes "none", and the index and footer
 *   are rebuilt with fresh CRC32s. xz-embedded then yields the BCJ-encoded bytes, which we decode
 *   here (the x86 branch converter of the LZMA SDK / liblzma simple/x86.c), and the original CRC32
 *   check of each block is verified on the result (CRC32 and SHA-256; a CRC64 is left to LZMA2's
 *   own integrity), and a SHA-256 stream, whose check xz-embedded does not know, goes the same way.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { DecompressOptions } from './compress.js';
import { ElfError } from './errors.js';

const FILTER_X86 = 0x04;
const FILTER_LZMA2 = 0x21;
const CHECK_SIZES = [0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64];

interface Vli { value: number; next: number }

function readVli(b: Uint8Array, off: number, file: string): Vli {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    const byte = b[off + i];
    if (byte === undefined) break;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return { value, next: off + i + 1 };
  }
  throw new ElfError('DECOMPRESS', { file, offset: off }, 'malformed xz variable-length integer');
}

function vli(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function u32le(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

interface Block { headerSize: number; compressedSize: number; uncompressedSize: number; bcj: boolean; dictProp: number; propsAt: number; start: number }

/**
 * Decompress one .xz stream, which may use the x86 BCJ filter. `bytes` may carry trailing data
 * after the stream (the kernel appends the decompressed size to its boot image).
 */
export async function decompressXz(bytes: Uint8Array, opts: DecompressOptions = {}): Promise<Uint8Array> {
  const file = opts.file ?? '<memory>';
  const bad = (offset: number, what: string): ElfError => new ElfError('DECOMPRESS', { file, offset }, `xz: ${what}`);
  if (bytes.length < 32 || bytes[0] !== 0xfd || bytes[1] !== 0x37 || bytes[2] !== 0x7a || bytes[3] !== 0x58 || bytes[4] !== 0x5a || bytes[5] !== 0) {
    throw bad(0, 'not an xz stream');
  }
  const check = bytes[7]! & 0x0f;
  const checkSize = CHECK_SIZES[check]!;
  // Find the stream footer: the last 'YZ' at a 4-byte boundary whose footer CRC is right.
  let footer = -1;
  for (let end = bytes.length - (bytes.length % 4); end >= 24; end -= 4) {
    if (bytes[end - 2] === 0x59 && bytes[end - 1] === 0x5a) {
      const f = end - 12;
      const crc = (bytes[f]! | (bytes[f + 1]! << 8) | (bytes[f + 2]! << 16) | (bytes[f + 3]! << 24)) >>> 0;
      if (crc32(bytes.subarray(f + 4, f + 10)) === crc) {
        footer = f;
        break;
      }
    }
  }
  if (footer < 0) throw bad(bytes.length, 'no stream footer found');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const indexSize = (dv.getUint32(footer + 4, true) + 1) * 4;
  const indexStart = footer - indexSize;
  if (indexStart < 12 || bytes[indexStart] !== 0) throw bad(indexStart, 'bad index');
  let p = indexStart + 1;
  const nrec = readVli(bytes, p, file);
  p = nrec.next;
  if (nrec.value > bytes.length / 2) throw bad(indexStart, 'index record count is implausible');
  const blocks: Block[] = [];
  let blockStart = 12;
  for (let i = 0; i < nrec.value; i++) {
    const unpadded = readVli(bytes, p, file);
    const unc = readVli(bytes, unpadded.next, file);
    p = unc.next;
    const headerSize = (bytes[blockStart]! + 1) * 4;
    if (blockStart + headerSize > indexStart) throw bad(blockStart, 'block header runs past the index');
    const flags = bytes[blockStart + 1]!;
    let q = blockStart + 2;
    if (flags & 0x40) q = readVli(bytes, q, file).next;
    if (flags & 0x80) q = readVli(bytes, q, file).next;
    const filters: Array<{ id: number; props: number[]; at: number }> = [];
    for (let k = 0; k <= (flags & 3); k++) {
      const id = readVli(bytes, q, file);
      const size = readVli(bytes, id.next, file);
      if (size.next + size.value > blockStart + headerSize - 4) throw bad(q, 'filter flags run past the block header');
      filters.push({ id: id.value, props: [...bytes.subarray(size.next, size.next + size.value)], at: size.next });
      q = size.next + size.value;
    }
    const last = filters[filters.length - 1]!;
    const bcj = filters.length === 2 && filters[0]!.id === FILTER_X86 && filters[0]!.props.length === 0;
    if (last.id !== FILTER_LZMA2 || !(filters.length === 1 || bcj)) {
      throw new ElfError('UNSUPPORTED', { file, offset: blockStart },
        `xz filter chain ${filters.map((f) => `0x${f.id.toString(16)}`).join(',')} is not supported (LZMA2, optionally after x86 BCJ with start offset 0)`);
    }
    if (last.props.length !== 1 || last.props[0]! > 40) throw bad(last.at, 'bad LZMA2 dictionary size');
    const compressedSize = unpadded.value - headerSize - checkSize;
    if (compressedSize <= 0) throw bad(blockStart, 'bad unpadded size in index');
    blocks.push({ headerSize, compressedSize, uncompressedSize: unc.value, bcj, dictProp: neededDictProp(last.props[0]!, unc.value), propsAt: last.at, start: blockStart });
    blockStart += unpadded.value + pad4(unpadded.value);
  }
  if (blockStart !== indexStart) throw bad(blockStart, 'blocks do not end where the index starts');
  const total = blocks.reduce((n, b) => n + b.uncompressedSize, 0);
  const max = opts.maxBytes ?? Infinity;
  if (total > max) throw new ElfError('TOO_LARGE', { file, offset: 0 }, `xz data decompresses to more than ${max} bytes`);
  for (const b of blocks) {
    if (dictSize(b.dictProp) > XZ_EMBEDDED_DICT_MAX) {
      throw new ElfError('UNSUPPORTED', { file, offset: b.start },
        `xz block of ${b.uncompressedSize} bytes needs a dictionary above the decoder's ${XZ_EMBEDDED_DICT_MAX} bytes`,
        'decompress it with `xz -d` and give the plain file');
    }
  }

  // xz-embedded checks CRC32 and CRC64 itself; a SHA-256 stream (xz --check=sha256) is rewritten
  // like a BCJ one, and its blocks are checked here.
  if (!blocks.some((b) => b.bcj) && (check === 0 || check === 1 || check === 4)) {
    // LZMA2 alone: the stream as it is, with only the dictionary sizes lowered; xz-embedded checks
    // the stream's own CRCs.
    const stream = bytes.slice(0, footer + 12);
    for (const b of blocks) {
      if (stream[b.propsAt] === b.dictProp) continue;
      stream[b.propsAt] = b.dictProp;
      const crcAt = b.start + b.headerSize - 4;
      new DataView(stream.buffer, stream.byteOffset).setUint32(crcAt, crc32(stream.subarray(b.start, crcAt)), true);
    }
    return xzEmbedded(stream, file, max, total);
  }

  // Rebuild the stream: check none, LZMA2-only block headers, fresh index and footer.
  const parts: Uint8Array[] = [];
  const flagsNone = [0x00, 0x00];
  parts.push(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, ...flagsNone, ...u32le(crc32(new Uint8Array(flagsNone)))]));
  const records: number[] = [];
  for (const b of blocks) {
    const body = [0x00, FILTER_LZMA2, 1, b.dictProp]; // flags: 1 filter, no sizes
    const size = Math.ceil((body.length + 1 + 4) / 4) * 4;
    const header = new Uint8Array(size);
    header[0] = size / 4 - 1;
    header.set(body, 1);
    header.set(u32le(crc32(header.subarray(0, size - 4))), size - 4);
    parts.push(header);
    parts.push(bytes.subarray(b.start + b.headerSize, b.start + b.headerSize + b.compressedSize));
    parts.push(new Uint8Array(pad4(b.compressedSize)));
    records.push(...vli(size + b.compressedSize), ...vli(b.uncompressedSize));
  }
  const indexBody = [0x00, ...vli(blocks.length), ...records];
  const index = new Uint8Array(indexBody.length + pad4(indexBody.length) + 4);
  index.set(indexBody);
  index.set(u32le(crc32(index.subarray(0, index.length - 4))), index.length - 4);
  parts.push(index);
  const footerBody = new Uint8Array([...u32le(index.length / 4 - 1), ...flagsNone]);
  parts.push(new Uint8Array([...u32le(crc32(footerBody)), ...footerBody, 0x59, 0x5a]));
  const stream = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    stream.set(x, o);
    o += x.length;
  }
  const out = await xzEmbedded(stream, file, max, total);

  // Undo BCJ per block, then verify each block's original check (CRC32 only; others are trusted to LZMA2).
  let at = 0;
  for (const b of blocks) {
    const data = out.subarray(at, at + b.uncompressedSize);
    if (b.bcj) x86BcjDecode(data);
    const checkAt = b.start + b.headerSize + b.compressedSize + pad4(b.compressedSize);
    if (check === 1) {
      if (crc32(data) !== dv.getUint32(checkAt, true)) throw bad(b.start, 'CRC32 mismatch after decoding (corrupt data)');
    } else if (check === 10) {
      if (!createHash('sha256').update(data).digest().equals(bytes.subarray(checkAt, checkAt + 32))) throw bad(b.start, 'SHA-256 mismatch after decoding (corrupt data)');
    }
    at += b.uncompressedSize;
  }
  return out;
}

/** xz-embedded's limit as the xz-decompress package builds it: 64 MiB dictionaries decode, 96 MiB do not. */
const XZ_EMBEDDED_DICT_MAX = 64 * 1024 * 1024;

/** An LZMA2 dictionary-size property (0..40) as bytes (liblzma lzma2_decoder.c). */
function dictSize(prop: number): number {
  return prop === 40 ? 0xffffffff : (2 | (prop & 1)) * 2 ** (Math.floor(prop / 2) + 11);
}

/** The smallest property at or below `prop` whose dictionary still holds `decoded` bytes. */
function neededDictProp(prop: number, decoded: number): number {
  let p = 0;
  while (p < prop && dictSize(p) < decoded) p++;
  return p;
}

/**
 * Run xz-embedded on a stream it can decode, stopping at `max` decoded bytes; the result must be
 * the `expected` bytes the index gives. Each chunk is copied into one buffer as it comes, not
 * kept and joined at the end: a kernel image is 60 MiB, which joining held twice.
 */
async function xzEmbedded(stream: Uint8Array, file: string, max: number, expected: number): Promise<Uint8Array> {
  const bomb = (): ElfError =>
    new ElfError('TOO_LARGE', { file, offset: 0 }, `xz data decompresses to more than ${max} bytes`,
      'a decompression bomb or not a kernel module; raise the limit only for trusted input');
  const { XzReadableStream } = await loadXz();
  const reader = new XzReadableStream(new Blob([stream]).stream()).getReader();
  // The index is the file's word, not yet the data's: room for what the data can plausibly hold
  // first (LZMA2 on a kernel image gives about 5 to 1), grown toward `expected` only as it comes,
  // so that a small hostile file claiming a huge size allocates nothing huge.
  let out = new Uint8Array(Math.min(expected, Math.max(1 << 20, stream.length * 64)));
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.length <= expected) {
        if (total + value.length > out.length) {
          const grown = new Uint8Array(Math.min(expected, Math.max(2 * out.length, total + value.length)));
          grown.set(out.subarray(0, total));
          out = grown;
        }
        out.set(value, total);
      }
      total += value.length;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        throw bomb();
      }
    }
  } catch (e) {
    if (e instanceof ElfError) throw e;
    throw new ElfError('DECOMPRESS', { file, offset: 0 }, `xz data is corrupt: ${e instanceof Error ? e.message : String(e)}`, 'the compressed module is damaged; re-fetch it');
  }
  if (total !== expected) {
    throw new ElfError('DECOMPRESS', { file, offset: 0 }, `xz: decoded ${total} bytes, the index says ${expected}`);
  }
  return out;
}

type XzModule = { XzReadableStream: new (s: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> };
let xzModule: Promise<XzModule> | undefined;
function loadXz(): Promise<XzModule> {
  // The package is CommonJS; ESM interop puts its exports on `default`. Loaded on first use only.
  xzModule ??= import('xz-decompress').then((m) => ((m as { default?: XzModule }).default ?? (m as unknown as XzModule)));
  return xzModule;
}

const ALLOWED = [true, true, true, false, true, false, false, false];
const BIT = [0, 1, 2, 2, 3, 3, 3, 3];
const msByte = (b: number): boolean => b === 0 || b === 0xff;

/**
 * Decode the x86 BCJ filter in place (LZMA SDK Bra86.c / liblzma simple/x86.c, decoder side,
 * whole buffer at once from stream position 0): relative CALL/JMP targets (E8/E9 rel32) that the
 * encoder turned into absolute ones are turned back. The last four bytes are never converted.
 */
export function x86BcjDecode(buf: Uint8Array): void {
  if (buf.length < 5) return;
  let prevMask = 0;
  let prevPos = -5;
  const limit = buf.length - 5;
  let i = 0;
  while (i <= limit) {
    let b = buf[i]!;
    if (b !== 0xe8 && b !== 0xe9) {
      i++;
      continue;
    }
    const offset = i - prevPos;
    prevPos = i;
    if (offset > 5) prevMask = 0;
    else for (let k = 0; k < offset; k++) prevMask = ((prevMask & 0x77) << 1) & 0xff;
    b = buf[i + 4]!;
    if (msByte(b) && ALLOWED[(prevMask >>> 1) & 7] && prevMask >>> 1 < 0x10) {
      let src = ((b << 24) | (buf[i + 3]! << 16) | (buf[i + 2]! << 8) | buf[i + 1]!) >>> 0;
      let dest: number;
      for (;;) {
        dest = (src - (i + 5)) >>> 0;
        if (prevMask === 0) break;
        const n = BIT[prevMask >>> 1]!;
        b = (dest >>> (24 - n * 8)) & 0xff;
        if (!msByte(b)) break;
        src = (dest ^ ((2 ** (32 - n * 8)) - 1)) >>> 0;
      }
      buf[i + 4] = ((dest >>> 24) & 1) === 0 ? 0 : 0xff;
      buf[i + 3] = (dest >>> 16) & 0xff;
      buf[i + 2] = (dest >>> 8) & 0xff;
      buf[i + 1] = dest & 0xff;
      i += 5;
      prevMask = 0;
    } else {
      i++;
      prevMask |= 1;
      if (msByte(b)) prevMask |= 0x10;
    }
  }
}
