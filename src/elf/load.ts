/**
 * Files on disk: read (decompressing .ko.xz/.zst/.gz transparently) and write atomically.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { maybeDecompress, type DecompressOptions } from './compress.js';
import { ElfError } from './errors.js';
import type { ElfFile } from './file.js';
import { readElf } from './reader.js';

/** Read any input file, turning I/O errors into an ElfError that names the file. */
export async function readInputFile(path: string, what = 'file', hint?: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ElfError('NOT_ELF', { file: path }, `cannot read ${what} (${code})`,
      hint ?? (code === 'ENOENT' ? 'check the path' : code === 'EISDIR' ? 'expected a file, not a directory' : undefined));
  }
}

/** Read an ELF file from disk; compressed modules are decompressed by magic. */
export async function loadElf(path: string, opts: Pick<DecompressOptions, 'maxBytes'> = {}): Promise<ElfFile> {
  const raw = await readInputFile(path);
  const { bytes, compression } = await maybeDecompress(raw, { file: path, ...opts });
  return readElf(bytes, { path, ...(compression ? { compression } : {}) });
}

/**
 * Write bytes to `path` atomically: a temporary file in the same directory, then rename, so a
 * reader never sees a partial file and a failure leaves no output behind.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, bytes, { mode, flag: 'wx' });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ElfError('WRITE', { file: path }, `cannot write output (${code})`);
  }
}
