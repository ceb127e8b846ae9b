/**
 * Interner (elf/strtab.ts), the table that interns a kernel's symbol names while a database
 * is built (and a string table's strings as it is written), against a Map doing the same: ids in first-seen order, every name found,
 * absent names not, through the table's growth and its hash collisions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Interner } from '../../src/elf/strtab.js';
import { sortNames } from '../../src/symbols/database.js';

test('Interner interns as a Map would, through growth and collisions', () => {
  const latin1 = fc.array(fc.integer({ min: 1, max: 255 }), { minLength: 0, maxLength: 12 }).map((cs) => String.fromCharCode(...cs));
  fc.assert(fc.property(fc.array(latin1, { maxLength: 3000 }), fc.array(latin1, { maxLength: 50 }), (names, others) => {
    const pool = new Interner();
    const map = new Map<string, number>();
    for (const x of names) {
      if (!map.has(x)) map.set(x, map.size);
      assert.equal(pool.id(x), map.get(x));
    }
    assert.deepEqual(pool.list, [...map.keys()]);
    for (const x of [...names, ...others]) assert.equal(pool.find(x), map.get(x) ?? -1);
  }), { numRuns: 60, seed: 7 });
  // Many names that share a slot: one-character names and their FNV-1a neighbours, 20,000 of them.
  const pool = new Interner();
  const many = Array.from({ length: 20000 }, (_, i) => `sym_${i.toString(36)}`);
  many.forEach((x, i) => assert.equal(pool.id(x), i));
  many.forEach((x, i) => assert.equal(pool.find(x), i));
  assert.equal(pool.find('sym_'), -1);
});

test('sortNames orders names as the default sort does (byte order), short names and high bytes included', () => {
  const name = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 }).map((cs) => String.fromCharCode(...cs));
  fc.assert(fc.property(fc.array(name, { maxLength: 2000 }), (names) => {
    assert.deepEqual(sortNames(names), names.slice().sort());
  }), { numRuns: 100, seed: 8 });
  const wide = ['ab\u0101', 'ab', 'a\u0100', 'a\u00ff'];
  assert.deepEqual(sortNames(wide), ['ab', 'ab\u0101', 'a\u00ff', 'a\u0100']); // not latin1: as the default sort
});
