/**
 * Benchmark: the loader emulator's scale run. Every module of Debian's 6.1 kernel is loaded in
 * dependency order (as modules.dep would give it), every undefined symbol resolved against
 * exports and every relocation applied. Compared in the same run with GNU `readelf -rW` reading
 * the relocations of the same files (a native tool that parses what the emulator applies).
 * Goal: the whole emulator run under 10 s.
 *
 *   npm run bench
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readElf } from '../dist/elf/index.js';
import { moduleName } from '../dist/elf/module.js';
import { EmulatedKernel } from '../dist/loader/kernel.js';
import { buildDatabase } from '../dist/symbols/build.js';
import { moduleExports } from '../dist/symbols/module-symbols.js';
import { kernelCorpus, walkModules } from '../test/helpers/corpus.js';

const corpus = kernelCorpus();
const { db } = await buildDatabase({ vmlinuz: join(corpus.root, 'boot', `vmlinuz-${corpus.version}`) });
const files = [...walkModules(corpus.modulesDir)];
const bytes = files.map((p) => readFileSync(p));

// Dependency order from exports (depmod's job; Debian's package ships no modules.dep).
const t0 = performance.now();
const elves = bytes.map((b, i) => readElf(b, { path: files[i]! }));
const exporter = new Map<string, number>();
elves.forEach((e, i) => { for (const x of moduleExports(e, moduleName(e)!)) exporter.set(x.name, i); });
const order: number[] = [];
const seen = new Uint8Array(elves.length);
const visit = (i: number): void => {
  if (seen[i]) return;
  seen[i] = 1;
  const syms = elves[i]!.allSymbols;
  for (let j = 1; j < syms.length; j++) {
    const y = syms[j]!;
    if (y.isUndefined && y.name !== '') { const d = exporter.get(y.name); if (d !== undefined && d !== i) visit(d); }
  }
  order.push(i);
};
elves.forEach((_, i) => visit(i));
const tOrder = performance.now() - t0;

const t1 = performance.now();
const k = new EmulatedKernel(db, '6.1');
k.memory.record = false;
let failed = 0;
for (const i of order) if (k.insmod(elves[i]!) !== 0) failed++;
const tLoad = performance.now() - t1;

const t2 = performance.now();
for (let i = 0; i < files.length; i += 500) execFileSync('readelf', ['-rW', ...files.slice(i, i + 500)], { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
const tReadelf = performance.now() - t2;

const total = tOrder + tLoad;
console.log(`modules: ${files.length}, relocations applied: ${k.relocationsApplied}, failed loads: ${failed}`);
console.log(`${'parse + dependency order'.padEnd(44)} ${tOrder.toFixed(0).padStart(7)} ms`);
console.log(`${'emulated load of every module (6.1)'.padEnd(44)} ${tLoad.toFixed(0).padStart(7)} ms`);
console.log(`${'emulator total'.padEnd(44)} ${total.toFixed(0).padStart(7)} ms   (goal: under 10000 ms)`);
console.log(`${'readelf -rW on the same files'.padEnd(44)} ${tReadelf.toFixed(0).padStart(7)} ms`);
console.log(`ratio emulator / readelf -rW: ${(total / tReadelf).toFixed(2)}x`);
