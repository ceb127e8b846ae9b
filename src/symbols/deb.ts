/**
 * The files of a Debian package, read in one pass without unpacking: the `.deb` is an ar archive
 * (`debian-binary`, `control.tar.*`, `data.tar.*`, deb(5)); its data member is one compressed tar
 * stream, decompressed by the system's tool (`xz -T0`, `zstd`, `gzip`: native and, for a
 * multi-block xz stream such as Debian's, on every core) and walked header by header here
 * (ustar, with GNU long names and pax paths). Only the members the caller wants are kept in
 * memory, one at a time, and the walk stops as soon as the caller has all it wants: a debug
 * package is 860 MB of xz and 5.6 GB of tar, and `tar -x` of one member decodes all of it.
 */
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { ElfError } from '../elf/errors.js';

const AR_MAGIC = '!<arch>\n';
const DECOMPRESSORS: Record<string, [string, string[]]> = {
  xz: ['xz', ['-dc', '-T0']],
  zst: ['zstd', ['-dc', '-q']],
  gz: ['gzip', ['-dc']],
};
const AGAIN = 'download the package again';
/** The largest member read into memory: Debian's debug vmlinux is 633 MB. */
const MAX_MEMBER = 2 ** 31 - 1;
/** The largest member read into the array members share (Spare). */
const REUSE_MAX = 256 * 2 ** 20;

/** Where `data.tar.*` lies in the `.deb`, and how it is compressed. */
async function dataMember(deb: string): Promise<{ offset: number; size: number; compression: string }> {
  const fh = await open(deb, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new ElfError('READ', { file: deb }, `cannot open (${e.code ?? 'EIO'})`);
  });
  try {
    const { size: total } = await fh.stat();
    const head = Buffer.alloc(60);
    await fh.read(head, 0, 8, 0);
    if (head.toString('latin1', 0, 8) !== AR_MAGIC) {
      throw new ElfError('BAD_HEADER', { file: deb, offset: 0 }, 'not a Debian package (no ar header)', 'give a .deb (apt-get download linux-image-<abi>-dbg) or the directory it was unpacked into');
    }
    for (let off = 8; off + 60 <= total;) {
      await fh.read(head, 0, 60, off);
      const name = head.toString('latin1', 0, 16).trim().replace(/\/$/, '');
      const size = Number.parseInt(head.toString('latin1', 48, 58).trim(), 10);
      if (head.toString('latin1', 58, 60) !== '`\n' || !Number.isSafeInteger(size) || size < 0 || off + 60 + size > total) {
        throw new ElfError('TRUNCATED', { file: deb, offset: off }, `ar member header at ${off} is corrupt or runs past the end of the file`, AGAIN);
      }
      const m = /^data\.tar(?:\.(xz|zst|gz))?$/.exec(name);
      if (m) {
        if (!m[1]) throw new ElfError('UNSUPPORTED', { file: deb, offset: off }, 'an uncompressed data.tar is not supported', 'repack the package with xz, zstd or gzip');
        return { offset: off + 60, size, compression: m[1] };
      }
      off += 60 + size + (size & 1);
    }
    throw new ElfError('TRUNCATED', { file: deb, offset: total }, 'no data.tar member', 'the file is not a complete Debian binary package');
  } finally {
    await fh.close();
  }
}

