/**
 * x86_64 apply_relocate_add() as the emulator models it: values, overflow checks, the zero rule
 * and the kernel's messages by version.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { x86_64 } from '../../src/arch/index.js';

const apply = (type: number, val: bigint, loc = 0xffffffffc0001000n, existing = new Uint8Array(8), k = { major: 6, minor: 1 }) =>
  x86_64.applyRela!({ type, val, loc, module: 'm', read: (n) => existing.subarray(0, n) }, k);
const le = (b: Uint8Array): bigint => b.reduce((acc, x, i) => acc | (BigInt(x) << BigInt(8 * i)), 0n);

test('values: 64, 32, 32S, PC32/PLT32 (S + A - P), PC64, NONE', () => {
  const r64 = apply(1, 0xffffffff8109de70n);
  assert.ok(r64.ok && 'bytes' in r64 && le(r64.bytes) === 0xffffffff8109de70n);
  const r32s = apply(11, 0xffffffff8109de70n);
  assert.ok(r32s.ok && 'bytes' in r32s && le(r32s.bytes) === 0x8109de70n);
  const pc = apply(2, 0xffffffff8109de70n - 4n, 0xffffffffc0001000n);
  assert.ok(pc.ok && 'bytes' in pc);
  assert.equal(BigInt.asIntN(32, le(pc.bytes)), 0xffffffff8109de70n - 4n - 0xffffffffc0001000n);
  const plt = apply(4, 0xffffffffc0000000n, 0xffffffffc0001000n);
  assert.ok(plt.ok && 'bytes' in plt && BigInt.asIntN(32, le(plt.bytes)) === -0x1000n);
  const pc64 = apply(24, 0x10n, 0x8n);
  assert.ok(pc64.ok && 'bytes' in pc64 && le(pc64.bytes) === 8n);
  assert.deepEqual(apply(0, 123n), { ok: true, size: 0 });
});

test('overflow of 32 and 32S, with the -mcmodel=kernel hint', () => {
  const o = apply(10, 0xffffffff8109de70n);
  assert.deepEqual(o, { ok: false, errno: 'ENOEXEC', kind: 'overflow', messages: ['overflow in relocation type 10 val ffffffff8109de70', "`m' likely not compiled with -mcmodel=kernel"] });
  assert.equal(apply(11, 0x80000000n).ok, false, '32S: 0x80000000 does not sign-extend to itself');
  assert.equal(apply(11, 0x7fffffffn).ok, true);
});

test('unknown types and the zero rule, with 6.1 and 6.3 wording', () => {
  assert.deepEqual(apply(9, 0n), { ok: false, errno: 'ENOEXEC', kind: 'unknown-type', messages: ['m: Unknown rela relocation: 9'] });
  const dirty = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
  const r61 = apply(2, 0x10n, 0x8n, dirty);
  // 6.1 checks the target before `val -= loc`: val is S+A (0x10); loc is %p, a hashed pointer.
  assert.ok(!r61.ok);
  assert.match(r61.messages[0]!, /^x86\/modules: Skipping invalid relocation target, existing value is nonzero for type 2, loc 00000000[0-9a-f]{8}, val 10$/);
  // 6.3's __write_relocate_add computes val first: S+A-P (8).
  const r63 = apply(2, 0x10n, 0x8n, dirty, { major: 6, minor: 3 });
  assert.ok(!r63.ok);
  assert.match(r63.messages[0]!, /^x86\/modules: Invalid relocation target, existing value is nonzero for type 2, loc 00000000[0-9a-f]{8}, val 8$/);
  // 6.1: a dirty 32-bit target is refused as nonzero before its overflow is looked at; 6.3 the other way round.
  const both = (k: { major: number; minor: number }) => apply(10, 0xffffffff8109de70n, 0x8n, dirty, k);
  assert.equal((both({ major: 6, minor: 1 }) as { kind: string }).kind, 'nonzero');
  assert.equal((both({ major: 6, minor: 3 }) as { kind: string }).kind, 'overflow');
});

test('the in-place bulk path agrees with applyRela on every outcome (property)', async () => {
  const fc = (await import('fast-check')).default;
  const exactValue = () => fc.oneof(
    fc.integer({ min: -0x80000000 - 0x1000, max: -0x80000000 + 0x40000000 }), // the kernel's top 2 GiB
    fc.integer({ min: -0x1000, max: 0x100001000 }), // near 0 and the 32-bit limits
    fc.maxSafeInteger().map((x) => x), fc.maxSafeInteger().map((x) => -x));
  const types = [0, 1, 2, 4, 9, 10, 11, 24, 42];
  fc.assert(fc.property(
    // S + A and P as the bulk path takes them: the signed reading of 64 bits, exact in a double
    // (kernel addresses near -2^31, per-CPU offsets near 0, and anything else a double holds).
    fc.constantFrom(...types), exactValue(), exactValue(),
    fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.boolean(), fc.integer({ min: 0, max: 11 }),
    (type, v, l, init, clean, off) => {
      const val = BigInt.asUintN(64, BigInt(v)), loc = BigInt.asUintN(64, BigInt(l));
      const existing = clean ? new Uint8Array(12) : init;
      const a = Uint8Array.from(existing);
      const slow = x86_64.applyRela!({ type, val, loc, module: 'm', read: (n) => (off + n <= 12 ? a.subarray(off, off + n) : undefined) }, { major: 6, minor: 1 });
      const b = Uint8Array.from(existing);
      const ok = x86_64.applyRelaInPlace!(b, new DataView(b.buffer), off, type, v, l);
      assert.equal(ok, slow.ok, `type ${type}`);
      if (slow.ok && 'bytes' in slow) a.set(slow.bytes, off);
      assert.deepEqual(b, a);
    }), { seed: 8, numRuns: 3000 });
});
