/**
 * One run of bench/loader.ts's emulator, in a process of its own: every module of the corpus read,
 * put in modprobe's order (the modules.dep given) and loaded into an emulated 6.1 kernel whose
 * vmlinux is the database given. Prints the times of the run (parse and order, load) and what it
 * did, as JSON; the set-up (the database, reading the files) is not timed.
 *
 *   node --import tsx bench/loader-run.ts MODULES.DEP MODULES-DIR VMLINUX.KLPDB
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readElf } from '../src/elf/index.js';
import { EmulatedKernel } from '../src/loader/kernel.js';
import { ModulesDep } from '../src/loader/modules-dep.js';
import { SymbolDb } from '../src/symbols/database.js';
import { walkModules } from '../test/helpers/corpus.js';

const [depFile, modulesDir, dbFile] = process.argv.slice(2) as [string, string, string];
const db = SymbolDb.load(readFileSync(dbFile), dbFile);
const files = [...walkModules(modulesDir)];
const bytes = files.map((p) => readFileSync(p));
const dep = new ModulesDep(readFileSync(depFile, 'utf8'), depFile);
const index = new Map(files.map((f, i) => [relative(modulesDir, f), i]));

const t0 = performance.now();
const elves = bytes.map((b, i) => readElf(b, { path: files[i]! }));
const order: number[] = [];
const queued = new Set<string>();
for (const name of dep.names()) {
  for (const m of dep.loadOrder(name)) {
    if (queued.has(m)) continue;
    queued.add(m);
    order.push(index.get(relative(join(dirname(depFile), 'kernel'), dep.path(m)))!);
  }
}
const tOrder = performance.now() - t0;

const t1 = performance.now();
const k = new EmulatedKernel(db, '6.1');
k.memory.record = false;
let failed = 0;
for (const i of order) if (k.insmod(elves[i]!) !== 0) failed++;
const tLoad = performance.now() - t1;

process.stdout.write(JSON.stringify({ order: tOrder, load: tLoad, modules: files.length, relocations: k.relocationsApplied, failed }));
