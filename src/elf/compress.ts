/**
 * Transparent decompression of compressed kernel modules (.ko.xz, .ko.zst, .ko.gz), detected by
 * magic, never by file name. The kernel's Makefile.modinst compresses with
 * `xz --check=crc32 --lzma2=dict=1MiB`, `zstd` or `gzip -n`, whole-file.
 *
 * A decompression bomb is stopped at a ceiling (DEFAULT_MAX_DECOMPRESSED, 512 MiB: the largest
 * module of a distribution kernel is a few tens of MiB), so memory stays bounded.
 */
import { concatBytes } from './bytes.js';
import { ElfError } from './errors.js';

/**
 * The codecs, loaded when first needed: most inputs are plain ELF, and zlib, fzstd and the xz
 * reader added some 30 ms to the start of every command that reads a module.
 */
let codecs: Promise<{ zlib: typeof import('node:zlib'); Zstd: typeof import('fzstd').Decompress; xz: typeof import('./xz.js') }> | undefined;
const loadCodecs = (): NonNullable<typeof codecs> =>
  (codecs ??= Promise.all([import('node:zlib'), import('fzstd'), import('./xz.js')]).then(([zlib, fzstd, xz]) => ({ zlib, Zstd: fzstd.Decompress, xz })));

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
  const { zlib, Zstd, xz } = await loadCodecs();
  try {
    if (kind === 'gzip') {
      return zlib.gunzipSync(bytes, { maxOutputLength: max });
    }
    if (kind === 'zstd') {
      const chunks: Uint8Array[] = [];
      let total = 0;
      const d = new Zstd((chunk) => {
        total += chunk.length;
        if (total > max) throw bomb();
        chunks.push(chunk);
      });
      d.push(bytes, true);
      return concatBytes(chunks, total);
    }
    return await xz.decompressXz(bytes, { file, maxBytes: max });
  } catch (e) {
    if (e instanceof ElfError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    if (/larger than|maxOutputLength|buffer.*size/i.test(msg)) throw bomb();
    throw new ElfError('DECOMPRESS', { file, offset: 0 }, `${kind} data is corrupt: ${msg}`, 'the compressed module is damaged; re-fetch it');
  }
}

/** The file-name suffix Kbuild gives a module compressed this way. */
export const COMPRESSION_SUFFIX: Record<Compression, string> = { xz: '.xz', zstd: '.zst', gzip: '.gz' };

/** The compression a file name asks for (`foo.ko.xz`), or none. */
export function compressionOfName(path: string): Compression | undefined {
  return (Object.keys(COMPRESSION_SUFFIX) as Compression[]).find((k) => path.endsWith(COMPRESSION_SUFFIX[k]));
}

/**
 * Compress a module as `make modules_install` does (scripts/Makefile.modinst, cmd_gzip / cmd_xz /
 * cmd_zstd): gzip -n, xz with a CRC32 check and a 1 MiB dictionary (the in-kernel decompressor,
 * kernel/module/decompress.c, checks CRC32 only), zstd. gzip is zlib's; xz and zstd are the tools
 * Kbuild itself runs, so the result is what the kernel build would have made. The result is
 * decompressed again and compared, so a broken tool cannot produce a module that does not load.
 */
export async function compress(bytes: Uint8Array, kind: Compression, file: string): Promise<Uint8Array> {
  let out: Uint8Array;
  if (kind === 'gzip') {
    out = (await loadCodecs()).zlib.gzipSync(bytes, { level: 9 });
  } else {
    const { spawnSync } = await import('node:child_process');
    const [tool, args, pkg] = kind === 'xz' ? ['xz', ['--check=crc32', '--lzma2=dict=1MiB', '-c'], 'xz-utils'] : ['zstd', ['-q', '-c'], 'zstd'];
    const r = spawnSync(tool, args, { input: bytes, maxBuffer: bytes.length * 2 + (1 << 20) });
    if (r.error || r.status !== 0) {
      const why = r.error ? (r.error as NodeJS.ErrnoException).code ?? r.error.message : `exit ${r.status}: ${r.stderr.toString('latin1').trim().slice(0, 200)}`;
      throw new ElfError('WRITE', { file }, `cannot compress the output with ${tool} (${why})`,
        `install ${pkg}, or write the plain module (-o NAME.ko) and compress it yourself`);
    }
    out = r.stdout;
  }
  const back = await decompress(out, kind, { file });
  if (Buffer.compare(Buffer.from(back.buffer, back.byteOffset, back.byteLength), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) !== 0) {
    throw new ElfError('WRITE', { file }, `${kind} output does not decompress to the module`, 'write the plain module (-o NAME.ko)');
  }
  return out;
}
