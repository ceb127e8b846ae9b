/**
 * Module symbols and sympos on gcc-built fixture modules, against an independent computation
 * from GNU readelf's symbol table listing.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadElf, readElf, writeElf } from '../../src/elf/index.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { SymbolDb } from '../../src/symbols/database.js';
import { moduleSymbols } from '../../src/symbols/module-symbols.js';
import { listModuleFiles, scanModules } from '../../src/symbols/scan.js';
import { fixtures } from '../helpers/fixtures.js';
import { readelfSections, readelfSymbols } from '../helpers/readelf.js';
import { run } from '../helpers/tools.js';

const fx = fixtures();

/** sympos per (name, index) from readelf -sW alone, in the two views the kernel has. */
function independentPositions(path: string) {
  const secs = readelfSections(path);
  const full = new Map<string, number[]>(), core = new Map<string, number[]>();
  const countFull = new Map<string, number>(), countCore = new Map<string, number>();
  for (const y of readelfSymbols(path)) {
    if (y.ndx === 'UND') continue;
    const name = y.type === 'SECTION' ? '' : y.name; // section symbols have st_name 0
    const n = (countFull.get(name) ?? 0) + 1;
    countFull.set(name, n);
    full.set(name, [...(full.get(name) ?? []), n]);
    const sec = /^\d+$/.test(y.ndx) ? secs[Number(y.ndx)] : undefined;
    const isCore = name !== '' && !!sec && (sec.name === '.data..percpu' ||
      (sec.flags.includes('A') && !sec.name.startsWith('.init') && sec.name !== '.modinfo' && sec.name !== '__versions'));
    if (isCore) {
      const c = (countCore.get(name) ?? 0) + 1;
      countCore.set(name, c);
      core.set(name, [...(core.get(name) ?? []), c]);
    }
  }
  return { full, core };
}

test('sympos of every symbol of the fixture module matches readelf order (COMING and after-init views)', () => {
  const elf = readElf(readFileSync(fx.module), { path: fx.module });
  const db = SymbolDb.build({ modules: [moduleSymbols(elf)] });
  const { full, core } = independentPositions(fx.module);
  let checked = 0;
  for (const [name, positions] of full) {
    if (name === '') continue;
    const defs = db.lookup(name).filter((d) => d.object === 'fixture_mod');
    assert.equal(defs.length, positions.length, name);
    defs.forEach((d, i) => {
      assert.equal(d.sympos, positions.length > 1 ? positions[i] : 0, `${name} #${i}`);
      checked++;
    });
    const corePositions = core.get(name) ?? [];
    assert.equal(defs.filter((d) => d.coreSympos !== null).length, corePositions.length, `${name} core count`);
  }
  assert.ok(checked > 25, `${checked} definitions checked`);
});

test('the same static name in two compilation units: sympos 1 and 2, in link order', () => {
  const db = SymbolDb.build({ modules: [moduleSymbols(readElf(readFileSync(fx.module), { path: fx.module }))] });
  const h = db.lookup('homonym');
  assert.deepEqual(h.map((d) => [d.object, d.sympos, d.count, d.section]), [['fixture_mod', 1, 2, '.text.homonym'], ['fixture_mod', 2, 2, '.text.homonym']]);
  // mod_a.c's comes first: it is the one that reads `counter` (.bss.counter).
  const syms = readelfSymbols(fx.module).filter((y) => y.name === 'homonym');
  assert.equal(syms.length, 2);
});

test('a same-named __init symbol: counted while the module is COMING, not after init', () => {
  const db = SymbolDb.build({ modules: [moduleSymbols(readElf(readFileSync(fx.module), { path: fx.module }))] });
  const s = db.lookup('shared_setup');
  assert.deepEqual(s.map((d) => [d.section, d.sympos, d.coreSympos, d.coreCount]), [
    ['.init.text', 1, null, 1], // gone after init: not in core_kallsyms
    ['.text.shared_setup', 2, 0, 1], // unique after init: sympos 0 (or 1) then, 2 while COMING
  ]);
});

test('module name: .gnu.linkonce.this_module, else .modinfo name= with - turned into _', () => {
  const elf = readElf(readFileSync(fx.module), { path: fx.module });
  assert.equal(moduleSymbols(elf).name, 'fixture_mod');
  elf.removeSymbols((y) => y.section?.name === '.gnu.linkonce.this_module');
  elf.removeSections([elf.findSectionByName('.gnu.linkonce.this_module')!]);
  const out = join(fx.dir, 'no-this-module.ko');
  writeFileSync(out, writeElf(elf));
  assert.match(run('readelf', ['-p', '.modinfo', out]), /name=fixture-mod/);
  assert.equal(moduleSymbols(readElf(readFileSync(out), { path: out })).name, 'fixture_mod');
});

test('exports from __ksymtab_gpl with their namespace', () => {
  const m = moduleSymbols(readElf(readFileSync(fx.module), { path: fx.module }));
  assert.deepEqual(m.exports, [{ name: 'mod_b_entry', object: 'fixture_mod', type: 'EXPORT_SYMBOL_GPL', namespace: 'FIXTURE_NS' }]);
  const db = SymbolDb.build({ modules: [m], exports: m.exports });
  const d = db.lookup('mod_b_entry')[0]!;
  assert.deepEqual([d.exported, d.exportType, d.namespace], [true, 'EXPORT_SYMBOL_GPL', 'FIXTURE_NS']);
  // The local __ksymtab_ companion is not itself exported.
  assert.equal(db.lookup('__ksymtab_mod_b_entry')[0]!.exported, false);
});

test('a module tree with compressed modules, scanned on two threads; unreadable modules are reported', async () => {
  const tree = join(fx.dir, 'tree/kernel/drivers/x');
  mkdirSync(tree, { recursive: true });
  writeFileSync(join(tree, 'fixture_mod.ko.xz'), Buffer.from(run('xz', ['--check=crc32', '-kc', fx.module]), 'latin1'));
  // A second module under another name: same code, renamed through its modinfo/this_module.
  const elf = readElf(readFileSync(fx.module), { path: fx.module });
  const tm = elf.findSectionByName('.gnu.linkonce.this_module')!;
  const data = tm.data.slice();
  data.set(new TextEncoder().encode('other_mod\0'), 24);
  tm.setData(data);
  writeFileSync(join(tree, 'other.ko.zst.tmp'), writeElf(elf));
  writeFileSync(join(tree, 'other-mod.ko.zst'), Buffer.from(run('zstd', ['-q', '-c', join(tree, 'other.ko.zst.tmp')]), 'latin1'));
  for (let i = 0; i < 70; i++) copyFileSync(fx.module, join(tree, `copy${i}.ko`)); // enough files for the threaded path
  writeFileSync(join(tree, 'broken.ko'), readFileSync(fx.module).subarray(0, 100));
  const files = await listModuleFiles(join(fx.dir, 'tree'));
  assert.equal(files.length, 73);
  const scan = await scanModules(files, { jobs: 2 });
  assert.equal(scan.failures.length, 1);
  assert.match(scan.failures[0]!.message, /broken\.ko.*past the end of the file/);
  const names = scan.modules.map((m) => m.name);
  assert.ok(names.includes('other_mod'));
  assert.equal((await loadElf(join(tree, 'fixture_mod.ko.xz'))).compression, 'xz');
  // Two modules of one name is a conflicting input.
  await assert.rejects(buildDatabase({ modules: join(fx.dir, 'tree') }), /object 'fixture_mod' is given twice/);
});
