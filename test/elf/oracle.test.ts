/**
 * The reader against GNU readelf: every section, symbol and relocation of gcc-built fixtures.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { readElf } from '../../src/elf/index.js';
import { listElf } from '../../src/report/elf-listing.js';
import { allFixtures, fixtureName, fixtures } from '../helpers/fixtures.js';
import { readelfRelocs, readelfSections, readelfSymbols } from '../helpers/readelf.js';

const fx = fixtures();
const signedHex = (s: string): bigint => (s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s));

for (const path of allFixtures(fx)) {
  const name = fixtureName(path);
  const listing = () => listElf(readElf(readFileSync(path), { path }));

  test(`${name}: sections match readelf -SW`, () => {
    const ours = listing().sections;
    const theirs = readelfSections(path);
    assert.ok(theirs.length > 5, 'readelf listed the sections');
    assert.equal(ours.length, theirs.length);
    for (const t of theirs) {
      const o = ours[t.index]!;
      const what = `section [${t.index}] ${t.name}`;
      assert.equal(o.name, t.name, what);
      // readelf abbreviates long type names in wide mode only for unknown types; ours are full names.
      assert.equal(o.typeName, t.type, what);
      assert.equal(o.flagLetters, t.flags, `${what} flags`);
      assert.equal(BigInt(o.addr), t.addr, `${what} addr`);
      assert.equal(o.offset, t.offset, `${what} offset`);
      assert.equal(o.size, t.size, `${what} size`);
      assert.equal(o.entsize, t.entsize, `${what} entsize`);
      assert.equal(o.link, t.link, `${what} link`);
      assert.equal(o.info, t.info, `${what} info`);
      assert.equal(o.align, t.align, `${what} align`);
    }
  });

  test(`${name}: symbols match readelf -sW`, () => {
    const l = listing();
    const theirs = readelfSymbols(path);
    assert.ok(theirs.length > 3, 'readelf listed the symbols');
    assert.equal(l.symbols.length, theirs.length);
    theirs.forEach((t, i) => {
      const o = l.symbols[i]!;
      const what = `symbol ${t.index} ${t.name}`;
      assert.equal(o.index, t.index, what);
      assert.equal(BigInt(o.value), t.value, `${what} value`);
      assert.equal(o.size, t.size, `${what} size`);
      assert.equal(o.type, t.type, `${what} type`);
      assert.equal(o.bind, t.bind, `${what} bind`);
      assert.equal(o.visibility, t.vis, `${what} vis`);
      const ndx = o.shndx === 'COM' ? 'COM' : String(o.shndx);
      assert.equal(ndx, t.ndx, `${what} ndx`);
      // readelf 2.40 prints a section symbol under its section's name.
      assert.equal(o.type === 'SECTION' ? o.section : o.name, t.name, `${what} name`);
    });
  });

  test(`${name}: relocations match readelf -rW`, () => {
    const l = listing();
    const elfClass = l.class;
    const theirs = readelfRelocs(path);
    assert.ok(theirs.length > 3, 'readelf listed the relocations');
    assert.equal(l.relocations.length, theirs.length);
    theirs.forEach((t, i) => {
      const o = l.relocations[i]!;
      const what = `${t.section} #${i}`;
      assert.equal(o.section, t.section, what);
      assert.equal(BigInt(o.offset), t.offset, `${what} offset`);
      const info = elfClass === 64 ? (BigInt(o.symbolIndex) << 32n) | BigInt(o.type) : BigInt((o.symbolIndex << 8) | o.type);
      assert.equal(info, t.info, `${what} r_info`);
      assert.equal(o.typeName, t.type, `${what} type`);
      if (t.addend !== undefined) assert.equal(signedHex(o.addend), t.addend, `${what} addend`);
    });
  });
}
