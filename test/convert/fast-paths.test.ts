/**
 * The fast paths of klp convert (issue #16) against the general ones they stand in for, on
 * gcc-built objects: relocations read where they lie (elf/reloc-reader.ts) against the decoder,
 * converted entries moved as bytes against `addRelocations`/`removeRelocations` and the writer,
 * and a database read in part (symbols/db-file.ts) against the whole file. Each pair must agree
 * byte for byte, and each fast path must be the one taken where it can be.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { convertModule, namesToResolve } from '../../src/convert/convert.js';
import { ElfError, readElf, writeElf, type ElfFile } from '../../src/elf/index.js';
import { relocationReader } from '../../src/elf/reloc-reader.js';
import { SymbolDb } from '../../src/symbols/database.js';
import { DbFile } from '../../src/symbols/db-file.js';
import { DatabaseError } from '../../src/symbols/errors.js';
import { fixtureDb } from '../helpers/fixture-db.js';
import { fixtures } from '../helpers/fixtures.js';
import { readelfComplaints } from '../helpers/readelf.js';
import { buildObject, KERNEL_CFLAGS } from '../helpers/tools.js';

// A patch of N functions, each calling two of N non-exported vmlinux functions (bench/convert.ts
// in small), and the database that knows them.
const N = 300;
const targets = Array.from({ length: N }, (_, i) => `target_fn_${i}`);
const extra = targets.map((t, i) => `ffffffff8${(0x2000000 + i * 0x40).toString(16).padStart(7, '0')} t ${t}`);
const { dir, db, dbFile } = await fixtureDb('fast-paths', extra);
let src = targets.map((t) => `extern int ${t}(void);\n`).join('');
for (let i = 0; i < N; i++) src += `int lp_fn${i}(void) { return ${targets[i]}() + ${targets[(i * 7 + 1) % N]}(); }\n`;
src += 'static const char lp[] __attribute__((used, section(".modinfo"))) = "livepatch=Y";\n';
writeFileSync(join(dir, 'many.c'), src);
const many = join(dir, 'many.o');
execFileSync('gcc', [...KERNEL_CFLAGS, '-fno-builtin', '-c', join(dir, 'many.c'), '-o', many]);
const lp = buildObject(dir, ['lp_main.c'], 'lp.o');

/** Convert `path`; `general` decodes every table first, which keeps the fast paths out. */
function convertWith(path: string, general: boolean): { bytes: Uint8Array; plan: string; elf: ElfFile } {
  const elf = readElf(readFileSync(path), { path });
  if (general) elf.decodeAll();
  const r = convertModule(elf, { db });
  assert.deepEqual(r.problems, [], path);
  const { patches: _p, ...rest } = r; // patches hold ElfSymbols (BigInts): the plan and the rest are compared
  return { bytes: writeElf(elf), plan: JSON.stringify(rest), elf };
}

test('moving converted entries as bytes gives the bytes of the general way, and is the way taken', () => {
  for (const path of [many, lp]) {
    const fast = convertWith(path, false);
    const general = convertWith(path, true);
    assert.equal(Buffer.compare(fast.bytes, general.bytes), 0, `${path}: the two ways differ`);
    assert.equal(fast.plan, general.plan, path);
    const klp = (e: ElfFile) => e.sections.filter((s) => s.isLivepatchRela);
    // The fast way leaves the new sections as bytes; the general way as decoded relocations.
    assert.ok(klp(general.elf).every((s) => s._relocs !== undefined), path);
    if (path === many) {
      assert.equal(klp(fast.elf).length, N);
      assert.ok(klp(fast.elf).every((s) => s._relocs === undefined), 'the fast way was not taken');
    }
    const out = path.replace(/\.o$/, '.fast.o');
    writeFileSync(out, fast.bytes);
    assert.deepEqual(readelfComplaints(out), []);
  }
});