const octal = (b: Uint8Array, off: number, len: number): number => {
  if (b[off]! & 0x80) { // GNU base-256, for members of 8 GiB and more
    let v = 0;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  let s = '';
  for (let i = off; i < off + len && b[i] !== 0 && b[i] !== 0x20; i++) s += String.fromCharCode(b[i]!);
  return s === '' ? 0 : Number.parseInt(s, 8);
};
const cstr = (b: Uint8Array, off: number, len: number): string => {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return Buffer.from(b.buffer, b.byteOffset + off, end - off).toString('utf8');
};

export interface DebMember { name: string; bytes: Uint8Array }

/** Move `fd`'s file offset to `offset` by reading up to it (the header part of a .deb: a few KB). */
function skipTo(fd: number, offset: number): void {
  const scratch = Buffer.alloc(Math.min(offset, 1 << 16));
  for (let left = offset; left > 0;) {
    const n = readSync(fd, scratch, 0, Math.min(left, scratch.length), null);
    if (n <= 0) break;
    left -= n;
  }
}

/**
 * An array reused from one member to the next (a read with `reuse`). A debug package's 4,000
 * modules are 5.6 GB: an array each was 5.6 GB of fresh memory to zero and fault in, and its
 * release drove the garbage collector.
 */
class Spare {
  private bytes = new Uint8Array(0);
  /** `n` bytes of it (valid until the next call). */
  get(n: number): Uint8Array {
    // A member larger than any module (the debug vmlinux, 633 MB) gets an array of its own: kept
    // for the modules after it, it would double the peak.
    if (n > REUSE_MAX) return new Uint8Array(n);
    if (this.bytes.length < n) {
      const size = Math.min(Math.max(n, Math.ceil(1.5 * this.bytes.length)), REUSE_MAX);
      this.bytes = new Uint8Array(0); // the old one may go before the new one is made
      this.bytes = new Uint8Array(size);
    }
    return this.bytes.subarray(0, n);
  }
}

/** The decompressed tar stream of a child process, read in exact amounts. */
class Stream {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private readonly spare = new Spare();
  private readonly iter: AsyncIterator<Buffer>;
  constructor(iter: AsyncIterator<Buffer>) {
    this.iter = iter;
  }

  private async refill(): Promise<boolean> {
    const r = await this.iter.next();
    if (r.done) return false;
    this.buf = r.value;
    this.pos = 0;
    return true;
  }

  /**
   * The next `n` bytes (a view when one chunk holds them), or undefined at the end. With
   * `reuse`, bytes that span chunks are copied into one array that the next such read
   * overwrites: valid until the next read, not after.
   */
  async read(n: number, reuse = false): Promise<Uint8Array | undefined> {
    if (this.buf.length - this.pos >= n) {
      this.pos += n;
      return this.buf.subarray(this.pos - n, this.pos);
    }
    // Copied once into place: a 100 MB member is not re-concatenated chunk by chunk.
    const out = reuse ? this.spare.get(n) : new Uint8Array(n);
    for (let have = 0; have < n;) {
      if (this.pos >= this.buf.length && !(await this.refill())) return undefined;
      const k = Math.min(n - have, this.buf.length - this.pos);
      out.set(this.buf.subarray(this.pos, this.pos + k), have);
      have += k;
      this.pos += k;
    }
    return out;
  }

  async skip(n: number): Promise<boolean> {
    while (n > 0) {
      if (this.pos >= this.buf.length && !(await this.refill())) return false;
      const k = Math.min(n, this.buf.length - this.pos);
      this.pos += k;
      n -= k;
    }
    return true;
  }
}

/**
 * Every regular file of `deb`'s data archive for which `want(path, size)` is true, in archive
 * order, handed to `take`; `take` returns true when nothing more is wanted, which ends the walk
 * and the decompressor. Paths are as in the archive, without the leading `./`. A member's bytes
 * are `take`'s until it returns (or its promise settles): the next member may reuse their array.
 */
export async function readDebMembers(deb: string, want: (path: string, size: number) => boolean, take: (m: DebMember) => boolean | Promise<boolean>): Promise<void> {
  const data = await dataMember(deb);
  const [tool, args] = DECOMPRESSORS[data.compression]!;
  // xz reads the package itself, from the member's offset (its --single-stream ignores the ar
  // padding after it): the 860 MB never pass through this process. zstd and gzip have no such
  // switch and are fed the member through a pipe.
  const direct = data.compression === 'xz';
  const fd = direct ? openSync(deb, 'r') : undefined;
  if (fd !== undefined) skipTo(fd, data.offset);
  const child = spawn(tool, direct ? [...args, '--single-stream'] : args, { stdio: [fd ?? 'pipe', 'pipe', 'pipe'] });
  // The child has its own copy of the descriptor once spawned (or failed to spawn).
  const closeFd = (): void => {
    if (fd !== undefined) closeSync(fd);
  };
  const input = direct ? undefined : createReadStream(deb, { start: data.offset, end: data.offset + data.size - 1, highWaterMark: 1 << 20 });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => reject(new ElfError('UNSUPPORTED', { file: deb }, `cannot run ${tool} (${e.code ?? 'EIO'})`, `install ${tool === 'xz' ? 'xz-utils' : tool}`)));
    child.on('spawn', () => resolve());
  }).catch((e: unknown) => {
    input?.destroy();
    throw e;
  }).finally(closeFd);
  if (input && child.stdin) {
    input.on('error', () => child.stdin!.destroy());
    child.stdin.on('error', () => undefined); // EPIPE when the walk ends early
    input.pipe(child.stdin);
  }

  const tar = new Stream(child.stdout![Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  // Places in the decompressed tar stream are named as such: they are not offsets in the .deb.
  const inTar = `${deb}: data.tar.${data.compression}`;
  let stopped = false; // the caller has all it wants: the decompressor is stopped, its status moot
  let offset = 0; // of the current header in the tar stream, for messages
  let longName: string | undefined;
  try {
    for (;;) {
      const h = await tar.read(512);
      if (!h) throw new ElfError('TRUNCATED', { file: inTar, offset }, 'the tar archive ends inside a header', AGAIN);
      if (h.every((x) => x === 0)) { // the end-of-archive blocks: the rest is padding, read to the
        while (await tar.skip(1 << 20)); // end so that the decompressor's verdict counts
        break;
      }
      const size = octal(h, 124, 12);
      const type = String.fromCharCode(h[156]!);
      const prefix = h[345] && cstr(h, 257, 5) === 'ustar' ? cstr(h, 345, 155) : '';
      const name = (longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100))).replace(/^\.\//, '');
      longName = undefined;
      const padded = Math.ceil(size / 512) * 512;
      const truncated = (): ElfError => new ElfError('TRUNCATED', { file: inTar, offset }, `tar member ${name || '(unnamed)'} runs past the end of the archive`, AGAIN);
      if (!Number.isSafeInteger(size) || size < 0) throw new ElfError('BAD_HEADER', { file: inTar, offset }, `tar header of ${name || '(unnamed)'} has no valid size`, AGAIN);
      if (type === 'L' || type === 'x') {
        const text = await tar.read(padded);
        if (!text) throw truncated();
        const s = Buffer.from(text.buffer, text.byteOffset, size).toString('utf8');
        longName = type === 'L' ? s.replace(/\0+$/, '') : /(?:^|\n)\d+ path=([^\n]*)\n/.exec(s)?.[1];
      } else if ((type === '0' || type === '\0') && want(name, size)) {
        if (size > MAX_MEMBER) throw new ElfError('TOO_LARGE', { file: inTar, offset }, `${name} is ${size} bytes, more than klpkit reads into memory (${MAX_MEMBER})`, 'a debug vmlinux is under 1 GB: the package is not what it seems');
        // Exactly the member, never copied twice, in an array the next member reuses: `take`
        // is done with it when it returns.
        const bytes = await tar.read(size, true);
        if (!bytes || !(await tar.skip(padded - size))) throw truncated();
        if (await take({ name, bytes })) {
          stopped = true;
          break;
        }
      } else if (!(await tar.skip(padded))) {
        throw truncated();
      }
      offset += 512 + padded;
    }
  } catch (e) {
    stopped = true;
    // The stream ended early because the decompressor failed: its own words say why.
    if (e instanceof ElfError && e.code === 'TRUNCATED') {
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      const why = stderr.trim().split('\n')[0];
      if (why) throw new ElfError('DECOMPRESS', { file: e.file, offset: e.offset }, `${e.detail}: ${why}`, AGAIN);
    }
    throw e;
  } finally {
    // Stopped early or failed: the rest of the stream is not wanted. At the archive's end the
    // decompressor is left to finish, and its status is checked below.
    if (stopped) {
      input?.destroy();
      child.stdout!.destroy();
      if (child.exitCode === null) child.kill();
    }
  }
  const code = await exited;
  if (!stopped && code !== 0) throw new ElfError('DECOMPRESS', { file: deb, offset: data.offset }, `${tool} failed (exit ${code}): ${stderr.trim().split('\n')[0] ?? ''}`, AGAIN);
}
