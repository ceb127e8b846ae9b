/**
 * The compressed boot image (bzImage, `vmlinuz`): find its payload and decompress it in-process.
 *
 * arch/x86/boot/header.S: the setup header at 0x1f1 holds setup_sects; "HdrS" at 0x202;
 * payload_offset (0x248) and payload_length (0x24c) locate the compressed kernel relative to
 * the protected-mode code, which starts at (setup_sects + 1) * 512. The payload is
 * vmlinux.bin (an ELF with its symbols stripped) compressed by the method of CONFIG_KERNEL_*,
 * followed by its 4-byte size. Debian uses XZ with the x86 BCJ filter.
 */
import { decompress, detectCompression } from '../elf/compress.js';
import { ElfError } from '../elf/errors.js';
import { readInputFile } from '../elf/load.js';
import { isElf } from '../elf/reader.js';
import { decompressXz } from '../elf/xz.js';
import { extractKallsyms, type KallsymsTable } from './kallsyms-table.js';

export interface KernelImage {
  /** The decompressed kernel (vmlinux.bin: an ELF whose section headers survive, symbols do not). */
  image: Uint8Array;
  compression: string;
  /** "6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP ..." from the setup header. */
  version: string | undefined;
}

export async function decompressBzImage(bytes: Uint8Array, file: string): Promise<KernelImage> {
  if (bytes.length < 0x250 || String.fromCharCode(...bytes.subarray(0x202, 0x206)) !== 'HdrS') {
    throw new ElfError('NOT_ELF', { file, offset: 0x202 }, 'not a bzImage (no "HdrS" setup header)',
      'pass an x86 vmlinuz; for a vmlinux ELF use --vmlinux');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const setupSects = bytes[0x1f1] || 4;
  const payloadOffset = dv.getUint32(0x248, true);
  const payloadLength = dv.getUint32(0x24c, true);
  const start = (setupSects + 1) * 512 + payloadOffset;
  if (start + payloadLength > bytes.length || payloadLength === 0) {
    throw new ElfError('TRUNCATED', { file, offset: 0x248 }, `payload (${payloadLength} bytes at 0x${start.toString(16)}) is outside the file`);
  }
  const payload = bytes.subarray(start, start + payloadLength);
  // kernel_version points at a NUL-terminated string, relative to 0x200.
  const kvOff = dv.getUint16(0x20e, true) + 0x200;
  let version: string | undefined;
  if (kvOff > 0x200 && kvOff < bytes.length) {
    const end = bytes.indexOf(0, kvOff);
    if (end > kvOff && end - kvOff < 256) version = Buffer.from(bytes.subarray(kvOff, end)).toString('latin1');
  }
  const kind = detectCompression(payload);
  const max = 1024 * 1024 * 1024;
  let image: Uint8Array;
  if (kind === 'xz') image = await decompressXz(payload, { file, maxBytes: max });
  else if (kind === 'gzip') image = await decompress(payload, kind, { file, maxBytes: max });
  // The zstd frame is followed by the decompressed size, 4 bytes the build appends
  // (scripts/Makefile.lib cmd_zstd22_with_size) and a zstd decoder would take for a next frame.
  else if (kind === 'zstd') image = await decompress(payload.subarray(0, Math.max(0, payload.length - 4)), kind, { file, maxBytes: max });
  else {
    throw new ElfError('UNSUPPORTED', { file, offset: start },
      'the kernel payload is not xz, gzip or zstd compressed (lz4, lzo, bzip2 and lzma are not supported)',
      'use --kallsyms with a /proc/kallsyms dump instead');
  }
  if (!isElf(image)) throw new ElfError('UNSUPPORTED', { file, offset: start }, 'the decompressed payload is not an ELF image');
  return { image, compression: kind, version };
}

/** kallsyms of a vmlinuz file, exactly as the booted kernel would list them. */
export async function kallsymsFromVmlinuz(path: string): Promise<KallsymsTable & { version: string | undefined }> {
  const k = await decompressBzImage(await readInputFile(path), path);
  return { ...extractKallsyms(k.image, path), version: k.version };
}
