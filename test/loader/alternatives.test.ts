/**
 * Alternatives in a livepatch whose replacement code calls a module's static function (the gcc
 * fixture, -DLP_ALTERNATIVE): today's designs copy the replacement before its livepatch relocation
 * is written, or never apply it; the per-object design applies it after the object's relocations.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { convertModule } from '../../src/convert/convert.js';
import { splitModule } from '../../src/convert/split.js';
import { readElf, writeElf } from '../../src/elf/index.js';
import type { ElfFile } from '../../src/elf/file.js';
import { DESIGNS, type Design } from '../../src/loader/designs/index.js';
import { EmulatedKernel } from '../../src/loader/kernel.js';
import { readAlternatives } from '../../src/loader/alternatives.js';
import { fixtureDb } from '../helpers/fixture-db.js';
import { fixtures } from '../helpers/fixtures.js';
import { readelfComplaints } from '../helpers/readelf.js';
import { buildObject } from '../helpers/tools.js';

const { dir, db } = await fixtureDb('alternatives', ['ffffffff81800000 T undefined_function', 'ffffffff82800000 D some_kernel_var'], ['undefined_function', 'some_kernel_var']);
const SHAPES = {
  '6.1': buildObject(dir, ['lp_main.c'], 'lp_alt.ko', ['-DLP_ALTERNATIVE']),
  '6.3': buildObject(dir, ['lp_main.c'], 'lp_alt63.ko', ['-DLP_ALTERNATIVE', '-DLP_ALT_FT_FLAGS']),
};
type Shape = keyof typeof SHAPES;
const fresh = (shape: Shape): ElfFile => readElf(readFileSync(SHAPES[shape]), { path: SHAPES[shape] });

/** Converted for today's kernels would refuse it; --per-object converts it; split or not. */
function patch(split: boolean, shape: Shape = '6.1'): Uint8Array {
  const elf = fresh(shape);
  const c = convertModule(elf, { db, perObject: true });
  assert.deepEqual(c.problems, []);
  if (split) {
    const s = splitModule(elf);
    assert.deepEqual(s.problems, []);
    assert.equal(s.objects[0]!.entries['.altinstructions'], 1);
  }
  return writeElf(elf);
}

/** Load fixture_mod and the patch in `order`; return where the alternative's call goes, if anywhere. */
function run(design: Design, bytes: Uint8Array, order: 'module-first' | 'patch-first'): { site: string; dest: bigint | undefined; homonym: bigint; replacement: bigint; violations: number } {
  const k = new EmulatedKernel(db, design);
  const mod = (): number => k.insmod(readElf(readFileSync(fixtures().module), { path: 'fixture_mod.ko' }));
  const lp = (): number => k.insmod(readElf(bytes, { path: 'lp.ko' }));
  const rcs = order === 'module-first' ? [mod(), lp()] : [lp(), mod()];
  assert.deepEqual(rcs, [0, 0], `${design} ${order}: ${k.log.join(' | ')}`);
  const m = k.module('lp_fixture')!;
  const table = m.elf.sections.find((s) => s.name === '.altinstructions' || s.name === '.klp.arch.fixture_mod..altinstructions')!;
  const [alt] = readAlternatives(k.memory, m, table);
  const b = k.memory.read(alt!.instr, 5)!;
  const dest = b[0] === 0xe8 ? BigInt.asUintN(64, alt!.instr + 5n + BigInt(new DataView(b.buffer, b.byteOffset + 1, 4).getInt32(0, true))) : undefined;
  return { site: Buffer.from(b).toString('hex'), dest, homonym: k.symbolAddress('fixture_mod', 'homonym', 2)!, replacement: alt!.replacement, violations: k.violations };
}

test('klp split moves the alternative and its replacement bytes into .klp.arch.<obj> sections, in both shapes of the entry', () => {
  for (const shape of Object.keys(SHAPES) as Shape[]) {
    const out = `${dir}/lp_alt${shape}.split.ko`;
    const bytes = patch(true, shape);
    const elf = readElf(bytes, { path: out });
    const names = elf.sections.map((s) => s.name);
    for (const n of ['.klp.arch.fixture_mod..altinstructions', '.klp.arch.fixture_mod..altinstr_replacement', '.klp.rela.fixture_mod..klp.arch.fixture_mod..altinstr_replacement']) assert.ok(names.includes(n), n);
    assert.ok(!names.includes('.klp.rela.fixture_mod..altinstr_replacement'));
    // The whole entry moved: 12 or 14 bytes, as built.
    assert.equal(elf.findSectionByName('.klp.arch.fixture_mod..altinstructions')!.size, fresh(shape).findSectionByName('.altinstructions')!.size, shape);
    assert.equal(elf.findSectionByName('.klp.arch.fixture_mod..altinstr_replacement')!.size, 5, `${shape}: the call's five bytes`);
    writeFileSync(out, bytes);
    assert.deepEqual(readelfComplaints(out), []);
  }
});

test('klp split refuses an .altinstructions that fits neither shape of struct alt_instr, naming it', () => {
  const elf = fresh('6.1');
  assert.deepEqual(convertModule(elf, { db, perObject: true }).problems, []);
  const alt = elf.findSectionByName('.altinstructions')!;
  alt.setData(Uint8Array.from([...alt.data, 0]));
  const s = splitModule(elf);
  assert.equal(s.changed, false);
  assert.match(s.problems.map((p) => `${p.where}: ${p.message}`).join('\n'), /lp_alt\.ko: \.altinstructions: 13 bytes with 2 relocations fit neither struct alt_instr/);
});

test('the alternative calls the module\'s homonym under per-object (and 4.x, with flips), in either order and either shape', () => {
  for (const d of DESIGNS) {
    for (const [order, shape] of [['module-first', '6.1'], ['patch-first', '6.1'], ['module-first', '6.3'], ['patch-first', '6.3']] as const) {
      const split = run(d, patch(true, shape), order);
      if (d.startsWith('per-object')) {
        assert.equal(split.dest, split.homonym, `${d} ${order} ${shape}: call homonym,2 at 0x${split.homonym.toString(16)}`);
        assert.equal(split.violations, 0);
      } else if (d === '4.x') {
        // Before 5.8 arch_klp_init_object_loaded() applied .klp.arch alternatives after the
        // relocations, but with plain stores into text made writable and still executable.
        assert.equal(split.dest, split.homonym, `${d} ${order}`);
        assert.ok(split.violations > 0);
      } else {
        assert.equal(split.site, '0f1f440000', `${d} ${order}: 5.8+ never applies .klp.arch alternatives: the nop stays`);
      }
    }
  }
});

test('unsplit, today\'s module_finalize copies the call before its relocation exists: it calls into the replacement area', () => {
  for (const d of ['6.1', '6.3'] as const) {
    const r = run(d, patch(false), 'module-first');
    // The displacement was still zero when copied: the call lands right after the replacement.
    assert.equal(r.dest, r.replacement + 5n, `${d}: the site calls 0x${r.dest?.toString(16)}, not homonym at 0x${r.homonym.toString(16)}`);
  }
});
