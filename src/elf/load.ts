/**
 * Files on disk: read (decompressing .ko.xz/.zst/.gz transparently) and write atomically.
 */
import {
  closeSync, constants as FS, fchmodSync, fchownSync, fstatSync, lstatSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync,
  writeSync, type Stats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { concatBytes } from './bytes.js';
import { compress, maybeDecompress, type Compression, type DecompressOptions } from './compress.js';
import { ElfError } from './errors.js';
import type { ElfFile } from './file.js';
import { readElf } from './reader.js';

/**
 * The most bytes any one input is read to, whatever it is: a regular file, a pipe or a device
 * (`/dev/zero` never ends). The largest real input, an unstripped vmlinux, is a few hundred MiB.
 * `KLPKIT_MAX_INPUT_BYTES` lowers (or raises) it, e.g. for a sandbox with little memory.
 */
export const MAX_INPUT_BYTES = ((): number => {
  const env = process.env['KLPKIT_MAX_INPUT_BYTES'];
  return env && /^[1-9]\d{0,15}$/.test(env) ? Number(env) : 1024 * 1024 * 1024;
})();

/** What kind of file a stat describes, in the words `ls -l` users know. */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'regular file';
  if (st.isDirectory()) return 'directory';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isFIFO()) return 'pipe';
  if (st.isSocket()) return 'socket';
  return 'special file';
}

/**
 * A regular file of at most MAX_INPUT_BYTES read in one synchronous call, or undefined for
 * anything else (missing, a pipe, a device, too large, unreadable): readInputFile then reads it
 * or says why not. The scan of a module tree reads thousands of small files, and each of
 * readInputFile's steps is a round trip through libuv's thread pool.
 */
function readRegularFileSync(path: string, into?: ReadBuffer): Buffer | undefined {
  let fd: number | undefined;
  try {
    // stat before open: opening a pipe only to close it again could cut off its writer.
    const pre = statSync(path);
    if (!pre.isFile() || pre.size > MAX_INPUT_BYTES) return undefined;
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_INPUT_BYTES) return undefined;
    const buf = into ? into.take(st.size) : Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) return undefined; // shrank while read: the careful path says what happened
      got += n;
    }
    return buf;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * One buffer that file after file is read into, for a reader that is done with each file before
 * it reads the next (the module scan: 4,023 modules, 391 MiB): memory touched for the first time
 * costs a page fault a page, and a buffer per file would touch all of it.
 */
export class ReadBuffer {
  private buf = Buffer.allocUnsafeSlow(1 << 20);

  /** The first `n` bytes of the buffer, grown as needed; what the previous take() gave is overwritten. */
  take(n: number): Buffer {
    if (n > this.buf.length) this.buf = Buffer.allocUnsafeSlow(Math.max(n, 2 * this.buf.length));
    return this.buf.subarray(0, n);
  }
}

/**
 * Read any input file, turning I/O errors into an ElfError that names the file. Regular files are
 * refused up front when larger than the ceiling; pipes and devices are read in chunks and refused
 * as soon as they pass it, so memory stays bounded whatever the path names.
 */
