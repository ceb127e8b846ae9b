/**
 * Interner (elf/strtab.ts), the table that interns a kernel's symbol names while a database
 * is built (and a string table's strings as it is written), against a Map doing the same: ids in first-seen order, every name found,
 * absent names not, through the table's growth and its hash collisions. And the sort of those
 * names (sortOrder, the merge of a presort with the rest) against the default sort.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Interner } from '../../src/elf/strtab.js';
import { BuildNames, mergeOrders, sortOrder } from '../../src/symbols/database.js';

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

test('sortOrder orders names as the default sort does (byte order), short names, repeats and high bytes included', () => {
  const sortNames = (list: string[]): string[] => Array.from(sortOrder(list), (i) => list[i]!);
  const name = fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 6 }).map((cs) => String.fromCharCode(...cs));
  fc.assert(fc.property(fc.array(name, { maxLength: 2000 }), (names) => {
    assert.deepEqual(sortNames(names), names.slice().sort());
  }), { numRuns: 100, seed: 8 });
  const wide = ['ab\u0101', 'ab', 'a\u0100', 'a\u00ff'];
  assert.deepEqual(sortNames(wide), ['ab', 'ab\u0101', 'a\u00ff', 'a\u0100']); // not latin1: as the default sort
});

test('sortOrder and mergeOrders give the ids of distinct names in sorted order; a presort part-way changes nothing', () => {
  // Half the names share a long prefix, as kernel names do: runs past the insertion sort's 64,
  // which the radix sort recurses into, three characters at a time.
  const tail = fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: 6 }).map((cs) => String.fromCharCode(...cs));
  const name = fc.tuple(fc.boolean(), tail).map(([shared, t]) => (shared ? '__ksymtab_' : '') + t);
  fc.assert(fc.property(fc.uniqueArray(name, { maxLength: 1500 }), fc.nat(), fc.nat(), (names, cut, presortAfter) => {
    const sorted = names.slice().sort();
    assert.deepEqual(Array.from(sortOrder(names), (i) => names[i]), sorted);
    // Two parts, each sorted, merged: the ids of the whole, as one sort gives them.
    const k = names.length === 0 ? 0 : cut % (names.length + 1);
    const head = sortOrder(names.slice(0, k));
    const tail = sortOrder(names, k);
    assert.deepEqual(Array.from(tail, (i) => i >= k), Array.from(tail, () => true));
    assert.deepEqual(Array.from(mergeOrders(names, head, tail), (i) => names[i]), sorted);
    // BuildNames: names interned in batches (repeats included), presorted after any batch.
    const pool = new BuildNames();
    const batches = [names.slice(0, k), names.slice(Math.floor(k / 2)), names.slice(k)];
    const at = presortAfter % (batches.length + 1);
    batches.forEach((b, i) => {
      pool.addSymbols(b.map((n) => ({ name: n, type: 't', address: undefined })));
      if (i + 1 === at) pool.presort();
    });
    assert.deepEqual(Array.from(pool.order(), (i) => pool.table.list[i]), sorted);
  }), { numRuns: 150, seed: 9 });
  // Not latin1 at the start (the whole list by comparison), and deep inside a long run (that run).
  const wide = ['ab\u0101', 'ab', 'a\u0100', 'a\u00ff'];
  assert.deepEqual(Array.from(sortOrder(wide, 1), (i) => wide[i]), ['ab', 'a\u00ff', 'a\u0100']);
  const deep = Array.from({ length: 200 }, (_, i) => `abcdefg${String.fromCharCode(0xf0 + ((i * 37) % 40))}${i}`);
  assert.deepEqual(Array.from(sortOrder(deep), (i) => deep[i]), deep.slice().sort());
});
