/**
 * Extended section numbering (more than 0xff00 sections: e_shnum == 0, e_shstrndx == SHN_XINDEX,
 * SHT_SYMTAB_SHNDX), as -ffunction-sections builds of big objects produce.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readElf, SHF, SHT, writeElf } from '../../src/elf/index.js';
import { listElf } from '../../src/report/elf-listing.js';
import { fixtures } from '../helpers/fixtures.js';
import { readelfComplaints, readelfSections, readelfSymbols, semanticView } from '../helpers/readelf.js';
import { run } from '../helpers/tools.js';

const fx = fixtures();
const N = 33000; // two sections each (.text.fN and .rela.text.fN): 66,000+ sections
const src = join(fx.dir, 'many.s');
const obj = join(fx.dir, 'many.o');
let asm = '';
for (let i = 0; i < N; i++) asm += `.section .text.f${i},"ax",@progbits\n.globl f${i}\n.type f${i},@function\nf${i}: call ext${i % 7}\nret\n`;
writeFileSync(src, asm);
run('as', ['--64', src, '-o', obj]);
const bytes = readFileSync(obj);

test('the assembler really produced extended numbering', () => {
  const h = run('readelf', ['-h', obj]);
  assert.match(h, /Number of section headers:\s+0 \(\d+\)/);
  assert.match(h, /Section header string table index: 65535 \(\d+\)/);
});

test('reads every section and symbol as readelf does, byte-identical round trip', () => {
  const elf = readElf(bytes, { path: obj });
  const l = listElf(elf);
  const theirs = readelfSections(obj);
  assert.ok(theirs.length > 0xff00);
  assert.equal(l.sections.length, theirs.length);
  for (const i of [0, 1, 2, 0xfeff, 0xff00, 0xff01, theirs.length - 3, theirs.length - 1]) {
    assert.equal(l.sections[i]!.name, theirs[i]!.name, `section ${i}`);
    assert.equal(l.sections[i]!.link, theirs[i]!.link, `section ${i} link`);
    assert.equal(l.sections[i]!.info, theirs[i]!.info, `section ${i} info`);
  }
  const syms = readelfSymbols(obj);
  assert.equal(l.symbols.length, syms.length);
  syms.forEach((y, i) => assert.equal(String(l.symbols[i]!.shndx), y.ndx, `symbol ${i} ${y.name}`));
  assert.ok(Buffer.from(writeElf(elf, { reencode: true })).equals(bytes));
});

test('edits keep extended numbering valid (add a section, rename a symbol)', () => {
  const elf = readElf(bytes, { path: obj });
  elf.addSection({ name: '.klpkit.extra', type: SHT.PROGBITS, flags: SHF.ALLOC, data: new Uint8Array([1, 2, 3]) });
  elf.findSymbolByName('f32999')!.name = 'f32999_renamed';
  const out = join(fx.dir, 'many-edited.o');
  writeFileSync(out, writeElf(elf));
  assert.deepEqual(readelfComplaints(out), []);
  const before = semanticView(obj);
  const after = semanticView(out);
  assert.deepEqual(after.symbols, before.symbols.map((y) => y.replace(/^f32999\|/, 'f32999_renamed|')).sort());
  assert.deepEqual(after.relocs, before.relocs);
  assert.ok(readelfSections(out).some((s) => s.name === '.klpkit.extra'));
});

test('dropping below 0xff00 sections leaves extended numbering', () => {
  const elf = readElf(bytes, { path: obj });
  const drop = new Set(elf.sections.filter((s) => /^\.text\.f([1-9]\d{3,})$/.test(s.name)));
  elf.removeSymbols((y) => y.section !== null && drop.has(y.section));
  elf.removeSections(drop);
  assert.ok(elf.sections.length < 0xff00);
  const out = join(fx.dir, 'many-small.o');
  writeFileSync(out, writeElf(elf));
  assert.deepEqual(readelfComplaints(out), []);
  assert.match(run('readelf', ['-h', out]), /Number of section headers:\s+\d+\n/);
  const reread = readElf(readFileSync(out), { path: out });
  assert.equal(reread.sections.length, elf.sections.length);
  assert.ok(reread.findSymbolByName('f999'));
});
