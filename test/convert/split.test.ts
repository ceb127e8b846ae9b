/**
 * klp split (and klp convert --per-object) on the gcc-built livepatch fixture: what moves where,
 * checked with GNU readelf, and a relocation-by-relocation proof that every reference still
 * points at the same bytes after the move.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { convertModule } from '../../src/convert/convert.js';
import { splitModule } from '../../src/convert/split.js';
import type { ElfFile } from '../../src/elf/file.js';
import { readElf, STT, writeElf } from '../../src/elf/index.js';
import { assertCleanError, klp } from '../helpers/cli.js';
import { fixtureDb } from '../helpers/fixture-db.js';
import { readelfComplaints, readelfSymbols } from '../helpers/readelf.js';
import { buildObject } from '../helpers/tools.js';

const { dir, db, dbFile } = await fixtureDb('split');
const branchy = buildObject(dir, ['lp_main.c'], 'lp_branch.o', ['-DLP_STATIC_BRANCH']);
const oneText = buildObject(dir, ['lp_main.c'], 'lp_one_text.o', ['-fno-function-sections']);
const read = (p: string): ElfFile => readElf(readFileSync(p), { path: p });

/**
 * Each relocation as "where it writes" -> "what it points at", both in terms that survive the
 * move: a function-relative place (the FUNC symbol containing it, or the section when none), and
 * a named symbol or, for a section symbol, the FUNC/OBJECT symbol at that section offset.
 */
function canonicalRelocs(elf: ElfFile): string[] {
  const named = elf.allSymbols.filter((y) => y.section && (y.type === STT.FUNC || y.type === STT.OBJECT) && y.name !== '');
  const place = (sec: NonNullable<typeof named[number]['section']>, off: bigint): string => {
    const y = named.find((s) => s.section === sec && off >= s.value && off < s.value + (s.size > 0n ? s.size : 1n));
    return y ? `${y.name}+${off - y.value}` : `${sec.name.replace(/^\.klp\.(text|rodata|data)\.[^.]+$/, '(moved)')}+${off}`;
  };
  // A section-relative target (PC-relative ones carry -4 and the like) is named by the nearest symbol.
  const nearest = (sec: NonNullable<typeof named[number]['section']>, off: bigint): string => {
    const abs = (x: bigint): bigint => (x < 0n ? -x : x);
    const inside = named.find((s) => s.section === sec && off >= s.value && off < s.value + (s.size > 0n ? s.size : 1n));
    if (inside) return `${inside.name}+${off - inside.value}`;
    const y = named.filter((s) => s.section === sec).sort((a, b) => Number(abs(off - a.value) - abs(off - b.value)))[0];
    return y ? `${y.name}${off - y.value >= 0n ? '+' : ''}${off - y.value}` : `${sec.name}+${off}`;
  };
  const out: string[] = [];
  for (const rs of elf.sections) {
    if (!rs.isRelocation || !rs.infoSection || !rs.infoSection.hasFlag(2n)) continue;
    for (const r of elf.relocations(rs)) {
      // PC32/PLT32 addends are -4 from the end of the instruction: name the place the displacement points at.
      const pc = r.type === 2 || r.type === 4 ? 4n : 0n;
      const to = r.symbol.type === STT.SECTION && r.symbol.section ? `${nearest(r.symbol.section, r.addend + pc)}${pc ? ' (pc)' : ''}` : `${r.symbol.name}${r.addend >= 0n ? '+' : ''}${r.addend}`;
      out.push(`${rs.isLivepatchRela ? 'klp ' : ''}${place(rs.infoSection, r.offset)} type ${r.type} -> ${to}`);
    }
  }
  return out.sort();
}

test('split moves the module object\'s code and its __jump_table entry; every reference is kept', () => {
  const elf = read(branchy);
  const c = convertModule(elf, { db, perObject: true });
  assert.deepEqual(c.problems, []);
  const before = canonicalRelocs(elf);
  const r = splitModule(elf);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.objects.map((o) => ({ ...o, functions: o.functions.sort(), sections: Object.fromEntries(Object.entries(o.sections).map(([k, v]) => [k, [...v].sort()])) })), [{
    object: 'fixture_mod',
    functions: ['livepatch_mod_a_entry', 'livepatch_mod_a_entry.cold', 'lp_cold'],
    sections: { '.klp.text.fixture_mod': ['.text.livepatch_mod_a_entry', '.text.unlikely', '.text.unlikely.livepatch_mod_a_entry'].sort() },
    entries: { __jump_table: 1 },
  }]);
  // The jump table entry moves (with its code and target), so only the entries' layout changes.
  const after = canonicalRelocs(elf);
  const norm = (xs: string[]): string[] => xs.map((x) => x.replace(/^(klp )?__jump_table\+\d+/, '$1JT')).sort();
  const movedJt = (xs: string[]): string[] => xs.map((x) => x.replace(/^(klp )?\.klp\.arch\.fixture_mod\.__jump_table\+\d+/, '$1JT'));
  assert.deepEqual(norm(movedJt(after)), norm(before));
  const out = `${dir}/lp_branch.split.o`;
  writeFileSync(out, writeElf(elf));
  assert.deepEqual(readelfComplaints(out), []);
  const syms = Object.fromEntries(readelfSymbols(out).filter((y) => y.type === 'FUNC').map((y) => [y.name, y.ndx]));
  const secs = readElf(readFileSync(out), { path: out }).sections;
  assert.equal(secs[Number(syms.livepatch_mod_a_entry)]!.name, '.klp.text.fixture_mod');
  assert.equal(secs[Number(syms.livepatch_cmdline_proc_show)]!.name, '.text.livepatch_cmdline_proc_show', 'vmlinux code stays');
  const names = secs.map((s) => s.name);
  for (const n of ['.rela.klp.text.fixture_mod', '.klp.rela.fixture_mod..klp.text.fixture_mod', '.klp.arch.fixture_mod.__jump_table',
    '.klp.rela.fixture_mod..klp.arch.fixture_mod.__jump_table', '.rela.klp.arch.fixture_mod.__jump_table']) assert.ok(names.includes(n), n);
  assert.ok(!names.includes('__jump_table'), 'the emptied __jump_table goes');
  // Splitting again changes nothing.
  const again = read(out);
  assert.equal(splitModule(again).changed, false);
});

