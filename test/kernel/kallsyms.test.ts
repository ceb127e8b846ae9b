/**
 * The real kernel is the oracle: boot Debian's 6.1 kernel under QEMU (nokaslr), load a few
 * modules, capture /proc/kallsyms, and compare it with what klpkit reads without booting:
 * the kallsyms table embedded in vmlinuz, and each module's symbol table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readElf } from '../../src/elf/index.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { parseKallsyms } from '../../src/symbols/kallsyms-text.js';
import { moduleSymbols } from '../../src/symbols/module-symbols.js';
import { MODSYM_CORE } from '../../src/symbols/types.js';
import { kallsymsFromVmlinuz } from '../../src/symbols/vmlinuz.js';
import { capturedKallsyms, kallsymsMismatches, kernelImage } from './qemu.js';

// Dependency-free modules (every undefined symbol is a vmlinux export) with duplicated names.
const MODULES = ['fs/minix/minix.ko', 'fs/efs/efs.ko', 'net/kcm/kcm.ko', 'fs/qnx6/qnx6.ko'];
const PSEUDO = new Set(['bpf', '__builtin__ftrace', '__builtin__kprobes']);

const cap = capturedKallsyms(MODULES);
const dump = parseKallsyms(cap.text, 'guest /proc/kallsyms');
for (const p of PSEUDO) dump.modules.delete(p);

test('the guest loaded every module', (t) => {
  t.diagnostic(`/proc/kallsyms from ${cap.from}`);
  for (const m of MODULES) assert.match(cap.console, new RegExp(`KLPKIT-INSMOD ${m.split('/').pop()!.replace('.', '\\.')} 0`));
  assert.deepEqual([...dump.modules.keys()].sort(), ['efs', 'kcm', 'minix', 'qnx6']);
});

test('vmlinuz kallsyms table == the running kernel\'s /proc/kallsyms (every name, type, address, in order)', async () => {
  const k = await kallsymsFromVmlinuz(kernelImage(cap.kernel));
  assert.ok(dump.vmlinux.length > 50000, `${dump.vmlinux.length} vmlinux lines captured`);
  assert.equal(k.symbols.length, dump.vmlinux.length);
  assert.deepEqual(kallsymsMismatches(k.symbols, dump.vmlinux), []);
});

test('database sympos == position in the kernel\'s own order, for vmlinux and for loaded modules', async () => {
  const { db } = await buildDatabase({ vmlinuz: kernelImage(cap.kernel), modules: join(cap.kernel.modulesDir, 'fs/minix') });
  // vmlinux: every duplicated name.
  const seen = new Map<string, number>();
  for (const s of dump.vmlinux) seen.set(s.name, (seen.get(s.name) ?? 0) + 1);
  let dups = 0;
  const pos = new Map<string, number>();
  for (const s of dump.vmlinux) {
    const n = (pos.get(s.name) ?? 0) + 1;
    pos.set(s.name, n);
    if (seen.get(s.name)! < 2) continue;
    const def = db.lookup(s.name).filter((d) => d.object === 'vmlinux')[n - 1]!;
    assert.equal(def.sympos, n, s.name);
    assert.equal(def.address, s.address, s.name);
    dups++;
  }
  assert.ok(dups > 1000, `${dups} duplicated vmlinux definitions compared`);
  // minix: the kernel lists its core (after-init) table; compare with coreSympos.
  const minix = dump.modules.get('minix')!;
  const mpos = new Map<string, number>();
  const mcount = new Map<string, number>();
  for (const s of minix) mcount.set(s.name, (mcount.get(s.name) ?? 0) + 1);
  for (const s of minix) {
    const n = (mpos.get(s.name) ?? 0) + 1;
    mpos.set(s.name, n);
    const core = db.lookup(s.name).filter((d) => d.object === 'minix' && d.coreSympos !== null);
    assert.equal(core.length, mcount.get(s.name), `minix ${s.name}`);
    assert.equal(core[n - 1]!.coreSympos, mcount.get(s.name)! > 1 ? n : 0, `minix ${s.name} #${n}`);
  }
});

test('each loaded module\'s kallsyms == its core symbols in .symtab order (is_core_symbol), with elf_type letters', () => {
  for (const m of MODULES) {
    const path = join(cap.kernel.modulesDir, m);
    const ms = moduleSymbols(readElf(readFileSync(path), { path }));
    const names = ms.names.split('\0');
    const exported = new Set(ms.exports.map((e) => e.name));
    const ours = names.flatMap((n, i) => (ms.flags[i]! & MODSYM_CORE ? [`${exported.has(n) ? ms.types[i]!.toUpperCase() : ms.types[i]} ${n}`] : []));
    const kernel = dump.modules.get(ms.name)!.map((s) => `${s.type} ${s.name}`);
    assert.deepEqual(ours, kernel, ms.name);
  }
});
