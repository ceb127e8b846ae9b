/**
 * Remember and verify: klp convert records which homonym each `.klp.sym` binds to, by
 * compilation unit, in `.klpkit.bindings` (not SHF_ALLOC: never loaded); klp check --db/--dbs
 * compares that with each build. The fixture module is linked twice more: with its two units
 * in the other order (the homonym's sympos moves), and with a third unit that defines a second
 * `counter_b` (a unique name becomes ambiguous).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { readElf, writeElf } from '../../src/elf/index.js';
import { BINDINGS_SECTION, readBindings, writeBindings, type Binding } from '../../src/klp/bindings.js';
import { klp } from '../helpers/cli.js';
import { fixtureDb } from '../helpers/fixture-db.js';
import { readelfComplaints, readelfSections } from '../helpers/readelf.js';
import { buildObject, FIXTURE_SRC, run } from '../helpers/tools.js';
import { readelfSymbols } from '../helpers/readelf.js';
import { fixtures } from '../helpers/fixtures.js';

const { dir, dbFile, kallsyms, symvers } = await fixtureDb('bindings');
const patch = buildObject(dir, ['lp_main.c'], 'lp_amb.o', ['-DLP_AMBIGUOUS']);

/**
 * A database of another build of fixture_mod, linked from `units` (compiled with `cflags`), its
 * STT_FILE symbols stripped if `stripUnits` (as Debian's packaged modules are).
 */
function otherBuild(name: string, units: string[], cflags: string[] = [], stripUnits = false): string {
  const modules = join(dir, name);
  mkdirSync(modules, { recursive: true });
  const ko = buildObject(modules, units, 'fixture_mod.ko', cflags);
  if (stripUnits) run('objcopy', ['--wildcard', '--strip-symbol=*.c', ko]);
  const db = join(dir, `${name}.klpdb`);
  const b = klp('symbols', 'build', '--kallsyms', kallsyms, '--symvers', symvers, '--modules', modules, '-o', db, '--quiet');
  assert.equal(b.status, 0, b.stderr);
  return db;
}

