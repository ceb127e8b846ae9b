/**
 * Benchmark: `klp convert` as issue #16 measures it: a livepatch object of 20,000 functions (each in
 * its own section) with 40,000 references to 20,000 distinct non-exported functions of Debian
 * 6.1's vmlinux, converted against the whole-kernel database (kallsyms, Module.symvers and every
 * module), against `objcopy` rewriting the same file, both as commands, in the same run. Goal:
 * within 2x of objcopy. The command and objcopy are timed in turns, five times each, from a child
 * process that holds nothing else (this one holds the database it built), and the ratio is of
 * their medians. Also the same read, convert and write in-process, and the run on the small
 * object of earlier rounds (4,000 functions, two symbols, a four-symbol database).
 *
 *   npm run bench
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildDatabase } from '../src/symbols/build.js';
import { kallsymsFromVmlinuz } from '../src/symbols/vmlinuz.js';
import { kernelCorpus } from '../test/helpers/corpus.js';
import { KERNEL_CFLAGS } from '../test/helpers/tools.js';
import { alternateCommands } from './alternate.js';

const N = 20000;
const dir = mkdtempSync(join(tmpdir(), 'klpkit-bench-convert-'));
// The command's code cache (src/cli/launch.cts) in a folder of the bench's: each command's
// warm-up run writes it, as a user's first run does, and the timed runs start from it.
process.env['KLPKIT_CODE_CACHE'] = join(dir, 'code-cache');
const corpus = kernelCorpus();
const vmlinuz = join(corpus.root, 'boot', `vmlinuz-${corpus.version}`);
const symvers = join(corpus.root, 'usr/src', `linux-headers-${corpus.version}`, 'Module.symvers');
const k = await kallsymsFromVmlinuz(vmlinuz);
const dump = join(dir, 'kallsyms.txt');
writeFileSync(dump, k.symbols.map((s) => `${s.address!.toString(16).padStart(16, '0')} ${s.type} ${s.name}`).join('\n') + '\n');
const { db } = await buildDatabase({ kallsyms: dump, symvers, modules: corpus.modulesDir });
const dbFile = join(dir, 'debian.klpdb');
writeFileSync(dbFile, db.serialize());
// 20,000 vmlinux functions that are neither exported nor homonyms, with C identifiers for names.
const counts = new Map<string, number>();
for (const s of k.symbols) counts.set(s.name, (counts.get(s.name) ?? 0) + 1);
const targets = k.symbols.filter((s) => (s.type === 't' || s.type === 'T') && counts.get(s.name) === 1 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(s.name) &&
  !s.name.startsWith('__') && db.lookup(s.name).length === 1 && !db.lookup(s.name)[0]!.exported).slice(0, N).map((s) => s.name);
if (targets.length < N) throw new Error(`only ${targets.length} candidate functions`);
let src = targets.map((t) => `extern int ${t}(void);\n`).join('');
for (let i = 0; i < N; i++) src += `int lp_fn${i}(void) { return ${targets[i]}() + ${targets[(i * 7 + 1) % N]}(); }\n`;
src += 'static const char lp[] __attribute__((used, section(".modinfo"))) = "livepatch=Y";\n';
writeFileSync(join(dir, 'big.c'), src);
const obj = join(dir, 'big.o');
execFileSync('gcc', [...KERNEL_CFLAGS, '-fno-builtin', '-c', join(dir, 'big.c'), '-o', obj]);

// The earlier rounds' small case.
const S = 4000;
let small = 'extern int nr_processes(void);\nextern char *saved_command_line;\nextern int seq_printf(void *, const char *, ...);\n';
for (let i = 0; i < S; i++) small += `int lp_fn${i}(void *m) { return seq_printf(m, "%d %s", nr_processes() + ${i}, saved_command_line); }\n`;
small += 'static const char lp[] __attribute__((used, section(".modinfo"))) = "livepatch=Y";\n';
writeFileSync(join(dir, 'small.c'), small);
const smallObj = join(dir, 'small.o');
execFileSync('gcc', [...KERNEL_CFLAGS, '-c', join(dir, 'small.c'), '-o', smallObj]);
writeFileSync(join(dir, 'small-kallsyms.txt'), 'ffffffff81000000 T __fentry__\nffffffff8109de70 T nr_processes\nffffffff81700000 T seq_printf\nffffffff83317008 B saved_command_line\n');
writeFileSync(join(dir, 'small.symvers'), '0x0\tseq_printf\tvmlinux\tEXPORT_SYMBOL\t\n0x0\t__fentry__\tvmlinux\tEXPORT_SYMBOL\t\n');
const smallDb = join(dir, 'small.klpdb');
writeFileSync(smallDb, (await buildDatabase({ kallsyms: join(dir, 'small-kallsyms.txt'), symvers: join(dir, 'small.symvers') })).db.serialize());

function time(label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  execFileSync(cmd, args, { stdio: 'ignore', env }); // warm up
  const runs = 5;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) execFileSync(cmd, args, { stdio: 'ignore', env });
  const ms = (performance.now() - t0) / runs;
  console.log(`${label.padEnd(52)} ${ms.toFixed(0).padStart(6)} ms`);
  return ms;
}

const size = (statSync(obj).size / 1048576).toFixed(1);
// The command as users run it (bin/klp, the launcher npm puts on the PATH), in turns with objcopy,
// from a quiet process (alternateCommands).
const [klp, objcopy] = alternateCommands(
  [`klp convert (${N} functions, ${2 * N} conversions, ${size} MiB)`, 'bin/klp', ['convert', obj, '--db', dbFile, '-o', join(dir, 'out.o')]],
  ['objcopy (rewrite the same file)', 'objcopy', [obj, join(dir, 'copy.o')]],
  5, 52,
);
// Peak memory of the command (the goal: under 150 MB), as the child reports it at exit: its
// VmHWM (/proc/self/status), the high-water mark of its own memory. Not getrusage's maxRSS, which
// counts the fork it was exec'd from: Linux keeps the old memory's high-water mark across exec
// (fs/exec.c exec_mmap(), setmax_mm_hiwater_rss()), and that fork was a copy of this bench, which
// holds a whole-kernel database. Three runs: the median, and all three.
const hook = join(dir, 'peak.mjs');
writeFileSync(hook, "import { readFileSync } from 'node:fs';\nprocess.on('exit', () => process.stderr.write(`peak_kib_${/VmHWM:\\s*(\\d+)/.exec(readFileSync('/proc/self/status', 'latin1'))?.[1]}\\n`));\n");
const peaks: number[] = [];
for (let i = 0; i < 3; i++) {
  const stderr = spawnSync('bin/klp', ['convert', obj, '--db', dbFile, '-o', join(dir, 'out.o')], {
    encoding: 'latin1', stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: `--import ${hook}` },
  }).stderr;
  peaks.push(Number(/peak_kib_(\d+)/.exec(stderr)?.[1] ?? NaN) / 1024);
}
peaks.sort((a, b) => a - b);
const peakMiB = peaks[1]!;
console.log(`${'klp convert peak memory (VmHWM, median of 3)'.padEnd(52)} ${peakMiB.toFixed(0).padStart(6)} MiB   (${peaks.map((p) => p.toFixed(0)).join(', ')})`);
// Node's start as bin/klp gives it (without NODE_EXTRA_CA_CERTS: bin/klp says why), and, where
// that variable is set here, as a plain `node` pays it.
const { NODE_EXTRA_CA_CERTS: extraCa, ...launcherEnv } = process.env;
const nodeStart = time('node startup alone (node -e 0, as bin/klp runs it)', process.execPath, ['-e', '0'], launcherEnv);
if (extraCa !== undefined) time('node startup with NODE_EXTRA_CA_CERTS set, as here', process.execPath, ['-e', '0']);
// The same work in-process: read, convert, write (what a build system calling the API pays), the
// database read in part as the command reads it.
const { readElf, writeElf } = await import('../src/elf/index.js');
const { convertModule, namesToResolve } = await import('../src/convert/convert.js');
const { readFileSync } = await import('node:fs');
const { SymbolDb } = await import('../src/symbols/database.js');
const { DbFile } = await import('../src/symbols/db-file.js');
const inproc = (): number => {
  const t0 = performance.now();
  const elf = readElf(readFileSync(obj), { path: obj });
  const part = DbFile.open(dbFile)!;
  const partDb = part.rowsFor(namesToResolve(elf), () => SymbolDb.load(readFileSync(dbFile), dbFile))!;
  part.close();
  convertModule(elf, { db: partDb });
  writeElf(elf);
  return performance.now() - t0;
};
inproc();
const api = Math.min(inproc(), inproc(), inproc());
console.log(`${'klpkit API in-process (read DB and object, convert, write)'.padEnd(52)} ${api.toFixed(0).padStart(6)} ms`);
const [smallKlp, smallCopy] = alternateCommands(
  [`klp convert, small case (${S} functions, ${2 * S} conversions)`, 'bin/klp', ['convert', smallObj, '--db', smallDb, '-o', join(dir, 'small-out.o')]],
  ['objcopy, small case', 'objcopy', [smallObj, join(dir, 'small-copy.o')]],
  5, 52,
);
console.log(`\nratio klp convert / objcopy = ${(klp / objcopy).toFixed(2)} (node startup alone is ${nodeStart.toFixed(0)} ms); in-process API / objcopy = ${(api / objcopy).toFixed(2)}; small case ${(smallKlp / smallCopy).toFixed(2)}`);
if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
