/**
 * Hostile text inputs and database files: only typed errors (ElfError naming the file), never a
 * crash, whatever the bytes.
 */
import { InputError } from '../../src/errors.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { ElfError } from '../../src/elf/index.js';
import { SymbolDb } from '../../src/symbols/database.js';
import { parseKallsyms, parseSystemMap } from '../../src/symbols/kallsyms-text.js';
import { parseSymbolsKlp } from '../../src/symbols/symbols-klp.js';
import { parseSymvers } from '../../src/symbols/symvers.js';
import { extractKallsyms } from '../../src/symbols/kallsyms-table.js';
import { craftedKallsymsImage } from '../helpers/synth.js';
import { ROOT } from '../helpers/tools.js';

const runs = Number(process.env.KLPKIT_FUZZ_RUNS ?? 1500);
const typedOnly = (fn: () => unknown): void => {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof InputError)) throw new Error(`untyped ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.ok(e.file.startsWith('hostile'), e.message);
  }
};

const seedKallsyms = 'ffffffff81000000 T _text\nffffffff810a2ac0 t active_show\nffffffffc0000000 t foo\t[foo]\n';
const seedSymvers = '0x12345678\tfoo\tvmlinux\tEXPORT_SYMBOL\t\n0x9abcdef0\tbar\tdrivers/x/dash-mod\tEXPORT_SYMBOL_GPL\tNS\n';
const seedKlp = 'klp-convert-symbol-data.0.1\n*vmlinux\njhash\njhash\n__ksymtab_printk\n*mod\nx\n';
const mutate = (seed: string) => fc.array(fc.tuple(fc.nat(seed.length), fc.integer({ min: 0, max: 255 })), { maxLength: 8 })
  .map((muts) => {
    const b = [...seed].map((c) => c.charCodeAt(0));
    for (const [o, v] of muts) b.splice(o, 1, v);
    return String.fromCharCode(...b);
  });

test('kallsyms / System.map / Module.symvers / symbols.klp parsers: typed errors only', () => {
  fc.assert(fc.property(fc.oneof(mutate(seedKallsyms), fc.string({ maxLength: 200 })), (t) => {
    typedOnly(() => parseKallsyms(t, 'hostile-kallsyms'));
    typedOnly(() => parseSystemMap(t, 'hostile-map'));
  }), { numRuns: runs, seed: 1 });
  fc.assert(fc.property(fc.oneof(mutate(seedSymvers), fc.string({ maxLength: 200 })), (t) => typedOnly(() => parseSymvers(t, 'hostile-symvers'))), { numRuns: runs, seed: 2 });
  fc.assert(fc.property(fc.oneof(mutate(seedKlp), fc.string({ maxLength: 200 })), (t) => typedOnly(() => parseSymbolsKlp(t, 'hostile-klp'))), { numRuns: runs, seed: 3 });
});

test('database loader: corrupted files are typed errors; lookups on a loaded file never crash', () => {
  const db = SymbolDb.build({
    vmlinux: { symbols: [{ name: 'a', type: 't', address: 1n }, { name: 'b', type: 'T', address: 2n }, { name: 'a', type: 't', address: 3n }], source: 's', order: 'kallsyms' },
    dumpModules: new Map([['m', [{ name: 'a', type: 't', address: 4n }]]]),
    exports: [{ name: 'b', object: 'vmlinux', type: 'EXPORT_SYMBOL', namespace: 'N' }],
  });
  const bytes = db.serialize();
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (muts) => {
    const b = bytes.slice();
    for (const [o, v] of muts) b[o] = v;
    typedOnly(() => {
      const d = SymbolDb.load(b, 'hostile.klpdb');
      for (const n of ['a', 'b', 'c', '']) d.lookup(n);
      d.objectCounts();
    });
  }), { numRuns: runs, seed: 4 });
});

test('kallsyms table extraction from random images: typed errors only', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), (img) => typedOnly(() => extractKallsyms(img, 'hostile-image'))), { numRuns: 300, seed: 5 });
});

test('crafted kallsyms tables (runs of numbers before a valid token table), mutated: typed errors only', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 4096 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), (words, muts) => {
    const img = craftedKallsymsImage(words);
    for (const [o, v] of muts) img[o % img.length] = v;
    typedOnly(() => extractKallsyms(img, 'hostile-crafted'));
  }), { numRuns: Math.max(50, Math.ceil(runs / 10)), seed: 6 });
});

test('a crafted image with a long run before the token table is refused in linear time (it hung for minutes)', () => {
  // In a child process: a synchronous hang cannot be interrupted by the test runner's timeout.
  // 60 s is a hang guard, not a timing claim: the fixed search takes milliseconds, the old one
  // took about a minute for 32,768 words and grew quadratically.
  const dir = mkdtempSync(join(tmpdir(), 'klpkit-kallsyms-'));
  const script = join(dir, 'run.ts');
  writeFileSync(script, `
    import { extractKallsyms } from ${JSON.stringify(join(ROOT, 'src/symbols/kallsyms-table.ts'))};
    import { craftedKallsymsImage } from ${JSON.stringify(join(ROOT, 'test/helpers/synth.ts'))};
    for (const words of [16384, 65536, 262144]) {
      try { extractKallsyms(craftedKallsymsImage(words), 'hostile-run'); console.log(words, 'accepted'); }
      catch (e) { console.log(words, (e as Error).message); }
    }`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000, cwd: ROOT });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(r.signal, null, 'the kallsyms search did not finish within 60 s: it is not linear');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [16384, 65536, 262144].map((w) => `${w} hostile-run (offset 0x${(64 + 4 * w).toString(16)}): kallsyms markers not found before the token table`));
});
