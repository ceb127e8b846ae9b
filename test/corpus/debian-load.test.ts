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
import { Memory } from '../../src/loader/memory.js';
import { loadModuleImage, type KernelEnv } from '../../src/loader/module-loader.js';
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

  // Pass 2: load each in order.
  const vmlinuxExport = new Map<string, bigint | undefined>();
  const moduleExport = new Map<string, bigint>();
  let next = 0xffffffffc0000000n; // MODULES_VADDR with CONFIG_RANDOMIZE_BASE (1 GiB kernel image space)
  const perCpuEnd = db.lookup('__per_cpu_end')[0]?.address ?? 0x40000n;
  let nextPercpu = perCpuEnd;
  const memory = new Memory();
  memory.record = false;
  const env: KernelEnv = {
    kernel: { major: 6, minor: 1 },
    memory,
    resolveExport(name) {
      const m = moduleExport.get(name);
      if (m !== undefined) return m;
      if (!vmlinuxExport.has(name)) vmlinuxExport.set(name, db.lookup(name).find((d) => d.object === 'vmlinux' && d.exported)?.address ?? undefined);
      return vmlinuxExport.get(name);
    },
    allocModule(size) {
      const at = next;
      next += BigInt(size);
      return at;
    },
    allocPercpu(size, align) {
      nextPercpu = (nextPercpu + BigInt(align) - 1n) / BigInt(align) * BigInt(align);
      const at = nextPercpu;
      nextPercpu += BigInt(size);
      return at;
    },
  };
  const failures: string[] = [];
  let applied = 0;
  for (const m of order) {
    const path = info.get(m)!.path;
    const r = loadModuleImage(readElf(readFileSync(path), { path }), env);
    if (!r.ok) {
      failures.push(`${m}: ${r.stage} ${r.kind}: ${r.log.join(' | ')}`);
      continue;
    }
    applied += r.applied;
    for (const [n, a] of r.module.exports) moduleExport.set(n, a);
    memory.unmap(r.module.core);
    memory.unmap(r.module.init);
  }
  t.diagnostic(`${order.length} modules loaded in dependency order, ${applied} relocations applied, modules area up to 0x${next.toString(16)}`);
  assert.equal(order.length, files.length);
  assert.deepEqual(failures.slice(0, 10), []);
  assert.ok(applied > 3_000_000, `${applied} relocations applied`);
});