test('convert records each binding with its unit and intent, in a section the loader never loads; check verifies it on each build', () => {
  const out = join(dir, 'lp_amb.klp.o');
  const c = klp('convert', patch, '--db', dbFile, '--sym', 'homonym=fixture_mod@mod_b.c', '-o', out);
  assert.equal(c.status, 0, c.stderr);
  const sec = readelfSections(out).find((s) => s.name === BINDINGS_SECTION);
  assert.ok(sec, 'the section is there');
  assert.ok(!sec.flags.includes('A'), `not SHF_ALLOC: ${sec.flags}`);
  const bindings = readBindings(readElf(readFileSync(out), { path: out }));
  const homonym = bindings.find((b) => b.name === 'homonym');
  const { hash, ...rest } = homonym!;
  const size = readelfSymbols(fixtures().module).filter((y) => y.table === '.symtab' && y.name === 'homonym')[1]!.size;
  assert.deepEqual(rest, { object: 'fixture_mod', name: 'homonym', sympos: 2, homonyms: 2, section: '.text.homonym', unit: 'mod_b.c', intent: '--sym homonym=fixture_mod@mod_b.c', size });
  assert.ok(typeof hash === 'number' && hash > 0, 'the fingerprint of the bytes it binds to');
  const counter = bindings.find((b) => b.name === 'counter_b');
  assert.equal(counter?.sympos, 0);
  assert.equal(counter?.unit, 'mod_b.c');

  // The build it was converted for: nothing to say about the bindings.
  const same = klp('check', out, '--db', dbFile);
  assert.doesNotMatch(same.stdout + same.stderr, /\.klpkit\.bindings/);

  // The units linked the other way round: sympos 2 is now mod_a.c's homonym.
  const swapped = otherBuild('swapped', ['mod_b.c', 'mod_a.c']);
  const moved = klp('check', out, '--db', swapped);
  assert.equal(moved.status, 1, moved.stdout);
  assert.match(moved.stdout, /sympos 2 of 'homonym' in fixture_mod is the definition from mod_a\.c on this build; the patch was converted for the one from mod_b\.c \(--sym homonym=fixture_mod@mod_b\.c\)/);
  assert.match(moved.stdout, /convert again with --sym homonym=fixture_mod@mod_b\.c \(sympos 1 on this build\)/);

  // The same, on a build stripped of its units (as Debian strips its modules): the fingerprint
  // finds the code the patch was converted for at its new place (linked elsewhere, same bytes).
  const strippedSwap = otherBuild('swapped-stripped', ['mod_b.c', 'mod_a.c'], [], true);
  assert.equal(readelfSymbols(join(dir, 'swapped-stripped', 'fixture_mod.ko')).filter((y) => y.type === 'FILE').length, 0, 'no STT_FILE left');
  const byBytes = klp('check', out, '--db', strippedSwap);
  assert.equal(byBytes.status, 1, byBytes.stdout);
  assert.match(byBytes.stdout, /error: \.klpkit\.bindings: fixture_mod:homonym,2: sympos 2 of 'homonym' in fixture_mod has other code on this build than the definition the patch was converted for \(--sym homonym=fixture_mod@mod_b\.c\); that code is sympos 1 here/);
  assert.match(byBytes.stdout, /convert again with --sym homonym=fixture_mod,1 for this build/);

  // The homonym's own code changed (same unit, same place): the bytes say so.
  const changed = otherBuild('changed', ['mod_a.c', 'mod_b.c'], ['-DMOD_B_CHANGED']);
  const edited = klp('check', out, '--db', changed);
  assert.equal(edited.status, 1, edited.stdout);
  assert.match(edited.stdout, /error: \.klpkit\.bindings: fixture_mod:homonym,2: the code of 'homonym' \(sympos 2, from mod_b\.c\) in fixture_mod is not the code the patch was converted against \(fingerprint [0-9a-f]{8}, on this build [0-9a-f]{8}\)/);
  // A build with the same code, the units in the same order: nothing to say.
  const rebuilt = otherBuild('rebuilt', ['mod_a.c', 'mod_b.c']);
  assert.doesNotMatch(klp('check', out, '--db', rebuilt).stdout, /\.klpkit\.bindings/);

  // A third unit with its own static counter_b: sympos 0 would be refused by the kernel.
  const third = join(dir, 'mod_c.c');
  writeFileSync(third, 'static int counter_b __attribute__((used)) = 7;\nint mod_c_entry(void) { return counter_b; }\n');
  const crowded = otherBuild('crowded', ['mod_a.c', 'mod_b.c', relative(FIXTURE_SRC, third)]);
  const amb = klp('check', out, '--db', crowded, '--json');
  assert.equal(amb.status, 1, amb.stdout);
  const findings = (JSON.parse(amb.stdout) as { findings: Array<{ code: string; message: string; hint: string }> }).findings;
  const f = findings.find((x) => x.code === 'BINDING_NOW_AMBIGUOUS');
  assert.ok(f, JSON.stringify(findings, null, 1));
  assert.match(f.message, /'counter_b' was unique in fixture_mod when the patch was converted \(from mod_b\.c\); this build has 2 definitions/);
  assert.match(f.hint, /--sym counter_b=fixture_mod@mod_b\.c \(sympos \d on this build\)/);

  // Every build at once: the one that moved and the one that grew are named.
  const many = join(dir, 'dbs');
  mkdirSync(many, { recursive: true });
  for (const [n, f2] of [['a', dbFile], ['b', swapped], ['c', crowded]]) writeFileSync(join(many, `${n}.klpdb`), readFileSync(f2!));
  const all = klp('check', out, '--dbs', many);
  assert.equal(all.status, 1, all.stdout);
  assert.match(all.stdout, /sympos 2 of 'homonym' in fixture_mod is the definition from mod_a\.c on this build/);
  assert.match(all.stdout, /^a\.klpdb +\S+ +loads/m);
  assert.match(all.stdout, /^c\.klpdb +\S+ +fails +unresolvable ambiguity for symbol 'counter_b'/m);
});

test('bindings whose names hold a tab, a newline or a backslash read back as written', () => {
  // A module's symbol names may hold any byte but NUL: the section a conversion writes must be one
  // that klp check can read again, whatever the names.
  const elf = readElf(readFileSync(patch), { path: patch });
  const list: Binding[] = [
    { object: 'mod\tx', name: 'a\tb\nc\\d', sympos: 2, homonyms: 2, section: '.text\tq', unit: 'x\\y.c', intent: '--sym a=mod@x\\y.c', size: 16, hash: 0xdeadbeef },
    { object: 'vmlinux', name: '-', sympos: 0, homonyms: 1, section: null, unit: null, intent: 'unique', size: null, hash: null },
  ];
  writeBindings(elf, list);
  assert.deepEqual(readBindings(elf), list);
  const out = join(dir, 'escaped-bindings.o');
  writeFileSync(out, writeElf(elf));
  assert.deepEqual(readBindings(readElf(readFileSync(out), { path: out })), list);
});

test('a damaged bindings section is a one-line error naming the file and the line', () => {
  const out = join(dir, 'lp_amb.klp.o');
  const elf = readElf(readFileSync(out), { path: out });
  const sec = elf.findSectionByName(BINDINGS_SECTION)!;
  sec.setData(new TextEncoder().encode('klpkit bindings 1\nfixture_mod\thomonym\ttwo\n'));
  const bad = join(dir, 'bad-bindings.o');
  writeFileSync(bad, writeElf(elf));
  const r = klp('check', bad, '--db', dbFile);
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /^klp: error: .*bad-bindings\.o:2: section \.klpkit\.bindings: expected 7 tab-separated fields/m);
});