test('relocations read where they lie equal the decoded ones, and a bad symbol index is refused in the same words', () => {
  for (const path of [many, lp, fixtures().module, fixtures().elf32]) {
    const raw = readElf(readFileSync(path), { path });
    const decoded = readElf(readFileSync(path), { path });
    for (let k = 0; k < raw.sections.length; k++) {
      const rs = raw.sections[k]!;
      if (!rs.isRelocation) continue;
      const rr = relocationReader(raw, rs);
      assert.ok(rr.raw, `${path} ${rs.name}`);
      const want = decoded.relocations(decoded.sections[k]!);
      assert.equal(rr.count, want.length);
      want.forEach((r, i) => {
        assert.equal(rr.symbol(i).origIndex, r.symbol.origIndex, `${rs.name}[${i}]`);
        assert.equal(rr.type(i), r.type);
        assert.equal(rr.offset(i), Number(r.offset));
        assert.equal(rr.offsetHex(i), `0x${r.offset.toString(16)}`);
      });
    }
  }
  // Symbol index 0xffffff in the first entry of the first RELA section.
  const bytes = new Uint8Array(readFileSync(lp));
  const elf = readElf(bytes, { path: 'bad.o' });
  const rs = elf.sections.find((s) => s.isRelocation)!;
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(rs.offset + 12, 0xffffff, true);
  const words = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      assert.ok(e instanceof ElfError);
      return e.message;
    }
    return 'no error';
  };
  const a = words(() => relocationReader(readElf(bytes, { path: 'bad.o' }), readElf(bytes, { path: 'bad.o' }).sections.find((s) => s.isRelocation)!));
  const fresh = readElf(bytes, { path: 'bad.o' });
  const b = words(() => fresh.relocations(fresh.sections.find((s) => s.isRelocation)!));
  assert.match(a, /relocation refers to symbol 16777215/);
  assert.equal(a, b);
});

for (const walk of [true, false]) test(`a database read in part (its rows found by ${walk ? 'a walk' : 'a search'}) answers as the whole file, and asks the whole file for the rest`, () => {
  const whole = SymbolDb.load(readFileSync(dbFile), dbFile);
  const elf = readElf(readFileSync(many), { path: many });
  const names = namesToResolve(elf);
  assert.ok(names.has('target_fn_0') && names.has('__fentry__'));
  const file = DbFile.open(dbFile)!;
  let asked = 0;
  const part = file.rowsFor([...names, 'no_such_symbol'], () => {
    asked++;
    return whole;
  }, { walk })!;
  file.close();
  for (const n of [...names, 'no_such_symbol']) assert.deepEqual(part.lookup(n), whole.lookup(n), n);
  assert.equal(asked, 0, 'names asked for are answered from the rows read');
  for (const o of ['vmlinux', 'fixture_mod', 'nothing']) assert.equal(part.hasExports(o), whole.hasExports(o), o);
  // A name not asked for, and questions about whole objects, read the whole file.
  assert.deepEqual(part.lookup('homonym'), whole.lookup('homonym'));
  assert.equal(asked, 1);
  assert.equal(part.count, whole.count);
  const d = whole.lookup('homonym')[0]!;
  assert.deepEqual(part.neighbours(d), whole.neighbours(d));
  // Converting against it gives the same module.
  const a = readElf(readFileSync(many), { path: many });
  const b = readElf(readFileSync(many), { path: many });
  convertModule(a, { db: whole });
  const file2 = DbFile.open(dbFile)!;
  convertModule(b, { db: file2.rowsFor(namesToResolve(b), () => whole, { walk })! });
  file2.close();
  assert.equal(Buffer.compare(writeElf(a), writeElf(b)), 0);
});

