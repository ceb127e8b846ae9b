/**
 * `klp symbols` as users run it: build from several sources, find, export, errors.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertCleanError, klp } from '../helpers/cli.js';
import { fixtures } from '../helpers/fixtures.js';

const fx = fixtures();
const tree = join(fx.dir, 'cli-tree/kernel/drivers');
mkdirSync(tree, { recursive: true });
copyFileSync(fx.module, join(tree, 'fixture_mod.ko'));
const kallsyms = join(fx.dir, 'kallsyms.txt');
writeFileSync(kallsyms, 'ffffffff81000000 T _text\nffffffff81001000 t jhash\nffffffff81002000 T saved_command_line\nffffffff81003000 t jhash\n');
const symvers = join(fx.dir, 'Module.symvers');
writeFileSync(symvers, '0x1\tsaved_command_line\tvmlinux\tEXPORT_SYMBOL\t\n0x2\tmod_b_entry\tdrivers/fixture_mod\tEXPORT_SYMBOL_GPL\tFIXTURE_NS\n');
const db = join(fx.dir, 'test.klpdb');

test('build from a kallsyms dump, Module.symvers and a module tree; find prints every definition', () => {
  const b = klp('symbols', 'build', '--kallsyms', kallsyms, '--symvers', symvers, '--modules', join(fx.dir, 'cli-tree'), '-o', db);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stderr, /wrote .*test\.klpdb: 2 objects, \d+ symbols \(vmlinux 4\)/);
  const f = klp('symbols', 'find', 'jhash', '--db', db, '--json');
  assert.equal(f.status, 0, f.stderr);
  const defs = JSON.parse(f.stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(defs.map((d) => [d.object, d.sympos, d.address, d.type, d.exported]), [
    ['vmlinux', 1, '0xffffffff81001000', 't', false], ['vmlinux', 2, '0xffffffff81003000', 't', false],
  ]);
  const h = JSON.parse(klp('symbols', 'find', 'homonym', '--db', db, '--json').stdout) as Array<Record<string, unknown>>;
  assert.deepEqual(h.map((d) => [d.object, d.sympos, d.address, d.section]), [['fixture_mod', 1, null, '.text.homonym'], ['fixture_mod', 2, null, '.text.homonym']]);
  const e = JSON.parse(klp('symbols', 'find', 'mod_b_entry', '--db', db, '--json').stdout) as Array<Record<string, unknown>>;
  assert.deepEqual([e[0]!.exported, e[0]!.exportType, e[0]!.namespace], [true, 'EXPORT_SYMBOL_GPL', 'FIXTURE_NS']);
  const text = klp('symbols', 'find', 'shared_setup', '--db', db);
  assert.match(text.stdout, /fixture_mod\s+1\s+2 .*\.init\.text .*\[not visible after init\]/);
  assert.match(text.stdout, /fixture_mod\s+2\s+2 .*\.text\.shared_setup .*\[after init: sympos 0\]/);
});

test('find: unknown symbol exits 1; export writes symbols.klp', () => {
  const f = klp('symbols', 'find', 'no_such_symbol', '--db', db);
  assert.equal(f.status, 1);
  assert.match(f.stderr, /no symbol 'no_such_symbol'/);
  const out = join(fx.dir, 'symbols.klp');
  const x = klp('symbols', 'export', '--db', db, '--format', 'symbols-klp', '-o', out);
  assert.equal(x.status, 0, x.stderr);
  const lines = readFileSync(out, 'latin1').split('\n');
  assert.equal(lines[0], 'klp-convert-symbol-data.0.1');
  assert.ok(lines.includes('*vmlinux') && lines.includes('*fixture_mod'));
  assert.equal(lines.filter((l) => l === 'jhash').length, 2);
  assert.ok(lines.includes('__ksymtab_saved_command_line'));
  // And build again from it.
  const again = join(fx.dir, 'again.klpdb');
  assert.equal(klp('symbols', 'build', '--symbols-klp', out, '-o', again).status, 0);
  const j = JSON.parse(klp('symbols', 'find', 'jhash', '--db', again, '--json').stdout) as Array<{ sympos: number }>;
  assert.deepEqual(j.map((d) => d.sympos), [1, 2]);
});

test('errors: conflicting inputs, bad lines, unreadable modules (no output unless --keep-going), not a database', () => {
  const c = klp('symbols', 'build', '--kallsyms', kallsyms, '--system-map', kallsyms, '-o', join(fx.dir, 'x.klpdb'));
  assert.equal(c.status, 2);
  assert.match(c.stderr, /conflicting inputs: --kallsyms and --system-map/);
  const bad = join(fx.dir, 'bad-kallsyms.txt');
  writeFileSync(bad, 'ffffffff81000000 T ok\nnot a line\n');
  const b = klp('symbols', 'build', '--kallsyms', bad, '-o', join(fx.dir, 'x.klpdb'));
  assert.equal(b.status, 2);
  assert.ok(assertCleanError(b.stderr), b.stderr);
  assert.match(b.stderr, /bad-kallsyms\.txt:2: malformed line/);
  const broken = join(fx.dir, 'broken-tree');
  mkdirSync(broken, { recursive: true });
  copyFileSync(fx.module, join(broken, 'fixture_mod.ko'));
  writeFileSync(join(broken, 'bad.ko'), 'not elf');
  const out = join(fx.dir, 'partial.klpdb');
  const p = klp('symbols', 'build', '--modules', broken, '-o', out);
  assert.equal(p.status, 2);
  assert.match(p.stderr, /bad\.ko.*not an ELF file[\s\S]*1 of 2 modules could not be read or matched; no database written/);
  assert.equal(existsSync(out), false, 'no partial database');
  const k = klp('symbols', 'build', '--modules', broken, '-o', out, '--keep-going');
  assert.equal(k.status, 0, k.stderr);
  assert.match(k.stderr, /1 modules skipped/);
  const n = klp('symbols', 'find', 'x', '--db', kallsyms);
  assert.equal(n.status, 2);
  assert.match(n.stderr, /not a klpkit symbol database/);
  const over = klp('symbols', 'build', '--kallsyms', kallsyms, '-o', kallsyms);
  assert.equal(over.status, 2);
  assert.match(over.stderr, /refusing to write -o .*kallsyms\.txt: it would replace --kallsyms /);
});
