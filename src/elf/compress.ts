/**
 * Transparent decompression of compressed kernel modules (.ko.xz, .ko.zst, .ko.gz), detected by
 * magic, never by file name. The kernel's Makefile.modinst compresses with
 * `xz --check=crc32 --lzma2=dict=1MiB`, `zstd` or `gzip -n`, whole-file.
 *
 * A decompression bomb is stopped at a ceiling (DEFAULT_MAX_DECOMPRESSED, 512 MiB: the largest
 * module of a distribution kernel is a few tens of MiB), so memory stays bounded.
 */
import { gunzipSync } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { ElfError } from './errors.js';

export type Compression = 'xz' | 'zstd' | 'gzip';

export const DEFAULT_MAX_DECOMPRESSED = 512 * 1024 * 1024;

export function detectCompression(b: Uint8Array): Compression | undefined {
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0x00) return 'xz';
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  return undefined;
}

export interface DecompressOptions {
  file?: string;
  maxBytes?: number;
}

/** Decompress if compressed; plain bytes are returned as they are. */
export async function maybeDecompress(bytes: Uint8Array, opts: DecompressOptions = {}): Promise<{ bytes: Uint8Array; compression: Compression | undefined }> {
  const kind = detectCompression(bytes);
  if (!kind) return { bytes, compression: undefined };
  return { bytes: await decompress(bytes, kind, opts), compression: kind };
}

export async function decompress(bytes: Uint8Array, kind: Compression, opts: DecompressOptions = {}): Promise<Uint8Array> {
  const file = opts.file ?? '<memory>';
  const max = opts.maxBytes ?? DEFAULT_MAX_DECOMPRESSED;
  const bomb = (): ElfError =>
    new ElfError('TOO_LARGE', { file, offset: 0 }, `${kind} data decompresses to more than ${max} bytes`,
      'a decompression bomb or not a kernel module; raise the limit only for trusted input');
  try {
    if (kind === 'gzip') {
      return gunzipSync(bytes, { maxOutputLength: max });
    }
    if (kind === 'zstd') {
      const chunks: Uint8Array[] = [];
      let total = 0;
      const d = new ZstdDecompress((chunk) => {
        total += chunk.length;
        if (total > max) throw bomb();
        chunks.push(chunk);
      });
      d.push(bytes, true);
      return concat(chunks, total);
    }
    const { XzReadableStream } = await loadXz();
    const stream = new XzReadableStream(new Blob([bytes]).stream());
    const reader = stream.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel().catch(() => undefined);
        throw bomb();
      }
      chunks.push(value);
    }
    return concat(chunks, total);
  } catch (e) {
    if (e instanceof ElfError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    if (/larger than|maxOutputLength|buffer.*size/i.test(msg)) throw bomb();
    throw new ElfError('DECOMPRESS', { file, offset: 0 }, `${kind} data is corrupt: ${msg}`, 'the compressed module is damaged; re-fetch it');
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
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
