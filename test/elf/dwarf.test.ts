/**
 * The DWARF reader (src/elf/dwarf.ts) against GNU readelf --debug-dump=info, on the gcc-built
 * fixture module in every shape a kernel build gives it: DWARF 5 (gcc 12's default), 4 and 2,
 * compressed debug sections (zlib, zstd: CONFIG_DEBUG_INFO_COMPRESSED), and linked like vmlinux
 * (`ld --emit-relocs`, addresses final, relocations kept).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDwarfUnits } from '../../src/elf/dwarf.js';
import { ElfError } from '../../src/elf/errors.js';
import { readElf } from '../../src/elf/index.js';
import { vmlinuxUnitsFromDebug } from '../../src/symbols/debug-units.js';
import { dwarfUnitsOf } from '../../src/symbols/dwarf-units.js';
import { moduleSymbols } from '../../src/symbols/module-symbols.js';
import type { RawSymbol } from '../../src/symbols/types.js';
import { readelfDwarfPlaces, readelfSections, readelfSymbols, readelfUnitOfAddress } from '../helpers/readelf.js';
import { buildObject, run, tempDir } from '../helpers/tools.js';

const { dir, cleanup } = tempDir('klpkit-dwarf-');
process.on('exit', cleanup);
const SOURCES = ['mod_a.c', 'mod_b.c'];

const variants: [string, () => string][] = [
  ['DWARF 5', () => buildObject(dir, SOURCES, 'dw5.ko', ['-g'])],
  ['DWARF 4', () => buildObject(dir, SOURCES, 'dw4.ko', ['-gdwarf-4'])],
  ['DWARF 2', () => buildObject(dir, SOURCES, 'dw2.ko', ['-gdwarf-2', '-gstrict-dwarf'])],
  ...(['zlib', 'zstd'] as const).map((kind): [string, () => string] => [`DWARF 5, sections compressed with ${kind}`, () => {
    const out = join(dir, `dw5-${kind}.ko`);
    run('objcopy', [`--compress-debug-sections=${kind}`, buildObject(dir, SOURCES, `dw5-${kind}-plain.ko`, ['-g']), out]);
    return out;
  }]),
  ['DWARF 5, linked like vmlinux (ld --emit-relocs)', () => linked('-g')],
];

/** The fixture's objects linked into an executable at the kernel's addresses, relocations kept. */
function linked(flag: string): string {
  const objs = SOURCES.map((_, i) => join(dir, `vm${flag}.ko.${i}.o`));
  buildObject(dir, SOURCES, `vm${flag}.ko`, [flag]);
  const out = join(dir, `vm${flag}.elf`);
  run('ld', ['--emit-relocs', '-Ttext-segment=0xffffffff81000000', '-e', '0', '--unresolved-symbols=ignore-all', '-o', out, ...objs]);
  return out;
}

for (const [what, build] of variants) {
  test(`${what}: units and the places of functions and variables == readelf --debug-dump=info`, () => {
    const path = build();
    const elf = readElf(readFileSync(path), { path });
    if (what.includes('compressed')) {
      assert.ok(readelfSections(path).some((s) => s.name === '.debug_info' && s.flags.includes('C')), 'the fixture has compressed debug sections');
    }
    const ours = readDwarfUnits(elf)!;
    const theirs = readelfDwarfPlaces(path);
    assert.equal(ours.units.length, 2 + 0, 'two compile units');
    assert.deepEqual(ours.units, theirs.units);
    assert.ok(ours.units.every((u, i) => u.endsWith(`/${SOURCES[i]}`)), ours.units.join(' '));
    const key = (unit: string, at: bigint): string => `${unit}|${at.toString(16)}`;
    const a = ours.places.map((p) => key(ours.units[p.unit]!, p.address)).sort();
    const b = theirs.places.map((p) => key(theirs.units[p.unit]!, p.at)).sort();
    assert.ok(b.length >= 15, `${b.length} places`);
    assert.deepEqual(a, b);
  });
}

test('a module\'s homonyms take DWARF\'s path as their unit, each its own (two sections of one name told apart)', () => {
  const path = buildObject(dir, SOURCES, 'units.ko', ['-g']);
  const m = moduleSymbols(readElf(readFileSync(path), { path }));
  const names = m.names.split('\0');
  const units = names.flatMap((n, i) => (n === 'homonym' ? [m.file[i] ? m.files[m.file[i]! - 1]! : null] : []));
  const cus = readelfDwarfPlaces(path).units;
  assert.deepEqual(units, cus, 'sympos 1 from mod_a.c, 2 from mod_b.c, by path');
  // Without DWARF, the STT_FILE names.
  const plain = buildObject(dir, SOURCES, 'units-plain.ko');
  const p = moduleSymbols(readElf(readFileSync(plain), { path: plain }));
  const pn = p.names.split('\0');
  assert.deepEqual(pn.flatMap((n, i) => (n === 'homonym' ? [p.files[p.file[i]! - 1]] : [])), ['mod_a.c', 'mod_b.c']);
});