test('KLP_SYMUNIT in the source chooses the homonym by unit: its sympos follows each build, the annotation goes, the intent is recorded', () => {
  const byUnit = buildObject(dir, ['lp_main.c'], 'lp_unit.o', ['-DLP_AMBIGUOUS', '-DLP_BY_UNIT']);
  const swapped = otherBuild('swapped-unit', ['mod_b.c', 'mod_a.c']);
  for (const [db, pos] of [[dbFile, 2], [swapped, 1]] as const) {
    const out = join(dir, `lp_unit-${pos}.klp.o`);
    const c = klp('convert', byUnit, '--db', db, '-o', out);
    assert.equal(c.status, 0, c.stderr);
    const elf = readElf(readFileSync(out), { path: out });
    assert.ok(!elf.sections.some((s) => s.name.startsWith('.klp.module_units.')), 'the annotation is removed');
    assert.ok(elf.symbols(elf.symtab!).some((y) => y.name === `.klp.sym.fixture_mod.homonym,${pos}`), `sympos ${pos} on this build`);
    const b = readBindings(elf).find((x) => x.name === 'homonym');
    assert.deepEqual([b?.sympos, b?.unit, b?.intent], [pos, 'mod_b.c', 'KLP_SYMUNIT(homonym, "mod_b.c")']);
    assert.deepEqual(readelfComplaints(out), []);
  }
  // A unit no definition comes from: refused, with the definitions listed.
  const wrong = buildObject(dir, ['lp_main.c'], 'lp_unit_wrong.o', ['-DLP_AMBIGUOUS', '-DLP_BY_UNIT', '-DLP_UNIT="mod_c.c"']);
  const w = klp('convert', wrong, '--db', dbFile, '-o', join(dir, 'never.o'));
  assert.equal(w.status, 1, w.stdout);
  assert.match(w.stderr, /KLP_SYMUNIT\(homonym, "mod_c\.c"\) in \.klp\.module_units\.fixture_mod: no definition\(s\) of 'homonym' in fixture_mod come from a unit matching 'mod_c\.c'/);
  assert.match(w.stderr, /fixture_mod sympos 2 in \.text\.homonym\+0x[0-9a-f]+ size 0x[0-9a-f]+ from mod_b\.c/);
  assert.ok(!existsSync(join(dir, 'never.o')), 'nothing written');
});

