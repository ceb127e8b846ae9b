/**
 * src/elf/xz.ts on its own, against GNU xz as the encoder and the oracle: plain LZMA2 and x86 BCJ
 * streams, several blocks, declared dictionaries far larger than the data, CRC32/CRC64/none
 * checks, the bomb ceiling and corrupt data.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { ElfError } from '../../src/elf/index.js';
import { decompressXz } from '../../src/elf/xz.js';

// Real x86-64 code, so that BCJ has CALL/JMP targets to convert: the node binary's first 2 MiB.
const code = readFileSync(process.execPath).subarray(0, 2 << 20);
const xz = (args: string[], input: Uint8Array = code): Buffer => {
  const r = spawnSync('xz', [...args, '-c'], { input, maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout;
};

test('plain LZMA2 and x86 BCJ, every check, one block or many: the exact bytes', async () => {
  for (const args of [
    ['--check=crc32', '--lzma2=dict=1MiB'], ['--check=crc64'], ['--check=none'], ['--check=sha256'],
    ['--check=crc32', '--x86', '--lzma2=dict=1MiB'], ['--x86', '--lzma2=preset=6'], ['--check=crc32', '--block-size=300000'],
    ['--check=crc32', '--x86', '--lzma2=dict=64KiB', '--block-size=500000'],
  ]) {
    const out = await decompressXz(xz(args), { file: args.join(' ') });
    assert.ok(Buffer.from(out).equals(code), args.join(' '));
  }
});

test('a declared dictionary of 1.5 GiB (a valid stream) decodes; only the decoded size is bounded', async () => {
  const packed = xz(['--check=crc32', '--lzma2=dict=1MiB']);
  packed[16] = 37; // block header: the LZMA2 dictionary property, 3 << 29 bytes
  packed.writeUInt32LE(crc32(packed.subarray(12, 20)), 20);
  assert.equal(spawnSync('xz', ['-t'], { input: packed }).status, 0, 'xz accepts it');
  assert.ok(Buffer.from(await decompressXz(packed, { file: 'big-dict' })).equals(code));
  await assert.rejects(decompressXz(packed, { file: 'bomb', maxBytes: 1 << 20 }), (e: unknown) => e instanceof ElfError && e.code === 'TOO_LARGE');
});

test('corrupt streams are typed errors', async () => {
  const bcj = xz(['--check=crc32', '--x86', '--lzma2=preset=6']);
  const damaged = Buffer.from(bcj);
  damaged[damaged.length - 20]! ^= 0xff; // inside the index or footer
  await assert.rejects(decompressXz(damaged, { file: 'damaged' }), (e: unknown) => e instanceof ElfError);
  const payload = Buffer.from(bcj);
  payload[200]! ^= 0x55; // inside the compressed data
  await assert.rejects(decompressXz(payload, { file: 'payload' }), (e: unknown) => e instanceof ElfError);
  await assert.rejects(decompressXz(new Uint8Array(40), { file: 'zeros' }), (e: unknown) => e instanceof ElfError && /not an xz stream/.test(e.message));
});

test('data far more compressible than the decoder first makes room for (20 MiB from a few KiB) decodes to the exact bytes', async () => {
  const periodic = Buffer.alloc(20 << 20);
  for (let i = 0; i < periodic.length; i++) periodic[i] = (i * 7) % 251;
  for (const args of [['--check=crc32'], ['--check=crc32', '--x86', '--lzma2=preset=6']]) {
    const packed = xz(args, periodic);
    assert.ok(packed.length * 64 < periodic.length, `the stream (${packed.length} bytes) is small enough to need room grown`);
    assert.ok(Buffer.from(await decompressXz(packed, { file: 'periodic' })).equals(periodic), args.join(' '));
  }
});
