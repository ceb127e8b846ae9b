/**
 * Benchmark: the loader emulator's scale run. Every module of Debian's 6.1 kernel is loaded as
 * modprobe would, in the order of the modules.dep that kmod's depmod writes for it, every
 * undefined symbol resolved against exports and every relocation applied. Compared in the same run with GNU `readelf -rW` reading
 * the relocations of the same files (a native tool that parses what the emulator applies), the
 * two in turns, three times each, the ratio of their medians. Each emulator run is a fresh
 * process (bench/loader-run.ts: no JIT warmth or faulted-in memory carried over), run as the klp
 * launcher runs Node, which reports the time of the run itself (parse, order, load), not of its
 * set-up. Goal: the whole emulator run under 10 s, and at most readelf's time (#16).
 *
 *   npm run bench
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDatabase } from '../src/symbols/build.js';
import { kernelCorpus, walkModules } from '../test/helpers/corpus.js';
import { alternate } from './alternate.js';

const corpus = kernelCorpus();
const { db } = await buildDatabase({ vmlinuz: join(corpus.root, 'boot', `vmlinuz-${corpus.version}`) });
const files = [...walkModules(corpus.modulesDir)];

// modules.dep from the real depmod (kmod), in a scratch tree whose kernel/ links to the corpus.
const scratch = mkdtempSync(join(tmpdir(), 'klpkit-bench-depmod-'));
const rel = join(scratch, 'lib/modules', corpus.version);
mkdirSync(rel, { recursive: true });
symlinkSync(corpus.modulesDir, join(rel, 'kernel'));
for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) cpSync(join(corpus.root, 'lib/modules', corpus.version, f), join(rel, f));
execFileSync('depmod', ['-b', scratch, corpus.version]);
const dbFile = join(scratch, 'vmlinux.klpdb');
writeFileSync(dbFile, db.serialize());

// The environment the klp launcher gives Node (bin/klp): glibc's malloc backs large blocks with
// transparent huge pages, which the emulated modules' memory is (docs/performance.md). Its
// tunables are read from the launcher itself, so the bench runs what users run.
const launcherTunables = /^malloc="([^"$]+)"$/m.exec(readFileSync(join(import.meta.dirname, '../bin/klp'), 'utf8'))?.[1];
if (!launcherTunables) throw new Error('bin/klp: no malloc="..." line of tunables to run the emulator with');
const launcherEnv = { ...process.env, GLIBC_TUNABLES: `${launcherTunables}${process.env.GLIBC_TUNABLES ? `:${process.env.GLIBC_TUNABLES}` : ''}` };
interface Run { order: number; load: number; modules: number; relocations: number; failed: number }
let last: Run | undefined;
const [emulator, readelf] = await alternate(
  ['emulator: parse, modprobe order, load of every module', () => {
    last = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'loader-run.ts'), join(rel, 'modules.dep'), corpus.modulesDir, dbFile], { encoding: 'utf8', maxBuffer: 1 << 26, env: launcherEnv })) as Run;
    return last.order + last.load;
  }],
  ['readelf -rW on the same files', () => {
    for (let i = 0; i < files.length; i += 500) execFileSync('readelf', ['-rW', ...files.slice(i, i + 500)], { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
  }],
  3, 56,
);
rmSync(scratch, { recursive: true, force: true });
console.log(`modules: ${last!.modules}, relocations applied: ${last!.relocations}, failed loads: ${last!.failed}`);
console.log(`${'parse + modprobe order (the last run)'.padEnd(56)} ${last!.order.toFixed(0).padStart(7)} ms`);
console.log(`${'emulated load of every module (6.1, the last run)'.padEnd(56)} ${last!.load.toFixed(0).padStart(7)} ms`);
console.log(`${'emulator total (median)'.padEnd(56)} ${emulator.toFixed(0).padStart(7)} ms   (goal: under 10000 ms)`);
console.log(`ratio emulator / readelf -rW: ${(emulator / readelf).toFixed(2)}x   (medians of three runs in turns)`);
