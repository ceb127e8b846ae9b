/**
 * Test helpers: run real tools (gcc, ld, readelf, objdump) and build fixtures in a temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURE_SRC = join(ROOT, 'test/fixtures/src');

/** Flags the kernel uses for x86_64 module objects (arch/x86/Makefile, scripts/Makefile.lib). */
export const KERNEL_CFLAGS = [
  '-O2', '-mcmodel=kernel', '-fno-pic', '-ffunction-sections', '-fdata-sections', '-fno-common',
  '-mno-red-zone', '-mno-sse', '-mno-mmx', '-mno-sse2', '-fno-asynchronous-unwind-tables',
  '-ffreestanding', '-fno-stack-protector', '-mfentry', '-pg', '-nostdinc', '-Wall', '-Werror',
];

export function run(cmd: string, args: readonly string[], opts: { cwd?: string; input?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'latin1', maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'], ...opts });
}

/** Run and capture stdout, stderr and the exit status without throwing. */
export function runStatus(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'latin1', maxBuffer: 1 << 30, ...opts });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function tempDir(prefix = 'klpkit-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Compile C sources to objects with kernel-like flags, optionally link them with `ld -r` (as Kbuild links a module). */
export function buildObject(dir: string, sources: readonly string[], out: string, extra: readonly string[] = []): string {
  const objs = sources.map((src, i) => {
    const o = join(dir, `${out}.${i}.o`);
    run('gcc', [...KERNEL_CFLAGS, ...extra, '-c', join(FIXTURE_SRC, src), '-o', o]);
    return o;
  });
  const target = join(dir, out);
  if (objs.length === 1 && !out.endsWith('.ko')) run('cp', [objs[0]!, target]);
  else run('ld', ['-r', ...(extra.includes('-m32') ? ['-m', 'elf_i386'] : []), '-o', target, ...objs]);
  return target;
}
