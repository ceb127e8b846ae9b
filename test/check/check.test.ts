/**
 * klp check on gcc-built livepatch fixtures converted by klp convert, and on broken variants of
 * them: every finding names the place, the kernel's own message, and whether the kernel catches it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkModule, findObjectSymbol } from '../../src/check/check.js';
import { convertModule } from '../../src/convert/convert.js';
import { readElf, SHF, SHN, writeElf, type ElfFile } from '../../src/elf/index.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { klp } from '../helpers/cli.js';
import { fixtureDb } from '../helpers/fixture-db.js';
import { buildObject, ROOT } from '../helpers/tools.js';

const { dir, db, dbFile, kallsyms, symvers } = await fixtureDb('check');
const { db: vmOnly } = await buildDatabase({ kallsyms, symvers });
const raw = buildObject(dir, ['lp_main.c'], 'lp.o');
const converted = (() => {
  const elf = readElf(readFileSync(raw), { path: raw });
  assert.deepEqual(convertModule(elf, { db }).problems, []);
  const out = join(dir, 'lp.klp.o');
  writeFileSync(out, writeElf(elf));
  return out;
})();
const load = (p: string): ElfFile => readElf(readFileSync(p), { path: p });
const codes = (e: ElfFile, d = db): string[] => checkModule(e, { db: d }).findings.filter((f) => f.severity === 'error').map((f) => f.code).sort();

test('a converted patch loads cleanly; every relocation and klp_func is resolved', () => {
  const r = checkModule(load(converted), { db });
  assert.deepEqual(r.findings.filter((f) => f.severity === 'error'), []);
  const byName = Object.fromEntries(r.resolved.map((x) => [`${x.kind}:${x.object}:${x.name}`, `${x.sympos} ${x.status} ${x.address}`]));
  assert.equal(byName['relocation:vmlinux:nr_processes'], '0 ok 0xffffffff8109de70');
  assert.equal(byName['relocation:fixture_mod:homonym'], '2 ok null');
  assert.equal(byName['func:vmlinux:cmdline_proc_show'], '0 ok 0xffffffff814105a0');
  assert.equal(byName['func:fixture_mod:mod_a_entry'], '0 ok null');
  assert.ok(r.findings.some((f) => f.code === 'AMBIGUOUS_BY_SYMPOS' && f.message.includes("'homonym' has 2 definitions in fixture_mod")));
});

test('the unconverted patch: unknown symbols, as the loader would print them', () => {
  const r = checkModule(load(raw), { db });
  const unknown = r.findings.filter((f) => f.code === 'UNKNOWN_SYMBOL').map((f) => f.message).sort();
  assert.ok(unknown.includes('Unknown symbol nr_processes (err -2)'));
  assert.ok(unknown.includes('Unknown symbol homonym (err -2)'));
});

test('kernel messages for sympos problems (klp_find_object_symbol)', () => {
  assert.deepEqual(findObjectSymbol(db, 'vmlinux', 'active_show', 0), { ok: false, message: "unresolvable ambiguity for symbol 'active_show' in object '(null)'" });
  assert.deepEqual(findObjectSymbol(db, 'vmlinux', 'active_show', 3), { ok: false, message: "symbol position 3 for symbol 'active_show' in object 'vmlinux' not found" });
  assert.deepEqual(findObjectSymbol(db, 'vmlinux', 'nope', 0), { ok: false, message: "symbol 'nope' not found in symbol table" });
  assert.deepEqual(findObjectSymbol(db, 'vmlinux', 'nr_processes', 1), { ok: true, address: 0xffffffff8109de70n }, 'sympos 1 accepted for a unique name');
  // A same-named __init symbol exists only while the module is COMING.
  assert.equal(findObjectSymbol(db, 'fixture_mod', 'shared_setup', 2, 'coming').ok, true);
  assert.equal(findObjectSymbol(db, 'fixture_mod', 'shared_setup', 2, 'core').ok, false);
});

test('broken variants: each one found, with whether the kernel catches it', () => {
  const noFlag = load(converted);
  for (const s of noFlag.sections) if (s.isLivepatchRela) s.flags &= ~SHF.RELA_LIVEPATCH;
  assert.deepEqual(codes(readElf(writeElf(noFlag), { path: 'x' })), ['NO_RELA_LIVEPATCH_FLAG', 'NO_RELA_LIVEPATCH_FLAG', 'NO_RELA_LIVEPATCH_FLAG', 'NO_RELA_LIVEPATCH_FLAG', 'NO_RELA_LIVEPATCH_FLAG']);

  const undeclared = load(converted);
  const s = undeclared.sections.find((x) => x.name === '.klp.rela.fixture_mod..text.unlikely')!;
  undeclared.renameSection(s, '.klp.rela.othermod..text.unlikely');
  const r = checkModule(readElf(writeElf(undeclared), { path: 'x' }), { db });
  const f = r.findings.find((x) => x.code === 'UNDECLARED_OBJECT')!;
  assert.equal(f.kernelCatches, false);
  assert.match(f.message, /object 'othermod', which is not among the patch's klp_objects \(vmlinux, fixture_mod\)/);

  const wrongPos = load(converted);
  wrongPos.findSymbolByName('.klp.sym.fixture_mod.homonym,2')!.name = '.klp.sym.fixture_mod.homonym,5';
  const w = checkModule(readElf(writeElf(wrongPos), { path: 'x' }), { db });
  assert.ok(w.findings.some((x) => x.code === 'UNRESOLVED' && x.message === "symbol position 5 for symbol 'homonym' in object 'fixture_mod' not found" && x.kernelCatches));

  const notKlp = load(converted);
  notKlp.findSymbolByName('.klp.sym.vmlinux.nr_processes,0')!.shndx = SHN.UNDEF;
  assert.ok(codes(readElf(writeElf(notKlp), { path: 'x' })).includes('NOT_LIVEPATCH_SYMBOL'));

  const badName = load(converted);
  badName.findSymbolByName('.klp.sym.vmlinux.nr_processes,0')!.name = '.klp.sym.vmlinux.nr_processes';
  assert.ok(codes(readElf(writeElf(badName), { path: 'x' })).includes('BAD_SYMBOL_NAME'));

  const dirty = load(converted);
  const t = dirty.findSectionByName('.text.livepatch_cmdline_proc_show')!;
  const rel = dirty.relocations(dirty.findSectionByName('.klp.rela.vmlinux..text.livepatch_cmdline_proc_show')!)[0]!;
  const d = t.data.slice();
  d[Number(rel.offset)] = 0x42;
  t.setData(d);
  assert.ok(codes(readElf(writeElf(dirty), { path: 'x' })).includes('NONZERO_TARGET'));
});

test('a module object missing from the database is late, not an error', () => {
  const r = checkModule(load(converted), { db: vmOnly });
  assert.deepEqual(r.findings.filter((f) => f.severity === 'error'), []);
  assert.ok(r.findings.some((f) => f.code === 'LATE_OBJECT' && f.where === 'fixture_mod'));
  assert.ok(r.resolved.filter((x) => x.object === 'fixture_mod').every((x) => x.status === 'late'));
});

test('klp check CLI: exit 0 clean, 1 will fail, 2 bad input; --json', () => {
  assert.equal(klp('check', converted, '--db', dbFile).status, 0);
  const bad = klp('check', raw, '--db', dbFile);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /result: will NOT load cleanly/);
  const j = JSON.parse(klp('check', converted, '--db', dbFile, '--json').stdout) as { resolved: unknown[]; findings: unknown[]; objects: Array<{ name: string; present: boolean }> };
  assert.deepEqual(j.objects, [{ name: 'vmlinux', present: true }, { name: 'fixture_mod', present: true }]);
  assert.ok(j.resolved.length >= 11);
  const notElf = join(dir, 'not.ko');
  writeFileSync(notElf, 'nope');
  assert.equal(klp('check', notElf, '--db', dbFile).status, 2);
});

test('klp check --dbs: one patch against several kernel builds, one summary table', async () => {
  const dbs = join(dir, 'dbs');
  mkdirSync(dbs, { recursive: true });
  writeFileSync(join(dbs, 'a-full.klpdb'), db.serialize());
  const withoutNr = join(dir, 'kallsyms-no-nr.txt');
  writeFileSync(withoutNr, readFileSync(kallsyms, 'latin1').split('\n').filter((l) => !l.endsWith(' nr_processes')).join('\n'));
  const { db: older } = await buildDatabase({ kallsyms: withoutNr, symvers, modules: join(dir, 'modules') });
  writeFileSync(join(dbs, 'b-no-nr.klpdb'), older.serialize());
  const r = klp('check', converted, '--dbs', dbs);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /a-full\.klpdb\s+\S+\s+loads/);
  assert.match(r.stdout, /b-no-nr\.klpdb\s+\S+\s+fails\s+symbol 'nr_processes' not found in symbol table/);
  assert.match(r.stdout, /1 of 2 kernel builds load it cleanly/);
  const j = JSON.parse(klp('check', converted, '--dbs', dbs, '--json').stdout) as Array<{ verdict: string }>;
  assert.deepEqual(j.map((x) => x.verdict), ['loads', 'fails']);
  writeFileSync(join(dbs, 'c-broken.klpdb'), 'garbage');
  const b = klp('check', converted, '--dbs', dbs);
  assert.equal(b.status, 2);
  assert.match(b.stdout, /c-broken\.klpdb\s+\?\s+bad database/);
  // On every core (worker threads) or on one: the same table, in the databases' order.
  const one = klp('check', converted, '--dbs', dbs, '--json', '-j', '1');
  const two = klp('check', converted, '--dbs', dbs, '--json', '-j', '2');
  assert.equal(two.status, 2);
  assert.deepEqual(JSON.parse(two.stdout), JSON.parse(one.stdout));
  assert.deepEqual((JSON.parse(two.stdout) as Array<{ verdict: string }>).map((x) => x.verdict), ['loads', 'fails', 'bad database']);
  assert.equal(klp('check', converted, '--dbs', dbs, '-j', '0').status, 2, '-j 0 is refused');
});

test('klp check --design: the patch is also loaded in the loader emulator, under one design or all', () => {
  type Sim = { design: string; status: number; log: string[]; violations: number; flips: number };
  const ok = JSON.parse(klp('check', converted, '--db', dbFile, '--design', '6.1', '--json').stdout) as { simulations: Sim[] };
  assert.equal(ok.simulations.length, 1);
  assert.equal(ok.simulations[0]!.status, 0);
  assert.ok(ok.simulations[0]!.log.includes("livepatch: enabling patch 'lp_fixture'"));
  const all = JSON.parse(klp('check', converted, '--db', dbFile, '--design', 'all', '--json').stdout) as { simulations: Sim[] };
  assert.deepEqual(all.simulations.map((x) => [x.design, x.status]), [['4.x', 0], ['6.1', 0], ['6.3', 0], ['per-object', 0], ['per-object-ro', 0]]);
  // Before 5.8 the vmlinux relocations are written after the patch is read-only: flips, and plain
  // stores into executable memory; 5.8+ writes them while the module is still UNFORMED.
  assert.ok(all.simulations[0]!.flips > 0 && all.simulations[0]!.violations > 0);
  assert.ok(all.simulations.slice(1).every((x) => x.flips === 0 && x.violations === 0));
  const broken = load(converted);
  broken.findSymbolByName('.klp.sym.vmlinux.nr_processes,0')!.name = '.klp.sym.vmlinux.nr_processes,4';
  const path = join(dir, 'broken-design.o');
  writeFileSync(path, writeElf(broken));
  const r = klp('check', path, '--db', dbFile, '--design', '6.3');
  assert.equal(r.status, 1);
  // The kernel's lines as it prints them: the taints of the first out-of-tree, unsigned livepatch, then the refusal.
  assert.match(r.stdout, /emulated kernel, design 6\.3: insmod -> 22\b.*\n  lp_fixture: loading out-of-tree module taints kernel\.\n  lp_fixture: tainting kernel with TAINT_LIVEPATCH\n  lp_fixture: module verification failed: signature and\/or required key missing - tainting kernel\n  livepatch: symbol position 4 for symbol 'nr_processes' in object 'vmlinux' not found/);
  assert.equal(klp('check', converted, '--db', dbFile, '--design', '5.x').status, 2, 'unknown designs are refused');
});

test('one verdict per design: --design D and --design all agree for every design', () => {
  const raw2 = buildObject(dir, ['lp_main.c'], 'lp_novm.o', ['-DLP_NO_VMLINUX_OBJ']);
  const elf = load(raw2);
  assert.deepEqual(convertModule(elf, { db }).problems, []);
  const path = join(dir, 'lp_novm.klp.o');
  writeFileSync(path, writeElf(elf));
  const all = klp('check', path, '--db', dbFile, '--design', 'all');
  const allJson = JSON.parse(klp('check', path, '--db', dbFile, '--design', 'all', '--json').stdout) as { verdicts: Array<{ design: string; loadsCleanly: boolean }> };
  const each = allJson.verdicts.map((v) => [v.design, klp('check', path, '--db', dbFile, '--design', v.design).status === 0]);
  assert.deepEqual(allJson.verdicts.map((v) => [v.design, v.loadsCleanly]), each, 'the same design gives the same answer however it is asked');
  // Before 5.8 vmlinux relocations of a patch without a vmlinux klp_object are never applied.
  assert.deepEqual(each.find(([d]) => d === '4.x'), ['4.x', false]);
  assert.equal(all.status, 1, 'one design fails: --design all exits 1');
  assert.match(all.stdout, /verdict by design:\n  4\.x +will NOT load cleanly \(\d+ error\(s\)\): vmlinux relocations in a patch without a vmlinux klp_object/);
  assert.match(all.stdout, /\n  6\.1 +loads cleanly/);
});

test('klp check --with MODULE: the patch and the module it patches, in both orders, under each design', () => {
  const ex = join(ROOT, 'examples');
  const k = join(ex, 'kernel-6.1.0-56-amd64');
  const args = ['check', join(ex, 'late-patching/klpkit_patch.ko'), '--kallsyms', join(k, 'kallsyms.excerpt'), '--symvers', join(k, 'Module.symvers.excerpt')];
  const r = klp(...args, '--design', '6.1', '--with', join(ex, 'late-patching/klpkit_target.ko'), '--json');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const sims = (JSON.parse(r.stdout) as { simulations: Array<{ order: string[]; status: number; log: string[] }> }).simulations;
  assert.deepEqual(sims.map((s) => [s.order, s.status]), [[['klpkit_patch', 'klpkit_target'], 0], [['klpkit_target', 'klpkit_patch'], 0]]);
  assert.ok(sims[0]!.log.includes("livepatch: applying patch 'klpkit_patch' to loading module 'klpkit_target'"), 'late patching: the patch first');
  const text = klp(...args, '--design', '6.3', '--with', join(ex, 'late-patching/klpkit_target.ko'));
  assert.match(text.stdout, /emulated kernel, design 6\.3: insmod klpkit_patch, then klpkit_target -> 0 \(loaded\)/);
  assert.match(text.stdout, /emulated kernel, design 6\.3: insmod klpkit_target, then klpkit_patch -> 0 \(loaded\)/);
  const bad = klp(...args, '--with', join(ex, 'late-patching/klpkit_target.ko'));
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--with needs --design/);
});

test('klp check names the compilation unit a sympos binds to, and the other homonyms\' units', () => {
  const r = klp('check', converted, '--db', dbFile);
  assert.match(r.stdout, /relocation fixture_mod +homonym +sympos 2 +\(module\) +position 2 of 2 \(from mod_b\.c\)/);
  assert.match(r.stdout, /note: .*'homonym' has 2 definitions in fixture_mod: sympos 2 picks one \(from mod_b\.c\); the others: 1: mod_a\.c; it sits in \.text\.homonym\+0x[0-9a-f]+ size 0x[0-9a-f]+/);
});