test('every local of an STT_FILE run takes the run\'s unit, placed by DWARF or not (a function\'s static variable)', () => {
  const path = buildObject(dir, ['mod_a.c', 'unit_static.c'], 'runs.ko', ['-g']);
  const elf = readElf(readFileSync(path), { path });
  const cus = readelfDwarfPlaces(path).units;
  const locals = elf.allSymbols.filter((y) => y.bind === 0 && y.type !== 3 && y.type !== 4 && y.name !== '');
  const units = dwarfUnitsOf(elf, locals)!;
  let file = '';
  const expected = new Map<string, string>();
  for (const y of elf.allSymbols) {
    if (y.type === 4) file = y.name;
    else if (y.bind === 0 && y.name !== '' && y.type !== 3) expected.set(`${y.name}@${y.origIndex}`, cus.find((u) => u.endsWith(`/${file}`))!);
  }
  assert.ok(locals.length >= 10, `${locals.length} locals`);
  locals.forEach((y, k) => assert.equal(units[k], expected.get(`${y.name}@${y.origIndex}`), y.name));
  // The static variable inside a function, which the walk does not place, is among them.
  assert.ok(locals.some((y) => y.name.startsWith('calls.')), locals.map((y) => y.name).join(' '));
});

test('vmlinux linked with --emit-relocs: units, sizes and sections from it, fingerprints equal to the relocatable build\'s', () => {
  const path = linked('-g');
  const elf = readElf(readFileSync(path), { path });
  // kallsyms of this "vmlinux": its function and object symbols, by address.
  const symbols: RawSymbol[] = readelfSymbols(path)
    .filter((y) => y.table === '.symtab' && (y.type === 'FUNC' || y.type === 'OBJECT') && y.ndx !== 'UND')
    .sort((x, y) => (x.value < y.value ? -1 : x.value > y.value ? 1 : 0))
    .map((y) => ({ name: y.name, type: y.bind === 'LOCAL' ? 't' : 'T', address: y.value }));
  const found = vmlinuxUnitsFromDebug(symbols, elf);
  assert.ok(found >= 5, `${found} units`);
  const unitAt = readelfUnitOfAddress(path);
  const homonyms = symbols.filter((s) => s.name === 'homonym');
  assert.equal(homonyms.length, 2);
  for (const s of homonyms) {
    assert.equal(s.file, unitAt(s.address!), `homonym at ${s.address!.toString(16)}: the unit aranges gives`);
    assert.equal(s.section, '.text');
    const y = readelfSymbols(path).find((x) => x.name === 'homonym' && x.value === s.address)!;
    assert.equal(s.size, y.size);
  }
  assert.notEqual(homonyms[0]!.file, homonyms[1]!.file);
  // The fingerprints: the same bytes with the relocated fields zeroed as in the module (ld -r)
  // built from the same objects, whatever the linker wrote into those fields.
  const mod = join(dir, 'vm-g.ko');
  const m = moduleSymbols(readElf(readFileSync(mod), { path: mod }));
  const mh = m.names.split('\0').flatMap((n, i) => (n === 'homonym' ? [m.hash[i]!] : []));
  assert.ok(mh.every((h) => h !== 0));
  assert.deepEqual(homonyms.map((s) => s.hash), mh);
  // A symbol vmlinux defines once has no fingerprint (only homonyms are fingerprinted).
  assert.equal(symbols.find((s) => s.name === 'mod_a_entry')?.hash, undefined);
});

test('hostile DWARF: a cut or scribbled .debug_info is an ElfError naming the section, never a crash', () => {
  const path = buildObject(dir, SOURCES, 'hostile.ko', ['-gdwarf-4']);
  const bytes = readFileSync(path);
  const sec = readElf(bytes, { path }).findSectionByName('.debug_info')!;
  let refused = 0;
  let seed = 7;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let k = 0; k < 300; k++) {
    const b = Buffer.from(bytes);
    if (k < 40) {
      // Cut the section: the unit length now runs past its end.
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      v.setUint32(sec.offset, 0xfff0 + k, true);
    } else {
      for (let j = 0; j < 1 + rand(4); j++) b[sec.offset + rand(sec.size)] = rand(256);
    }
    const file = join(dir, 'scribbled.ko');
    writeFileSync(file, b);
    try {
      readDwarfUnits(readElf(b, { path: file }));
    } catch (e) {
      assert.ok(e instanceof ElfError, `mutation ${k}: ${e instanceof Error ? e.stack : String(e)}`);
      assert.equal(e.file, file);
      assert.match(e.message, /debug_(info|abbrev|str)/);
      refused++;
    }
  }
  assert.ok(refused >= 40, `${refused} refused`);
});
