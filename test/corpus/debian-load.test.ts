/**
 * Scale test of the loader emulator on real data: load every module of Debian's 6.1 kernel in
 * dependency order (computed from exports, as depmod would), resolving every undefined symbol
 * against vmlinux's and loaded modules' exports and applying every relocation with x86_64's
 * apply_relocate_add(): zero unknown relocation types, zero overflows, zero unresolved symbols,
 * zero non-zero targets.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readElf } from '../../src/elf/index.js';
import { moduleName } from '../../src/elf/module.js';
import { EmulatedKernel } from '../../src/loader/kernel.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { moduleExports } from '../../src/symbols/module-symbols.js';
import { kernelCorpus, walkModules } from '../helpers/corpus.js';

const corpus = kernelCorpus();
const { db } = await buildDatabase({ vmlinuz: join(corpus.root, 'boot', `vmlinuz-${corpus.version}`) });

test(`every module of ${corpus.version} loads and links in the emulator`, (t) => {
  // Pass 1: what each module needs and exports.
  const files = [...walkModules(corpus.modulesDir)];
  const info = new Map<string, { path: string; needs: string[]; exports: string[] }>();
  const exporter = new Map<string, string>();
  for (const path of files) {
    const elf = readElf(readFileSync(path), { path });
    const name = moduleName(elf)!;
    const needs = elf.allSymbols.filter((y, i) => i > 0 && y.isUndefined && y.name !== '').map((y) => y.name);
    const exports = moduleExports(elf, name).map((e) => e.name);
    info.set(name, { path, needs, exports });
    for (const e of exports) exporter.set(e, name);
  }
  // Dependency order (modules.dep is made by depmod at install time; Debian's package has none).
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (m: string): void => {
    if (state.get(m) === 'done') return;
    assert.notEqual(state.get(m), 'visiting', `dependency cycle through ${m}`);
    state.set(m, 'visiting');
    for (const n of info.get(m)!.needs) {
      const dep = exporter.get(n);
      if (dep && dep !== m) visit(dep);
    }
    state.set(m, 'done');
    order.push(m);
  };
  for (const m of [...info.keys()].sort()) visit(m);

  // Pass 2: load each in order, in the emulated 6.1 kernel.
  const k = new EmulatedKernel(db, '6.1');
  k.memory.record = false;
  const failures: string[] = [];
  for (const m of order) {
    const path = info.get(m)!.path;
    const before = k.log.length;
    const rc = k.insmod(readElf(readFileSync(path), { path }));
    if (rc !== 0) failures.push(`${m}: insmod -> ${rc}: ${k.log.slice(before).join(' | ')}`);
  }
  const applied = k.relocationsApplied;
  t.diagnostic(`${order.length} modules loaded in dependency order, ${applied} relocations applied`);
  assert.equal(order.length, files.length);
  assert.deepEqual(failures.slice(0, 10), []);
  assert.ok(applied > 3_000_000, `${applied} relocations applied`);
});
