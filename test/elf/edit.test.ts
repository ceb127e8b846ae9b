/**
 * Edits keep the file valid: readelf -a prints no warning, every index is remapped, and
 * objdump -dr shows relocations where they should be.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ElfError, ElfSymbol, readElf, SHF, SHN, SHT, STB, STT, writeElf, writeElfParts, type ElfFile } from '../../src/elf/index.js';
import { fixtures } from '../helpers/fixtures.js';
import { readelfComplaints, readelfRelocs, readelfSections, readelfSymbols, semanticView } from '../helpers/readelf.js';
import { KERNEL_CFLAGS, run, tempDir } from '../helpers/tools.js';

const fx = fixtures();
let n = 0;
function edited(src: string, edit: (elf: ElfFile) => void): string {
  const elf = readElf(readFileSync(src), { path: src });
  edit(elf);
  const out = join(fx.dir, `edited-${n++}.ko`);
  writeFileSync(out, writeElf(elf));
  assert.deepEqual(readelfComplaints(out), [], 'readelf -a --wide has no warnings');
  return out;
}

for (const src of [fx.module, fx.moduleDebug]) {
  test(`rename a symbol (${src.endsWith('_g.ko') ? 'with DWARF' : 'plain'})`, () => {
    const out = edited(src, (elf) => {
      elf.findSymbolByName('mod_b_entry')!.name = 'mod_b_entry_renamed';
    });
    const before = semanticView(src);
    const after = semanticView(out);
    assert.deepEqual(after.relocs, before.relocs.map((r) => r.replace('|mod_b_entry|', '|mod_b_entry_renamed|')).sort());
    assert.ok(readelfSymbols(out).some((y) => y.name === 'mod_b_entry_renamed'));
    assert.ok(!readelfSymbols(out).some((y) => y.name === 'mod_b_entry'));
    assert.match(run('objdump', ['-r', out]), /R_X86_64_64\s+mod_b_entry_renamed/);
  });
}

test('add a section', () => {
  const payload = new TextEncoder().encode('klpkit was here\0');
  const out = edited(fx.module, (elf) => {
    elf.addSection({ name: '.klpkit.note', type: SHT.PROGBITS, flags: SHF.ALLOC, addralign: 8n, data: payload });
  });
  const secs = readelfSections(out);
  const added = secs.find((s) => s.name === '.klpkit.note')!;
  assert.equal(added.size, payload.length);
  assert.equal(added.flags, 'A');
  assert.equal(added.offset % 8, 0, 'alignment kept');
  assert.equal(run('readelf', ['-p', '.klpkit.note', out]).includes('klpkit was here'), true);
  const before = semanticView(fx.module);
  const after = semanticView(out);
  assert.deepEqual(after.relocs, before.relocs);
  assert.deepEqual(after.symbols, before.symbols);
});

test('written as parts: the same bytes as one array, large unchanged stretches viewed in the input', () => {
  // 96 KiB of .rodata and .data each (past the 64 KiB a part of its own takes), then a section
  // added and one removed, so that the names and the section headers move.
  const { dir, cleanup } = tempDir();
  try {
    const src = join(dir, 'big.c');
    writeFileSync(src, 'const char table[98304] = { 1, 2, 3 };\nchar buf[98304] = { 4 };\nint f(void) { return table[7] + buf[9]; }\n');
    const obj = join(dir, 'big.o');
    run('gcc', [...KERNEL_CFLAGS, '-c', src, '-o', obj]);
    const bytes = readFileSync(obj);
    const same = readElf(bytes, { path: obj });
    assert.ok(Buffer.concat(writeElfParts(same)).equals(bytes), 'unchanged: the input');
    const elf = readElf(bytes, { path: obj });
    elf.addSection({ name: '.klpkit.note', type: SHT.PROGBITS, flags: SHF.ALLOC, addralign: 8n, data: new Uint8Array(100) });
    elf.removeSections(elf.sections.filter((s) => s.name === '.comment'));
    const parts = writeElfParts(elf);
    const whole = writeElf(elf);
    assert.ok(Buffer.concat(parts).equals(whole), 'the parts are writeElf()\'s bytes');
    const viewed = parts.filter((p) => p.buffer === elf.source.buffer).reduce((n, p) => n + p.length, 0);
    assert.ok(viewed >= 2 * 98304, `the two large sections are views of the input (${viewed} bytes are)`);
    const out = join(dir, 'out.o');
    writeFileSync(out, whole);
    assert.deepEqual(readelfComplaints(out), []);
  } finally {
    cleanup();
  }
});

test('remove sections: every index is remapped (symbols, relocations, groups, sh_link/sh_info)', () => {
  const out = edited(fx.moduleDebug, (elf) => {
    // .comment and .group sit before/among indexed sections, so everything after them shifts.
    elf.removeSections(elf.sections.filter((s) => s.name === '.comment' || s.name === '.note.GNU-stack' || s.name === '.data'));
    elf.removeSymbols((y) => y.section?.name === '.data');
  });
  const before = semanticView(fx.moduleDebug);
  const after = semanticView(out);
  assert.ok(readelfSections(out).length < readelfSections(fx.moduleDebug).length);
  assert.deepEqual(after.relocs, before.relocs);
  // The removed sections' own STT_SECTION symbols go with them.
  assert.deepEqual(after.symbols, before.symbols.filter((y) => !/\|(\.data|\.comment|\.note\.GNU-stack)\|/.test(y)));
  // .symtab and .group hold symbol indices (first global, signature), which shift by design.
  const stable = (s: string): boolean => !/^(\.symtab|\.group)\|/.test(s);
  assert.deepEqual(after.sections.filter(stable), before.sections.filter((s) => stable(s) && !/^(\.comment|\.note\.GNU-stack|\.data)\|/.test(s)));
  assert.match(run('readelf', ['-gW', out]), /COMDAT group section \[\s*\d+\] `\.group' \[grp_sig\] contains 1 section/);
});

test('add a local symbol: locals stay before globals, relocations follow their symbols', () => {
  const out = edited(fx.module, (elf) => {
    const text = elf.findSectionByName('.text.mod_b_entry')!;
    elf.addSymbol(new ElfSymbol({ name: 'klpkit_local', bind: STB.LOCAL, type: STT.FUNC, section: text, value: 4n }));
  });
  const syms = readelfSymbols(out);
  const firstGlobal = syms.findIndex((y) => y.bind !== 'LOCAL');
  assert.ok(syms.slice(firstGlobal).every((y) => y.bind !== 'LOCAL'));
  const symtab = readelfSections(out).find((s) => s.name === '.symtab')!;
  assert.equal(symtab.info, firstGlobal, 'sh_info of .symtab is the first non-local index');
  assert.ok(syms.some((y) => y.name === 'klpkit_local' && y.bind === 'LOCAL'));
  assert.deepEqual(semanticView(out).relocs, semanticView(fx.module).relocs);
});

test('move relocations into a livepatch relocation section (what klp convert does)', () => {
  const out = edited(fx.module, (elf) => {
    const target = elf.findSectionByName('.text.call_undef')!;
    const rela = elf.relocationSectionsFor(target)[0]!;
    const relocs = elf.relocations(rela);
    const sym = elf.findSymbolByName('undefined_function')!;
    const klp = elf.createRelaSection('.klp.rela.vmlinux..text.call_undef', target, SHF.ALLOC | SHF.RELA_LIVEPATCH);
    elf.addRelocations(klp, ...relocs.filter((r) => r.symbol === sym));
    elf.removeRelocations(rela, (r) => r.symbol === sym);
    sym.name = '.klp.sym.vmlinux.undefined_function,0';
    sym.shndx = SHN.LIVEPATCH;
  });
  const sec = readelfSections(out).find((s) => s.name === '.klp.rela.vmlinux..text.call_undef')!;
  assert.equal(sec.type, 'RELA');
  assert.equal(sec.flags, 'AIo');
  assert.equal(sec.entsize, 24);
  assert.equal(sec.align, 8);
  assert.equal(readelfSections(out)[sec.link]!.name, '.symtab');
  assert.equal(readelfSections(out)[sec.info]!.name, '.text.call_undef');
  const sym = readelfSymbols(out).find((y) => y.name === '.klp.sym.vmlinux.undefined_function,0')!;
  assert.equal(sym.ndx, 'OS [0xff20]');
  const moved = readelfRelocs(out).filter((r) => r.section === '.klp.rela.vmlinux..text.call_undef');
  assert.equal(moved.length, 1);
  assert.equal(moved[0]!.offset, 0xan);
  assert.equal(moved[0]!.symbol, '.klp.sym.vmlinux.undefined_function,0');
  assert.equal(readelfRelocs(out).filter((r) => r.section === '.rela.text.call_undef').length, 2);
});

test('objdump -dr shows moved relocations at their place when a whole section moves', () => {
  // BFD cannot show two RELA sections for one target (binutils bug 24456), so move all of them.
  const out = edited(fx.module, (elf) => {
    const target = elf.findSectionByName('.text.call_undef')!;
    const rela = elf.relocationSectionsFor(target)[0]!;
    elf.renameSection(rela, '.klp.rela.vmlinux..text.call_undef');
    rela.flags |= SHF.ALLOC | SHF.RELA_LIVEPATCH;
  });
  const dump = run('objdump', ['-dr', '-j', '.text.call_undef', out]);
  assert.match(dump, /\n\s+a: R_X86_64_PLT32\s+undefined_function-0x4/);
  assert.match(dump, /\n\s+1: R_X86_64_PLT32\s+__fentry__-0x4/);
});

test('the writer refuses dangling references with a typed error', () => {
  const elf = readElf(readFileSync(fx.module), { path: fx.module });
  elf.removeSections([elf.findSectionByName('.text.mod_b_entry')!]);
  assert.throws(() => writeElf(elf), (e: unknown) => e instanceof ElfError && e.code === 'WRITE' && /mod_b_entry/.test(e.message));
});

test('contents: viewed when first asked, the same bytes; replaced ones (own or a range of a shared array) are what is written, untouched ones copied from the input', () => {
  const bytes = readFileSync(fx.module);
  const elf = readElf(bytes, { path: fx.module });
  const text = elf.sections.find((s) => s.name === '.text')!;
  const rodata = elf.sections.find((s) => !s.isNobits && s.name.startsWith('.rodata') && s.size >= 8)!;
  // Read where they lie: the input's bytes at the section's offset, no copy.
  assert.equal(text.backing.buffer, bytes.buffer);
  assert.equal(text.backing.byteOffset + text.backingStart, bytes.byteOffset + text.offset);
  assert.equal(text.dataLength, text.size);
  assert.deepEqual([...text.data], [...bytes.subarray(text.offset, text.offset + text.size)]);
  // The same length, other bytes: written as given, not copied from the input at that place.
  const flipped = text.data.map((b) => b ^ 0xff);
  text.setData(flipped);
  // A range of an array other sections could share.
  const shared = new Uint8Array(rodata.size + 16).fill(0xa5);
  shared.set(rodata.data.map((b) => b ^ 0x5a), 8);
  rodata.setDataRange(shared, 8, rodata.size);
  assert.equal(rodata.dataLength, rodata.size);
  assert.deepEqual([...rodata.data], [...shared.subarray(8, 8 + rodata.size)]);
  assert.throws(() => rodata.setDataRange(shared, 10, shared.length), /not within/);
  const out = join(fx.dir, 'contents.ko');
  writeFileSync(out, writeElf(elf));
  const again = readElf(readFileSync(out), { path: out });
  assert.deepEqual([...again.sections.find((s) => s.name === '.text')!.data], [...flipped]);
  assert.deepEqual([...again.sections.find((s) => s.name === rodata.name)!.data], [...shared.subarray(8, 8 + rodata.size)]);
  // Every other section as it was (readelf's hex dump of each is the oracle).
  for (const s of elf.sections) {
    if (s.isNobits || s.size === 0 || s === text || s === rodata || s.isRelocation || s.isSymbolTable || s.type === SHT.STRTAB) continue;
    assert.equal(run('readelf', ['-x', s.name, out]).split('\n').slice(1).join('\n'), run('readelf', ['-x', s.name, fx.module]).split('\n').slice(1).join('\n'), s.name);
  }
});
