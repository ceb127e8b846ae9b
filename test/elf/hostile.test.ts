/**
 * Truncated, corrupted and hostile input: every failure is an ElfError naming the file, never a
 * RangeError, TypeError, hang or huge allocation.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { ElfError, readElf } from '../../src/elf/index.js';
import { allFixtures, fixtureName, fixtures } from '../helpers/fixtures.js';
import { parseEverything } from '../helpers/parse-all.js';

const fx = fixtures();
const seeds = [...allFixtures(fx), new URL('../../examples/klp_demo.ko', import.meta.url).pathname];

/** Parse; anything but success or an ElfError that names the file is a failure. */
function onlyTypedErrors(bytes: Uint8Array, what: string): 'ok' | 'error' {
  try {
    parseEverything(bytes, 'victim.ko');
    return 'ok';
  } catch (e) {
    if (!(e instanceof ElfError)) {
      assert.fail(`${what}: untyped ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    }
    assert.equal(e.file, 'victim.ko');
    assert.ok(e.message.startsWith('victim.ko'), 'the message starts with the file');
    return 'error';
  }
}

for (const path of seeds) {
  const bytes = new Uint8Array(readFileSync(path));
  test(`${fixtureName(path)}: truncated at every header offset and 400 more places`, () => {
    const cuts = new Set<number>();
    for (let i = 0; i < 128; i++) cuts.add(i);
    for (let i = 0; i < 400; i++) cuts.add(Math.floor((bytes.length * i) / 400));
    let errors = 0;
    for (const cut of cuts) if (onlyTypedErrors(bytes.subarray(0, cut), `cut at ${cut}`) === 'error') errors++;
    // Everything up to the section header table at the end is needed: nearly every cut must fail.
    assert.ok(errors >= cuts.size - 2, `${errors} of ${cuts.size} truncations were rejected`);
  });

  test(`${fixtureName(path)}: random byte corruption (fast-check)`, () => {
    // Bias mutations to the ELF header and the section header table, where the structure is.
    const shoff = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(40, true));
    const isElf32 = bytes[4] === 1;
    const tableStart = isElf32 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(32, true) : shoff;
    const offset = fc.oneof(
      fc.integer({ min: 0, max: 63 }),
      fc.integer({ min: tableStart, max: bytes.length - 1 }),
      fc.integer({ min: 0, max: bytes.length - 1 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(offset, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (muts) => {
        const b = bytes.slice();
        for (const [o, v] of muts) b[o] = v;
        onlyTypedErrors(b, `mutations ${JSON.stringify(muts)}`);
      }),
      { numRuns: Number(process.env.KLPKIT_FUZZ_RUNS ?? 1500), seed: 0x6b6c70 },
    );
  });
}

test('not ELF, wrong class, wrong byte order, wrong version', () => {
  const good = new Uint8Array(readFileSync(fx.module));
  const cases: Array<[string, (b: Uint8Array) => void, string]> = [
    ['text file', (b) => b.set(new TextEncoder().encode('hello')), 'NOT_ELF'],
    ['class 3', (b) => { b[4] = 3; }, 'BAD_CLASS'],
    ['data 0', (b) => { b[5] = 0; }, 'BAD_ENDIAN'],
    ['version 2', (b) => { b[6] = 2; }, 'BAD_VERSION'],
  ];
  for (const [what, mutate, code] of cases) {
    const b = good.slice();
    mutate(b);
    assert.throws(() => readElf(b, { path: 'x.ko' }), (e: unknown) => e instanceof ElfError && e.code === code, what);
  }
  // Big-endian byte order on a little-endian file is read consistently and then rejected, not crashed on.
  const be = good.slice();
  be[5] = 2;
  assert.equal(onlyTypedErrors(be, 'byte-swapped'), 'error');
});

test('a section count that would need more memory than the file holds is refused before allocation', () => {
  const b = new Uint8Array(readFileSync(fx.module)).slice();
  const v = new DataView(b.buffer);
  v.setUint16(60, 0, true); // e_shnum = 0: extended numbering, count in shdr[0].sh_size
  const shoff = Number(v.getBigUint64(40, true));
  v.setBigUint64(shoff + 32, 0xffffffffffn, true);
  assert.throws(() => readElf(b, { path: 'bomb.ko' }), (e: unknown) => e instanceof ElfError && e.code === 'TRUNCATED' && /section header table/.test(e.message));
});

test('error messages name file, offset and what to do', () => {
  const b = new Uint8Array(readFileSync(fx.module));
  try {
    readElf(b.subarray(0, 200), { path: 'short.ko' });
    assert.fail('no error');
  } catch (e) {
    assert.ok(e instanceof ElfError);
    assert.match(e.message, /^short\.ko.*offset 0x[0-9a-f]+.*runs past the end of the file \(200 bytes\).*truncated/);
  }
});
