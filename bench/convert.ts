/**
 * Benchmark: `klp convert` of a large livepatch module (4,000 functions in their own sections,
 * 8,000 references to non-exported vmlinux symbols) against `objcopy` rewriting the same file,
 * both as commands, in the same run. Goal: within 2x of objcopy.
 *
 *   npm run bench
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildDatabase } from '../src/symbols/build.js';
import { KERNEL_CFLAGS } from '../test/helpers/tools.js';

const N = 4000;
const dir = mkdtempSync(join(tmpdir(), 'klpkit-bench-convert-'));
let src = 'extern int nr_processes(void);\nextern char *saved_command_line;\nextern int seq_printf(void *, const char *, ...);\n';
for (let i = 0; i < N; i++) src += `int lp_fn${i}(void *m) { return seq_printf(m, "%d %s", nr_processes() + ${i}, saved_command_line); }\n`;
src += 'static const char lp[] __attribute__((used, section(".modinfo"))) = "livepatch=Y";\n';
writeFileSync(join(dir, 'big.c'), src);
const obj = join(dir, 'big.o');
execFileSync('gcc', [...KERNEL_CFLAGS, '-c', join(dir, 'big.c'), '-o', obj]);
writeFileSync(join(dir, 'kallsyms.txt'), 'ffffffff81000000 T __fentry__\nffffffff8109de70 T nr_processes\nffffffff81700000 T seq_printf\nffffffff83317008 B saved_command_line\n');
writeFileSync(join(dir, 'Module.symvers'), '0x0\tseq_printf\tvmlinux\tEXPORT_SYMBOL\t\n0x0\t__fentry__\tvmlinux\tEXPORT_SYMBOL\t\n');
const { db } = await buildDatabase({ kallsyms: join(dir, 'kallsyms.txt'), symvers: join(dir, 'Module.symvers') });
writeFileSync(join(dir, 'db.klpdb'), db.serialize());

function time(label: string, cmd: string, args: string[]): number {
  execFileSync(cmd, args, { stdio: 'ignore' }); // warm up
  const runs = 5;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) execFileSync(cmd, args, { stdio: 'ignore' });
  const ms = (performance.now() - t0) / runs;
  console.log(`${label.padEnd(52)} ${ms.toFixed(0).padStart(6)} ms`);
  return ms;
}

const klp = time(`klp convert (${N} functions, ${2 * N} conversions)`, process.execPath,
  ['dist/cli/main.js', 'convert', obj, '--db', join(dir, 'db.klpdb'), '-o', join(dir, 'out.o')]);
const objcopy = time('objcopy (rewrite the same file)', 'objcopy', [obj, join(dir, 'copy.o')]);
const nodeStart = time('node startup alone (node -e 0)', process.execPath, ['-e', '0']);
// The same work in-process: read, convert, write (what a build system calling the API pays).
const { readElf, writeElf } = await import('../src/elf/index.js');
const { convertModule } = await import('../src/convert/convert.js');
const { readFileSync } = await import('node:fs');
const inproc = (): number => {
  const t0 = performance.now();
  const elf = readElf(readFileSync(obj), { path: obj });
  convertModule(elf, { db });
  writeElf(elf);
  return performance.now() - t0;
};
inproc();
const api = Math.min(inproc(), inproc(), inproc());
console.log(`${'klpkit API in-process (read, convert, write)'.padEnd(52)} ${api.toFixed(0).padStart(6)} ms`);
console.log(`\nratio klp convert / objcopy = ${(klp / objcopy).toFixed(2)} (node startup alone is ${nodeStart.toFixed(0)} ms); in-process API / objcopy = ${(api / objcopy).toFixed(2)}`);
if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