test('a stripped build gets its units from its unstripped copies (--debug): choosing a homonym by file works on it', () => {
  // The distribution side is stripped of its STT_FILE symbols, as Debian strips its modules; the
  // debug side is the same build unstripped. Linked with mod_b.c first: its homonym is sympos 1.
  const dist = join(dir, 'dist');
  const debug = join(dir, 'debug');
  mkdirSync(dist, { recursive: true });
  mkdirSync(debug, { recursive: true });
  const ko = buildObject(debug, ['mod_b.c', 'mod_a.c'], 'fixture_mod.ko');
  run('objcopy', ['--wildcard', '--strip-symbol=*.c', ko, join(dist, 'fixture_mod.ko')]);
  const dbs = { bare: join(dir, 'dist.klpdb'), debug: join(dir, 'dist-debug.klpdb') };
  assert.equal(klp('symbols', 'build', '--kallsyms', kallsyms, '--symvers', symvers, '--modules', dist, '-o', dbs.bare, '--quiet').status, 0);
  const b = klp('symbols', 'build', '--kallsyms', kallsyms, '--symvers', symvers, '--modules', dist, '--debug', debug, '-o', dbs.debug, '--quiet');
  assert.equal(b.status, 0, b.stderr);
  // Without the debug side the units are unknown, and a choice by file is refused.
  const blind = klp('convert', patch, '--db', dbs.bare, '--sym', 'homonym=fixture_mod@mod_b.c', '--dry-run');
  assert.equal(blind.status, 1, blind.stdout);
  assert.match(blind.stderr, /no definition\(s\) of 'homonym' in fixture_mod come from a unit matching 'mod_b\.c'/);
  // With it, the stripped build's homonyms have their units, and the choice gives sympos 1.
  const rows = klp('symbols', 'find', 'homonym', '--db', dbs.debug).stdout.split('\n').filter((l) => l.startsWith('fixture_mod'));
  assert.match(rows[0]!, /^fixture_mod +1 +2 .* from mod_b\.c$/);
  assert.match(rows[1]!, /^fixture_mod +2 +2 .* from mod_a\.c$/);
  const seen = klp('convert', patch, '--db', dbs.debug, '--sym', 'homonym=fixture_mod@mod_b.c', '--dry-run', '--json');
  assert.equal(seen.status, 0, seen.stderr);
  const plan = (JSON.parse(seen.stdout) as { plan: Array<{ symbol: string; sympos: number; file: string | null }> }).plan.filter((p) => p.symbol === 'homonym');
  assert.ok(plan.length > 0 && plan.every((p) => p.sympos === 1 && p.file === 'mod_b.c'), JSON.stringify(plan));
  assert.match(klp('symbols', 'info', '--db', dbs.debug).stdout, /debug: /);
  // --debug names the modules' copies: without --modules it has nothing to give units to.
  const alone = klp('symbols', 'build', '--kallsyms', kallsyms, '--debug', debug, '-o', join(dir, 'never.klpdb'));
  assert.equal(alone.status, 2);
  assert.match(alone.stderr, /--debug gives units to the modules of --modules \(and, from a \.deb, to vmlinux's symbols\): give --modules, or a vmlinux source with the \.deb/);
});

test('--debug takes the debug package itself: the units come out of the .deb in one pass, whatever its compression; a broken package is named', () => {
  const dist = join(dir, 'dist');
  const debug = join(dir, 'debug');
  const rows = (db: string): string[] => klp('symbols', 'find', 'homonym', '--db', db).stdout.split('\n').filter((l) => l.startsWith('fixture_mod'));
  const fromDir = rows(join(dir, 'dist-debug.klpdb'));
  assert.equal(fromDir.length, 2);
  // A package laid out as Debian's -dbg packages are.
  const pkg = join(dir, 'pkg');
  const kdir = join(pkg, 'usr/lib/debug/lib/modules/6.1.0-99-amd64/kernel/drivers');
  mkdirSync(join(pkg, 'DEBIAN'), { recursive: true });
  mkdirSync(kdir, { recursive: true });
  writeFileSync(join(pkg, 'DEBIAN/control'), 'Package: fixture-dbg\nVersion: 1\nArchitecture: amd64\nMaintainer: klpkit <klpkit@example.org>\nDescription: fixture\n');
  copyFileSync(join(debug, 'fixture_mod.ko'), join(kdir, 'fixture_mod.ko'));
  for (const z of ['xz', 'gzip', 'zstd']) {
    const deb = join(dir, `fixture-dbg-${z}.deb`);
    run('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', pkg, deb]);
    const db = join(dir, `deb-${z}.klpdb`);
    const b = klp('symbols', 'build', '--kallsyms', kallsyms, '--symvers', symvers, '--modules', dist, '--debug', deb, '-o', db, '--quiet');
    assert.equal(b.status, 0, `${z}: ${b.stderr}`);
    assert.deepEqual(rows(db), fromDir, z);
  }
  // Cut short: named, with the place, nothing written.
  const whole = readFileSync(join(dir, 'fixture-dbg-xz.deb'));
  const cut = join(dir, 'cut.deb');
  writeFileSync(cut, whole.subarray(0, whole.length - 200));
  const c = klp('symbols', 'build', '--kallsyms', kallsyms, '--modules', dist, '--debug', cut, '-o', join(dir, 'never.klpdb'));
  assert.equal(c.status, 2, c.stdout);
  assert.match(c.stderr, /cut\.deb \(offset 0x[0-9a-f]+\): .*(runs past the end|ends inside)/);
  assert.ok(!existsSync(join(dir, 'never.klpdb')));
  // Damaged inside the compressed data: xz's own words, the member named, nothing written.
  const bad = Buffer.from(whole);
  for (let i = 0; i < 64; i++) bad[Math.floor(whole.length / 2) + i]! ^= 0x55;
  writeFileSync(cut, bad);
  const d = klp('symbols', 'build', '--kallsyms', kallsyms, '--modules', dist, '--debug', cut, '-o', join(dir, 'never.klpdb'));
  assert.equal(d.status, 2, d.stdout);
  assert.match(d.stderr, /cut\.deb(: data\.tar\.xz)? \(offset 0x[0-9a-f]+\): .*(xz|runs past the end|ends inside)/);
  assert.ok(!existsSync(join(dir, 'never.klpdb')));
  // Not a package at all.
  const n = klp('symbols', 'build', '--kallsyms', kallsyms, '--modules', dist, '--debug', join(dist, 'fixture_mod.ko'), '-o', join(dir, 'never.klpdb'));
  assert.equal(n.status, 2, n.stdout);
  assert.match(n.stderr, /fixture_mod\.ko \(offset 0x0\): not a Debian package \(no ar header\)/);
  assert.doesNotMatch(n.stderr, /\n\s+at /, 'no stack trace');
});
