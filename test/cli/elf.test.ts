/**
 * `klp elf` as users run it: text, --json, exit codes, hostile names.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readElf, SHF, SHN, writeElf } from '../../src/elf/index.js';
import { assertCleanError, klp } from '../helpers/cli.js';
import { fixtures } from '../helpers/fixtures.js';
import { readelfRelocs, readelfSections, readelfSymbols } from '../helpers/readelf.js';
import { ROOT } from '../helpers/tools.js';

const demo = join(ROOT, 'examples/klp_demo.ko');
const fx = fixtures();

test('klp elf on the bundled example prints sections, symbols, relocations and modinfo', () => {
  const r = klp('elf', demo);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Module: klp_demo\s+\[livepatch=Y\]/);
  assert.match(r.stdout, /Section Headers:/);
  assert.match(r.stdout, /R_X86_64_PLT32\s+\d+\s+nr_processes - 4/);
  assert.match(r.stdout, /livepatch=Y/);
});

test('--json has every section, symbol and relocation, in file order', () => {
  const r = klp('elf', demo, '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { sections: Array<{ name: string }>; symbols: Array<{ name: string }>; relocations: Array<{ offset: string; section: string }> };
  const secs = readelfSections(demo);
  assert.deepEqual(j.sections.map((s) => s.name), secs.map((s) => s.name));
  assert.equal(j.symbols.length, readelfSymbols(demo).length);
  assert.deepEqual(j.relocations.map((x) => `${x.section}@${BigInt(x.offset)}`), readelfRelocs(demo).map((x) => `${x.section}@${x.offset}`));
});

test('livepatch relocation sections and SHN_LIVEPATCH symbols are shown by name', () => {
  const elf = readElf(readFileSync(demo), { path: demo });
  const sym = elf.findSymbolByName('nr_processes')!;
  const text = elf.relocations(elf.findSectionByName('.rela.text')!).find((r) => r.symbol === sym)!;
  const rela = elf.findSectionByName('.rela.text')!;
  const klpSec = elf.createRelaSection('.klp.rela.vmlinux..text', rela.infoSection!, SHF.ALLOC | SHF.RELA_LIVEPATCH);
  elf.relocations(klpSec).push(text);
  elf.removeRelocations(rela, (r) => r === text);
  sym.name = '.klp.sym.vmlinux.nr_processes,0';
  sym.shndx = SHN.LIVEPATCH;
  const out = join(fx.dir, 'demo-klp.ko');
  writeFileSync(out, writeElf(elf));
  const r = klp('elf', out, '-S', '-s', '-r');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\.klp\.rela\.vmlinux\.\.text\s+RELA .* AIo .*<- livepatch relocations/);
  assert.match(r.stdout, /LIVEPATCH \.klp\.sym\.vmlinux\.nr_processes,0/);
  assert.match(r.stdout, /Relocation section '\.klp\.rela\.vmlinux\.\.text' \[SHF_RELA_LIVEPATCH\]/);
  const j = JSON.parse(klp('elf', out, '--json').stdout) as { symbols: Array<{ name: string; shndx: unknown; livepatch: boolean }> };
  assert.deepEqual(j.symbols.filter((y) => y.livepatch).map((y) => [y.name, y.shndx]), [['.klp.sym.vmlinux.nr_processes,0', 'LIVEPATCH']]);
});

test('bad input: exit 2, one clear line, no stack trace', () => {
  const notElf = join(fx.dir, 'notes.txt');
  writeFileSync(notElf, 'just some text\n');
  const truncated = join(fx.dir, 'truncated.ko');
  writeFileSync(truncated, readFileSync(demo).subarray(0, 300));
  for (const [args, pattern] of [
    [['elf', notElf], /notes\.txt.*not an ELF file/],
    [['elf', truncated], /truncated\.ko.*offset 0x[0-9a-f]+.*past the end of the file/],
    [['elf', join(fx.dir, 'missing.ko')], /missing\.ko: cannot read file \(ENOENT\)/],
    [['elf', fx.dir], /cannot read file \(EISDIR\)/],
  ] as const) {
    const r = klp(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(assertCleanError(r.stderr), r.stderr);
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, '');
  }
});

test('usage errors exit 2; --help exits 0', () => {
  assert.equal(klp('elf').status, 2);
  assert.equal(klp('elf', demo, '--no-such-option').status, 2);
  assert.equal(klp('frobnicate').status, 2);
  const h = klp('--help');
  assert.equal(h.status, 0);
  assert.match(h.stdout, /elf \[options\] <file>/);
});

test('hostile names are escaped in text and valid in JSON', () => {
  const elf = readElf(readFileSync(fx.module), { path: fx.module });
  const evil = 'evil\x1b[31mRED\nfake line\x07\x9b';
  elf.findSymbolByName('mod_a_entry')!.name = evil;
  const out = join(fx.dir, 'evil.ko');
  writeFileSync(out, writeElf(elf));
  const r = klp('elf', out, '-s', '-r');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/.test(r.stdout), 'no raw control bytes reach the terminal');
  assert.ok(r.stdout.includes('evil\\x1b[31mRED\\x0afake line\\x07\\x9b'));
  const json = klp('elf', out, '--json').stdout;
  assert.ok(/^[\x0a\x20-\x7e]*$/.test(json), 'JSON output is plain ASCII');
  const j = JSON.parse(json) as { symbols: Array<{ name: string }> };
  assert.ok(j.symbols.some((y) => y.name === evil), 'JSON carries the exact bytes');
});
