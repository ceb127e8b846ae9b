/**
 * Benchmark: the loader emulator's scale run. Every module of Debian's 6.1 kernel is loaded as
 * modprobe would, in the order of the modules.dep that kmod's depmod writes for it, every
 * undefined symbol resolved against exports and every relocation applied. Compared in the same run with GNU `readelf -rW` reading
 * the relocations of the same files (a native tool that parses what the emulator applies).
 * Goal: the whole emulator run under 10 s.
 *
 *   npm run bench
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readElf } from '../src/elf/index.js';
import { EmulatedKernel } from '../src/loader/kernel.js';
import { buildDatabase } from '../src/symbols/build.js';
import { ModulesDep } from '../src/loader/modules-dep.js';
import { kernelCorpus, walkModules } from '../test/helpers/corpus.js';

const corpus = kernelCorpus();
const { db } = await buildDatabase({ vmlinuz: join(corpus.root, 'boot', `vmlinuz-${corpus.version}`) });
const files = [...walkModules(corpus.modulesDir)];
const bytes = files.map((p) => readFileSync(p));

// modules.dep from the real depmod (kmod), in a scratch tree whose kernel/ links to the corpus.
const scratch = mkdtempSync(join(tmpdir(), 'klpkit-bench-depmod-'));
const rel = join(scratch, 'lib/modules', corpus.version);
mkdirSync(rel, { recursive: true });
symlinkSync(corpus.modulesDir, join(rel, 'kernel'));
for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) cpSync(join(corpus.root, 'lib/modules', corpus.version, f), join(rel, f));
execFileSync('depmod', ['-b', scratch, corpus.version]);
const dep = new ModulesDep(readFileSync(join(rel, 'modules.dep'), 'utf8'), join(rel, 'modules.dep'));
const index = new Map(files.map((f, i) => [relative(corpus.modulesDir, f), i]));

const t0 = performance.now();
const elves = bytes.map((b, i) => readElf(b, { path: files[i]! }));
const order: number[] = [];
const queued = new Set<string>();
for (const name of dep.names()) {
  for (const m of dep.loadOrder(name)) {
    if (queued.has(m)) continue;
    queued.add(m);
    order.push(index.get(relative(join(rel, 'kernel'), dep.path(m)))!);
  }
}
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
rmSync(scratch, { recursive: true, force: true });
console.log(`${'parse + modprobe order'.padEnd(44)} ${tOrder.toFixed(0).padStart(7)} ms`);
console.log(`${'emulated load of every module (6.1)'.padEnd(44)} ${tLoad.toFixed(0).padStart(7)} ms`);
console.log(`${'emulator total'.padEnd(44)} ${total.toFixed(0).padStart(7)} ms   (goal: under 10000 ms)`);
console.log(`${'readelf -rW on the same files'.padEnd(44)} ${tReadelf.toFixed(0).padStart(7)} ms`);
console.log(`ratio emulator / readelf -rW: ${(total / tReadelf).toFixed(2)}x`);
