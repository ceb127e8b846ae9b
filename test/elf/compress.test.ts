/**
 * Compressed modules (.ko.xz, .ko.zst, .ko.gz as the kernel's Makefile.modinst makes them) read
 * transparently; bombs stop at the ceiling; corrupt streams give a typed error.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decompress, ElfError, loadElf, writeElf } from '../../src/elf/index.js';
import { fixtures } from '../helpers/fixtures.js';
import { run } from '../helpers/tools.js';

const fx = fixtures();
const plain = readFileSync(fx.module);
const variants: Array<[string, string, string[]]> = [
  ['xz', 'fixture_mod.ko.xz', ['xz', '--check=crc32', '--lzma2=dict=1MiB', '-kc']],
  ['zstd', 'fixture_mod.ko.zst', ['zstd', '-q', '-c']],
  ['gzip', 'fixture_mod.ko.gz', ['gzip', '-n', '-c']],
];

for (const [kind, name, cmd] of variants) {
  test(`reads ${name} like the plain module`, async () => {
    const path = join(fx.dir, name);
    writeFileSync(path, Buffer.from(run(cmd[0]!, [...cmd.slice(1), fx.module]), 'latin1'));
    const elf = await loadElf(path);
    assert.equal(elf.compression, kind);
    assert.ok(Buffer.from(elf.source).equals(plain));
    assert.ok(Buffer.from(writeElf(elf)).equals(plain));
    assert.ok(elf.findSymbolByName('mod_a_entry'));
  });
}

test('zstd from a pipe (no content size in the frame header) decompresses', async () => {
  const path = join(fx.dir, 'piped.ko.zst');
  run('sh', ['-c', `cat "$1" | zstd -q -c > "$2"`, 'sh', fx.module, path]);
  assert.ok(Buffer.from((await loadElf(path)).source).equals(plain));
});

test('a decompression bomb stops at the ceiling', async () => {
  const zeros = join(fx.dir, 'zeros');
  writeFileSync(zeros, new Uint8Array(8 * 1024 * 1024));
  for (const [kind, , cmd] of variants) {
    const bomb = new Uint8Array(Buffer.from(run(cmd[0]!, [...cmd.slice(1), zeros]), 'latin1'));
    await assert.rejects(decompress(bomb, kind as 'xz', { file: 'bomb.ko', maxBytes: 1024 * 1024 }),
      (e: unknown) => e instanceof ElfError && e.code === 'TOO_LARGE' && /bomb\.ko.*more than 1048576 bytes/.test(e.message), kind);
  }
});

test('a corrupt compressed stream is a typed error', async () => {
  for (const [kind, name] of variants) {
    const good = readFileSync(join(fx.dir, name));
    const bad = new Uint8Array(good.subarray(0, Math.floor(good.length / 2)));
    bad[20] = (bad[20]! ^ 0xff) & 0xff;
    await assert.rejects(decompress(bad, kind as 'xz', { file: 'broken.ko' }), (e: unknown) => e instanceof ElfError && e.file === 'broken.ko', kind);
  }
});