test('a walk of a names table many windows long finds each name asked, and no name it does not hold, wherever they fall', () => {
  // 3,000 names of 1 to 60 characters (some 95 KB of names: the walk looks through 4 KB at a
  // time), a prefix of another among them; asked: every third, names that fall between two of the
  // table's, before its first, after its last, and prefixes and extensions of its names.
  const rnd = fc.sample(fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 0xffffff })), { numRuns: 3000, seed: 16 });
  const held = [...new Set(rnd.map(([len, x], i) => `s${x.toString(36)}_${i}`.padEnd(len, 'x').slice(0, Math.max(len, 3))))];
  held.push('zz_last', 'zz_last_but_longer', 'AAA_first');
  const symbols = held.map((name, i) => ({ name, type: 't', address: BigInt(0x1000 + i) }));
  const path = join(dir, 'windows.klpdb');
  writeFileSync(path, SymbolDb.build({ vmlinux: { symbols, source: 's', order: 'kallsyms' } }).serialize());
  const whole = SymbolDb.load(readFileSync(path), path);
  const sorted = [...held].sort();
  const asked = [...sorted.filter((_, i) => i % 3 === 0), ...sorted.filter((_, i) => i % 7 === 1).map((n) => `${n}!`),
    ...sorted.filter((_, i) => i % 11 === 2).map((n) => n.slice(0, -1)), '0_before_all', 'zzz_after_all', 'zz_last', 'zz_last_but_longer'];
  const file = DbFile.open(path)!;
  try {
    const part = file.rowsFor(asked, () => assert.fail('a name asked was looked for in the whole file'), { walk: true })!;
    for (const n of asked) assert.deepEqual(part.lookup(n), whole.lookup(n), n);
    // Both kinds, many of each.
    const heldAsked = asked.filter((n) => whole.lookup(n).length > 0).length;
    assert.ok(heldAsked > 900 && asked.length - heldAsked > 500, `${heldAsked} of ${asked.length} held`);
  } finally {
    file.close();
  }
});

test('a damaged database file: the part reader refuses it in the words of load(), or answers as load() does, or skips a damaged row it does not read', () => {
  const good = SymbolDb.build({
    vmlinux: { symbols: [{ name: 'a', type: 't', address: 1n }, { name: 'b', type: 'T', address: 2n }, { name: 'a', type: 't', address: 3n }], source: 's', order: 'kallsyms' },
    dumpModules: new Map([['m', [{ name: 'a', type: 't', address: 4n }, { name: 'c', type: 'T', address: 5n }]]]),
    exports: [{ name: 'b', object: 'vmlinux', type: 'EXPORT_SYMBOL', namespace: 'N' }],
  }).serialize();
  const path = join(dir, 'damaged.klpdb');
  const namesAt = good.length - (JSON.parse(Buffer.from(good.subarray(16, 16 + new DataView(good.buffer).getUint32(12, true))).toString()) as { namesBytes: number }).namesBytes;
  /** The name of a row of a file whose header and name offsets load() took. */
  const nameOfRow = (b: Uint8Array, row: number): string => {
    const hlen = new DataView(b.buffer, b.byteOffset).getUint32(12, true);
    const L = SymbolDb.layout(SymbolDb.parseHeader(b.subarray(16, 16 + hlen), path), hlen, b.length, path);
    const off = new DataView(b.buffer, b.byteOffset).getUint32(L.at.nameOff + 4 * row, true);
    return Buffer.from(b.subarray(L.namesAt + off, b.indexOf(0, L.namesAt + off))).toString('latin1');
  };
  const outcome = (f: () => SymbolDb | undefined): string | SymbolDb | undefined => {
    try {
      return f();
    } catch (e) {
      assert.ok(e instanceof DatabaseError, `untyped: ${String(e)}`);
      return e.message;
    }
  };
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.boolean(), (muts, cut) => {
    let b = good.slice();
    for (const [o, v] of muts) b[o] = v;
    if (cut) b = b.subarray(0, muts[0]![0]);
    writeFileSync(path, b);
    const full = outcome(() => SymbolDb.load(b, path));
    // The rows found by a walk, and by a search a name.
    for (const walk of [true, false]) {
      const part = outcome(() => {
        const f = DbFile.open(path)!;
        try {
          // As klp convert takes it: undefined, a file laid out as the part reader does not
          // expect, is read whole.
          return f.rowsFor(['a', 'b', 'c', 'z'], () => SymbolDb.load(readFileSync(path), path), { walk }) ?? SymbolDb.load(readFileSync(path), path);
        } finally {
          f.close();
        }
      });
      if (typeof full === 'string') {
        if (typeof part === 'string') {
          assert.equal(part, full);
          continue;
        }
        // It answered where load() refused: only for a row load() named that it did not read,
        // one of a name it did not find (a row of a name found is read, and checked).
        const entry = /entry (\d+) refers outside its tables/.exec(full);
        assert.ok(entry, `load() said '${full}', the part reader answered`);
        const name = nameOfRow(b, +entry[1]!);
        assert.ok(part instanceof SymbolDb);
        assert.deepEqual(part.lookup(name), [], `row ${entry[1]} (of '${name}') was read, and not refused`);
        continue;
      }
      assert.notEqual(typeof part, 'string', `load() took it, the part reader said: ${String(part)}`);
      // Lookups agree while the names table is as written (on a shuffled one a binary search and
      // a walk may find different rows; both are typed answers).
      if (part instanceof SymbolDb && !cut && muts.every(([o]) => o < namesAt)) {
        for (const n of ['a', 'b', 'c', 'z']) assert.deepEqual(part.lookup(n), full!.lookup(n), n);
      }
    }
  }), { numRuns: 400, seed: 16 });
});

