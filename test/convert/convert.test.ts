/**
 * klp convert on gcc-built livepatch fixtures, checked with GNU readelf and reread by our layer.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { convertModule, type ConvertResult } from '../../src/convert/convert.js';
import { readKlpPatches } from '../../src/klp/objects.js';
import { readElf, SHF, SHN, writeElf } from '../../src/elf/index.js';
import { emitConvertText, renderConvertText } from '../../src/cli/convert.js';
import { assertCleanError, klp } from '../helpers/cli.js';
import { FIXTURE_KALLSYMS, fixtureDb } from '../helpers/fixture-db.js';
import { readelfComplaints, readelfRelocs, readelfSections, readelfSymbols } from '../helpers/readelf.js';
import { fixtures } from '../helpers/fixtures.js';
import { buildObject } from '../helpers/tools.js';

const { dir, db, dbFile } = await fixtureDb('convert');
const variant = (name: string, defs: string[] = []): string => buildObject(dir, ['lp_main.c'], `${name}.o`, defs);
const lp = variant('lp');
const convert = (path: string, explicit?: Map<string, { obj: string; pos: number }>): { r: ConvertResult; out: string } => {
  const elf = readElf(readFileSync(path), { path });
  const r = convertModule(elf, { db, ...(explicit ? { explicit } : {}) });
  const out = path.replace(/\.o$/, '.klp.o');
  if (r.problems.length === 0) writeFileSync(out, writeElf(elf));
  return { r, out };
};

test('converts vmlinux and module references, every resolution path, and removes annotations', () => {
  const { r, out } = convert(lp);
  assert.deepEqual(r.problems, []);
  const by = Object.fromEntries(r.plan.map((p) => [`${p.symbol}@${p.target}`, `${p.newSymbol} ${p.newSection} ${p.resolvedBy}`]));
  assert.deepEqual(by, {
    'saved_command_line@.text.livepatch_cmdline_proc_show': '.klp.sym.vmlinux.saved_command_line,0 .klp.rela.vmlinux..text.livepatch_cmdline_proc_show unique',
    'nr_processes@.text.livepatch_cmdline_proc_show': '.klp.sym.vmlinux.nr_processes,0 .klp.rela.vmlinux..text.livepatch_cmdline_proc_show unique',
    'homonym@.text.unlikely': '.klp.sym.fixture_mod.homonym,2 .klp.rela.fixture_mod..text.unlikely KLP_MODULE_RELOC',
    'counter_b@.text.unlikely': '.klp.sym.fixture_mod.counter_b,0 .klp.rela.fixture_mod..text.unlikely KLP_MODULE_RELOC',
    'mod_b_entry@.text.livepatch_mod_a_entry': '.klp.sym.fixture_mod.mod_b_entry,0 .klp.rela.fixture_mod..text.livepatch_mod_a_entry module export',
    'rarely@.text.livepatch_mod_a_entry': '.klp.sym.fixture_mod.rarely,0 .klp.rela.fixture_mod..text.livepatch_mod_a_entry KLP_RELOC_SYMBOL',
    'fixture_key@.text.livepatch_mod_a_entry': '.klp.sym.fixture_mod.fixture_key,0 .klp.rela.fixture_mod..text.livepatch_mod_a_entry klp_object',
    'after_init@.text.livepatch_mod_a_entry': '.klp.sym.fixture_mod.after_init,0 .klp.rela.fixture_mod..text.livepatch_mod_a_entry unique',
    'table@.text.livepatch_mod_a_entry': '.klp.sym.fixture_mod.table,0 .klp.rela.fixture_mod..text.livepatch_mod_a_entry unique',
    'saved_command_line@.data.lp_data_ref': '.klp.sym.vmlinux.saved_command_line,0 .klp.rela.vmlinux..data.lp_data_ref unique',
    'nr_processes@.rodata.lp_rodata_ref': '.klp.sym.vmlinux.nr_processes,0 .klp.rela.vmlinux..rodata.lp_rodata_ref unique',
  });
  assert.deepEqual(r.kept.map((k) => k.symbol).sort(), ['__fentry__', 'klp_enable_patch', 'seq_printf']);
  assert.deepEqual(r.removedSections, ['.klp.module_relocs.fixture_mod']);
  assert.deepEqual(r.patches[0]!.objects.map((o) => [o.name, o.funcs.map((f) => [f.oldName, f.newFunc?.name])]), [
    [null, [['cmdline_proc_show', 'livepatch_cmdline_proc_show']]], ['fixture_mod', [['mod_a_entry', 'livepatch_mod_a_entry']]],
  ]);

  // The kernel's format, checked with GNU readelf.
  assert.deepEqual(readelfComplaints(out), []);
  const secs = readelfSections(out);
  const klpSecs = secs.filter((s) => s.name.startsWith('.klp.rela.'));
  assert.equal(klpSecs.length, 5);
  for (const s of klpSecs) {
    assert.equal(s.type, 'RELA', s.name);
    assert.equal(s.flags, 'AIo', s.name);
    assert.equal(s.entsize, 24);
    assert.equal(s.align, 8);
    assert.equal(secs[s.link]!.name, '.symtab');
    assert.equal(`.klp.rela.${s.name.split('.')[3]}.${secs[s.info]!.name}`, s.name, 'sh_info is the target section');
  }
  assert.ok(!secs.some((s) => s.name.includes('klp.module_relocs')), 'annotation sections removed');
  const syms = readelfSymbols(out).filter((y) => y.name.startsWith('.klp.sym.'));
  assert.equal(syms.length, 9);
  for (const y of syms) assert.equal(y.ndx, 'OS [0xff20]', y.name);
  // Same offsets as before; original sections lost exactly these entries.
  const before = readelfRelocs(lp).filter((x) => !x.section.includes('module_relocs'));
  const after = readelfRelocs(out);
  assert.equal(after.length, before.length);
  const at = (list: typeof before) => list.map((x) => `${x.offset}|${x.type}|${x.addend}`).sort();
  assert.deepEqual(at(after), at(before));
  assert.equal(after.filter((x) => x.section.startsWith('.klp.rela.')).length, r.plan.length);
  // And our own reader sees SHN_LIVEPATCH symbols on every livepatch relocation.
  const elf = readElf(readFileSync(out), { path: out });
  for (const s of elf.sections.filter((x) => x.isLivepatchRela)) {
    for (const rel of elf.relocations(s)) assert.equal(rel.symbol.shndx, SHN.LIVEPATCH);
  }
});

test('idempotent: converting a converted module changes nothing', () => {
  const { out } = convert(lp);
  const again = readElf(readFileSync(out), { path: out });
  const r = convertModule(again, { db });
  assert.equal(r.changed, false);
  assert.deepEqual(r.plan, []);
  assert.ok(Buffer.from(writeElf(again)).equals(readFileSync(out)));
});

test('the final .ko (ld -r of the object) converts the same way', () => {
  const ko = buildObject(dir, ['lp_main.c'], 'lp_linked.ko');
  const { r } = convert(ko);
  assert.deepEqual(r.problems, []);
  assert.equal(r.plan.length, 11);
});

test('ambiguous: every candidate with object, sympos and the --sym to add; --sym resolves it', () => {
  const amb = variant('lp_ambiguous', ['-DLP_AMBIGUOUS']);
  const { r } = convert(amb);
  assert.equal(r.problems.length, 1);
  const p = r.problems[0]!;
  assert.equal(p.symbol, 'homonym');
  assert.match(p.message, /ambiguous symbol 'homonym' has 2 definitions/);
  // Each candidate with its compilation unit, and both ways to pick it.
  assert.match(p.message, /fixture_mod sympos 1 in \.text\.homonym\+0x[0-9a-f]+ size 0x[0-9a-f]+ from mod_a\.c\s+->\s+--sym homonym=fixture_mod,1 or --sym homonym=fixture_mod@mod_a\.c/);
  assert.match(p.message, /fixture_mod sympos 2 in \.text\.homonym\+0x[0-9a-f]+ size 0x[0-9a-f]+ from mod_b\.c\s+->\s+--sym homonym=fixture_mod,2 or --sym homonym=fixture_mod@mod_b\.c/);
  // Where each sits, as readelf shows the module's .symtab (undefined entries skipped, as the
  // kernel's kallsyms walk does): offset and size, the entries around it, the nearest by offset.
  const symtab = readelfSymbols(fixtures().module).filter((y) => y.table === '.symtab' && y.ndx !== 'UND');
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const homonyms = symtab.filter((y) => y.name === 'homonym');
  assert.equal(homonyms.length, 2);
  for (const [k, y] of homonyms.entries()) {
    const i = symtab.indexOf(y);
    const other = homonyms[1 - k]!;
    const byOffset = other.value < y.value ? `after homonym` : `before homonym`;
    assert.match(p.message, new RegExp(`sympos ${k + 1} in \\.text\\.homonym\\+0x${y.value.toString(16)} size 0x${y.size.toString(16)} from [^\\n]*\\n` +
      ` +after ${esc(symtab[i - 1]!.name)}, before ${esc(symtab[i + 1]!.name)} in \\.symtab; [^\\n]*${byOffset}`));
  }
  const fixed = convert(amb, new Map([['homonym', { obj: 'fixture_mod', pos: 1 }]]));
  assert.deepEqual(fixed.r.problems, []);
  assert.ok(fixed.r.plan.some((x) => x.newSymbol === '.klp.sym.fixture_mod.homonym,1' && x.resolvedBy === '--sym'));
  // A wrong explicit position is refused the way the kernel would refuse it.
  const wrong = convert(amb, new Map([['homonym', { obj: 'fixture_mod', pos: 3 }]]));
  assert.match(wrong.r.problems[0]!.message, /symbol position 3 for symbol 'homonym' in object 'fixture_mod' not found \(2 in 'fixture_mod'; given by --sym\)/);
  const zero = convert(amb, new Map([['homonym', { obj: 'fixture_mod', pos: 0 }]]));
  assert.match(zero.r.problems[0]!.message, /unresolvable ambiguity for symbol 'homonym' in object 'fixture_mod'/);
});

test('unknown symbol: named, with what to do', () => {
  const { r } = convert(variant('lp_unknown', ['-DLP_UNKNOWN']));
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!.message, /Unable to find symbol 'no_such_symbol_anywhere'/);
  assert.match(r.problems[0]!.hint, /--sym no_such_symbol_anywhere=OBJ,POS/);
});

test('static_branch on a module key is refused (use static_key_enabled); a vmlinux key is fine on 6.1, not on 5.4', () => {
  const { r } = convert(variant('lp_branch', ['-DLP_STATIC_BRANCH']));
  assert.equal(r.problems.length, 1);
  assert.match(r.problems[0]!.where, /^__jump_table\+0x/);
  assert.match(r.problems[0]!.message, /__jump_table entry needs 'fixture_key' from fixture_mod: jump labels are set up/);
  assert.match(r.problems[0]!.hint, /static_key_enabled\(\)/);
  const vm = variant('lp_vmbranch', ['-DLP_VMLINUX_BRANCH']);
  const ok = convert(vm);
  assert.deepEqual(ok.r.problems, []);
  assert.ok(ok.r.plan.some((x) => x.newSection === '.klp.rela.vmlinux.__jump_table' && x.symbol === 'tracepoint_printk_key'));
  const old = convertModule(readElf(readFileSync(vm), { path: vm }), { db, targetKernel: '5.4' });
  assert.match(old.problems.map((p) => p.message).join('\n'), /__jump_table entry needs 'tracepoint_printk_key' from vmlinux: before 5\.8/);
});

test('a target section named like an Object property (constructor, toString) is code like any other, not a special section', () => {
  // Special sections are looked up by name in a table: its own keys only, or every section named
  // `constructor` would be refused as one (on 5.7, for a vmlinux symbol) with no reason to give.
  for (const name of ['constructor', 'toString']) {
    const elf = readElf(readFileSync(lp), { path: lp });
    const target = elf.findSectionByName('.text.livepatch_cmdline_proc_show')!;
    target.name = name;
    const r = convertModule(elf, { db, targetKernel: '5.7' });
    assert.deepEqual(r.problems, [], name);
    assert.ok(r.plan.some((x) => x.symbol === 'nr_processes' && x.newSection === `.klp.rela.vmlinux.${name}`), name);
  }
});

test('a module without livepatch=Y is refused', () => {
  const { r } = convert(variant('lp_plain', ['-DLP_NOT_LIVEPATCH']));
  assert.match(r.problems[0]!.message, /not a livepatch module: \.modinfo has no livepatch=Y/);
  assert.match(r.problems[0]!.hint, /MODULE_INFO\(livepatch, "Y"\)/);
});

test('klp convert CLI: --dry-run writes nothing, --json plan, errors exit 1 with no output, input never overwritten', () => {
  const out = join(dir, 'cli-out.ko');
  const dry = klp('convert', lp, '--db', dbFile, '--dry-run');
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /plan: 11 livepatch relocation\(s\) in 5 section\(s\) of module lp_fixture/);
  assert.equal(existsSync(out), false);
  const j = klp('convert', lp, '--db', dbFile, '-o', out, '--json');
  assert.equal(j.status, 0, j.stderr);
  const plan = JSON.parse(j.stdout) as { plan: Array<{ section: string; offset: string; type: number; symbol: string; object: string; sympos: number; newSection: string }> };
  assert.equal(plan.plan.length, 11);
  assert.ok(existsSync(out));
  const amb = join(dir, 'lp_ambiguous.o');
  const bad = join(dir, 'cli-bad.ko');
  const e = klp('convert', amb, '--db', dbFile, '-o', bad);
  assert.equal(e.status, 1);
  assert.match(e.stderr, /klp: error: .*lp_ambiguous\.o: \.text\.unlikely\+0x[0-9a-f]+: ambiguous symbol 'homonym'/);
  assert.match(e.stderr, /--sym homonym=fixture_mod,2/);
  assert.equal(existsSync(bad), false, 'no output on error');
  const fixed = klp('convert', amb, '--db', dbFile, '-o', bad, '--sym', 'homonym=fixture_mod,2');
  assert.equal(fixed.status, 0, fixed.stderr);
  const map = join(dir, 'map.txt');
  writeFileSync(map, '# resolutions\nhomonym=fixture_mod,1\n');
  assert.equal(klp('convert', amb, '--db', dbFile, '-o', bad, '--map', map).status, 0);
  const same = klp('convert', lp, '--db', dbFile, '-o', lp);
  assert.equal(same.status, 2);
  assert.ok(assertCleanError(same.stderr));
  assert.equal(klp('convert', lp, '-o', out).status, 2, 'no symbol data');
  assert.equal(klp('convert', lp, '--db', dbFile, '-o', out, '--sym', 'garbage').status, 2);
});

test('without export data for vmlinux, convert refuses instead of turning exported calls into livepatch relocations; __ksymtab_ lines are export data', () => {
  const bare = join(dir, 'bare-kallsyms.txt');
  writeFileSync(bare, FIXTURE_KALLSYMS.join('\n') + '\n');
  const modules = join(dir, 'modules');
  const r = klp('convert', lp, '--kallsyms', bare, '--modules', modules, '--dry-run');
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /the symbol database has no export data for vmlinux, so exported symbols cannot be told apart: \d+ vmlinux symbol\(s\) would become livepatch relocations \(.*__fentry__/);
  assert.match(r.stderr, /-> give --symvers Module\.symvers/);
  // The same dump with the __ksymtab_ entries /proc/kallsyms has (6.1 and 6.12 both list them),
  // GPL-ness from the __ksymtab_gpl bounds.
  const marked = join(dir, 'marked-kallsyms.txt');
  writeFileSync(marked, [...FIXTURE_KALLSYMS, 'ffffffff82462390 R __start___ksymtab', 'ffffffff82462390 r __ksymtab_seq_printf',
    'ffffffff82462400 R __start___ksymtab_gpl', 'ffffffff82462400 R __stop___ksymtab', 'ffffffff82462400 r __ksymtab_klp_enable_patch',
    'ffffffff8246240c r __ksymtab___fentry__', 'ffffffff82462418 R __stop___ksymtab_gpl', ''].join('\n'));
  const ok = klp('convert', lp, '--kallsyms', marked, '--modules', modules, '--dry-run', '--json');
  assert.equal(ok.status, 0, ok.stderr);
  const j = JSON.parse(ok.stdout) as { plan: Array<{ symbol: string }>; kept: Array<{ symbol: string }> };
  assert.deepEqual(j.kept.map((x) => x.symbol).sort(), ['__fentry__', 'klp_enable_patch', 'seq_printf']);
  assert.ok(!j.plan.some((p) => ['__fentry__', 'klp_enable_patch', 'seq_printf'].includes(p.symbol)));
  const db = join(dir, 'marked.klpdb');
  assert.equal(klp('symbols', 'build', '--kallsyms', marked, '-o', db, '-q').status, 0);
  assert.match(klp('symbols', 'find', '--db', db, 'klp_enable_patch').stdout, /EXPORT_SYMBOL_GPL/);
  const seq = klp('symbols', 'find', '--db', db, 'seq_printf').stdout;
  assert.match(seq, /EXPORT_SYMBOL/);
  assert.doesNotMatch(seq, /EXPORT_SYMBOL_GPL/);
});

test('a klp_object whose funcs hold only the terminator is an object (the kernel applies its relocations)', () => {
  const path = variant('lp_nofuncs', ['-DLP_NOFUNCS']);
  const elf = readElf(readFileSync(path), { path });
  const patches = readKlpPatches(elf);
  assert.deepEqual(patches.map((p) => p.objects.map((o) => [o.name, o.funcs.length])), [[[null, 1], ['fixture_mod', 0]]]);
  // No klp_func says which object fixture_key's user patches; the key is named explicitly.
  const { r, out } = convert(path, new Map([['fixture_key', { obj: 'fixture_mod', pos: 0 }]]));
  assert.deepEqual(r.problems, [], 'fixture_mod is declared: no "not among the patch\'s klp_objects"');
  assert.ok(r.plan.some((p) => p.object === 'fixture_mod'));
  const c = klp('check', out, '--db', dbFile);
  assert.doesNotMatch(c.stdout + c.stderr, /never applied|not among the patch's klp_objects/);
});

test('symbols.klp: __ksymtab_ lines are exports in every input mode; a Kbuild-style list with undefined names is not ambiguous; export writes no blank lines', () => {
  // Upstream's format as Kbuild writes it (nm -f posix of vmlinux and each module): the module's
  // list holds its undefined names too (__fentry__, seq_printf).
  const list = join(dir, 'symbols.klp');
  const nm = execFileSync('nm', ['-f', 'posix', join(dir, 'modules', 'fixture_mod.ko')], { encoding: 'latin1' }).split('\n').filter(Boolean).map((l) => l.split(' ')[0]!);
  assert.ok(nm.includes('__fentry__'), 'nm lists the module\'s undefined names too');
  writeFileSync(list, ['klp-convert-symbol-data.0.1', '*vmlinux', ...FIXTURE_KALLSYMS.map((l) => l.split(' ')[2]!),
    '__ksymtab_seq_printf', '__ksymtab_klp_enable_patch', '__ksymtab___fentry__', '*fixture_mod', ...nm, ''].join('\n'));
  const r = klp('convert', lp, '--symbols-klp', list, '--dry-run', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { plan: Array<{ symbol: string; object: string }>; kept: Array<{ symbol: string }> };
  assert.deepEqual(j.kept.map((x) => x.symbol).sort(), ['__fentry__', 'klp_enable_patch', 'seq_printf']);
  assert.ok(!j.plan.some((p) => ['__fentry__', 'klp_enable_patch', 'seq_printf'].includes(p.symbol)), 'exports stay ordinary relocations');
  const exported = join(dir, 'exported.klp');
  assert.equal(klp('symbols', 'export', '--db', dbFile, '--format', 'symbols-klp', '-o', exported).status, 0);
  const text = readFileSync(exported, 'latin1');
  assert.doesNotMatch(text, /\n\n/, 'no blank lines');
  assert.match(text, /\n\*fixture_mod\n/);
});

test('init code that reaches a module symbol is refused (freed before a late module arrives); vmlinux from init code is fine; check reports one converted elsewhere', () => {
  const path = variant('lp_initref', ['-DLP_INIT_REF']);
  const { r } = convert(path);
  assert.equal(r.problems.length, 1, JSON.stringify(r.problems));
  assert.equal(r.problems[0]!.symbol, 'counter_b');
  assert.match(r.problems[0]!.where, /^\.init\.text\+0x/);
  assert.match(r.problems[0]!.message, /a relocation for module 'fixture_mod' in \.init\.text: if fixture_mod loads after the patch, the kernel applies it after the patch's init memory has been freed/);
  assert.match(r.problems[0]!.hint, /out of __init code/);
  // Converted anyway (by a tool that does not check): klp check names the section.
  const elf = readElf(readFileSync(path), { path });
  const forced = convertModule(elf, { db, targetKernel: '6.1' });
  assert.equal(forced.problems.length, 1);
  const rela = elf.findSectionByName('.rela.init.text')!;
  const klpSec = elf.createRelaSection('.klp.rela.fixture_mod..init.text', rela.infoSection!, SHF.ALLOC | SHF.RELA_LIVEPATCH);
  const moved = elf.relocations(rela).find((x) => x.symbol.name === 'counter_b')!;
  elf.relocations(klpSec).push(moved);
  elf.removeRelocations(rela, (x) => x === moved);
  moved.symbol.name = '.klp.sym.fixture_mod.counter_b,0';
  moved.symbol.shndx = SHN.LIVEPATCH;
  const out = join(dir, 'lp_initref.forced.o');
  writeFileSync(out, writeElf(elf));
  const c = klp('check', out, '--db', dbFile);
  assert.equal(c.status, 1, c.stdout + c.stderr);
  assert.match(c.stdout + c.stderr, /\.klp\.rela\.fixture_mod\.\.init\.text.*a relocation for module 'fixture_mod' in \.init\.text/);
});

test('a module built with debug info (-g, as Kbuild builds against Debian\'s headers): the annotations go, with the debug relocations that point at them', () => {
  const path = variant('lp_debug', ['-g']);
  const before = readElf(readFileSync(path), { path });
  const dbgRela = before.sections.filter((s) => s.isRelocation && s.infoSection?.name.startsWith('.debug'));
  assert.ok(dbgRela.some((s) => before.relocations(s).some((r) => r.symbol.name === 'fixture_relocs')), 'gcc describes the annotation array in .debug_info');
  const { r, out } = convert(path);
  assert.deepEqual(r.problems, []);
  assert.ok(r.removedSections.some((n) => n.startsWith('.klp.module_relocs.')));
  // GNU readelf reads the result without complaint, and no relocation is left against the array.
  assert.deepEqual(readelfComplaints(out), []);
  assert.ok(!readelfSymbols(out).some((y) => y.name === 'fixture_relocs'));
  assert.ok(readelfRelocs(out).some((x) => x.section.startsWith('.rela.debug_info')), 'the rest of the debug info stays');
});

test('homonyms by compilation unit: find shows each one\'s file; --sym NAME=OBJ@FILE picks the sympos; a wrong unit lists them', () => {
  const find = klp('symbols', 'find', 'homonym', '--db', dbFile);
  assert.equal(find.status, 0, find.stderr);
  const rows = find.stdout.split('\n').filter((l) => l.startsWith('fixture_mod'));
  assert.equal(rows.length, 2);
  // ld -r keeps each unit's locals after its STT_FILE symbol: mod_a.c's homonym is sympos 1, mod_b.c's 2.
  // A module's definition shows its offset in its section and its size, as readelf -s gives them.
  const re = readelfSymbols(fixtures().module).filter((y) => y.table === '.symtab' && y.name === 'homonym');
  assert.match(rows[0]!, new RegExp(`^fixture_mod +1 +2 +\\+0x${re[0]!.value.toString(16)} +0x${re[0]!.size.toString(16)} +t +local +\\.text\\.homonym .* from mod_a\\.c$`));
  assert.match(rows[1]!, new RegExp(`^fixture_mod +2 +2 +\\+0x${re[1]!.value.toString(16)} +0x${re[1]!.size.toString(16)} +t +local +\\.text\\.homonym .* from mod_b\\.c$`));
  // Each homonym is followed by where it sits among the others.
  assert.match(find.stdout, /from mod_a\.c\n +after mod_a\.c, before \w+ in \.symtab; before homonym by offset\n/);
  const json = JSON.parse(klp('symbols', 'find', 'homonym', '--db', dbFile, '--json').stdout) as Array<{ offset: number; size: number; neighbours: { table: string[]; byAddress: string[] } }>;
  assert.deepEqual(json.map((d) => [d.offset, d.size]), re.map((y) => [Number(y.value), y.size]));
  assert.deepEqual(json[1]!.neighbours.byAddress[0], 'homonym');
  const amb = join(dir, 'lp_ambiguous.o');
  for (const [unit, pos] of [['mod_a.c', 1], ['mod_b.c', 2], ['test/fixtures/src/mod_b.c', 2]] as const) {
    const r = klp('convert', amb, '--db', dbFile, '--dry-run', '--json', '--sym', `homonym=fixture_mod@${unit}`);
    assert.equal(r.status, 0, r.stderr);
    const plan = (JSON.parse(r.stdout) as { plan: Array<{ symbol: string; sympos: number; file: string | null; newSymbol: string }> }).plan.filter((p) => p.symbol === 'homonym');
    assert.ok(plan.length > 0);
    assert.ok(plan.every((p) => p.sympos === pos && p.newSymbol === `.klp.sym.fixture_mod.homonym,${pos}` && p.file === unit.split('/').pop()), unit);
  }
  const bare = klp('convert', amb, '--db', dbFile, '--dry-run', '--sym', 'homonym=fixture_mod,1');
  assert.match(bare.stdout, /homonym +fixture_mod +1 .*--sym \(from mod_a\.c\)/, 'a bare sympos names the unit it picks');
  const wrong = klp('convert', amb, '--db', dbFile, '--dry-run', '--sym', 'homonym=fixture_mod@mod_c.c');
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /--sym homonym=fixture_mod@mod_c\.c: no definition\(s\) of 'homonym' in fixture_mod come from a unit matching 'mod_c\.c'/);
  assert.match(wrong.stderr, /fixture_mod sympos 2 in \.text\.homonym\+0x[0-9a-f]+ size 0x[0-9a-f]+ from mod_b\.c +-> +--sym homonym=fixture_mod,2/);
});

test('the report is printed in batches of lines that make the whole report, every line once and in order', () => {
  const n = 5000;
  const plan: ConvertResult['plan'] = Array.from({ length: n }, (_, i) => ({
    section: '.rela.text', target: '.text', offset: `0x${(i * 8).toString(16)}`, type: 4, typeName: 'R_X86_64_PLT32', symbol: `f${i}`, object: 'vmlinux',
    sympos: 0, newSection: '.klp.rela.vmlinux..text', newSymbol: `.klp.sym.vmlinux.f${i},0`, resolvedBy: 'unique' as const, file: null,
  }));
  const r: ConvertResult = { module: 'lp', plan, kept: [{ symbol: '__fentry__', reason: 'exported by vmlinux', count: 1 }], problems: [], removedSections: [], patches: [], changed: true };
  for (const verbose of [false, true]) {
    const batches: string[] = [];
    emitConvertText(r, false, verbose, (b) => batches.push(b));
    const lines = batches.join('\n').split('\n');
    const head = verbose ? 2 : 1;
    assert.equal(lines.length, head + n + 1);
    assert.ok(batches.length >= 3 && batches.every((b) => b.split('\n').length <= 512), `${batches.length} batches`);
    for (let i = 0; i < n; i++) assert.ok(lines[head + i]!.includes(verbose ? ` f${i} ` : `.klp.sym.vmlinux.f${i},0 `), lines[head + i]);
    assert.equal(lines.at(-1), '  kept: __fentry__ (exported by vmlinux, 1 relocation(s))');
    assert.equal(renderConvertText(r, false, verbose), batches.join('\n'));
  }
});
