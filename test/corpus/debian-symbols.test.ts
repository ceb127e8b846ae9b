/**
 * The symbol database over Debian's whole 6.1 kernel: image, Module.symvers and all modules.
 * Positions of duplicated names in modules are recomputed independently from readelf output;
 * vmlinux positions are checked against the booted kernel in test/kernel/kallsyms.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readElf } from '../../src/elf/index.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { SymbolDb } from '../../src/symbols/database.js';
import { DbFile } from '../../src/symbols/db-file.js';
import { parseSymvers } from '../../src/symbols/symvers.js';
import { vmlinuxExports } from '../../src/symbols/vmlinux.js';
import { decompressBzImage } from '../../src/symbols/vmlinuz.js';
import { kernelCorpus, walkModules } from '../helpers/corpus.js';
import { readelfDwarfPlaces, readelfSymbols } from '../helpers/readelf.js';
import { ROOT, tempDir } from '../helpers/tools.js';

const corpus = kernelCorpus();
const vmlinuz = join(corpus.root, 'boot', `vmlinuz-${corpus.version}`);
const symvers = join(corpus.root, 'usr/src', `linux-headers-${corpus.version}`, 'Module.symvers');
const { db, failures } = await buildDatabase({ vmlinuz, symvers, modules: corpus.modulesDir });

test('every module of the image is in the database, none failed', () => {
  assert.deepEqual(failures, []);
  assert.equal(db.objects.length, [...walkModules(corpus.modulesDir)].length + 1);
  assert.equal(db.meta.kernel, corpus.version);
});

test('module homonyms == readelf -sW (every 25th module): sympos by an independent count, offset, size, .symtab neighbours, a fingerprint', () => {
  const modules = [...walkModules(corpus.modulesDir)];
  let compared = 0;
  for (let i = 0; i < modules.length; i += 25) {
    const path = modules[i]!;
    const object = db.objects[db.objects.findIndex((o) => o.source === path)]!.name;
    // The module's table as the kernel's kallsyms walk sees it: every defined entry, in order.
    const table = readelfSymbols(path).filter((y) => y.table === '.symtab' && y.ndx !== 'UND');
    const counts = new Map<string, number>();
    for (const y of table) if (y.type !== 'SECTION') counts.set(y.name, (counts.get(y.name) ?? 0) + 1);
    const seen = new Map<string, number>();
    table.forEach((y, k) => {
      if (y.type === 'SECTION') return;
      const n = (seen.get(y.name) ?? 0) + 1;
      seen.set(y.name, n);
      if (counts.get(y.name)! < 2 || y.name === '') return;
      const defs = db.lookup(y.name).filter((d) => d.object === object);
      const what = `${object} ${y.name} #${n}`;
      assert.equal(defs.length, counts.get(y.name), what);
      const d = defs[n - 1]!;
      assert.equal(d.sympos, n, what);
      assert.deepEqual([d.offset, d.size], [Number(y.value), y.size], what);
      const named = (x: (typeof table)[number] | undefined): string | null => (x && x.name !== '' && x.type !== 'SECTION' ? x.name : null);
      assert.deepEqual(db.neighbours(d).table, [named(table[k - 1]), named(table[k + 1])], what);
      if (y.size > 0 && y.type === 'FUNC') assert.ok(d.hash !== null, `${what}: a function homonym has a fingerprint`);
      compared++;
    });
  }
  assert.ok(compared > 300, `${compared} duplicated module definitions compared`);
});

test('names duplicated across objects: one definition per object, each with its own sympos', () => {
  const defs = db.lookup('active_show');
  assert.deepEqual(defs.filter((d) => d.object === 'vmlinux').map((d) => d.sympos), [1, 2]);
  assert.ok(defs.some((d) => d.object !== 'vmlinux'), 'also defined in modules');
  for (const d of defs.filter((x) => x.object !== 'vmlinux')) assert.equal(d.sympos, 0, `${d.object} has one`);
});

test('exports read from the vmlinuz image == Module.symvers (name, type, namespace)', async () => {
  const k = await decompressBzImage(readFileSync(vmlinuz), vmlinuz);
  const fromImage = vmlinuxExports(readElf(k.image, { path: vmlinuz })).map((e) => `${e.name}|${e.type}|${e.namespace}`).sort();
  const fromSymvers = parseSymvers(readFileSync(symvers, 'latin1'), symvers).filter((e) => e.object === 'vmlinux').map((e) => `${e.name}|${e.type}|${e.namespace}`).sort();
  assert.ok(fromImage.length > 10000);
  assert.deepEqual(fromImage, fromSymvers);
});

test('without Module.symvers, exports read from the image and each module\'s __ksymtab == Module.symvers', async () => {
  const { db: own } = await buildDatabase({ vmlinuz, modules: corpus.modulesDir });
  assert.match(own.meta.exportsFrom ?? '', /vmlinuz __ksymtab, module __ksymtab/);
  const fromSymvers = parseSymvers(readFileSync(symvers, 'latin1'), symvers);
  let checked = 0;
  for (const e of fromSymvers) {
    const d = own.lookup(e.name).find((x) => x.object === e.object && x.exported);
    assert.ok(d, `${e.object}:${e.name}`);
    assert.equal(d.exportType, e.type);
    assert.equal(d.namespace, e.namespace);
    checked++;
  }
  assert.equal(checked, fromSymvers.length);
  assert.ok(checked > 20000, `${checked} exports`);
});

test('the database file round-trips and answers the same', () => {
  const again = SymbolDb.load(db.serialize(), 'debian.klpdb');
  for (const name of ['active_show', 'init_module', 'saved_command_line', 'nfs_fs_type']) {
    assert.deepEqual(again.lookup(name), db.lookup(name), name);
  }
});

test('read in part from the file, the rows of names found by a search each and by one walk answer as the whole database', () => {
  const { dir, cleanup } = tempDir('klpkit-part-');
  try {
    const path = join(dir, 'debian.klpdb');
    writeFileSync(path, db.serialize());
    // Names of one row and of thousands (`__this_module`, `init_module`: one a module), the
    // first and last in the table's order, and names it does not hold.
    const names = new Set(['__this_module', 'init_module', 'cleanup_module', '_printk', '__fentry__', 'active_show', 'no_such_symbol', '!', '\xff']);
    for (const [o, step] of [['vmlinux', 997], ['e1000e', 101], ['ext4', 101], ['xfs', 101]] as const) {
      const syms = db.objectSymbols(o);
      // (A module's table starts with its unnamed symbol, which nobody looks up.)
      for (let i = 0; i < syms.length; i += step) if (syms[i]!.name !== '') names.add(syms[i]!.name);
    }
    let rows = 0;
    for (const walk of [false, true]) {
      const file = DbFile.open(path)!;
      const part = file.rowsFor(names, () => assert.fail('a name asked was not answered from the rows read'), { walk })!;
      file.close();
      for (const n of names) {
        assert.deepEqual(part.lookup(n), db.lookup(n), `${n} (${walk ? 'walk' : 'search'})`);
        rows += db.lookup(n).length;
      }
      for (const o of ['vmlinux', 'e1000e', 'nothing']) assert.equal(part.hasExports(o), db.hasExports(o), o);
    }
    assert.ok(rows > 2 * 10000, `${rows / 2} rows compared`);
  } finally {
    cleanup();
  }
});

test('stripped Debian modules get their units from the debug package (--debug), as readelf reads the debug copies', async () => {
  const members = ['arch/x86/events/intel/intel-uncore.ko', 'arch/x86/crypto/sha256-ssse3.ko'];
  const debugDir = execFileSync(join(ROOT, 'scripts/fetch-debug.sh'), ['amd64', ...members], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const { dir, cleanup } = tempDir('klpkit-debug-units-');
  try {
    for (const m of members) {
      mkdirSync(join(dir, m, '..'), { recursive: true });
      copyFileSync(join(corpus.modulesDir, m), join(dir, m));
      assert.equal(readelfSymbols(join(dir, m)).filter((y) => y.type === 'FILE').length, 0, `${m}: the packaged module has no STT_FILE symbols`);
    }
    const { db: withUnits, failures: f } = await buildDatabase({ modules: dir, debug: debugDir });
    assert.deepEqual(f, []);
    let compared = 0;
    let byDwarf = 0;
    for (const m of members) {
      const object = m.slice(m.lastIndexOf('/') + 1, -'.ko'.length).replace(/-/g, '_');
      // The oracle: in the debug copy's .symtab, a local symbol's unit is the last FILE before it.
      let unit: string | null = null;
      const expected = new Map<string, string | null>();
      for (const y of readelfSymbols(join(debugDir, m)).filter((x) => x.table === '.symtab' && x.ndx !== 'UND')) {
        if (y.type === 'FILE') { unit = y.name; continue; }
        if (y.bind !== 'LOCAL') unit = null;
        if (y.bind === 'LOCAL' && y.name !== '' && y.type !== 'SECTION') {
          const key = `${y.name}@${y.value}`;
          expected.set(key, expected.has(key) && expected.get(key) !== unit ? null : unit);
        }
      }
      for (const y of readelfSymbols(join(dir, m)).filter((x) => x.table === '.symtab' && x.ndx !== 'UND' && x.bind === 'LOCAL' && x.name !== '' && x.type !== 'SECTION')) {
        const want = expected.get(`${y.name}@${y.value}`);
        if (want === undefined || want === null) continue;
        const got = withUnits.lookup(y.name).filter((d) => d.object === object && d.offset === Number(y.value) && d.size === y.size);
        // The STT_FILE name; a homonym's unit is DWARF's path, which ends with it.
        assert.ok(got.length >= 1 && got.every((d) => d.file === want || d.file?.endsWith(`/${want}`)), `${object} ${y.name}: ${got.map((d) => d.file).join(',')} != ${want}`);
        compared++;
      }
      // The homonyms' paths: the unit whose DW_TAG_subprogram or DW_TAG_variable of that name
      // readelf --debug-dump=info shows at that offset (where one unit has it there).
      const dw = readelfDwarfPlaces(join(debugDir, m));
      const cus = new Map<string, Set<string>>();
      for (const p of dw.places) {
        const k = `${p.name}@${p.at}`;
        if (!cus.has(k)) cus.set(k, new Set());
        cus.get(k)!.add(dw.units[p.unit]!);
      }
      const seen = new Map<string, number>();
      for (const y of readelfSymbols(join(dir, m)).filter((x) => x.table === '.symtab' && x.ndx !== 'UND' && x.name !== '')) seen.set(y.name, (seen.get(y.name) ?? 0) + 1);
      for (const [name, count] of seen) {
        if (count < 2) continue;
        for (const d of withUnits.lookup(name).filter((x) => x.object === object && x.binding === 'local')) {
          const units = cus.get(`${name}@${d.offset}`);
          if (!units || units.size !== 1) continue;
          assert.equal(d.file, [...units][0], `${object} ${name},${d.sympos}`);
          byDwarf++;
        }
      }
    }
    assert.ok(compared > 500, `${compared} local symbols compared`);
    assert.ok(byDwarf > 30, `${byDwarf} homonyms compared with readelf's DWARF`);
    // Four macro-made functions of one size, told apart by their units only.
    assert.deepEqual(withUnits.lookup('__uncore_edge_show').filter((d) => d.object === 'intel_uncore').map((d) => `${d.sympos}:${d.file}`),
      ['1:arch/x86/events/intel/uncore_nhmex.c', '2:arch/x86/events/intel/uncore_snb.c', '3:arch/x86/events/intel/uncore_snbep.c', '4:arch/x86/events/intel/uncore_discovery.c']);
    // The same units from the .deb itself, read in one pass, left packed, the walk ended once
    // both modules were found: every symbol of both modules defined the same way.
    const debDir = debugDir.slice(0, debugDir.indexOf('/root-'));
    const deb = join(debDir, readdirSync(debDir).find((f) => f.endsWith('.deb'))!);
    const { db: fromDeb, failures: f2 } = await buildDatabase({ modules: dir, debug: deb });
    assert.deepEqual(f2, []);
    const names = new Set(members.flatMap((m) => readelfSymbols(join(dir, m)).filter((y) => y.table === '.symtab' && y.name !== '').map((y) => y.name)));
    assert.ok(names.size > 500);
    for (const n of names) assert.deepEqual(fromDeb.lookup(n), withUnits.lookup(n), n);
    // A module whose build id is not its debug copy's (another build): refused by name, both ways.
    const other = join(dir, members[1]!);
    const elf = readElf(readFileSync(other), { path: other });
    const note = elf.findSectionByName('.note.gnu.build-id')!;
    const bytes = Buffer.from(readFileSync(other));
    bytes[Number(note.offset) + note.size - 1]! ^= 0xff;
    writeFileSync(other, bytes);
    for (const debug of [debugDir, deb]) {
      const { failures: f3 } = await buildDatabase({ modules: dir, debug });
      assert.equal(f3.length, 1, debug);
      assert.match(f3[0]!.message, /the debug copy of sha256_ssse3 is from another build \(build id [0-9a-f]{40}; .*sha256-ssse3\.ko has [0-9a-f]{40}\): its units are not used/);
    }
  } finally {
    cleanup();
  }
});