test('split keeps each key\'s jump labels together, as the per-object kernel links them without sorting', () => {
  const twoKeys = buildObject(dir, ['lp_main.c'], 'lp_two_keys.o', ['-DLP_STATIC_BRANCH', '-DLP_TWO_KEYS']);
  const elf = read(twoKeys);
  assert.deepEqual(convertModule(elf, { db, perObject: true }).problems, []);
  // Each entry as its code field's target and its key, in table order.
  const entries = (table: string): string[] => {
    const t = elf.findSectionByName(table)!;
    const relocs = elf.relocationSectionsFor(t).flatMap((rs) => elf.relocations(rs));
    const field = (entry: number, at: number): string => {
      const r = relocs.find((x) => Number(x.offset) === entry + at)!;
      return `${r.symbol.name.replace(/^\.klp\.sym\.fixture_mod\./, '')}+${r.addend}`;
    };
    return Array.from({ length: t.data.length / 16 }, (_, i) => `${field(i * 16, 8)} @ ${field(i * 16, 0)}`);
  };
  const built = entries('__jump_table');
  // As built: the keys interleave.
  assert.deepEqual(built.map((e) => e.split(',')[0]), ['fixture_key', 'shared_global', 'fixture_key']);
  assert.deepEqual(splitModule(elf).problems, []);
  const split = entries('.klp.arch.fixture_mod.__jump_table');
  assert.deepEqual(split.map((e) => e.split(',')[0]), ['fixture_key', 'fixture_key', 'shared_global']);
  // The same entries, each still with its own site (code moved to .klp.text, offsets kept).
  const site = (e: string): string => e.replace(/@ \S+\+/, '@ +');
  assert.deepEqual(split.map(site), [built[0]!, built[2]!, built[1]!].map(site));
  const out = `${dir}/lp_two_keys.split.o`;
  writeFileSync(out, writeElf(elf));
  assert.deepEqual(readelfComplaints(out), []);
});

test('without -ffunction-sections split refuses, naming the fix; klp convert refuses the module key without --per-object', () => {
  const elf = read(oneText);
  assert.deepEqual(convertModule(elf, { db }).problems, []);
  const r = splitModule(elf);
  assert.equal(r.changed, false);
  assert.match(r.problems[0]!.message, /holds \d+ functions, so livepatch_mod_a_entry cannot move alone/);
  assert.match(r.problems[0]!.hint, /-ffunction-sections -fdata-sections/);
  const b = convertModule(read(branchy), { db });
  assert.match(b.problems.map((p) => p.message).join('\n'), /__jump_table entry needs 'fixture_key' from fixture_mod/);
});

test('klp split and klp convert --per-object on the command line', () => {
  const conv = `${dir}/cli.klp.o`;
  const c = klp('convert', branchy, '--db', dbFile, '--per-object', '-o', conv);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /\.klp\.text\.fixture_mod\s+<- \.text\.livepatch_mod_a_entry, \.text\.unlikely/);
  assert.match(c.stdout, /\.klp\.arch\.fixture_mod\.__jump_table <- 1 __jump_table entry/);
  // klp split on a plain converted module: the same code move (no special entries).
  const plain = `${dir}/plain.klp.o`;
  assert.equal(klp('convert', branchy, '--db', dbFile, '-o', plain).status, 1, 'the branchy module needs --per-object');
  const lp = buildObject(dir, ['lp_main.c'], 'lp_plain.o');
  assert.equal(klp('convert', lp, '--db', dbFile, '-o', plain).status, 0);
  const split = `${dir}/plain.split.o`;
  const s = klp('split', plain, '-o', split, '--json');
  assert.equal(s.status, 0, s.stderr);
  const j = JSON.parse(s.stdout) as { objects: Array<{ object: string; sections: Record<string, string[]> }> };
  assert.deepEqual(j.objects.map((o) => [o.object, Object.keys(o.sections)]), [['fixture_mod', ['.klp.text.fixture_mod']]]);
  assert.deepEqual(readelfComplaints(split), []);
  // Refusals: exit 1, a clean message, nothing written.
  const none = `${dir}/none.o`;
  const bad = klp('split', oneText, '-o', none);
  assert.equal(bad.status, 1);
  assert.ok(assertCleanError(bad.stderr.split('\n').filter(Boolean)[0]! + '\n'), bad.stderr);
  assert.ok(!existsSync(none));
  assert.equal(klp('split', oneText).status, 2, 'no -o');
});
