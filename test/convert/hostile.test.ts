/**
 * klp convert and klp check on corrupted modules, and hostile names through every output format.
 */
import { InputError } from '../../src/errors.js';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkModule } from '../../src/check/check.js';
import { convertModule } from '../../src/convert/convert.js';
import { ElfError, readElf, writeElf } from '../../src/elf/index.js';
import { klp } from '../helpers/cli.js';
import { fixtureDb } from '../helpers/fixture-db.js';
import { buildObject } from '../helpers/tools.js';

const evil = 'evil\x1b[2J\x07name\x9b';
const { dir, db, dbFile } = await fixtureDb('convert-hostile', [`ffffffff81000000 t ${evil}`, `ffffffff81000010 t ${evil}`]);
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
      if (!(e instanceof InputError)) throw new Error(`untyped ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
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
