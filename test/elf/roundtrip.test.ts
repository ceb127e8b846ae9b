/**
 * read -> write is byte-identical, both copying untouched tables and re-encoding every table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readElf, writeElf } from '../../src/elf/index.js';
import { allFixtures, fixtureName, fixtures } from '../helpers/fixtures.js';

for (const path of allFixtures(fixtures())) {
  test(`${fixtureName(path)}: write(read(x)) is byte-identical`, () => {
    const bytes = readFileSync(path);
    const elf = readElf(bytes, { path });
    assert.ok(Buffer.from(writeElf(elf)).equals(bytes), 'plain copy');
    assert.ok(Buffer.from(writeElf(elf, { reencode: true })).equals(bytes), 're-encoded tables');
    // And once more from the output: idempotent.
    const again = readElf(writeElf(elf), { path });
    assert.ok(Buffer.from(writeElf(again, { reencode: true })).equals(bytes));
  });
}

test('bundled example module round-trips', () => {
  const path = new URL('../../examples/klp_demo.ko', import.meta.url).pathname;
  const bytes = readFileSync(path);
  const elf = readElf(bytes, { path });
  assert.ok(Buffer.from(writeElf(elf, { reencode: true })).equals(bytes));
});