export async function readInputFile(path: string, what = 'file', hint?: string, maxBytes = MAX_INPUT_BYTES): Promise<Buffer> {
  const fail = (e: unknown): never => {
    if (e instanceof ElfError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ElfError('READ', { file: path }, `cannot read ${what} (${code})`,
      hint ?? (code === 'ENOENT' ? 'check the path' : code === 'EISDIR' ? 'expected a file, not a directory' : undefined));
  };
  // O_NONBLOCK would make a FIFO without a writer read as empty; a blocking open is what cat does.
  // (node:fs/promises only here, where the input is not a regular file: loading it is some 5 ms.)
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r').catch(fail);
  try {
    const st = await fh.stat().catch(fail);
    if (st.isDirectory()) fail(Object.assign(new Error(), { code: 'EISDIR' }));
    const tooLarge = (seen: string): ElfError => new ElfError('TOO_LARGE', { file: path },
      `${what} is ${seen} (a ${fileKind(st)}); klpkit reads at most ${maxBytes} bytes of one input`,
      st.isFile() ? 'is this the right file?' : 'give a regular file of bounded size');
    if (st.isFile()) {
      if (st.size > maxBytes) throw tooLarge(`${st.size} bytes`);
      return await fh.readFile().catch(fail);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(1 << 20);
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, null).catch(fail);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(`more than ${maxBytes} bytes`);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Read an ELF file from disk; compressed modules are decompressed by magic. */
export async function loadElf(path: string, opts: Pick<DecompressOptions, 'maxBytes'> & { into?: ReadBuffer } = {}): Promise<ElfFile> {
  const raw = readRegularFileSync(path, opts.into) ?? await readInputFile(path);
  const { bytes, compression } = await maybeDecompress(raw, { file: path, ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}) });
  return readElf(bytes, { path, ...(compression ? { compression } : {}) });
}

/**
 * Write bytes to `path` so that nothing is half-done:
 * - a new or regular file: a temporary file in the same directory, then rename, so a reader never
 *   sees a partial file and a failure leaves no output behind; a file that is replaced keeps its
 *   mode and owner (as `sed -i` does), and a symlink stays a symlink (its target is replaced);
 * - a character device or a FIFO (`-o /dev/null`, `-o /dev/stdout`, a named pipe): written as a
 *   stream, never renamed over, so the node itself is never replaced;
 * - anything else (a directory, a socket, a dangling symlink): refused.
 */
export async function writeFileAtomic(path: string, contents: Uint8Array | readonly Uint8Array[], mode = 0o666): Promise<void> {
  // Parts are written one after the other: a 42 MiB database need not be copied into one buffer.
  const parts = contents instanceof Uint8Array ? [contents] : contents;
  const failed = (e: unknown, what = 'cannot write output'): ElfError => {
    if (e instanceof ElfError) return e;
    return new ElfError('WRITE', { file: path }, `${what} (${(e as NodeJS.ErrnoException).code ?? 'EIO'})`);
  };
  let target = path;
  let st: Stats | undefined;
  try {
    if (lstatSync(path).isSymbolicLink()) {
      try {
        target = realpathSync(path);
      } catch (e) {
        throw failed(e, 'the output is a symlink whose target cannot be resolved');
      }
    }
    st = statSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || target !== path) throw failed(e);
  }
  if (st && (st.isCharacterDevice() || st.isFIFO())) {
    // A stream's reader may be this process's own (a test, a caller of the API): written
    // without blocking it. (node:fs/promises only here: loading it is some 5 ms.)
    const { open } = await import('node:fs/promises');
    const fh = await open(target, FS.O_WRONLY).catch((e: unknown) => { throw failed(e); });
    try {
      for (const p of parts) await fh.write(p).catch((e: unknown) => { throw failed(e); });
    } finally {
      await fh.close().catch(() => undefined);
    }
    return;
  }
  if (st && !st.isFile()) throw new ElfError('WRITE', { file: path }, `the output is a ${fileKind(st)}`, 'give a file name for -o');
  // A regular file, synchronously: nothing else runs meanwhile in a command, and each step of
  // fs/promises is a round trip through libuv's thread pool.
  const tmp = join(dirname(target), `.${basename(target)}.${tempSuffix()}.tmp`);
  let fd: number | undefined;
  let made = false;
  try {
    fd = openSync(tmp, 'wx', st ? st.mode & 0o7777 : mode);
    made = true;
    for (const p of parts) {
      for (let done = 0; done < p.length;) done += writeSync(fd, p, done, p.length - done);
    }
    if (st) {
      // The owner first (root may replace a file it does not own; it must come back as it
      // was), then the exact mode: open() applied the umask, and chown clears set-id bits.
      if (st.uid !== process.getuid?.() || st.gid !== process.getgid?.()) {
        try {
          fchownSync(fd, st.uid, st.gid);
        } catch (e) {
          throw new ElfError('WRITE', { file: path }, `cannot keep the owner ${st.uid}:${st.gid} of the file it replaces (${(e as NodeJS.ErrnoException).code ?? 'EIO'})`,
            'write to another file with -o, or run as the owner');
        }
      }
      fchmodSync(fd, st.mode & 0o7777);
    }
    const closing = fd;
    fd = undefined;
    closeSync(closing);
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // the write failed already: that is the error to give
      }
    }
    // Only a file this run made: 'wx' failing means the name was taken, and not by us.
    if (made) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        // left behind, hidden: the write's own error is the one to give
      }
    }
    throw failed(e);
  }
}

/**
 * A temporary name's part, unique in this process and unlikely in another. Nothing rides on it
 * being unguessable: the file is made with O_EXCL ('wx'), which never follows a link or opens a
 * file already there (another run's, or one planted: the write then fails and says so). Not
 * node:crypto, whose loading was some 3 ms of every write.
 */
let tempCount = 0;
function tempSuffix(): string {
  return `${process.pid.toString(36)}${(tempCount++).toString(36)}${Math.floor(Math.random() * 0x7fffffff).toString(36)}`;
}

/**
 * Write a module, compressed as `compression` says (a `.ko.xz` stays a `.ko.xz`), atomically.
 * `bytes` may be the parts writeElfParts() makes, written one after the other.
 */
export async function writeModuleAtomic(path: string, bytes: Uint8Array | readonly Uint8Array[], compression: Compression | undefined): Promise<void> {
  if (!compression) return writeFileAtomic(path, bytes);
  await writeFileAtomic(path, await compress(bytes instanceof Uint8Array ? bytes : concatBytes(bytes, bytes.reduce((n, p) => n + p.length, 0)), compression, path));
}
