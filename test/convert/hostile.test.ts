/**
 * klp convert and klp check on corrupted modules, and hostile names through every output format.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkModule } from '../../src/check/check.js';
import { convertModule } from '../../src/convert/convert.js';
import { ElfError, readElf, writeElf } from '../../src/elf/index.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { klp } from '../helpers/cli.js';
import { fixtures } from '../helpers/fixtures.js';
import { buildObject } from '../helpers/tools.js';

const fx = fixtures();
const dir = join(fx.dir, 'convert-hostile');
mkdirSync(join(dir, 'modules'), { recursive: true });
copyFileSync(fx.module, join(dir, 'modules/fixture_mod.ko'));
const evil = 'evil\x1b[2J\x07name\x9b';
writeFileSync(join(dir, 'kallsyms.txt'), `ffffffff8109de70 T nr_processes\nffffffff83317008 B saved_command_line\nffffffff81000000 t ${evil}\nffffffff81000010 t ${evil}\n` +
  'ffffffff81000200 T __fentry__\nffffffff81700000 T seq_printf\nffffffff81700100 T klp_enable_patch\nffffffff82000100 d fixture_key\n', 'latin1');
writeFileSync(join(dir, 'Module.symvers'), ['seq_printf', 'klp_enable_patch', '__fentry__'].map((n) => `0x0\t${n}\tvmlinux\tEXPORT_SYMBOL\t`).join('\n') + '\n0x0\tmod_b_entry\tdrivers/fixture_mod\tEXPORT_SYMBOL_GPL\t\n');
const { db } = await buildDatabase({ kallsyms: join(dir, 'kallsyms.txt'), symvers: join(dir, 'Module.symvers'), modules: join(dir, 'modules') });
const dbFile = join(dir, 'db.klpdb');
writeFileSync(dbFile, db.serialize());
const lp = buildObject(dir, ['lp_main.c'], 'lp.o');
const seed = new Uint8Array(readFileSync(lp));

test('corrupted livepatch modules: convert and check throw nothing but typed errors', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (muts) => {
    const b = seed.slice();
    for (const [o, v] of muts) b[o] = v;
    try {
      const elf = readElf(b, { path: 'hostile.o' });
      checkModule(elf, { db });
      const r = convertModule(elf, { db });
      if (r.changed) writeElf(elf);
    } catch (e) {
      if (!(e instanceof ElfError)) throw new Error(`untyped ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
    }
  }), { numRuns: Number(process.env.KLPKIT_FUZZ_RUNS ?? 600), seed: 7 });
});

const noRawControl = (s: string): boolean => !/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(s.replace(/\x1b\[[0-9;]*m/g, ''));

test('hostile names through klp symbols find, klp convert and klp check: escaped text, exact ASCII JSON', () => {
  const f = klp('symbols', 'find', evil, '--db', dbFile);
  assert.equal(f.status, 0, f.stderr);
  assert.ok(noRawControl(f.stdout), f.stdout);
  const j = klp('symbols', 'find', evil, '--db', dbFile, '--json');
  assert.ok(/^[\x0a\x20-\x7e]*$/.test(j.stdout));
  assert.deepEqual((JSON.parse(j.stdout) as Array<{ name: string }>).map((d) => d.name), [evil, evil]);

  // A module whose undefined symbol has the hostile name (ambiguous: two definitions).
  const elf = readElf(readFileSync(lp), { path: lp });
  elf.findSymbolByName('nr_processes')!.name = evil;
  const mod = join(dir, 'evil.o');
  writeFileSync(mod, writeElf(elf));
  const c = klp('convert', mod, '--db', dbFile, '-o', join(dir, 'evil-out.o'));
  assert.equal(c.status, 1);
  assert.ok(noRawControl(c.stdout) && noRawControl(c.stderr), c.stderr);
  assert.match(c.stderr, /ambiguous symbol 'evil\\x1b\[2J\\x07name\\x9b'/);
  const cj = klp('convert', mod, '--db', dbFile, '--dry-run', '--json');
  assert.ok(/^[\x0a\x20-\x7e]*$/.test(cj.stdout));
  assert.ok((JSON.parse(cj.stdout) as { problems: Array<{ symbol: string }> }).problems.some((p) => p.symbol === evil));
  const ch = klp('check', mod, '--db', dbFile);
  assert.ok(noRawControl(ch.stdout), ch.stdout);
  const chj = klp('check', mod, '--db', dbFile, '--json');
  assert.ok(/^[\x0a\x20-\x7e]*$/.test(chj.stdout));
});

test('--in-place replaces the input atomically; without it the input is never written', () => {
  const copy = join(dir, 'inplace.o');
  copyFileSync(lp, copy);
  assert.equal(klp('convert', copy, '--db', dbFile, '-o', copy).status, 2);
  assert.ok(readFileSync(copy).equals(readFileSync(lp)));
  const r = klp('convert', copy, '--db', dbFile, '--in-place');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!readFileSync(copy).equals(readFileSync(lp)));
  assert.ok(readElf(readFileSync(copy), { path: copy }).sections.some((s) => s.isLivepatchRela));
  assert.equal(klp('convert', copy, '--db', dbFile, '--in-place', '-o', join(dir, 'x.o')).status, 2);
});
