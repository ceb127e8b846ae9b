/**
 * Every module of Debian bookworm's kernel: read, decode every table, write back, byte-identical;
 * counts against readelf for a sample; compressed copies of a sample read like the originals.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { loadElf, modinfoValue, moduleName, readElf, readModinfo, writeElf, writeElfParts } from '../../src/elf/index.js';
import { kernelCorpus, walkModules } from '../helpers/corpus.js';
import { fixtures } from '../helpers/fixtures.js';
import { readelfRelocs, readelfSections, readelfSymbols } from '../helpers/readelf.js';
import { run } from '../helpers/tools.js';

const corpus = kernelCorpus();
const modules = [...walkModules(corpus.modulesDir)];

test(`every module of ${corpus.version} round-trips byte-identically`, (t) => {
  assert.ok(modules.length > 3000, `found ${modules.length} modules`);
  let sections = 0, symbols = 0, relocations = 0;
  const failures: string[] = [];
  for (const path of modules) {
    const bytes = readFileSync(path);
    const elf = readElf(bytes, { path });
    elf.decodeAll();
    sections += elf.sections.length;
    symbols += elf.allSymbols.length;
    for (const s of elf.sections) if (s.isRelocation) relocations += elf.relocations(s).length;
    const name = moduleName(elf);
    const modinfoName = readModinfo(elf).find((e) => e.key === 'name')?.value;
    if (!name || name !== modinfoName?.replace(/-/g, '_')) failures.push(`${path}: module name ${name} vs modinfo ${modinfoName}`);
    // The look-up the loader makes (three keys a module) answers as the decoded list.
    for (const key of ['name', 'intree', 'livepatch', 'vermagic', 'alias', 'depends', 'license', 'nam', 'no_such_key']) {
      const want = readModinfo(elf).find((e) => e.key === key)?.value;
      if (modinfoValue(elf, key) !== want) failures.push(`${path}: modinfoValue('${key}') is ${modinfoValue(elf, key)}, readModinfo() has ${want}`);
    }
    if (!Buffer.from(writeElf(elf)).equals(bytes)) failures.push(`${path}: copy differs`);
    if (!Buffer.from(writeElf(elf, { reencode: true })).equals(bytes)) failures.push(`${path}: re-encoding differs`);
    if (!Buffer.concat(writeElfParts(elf, { reencode: true })).equals(bytes)) failures.push(`${path}: re-encoded as parts differs`);
  }
  t.diagnostic(`${modules.length} modules: ${sections} sections, ${symbols} symbols, ${relocations} relocations`);
  assert.deepEqual(failures.slice(0, 20), []);
});

test('counts agree with readelf on every 50th module', () => {
  for (let i = 0; i < modules.length; i += 50) {
    const path = modules[i]!;
    const elf = readElf(readFileSync(path), { path });
    const what = relative(corpus.modulesDir, path);
    assert.equal(elf.sections.length, readelfSections(path).length, `${what} sections`);
    assert.equal(elf.allSymbols.length, readelfSymbols(path).length, `${what} symbols`);
    let relocs = 0;
    for (const s of elf.sections) if (s.isRelocation) relocs += elf.relocations(s).length;
    assert.equal(relocs, readelfRelocs(path).length, `${what} relocations`);
  }
});

test('xz- and zstd-compressed copies of real modules read like the originals', async () => {
  const fx = fixtures();
  for (let i = 0; i < modules.length; i += 400) {
    const path = modules[i]!;
    const plain = readFileSync(path);
    for (const [ext, cmd] of [['xz', ['xz', '--check=crc32', '--lzma2=dict=1MiB', '-kc']], ['zst', ['zstd', '-q', '-c']]] as const) {
      const out = join(fx.dir, `corpus-${i}.ko.${ext}`);
      writeFileSync(out, Buffer.from(run(cmd[0], [...cmd.slice(1), path]), 'latin1'));
      const elf = await loadElf(out);
      assert.ok(Buffer.from(elf.source).equals(plain), `${path} .${ext}`);
    }
  }
});

test('a second flavour: every module of the cloud-amd64 image round-trips too', (t) => {
  const cloud = kernelCorpus('cloud-amd64');
  const files = [...walkModules(cloud.modulesDir)];
  assert.ok(files.length > 1000, `${files.length} cloud modules`);
  let bad = 0;
  for (const path of files) {
    const bytes = readFileSync(path);
    const elf = readElf(bytes, { path });
    if (!Buffer.from(writeElf(elf, { reencode: true })).equals(bytes)) bad++;
  }
  t.diagnostic(`${files.length} modules of ${cloud.version}`);
  assert.equal(bad, 0);
});