test('a damaged row: the part reader refuses it when it reads it, in the words of load(), and answers for the names it does not touch', () => {
  const db = SymbolDb.build({
    vmlinux: { symbols: ['a', 'b', 'c', 'd'].map((name, i) => ({ name, type: 't', address: BigInt(0x1000 + i) })), source: 's', order: 'kallsyms' },
  }).serialize();
  const hlen = new DataView(db.buffer).getUint32(12, true);
  const L = SymbolDb.layout(SymbolDb.parseHeader(db.subarray(16, 16 + hlen), 'x'), hlen, db.length, 'x');
  const bad = db.slice();
  new DataView(bad.buffer).setUint16(L.at.object + 2 * 2, 7, true); // row 2 ('c') names object 7 of 1
  const path = join(dir, 'bad-row.klpdb');
  writeFileSync(path, bad);
  assert.throws(() => SymbolDb.load(bad, path), /entry 2 refers outside its tables/);
  for (const walk of [true, false]) {
    const read = (names: string[]): SymbolDb | undefined => {
      const f = DbFile.open(path)!;
      try {
        return f.rowsFor(names, () => assert.fail('read whole'), { walk });
      } finally {
        f.close();
      }
    };
    assert.throws(() => read(['a', 'c']), (e: unknown) => e instanceof DatabaseError && /bad-row\.klpdb: entry 2 refers outside its tables/.test(e.message));
    const part = read(['a', 'b', 'd', 'zz'])!;
    assert.deepEqual(['a', 'b', 'd', 'zz'].map((n) => part.lookup(n).map((d) => d.address)), [[0x1000n], [0x1001n], [0x1003n], []]);
  }
});

test('a section given fewer bytes leaves zeros behind it, not the input bytes it no longer holds', () => {
  const path = lp;
  const input = new Uint8Array(readFileSync(path));
  const elf = readElf(input, { path });
  // The largest section with a neighbour right behind it.
  const secs = elf.sections.filter((s) => !s.isNobits && s.data.length >= 16).sort((x, y) => y.data.length - x.data.length);
  const sec = secs[0]!;
  const half = Math.floor(sec.data.length / 2);
  sec.setData(sec.data.slice(0, half));
  const out = writeElf(elf);
  const again = readElf(out, { path: 'out.o' });
  const moved = again.sections.find((s) => s.name === sec.name)!;
  const next = again.sections.filter((s) => !s.isNobits && s.offset > moved.offset).sort((x, y) => x.offset - y.offset)[0]!;
  const gap = out.subarray(moved.offset + half, next.offset);
  assert.ok(gap.length >= half - 64, 'the next section stayed where it was');
  assert.ok(gap.every((x) => x === 0), 'stale input bytes were copied after the shortened section');
});
