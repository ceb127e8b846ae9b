/**
 * `.modinfo` look-ups: modinfoValue() finds a key without decoding the other entries, and must
 * answer as readModinfo()'s list does, in a section gcc laid out (padding NULs between entries,
 * an entry without '=', a value holding '=', a key given twice, an empty key and value).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modinfoValue, readElf, readModinfo } from '../../src/elf/index.js';
import { run, tempDir } from '../helpers/tools.js';

const SOURCE = [
  'namespace=ns', // a key the next one's is a prefix of, before it
  'flag', // no '=': the key is the whole entry, the value empty
  'name=first',
  'k=v=w', // the key ends at the first '='
  'name=second', // a key given twice: the first is the answer
  'license=',
  '=anon', // an empty key
].map((text, i) => `static const char e${i}[] __attribute__((used, section(".modinfo"), aligned(${i === 1 ? 8 : 1}))) = ${JSON.stringify(text)};\n`).join('');

test('modinfoValue() answers as the first readModinfo() entry with that key', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'm.c'), SOURCE);
    run('gcc', ['-c', join(dir, 'm.c'), '-o', join(dir, 'm.o')]);
    const elf = readElf(readFileSync(join(dir, 'm.o')), { path: join(dir, 'm.o') });
    const expected: Record<string, string | undefined> = {
      name: 'first', namespace: 'ns', flag: '', k: 'v=w', license: '', '': 'anon',
      nam: undefined, 'k=v': undefined, names: undefined, missing: undefined,
    };
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(modinfoValue(elf, key), value, `key '${key}'`);
      assert.equal(modinfoValue(elf, key), readModinfo(elf).find((e) => e.key === key)?.value, `key '${key}' as readModinfo() finds it`);
    }
  } finally {
    cleanup();
  }
});
