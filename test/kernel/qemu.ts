/**
 * Boot Debian's own kernel under QEMU (software emulation, never KVM: /dev/kvm on these machines
 * is nested and hangs at "Booting from ROM") with a busybox initramfs whose /init runs a script,
 * and collect what the guest reports on its serial ports.
 *
 * QEMU exits 0 even after a guest panic (panic=-1 -no-reboot), so callers assert on marker lines
 * the guest prints, never on QEMU's exit status. Every boot runs under a time limit.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { kernelCorpus, type KernelCorpus } from '../helpers/corpus.js';
import { run, tempDir } from '../helpers/tools.js';

export interface BootResult {
  /** ttyS0: the console and the script's output, with CR and firmware escape noise removed. */
  console: string;
  /** ttyS1, when requested: bulk data the script wrote there. */
  data: string;
  seconds: number;
}

export interface BootOptions {
  kernel: KernelCorpus;
  /** Shell script run as /init's body (busybox sh); /proc, /sys, /dev are mounted first. */
  script: string;
  /** Files to put in the guest: guest path -> host path. */
  files?: Record<string, string>;
  /**
   * Host programs the script needs beyond busybox (bash, GNU date, kmod, ...): copied to
   * /usr/bin with the shared libraries ldd lists, and found before busybox's applets. A name
   * `alias=program` installs a symlink (kmod dispatches on argv[0]: `insmod=kmod`).
   */
  programs?: string[];
  /** A kernel image other than the corpus's (a kernel built by scripts/build-kernel.sh). */
  image?: string | undefined;
  /** Seconds before QEMU is killed. */
  timeout?: number;
  memory?: string;
}

/** Copy host programs and their shared libraries into an initramfs tree. */
function installPrograms(root: string, programs: readonly string[]): void {
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  for (const p of programs) {
    const [alias, program] = p.includes('=') ? p.split('=') as [string, string] : [p, p];
    if (alias !== program) {
      run('ln', ['-sf', program, join(root, 'usr/bin', alias)]);
      continue;
    }
    const host = run('sh', ['-c', 'readlink -f "$(command -v "$1")"', 'sh', program]).trim();
    if (!host) throw new Error(`${program}: not on this machine (the guest script needs it)`);
    copyFileSync(host, join(root, 'usr/bin', program));
    chmodSync(join(root, 'usr/bin', program), 0o755);
    for (const m of run('ldd', [host]).matchAll(/(\/\S+\.so[^\s]*)/g)) {
      const lib = m[1]!;
      if (existsSync(join(root, lib))) continue;
      mkdirSync(join(root, lib, '..'), { recursive: true });
      copyFileSync(lib, join(root, lib));
    }
  }
}

export function kernelImage(k: KernelCorpus): string {
  return join(k.root, 'boot', `vmlinuz-${k.version}`);
}

export function boot(opts: BootOptions): BootResult {
  const { dir, cleanup } = tempDir('klpkit-qemu-');
  try {
    const root = join(dir, 'initramfs');
    for (const d of ['bin', 'proc', 'sys', 'dev', 'lib/modules', 'tmp']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    installPrograms(root, opts.programs ?? []);
    for (const [guest, host] of Object.entries(opts.files ?? {})) {
      mkdirSync(join(root, guest, '..'), { recursive: true });
      copyFileSync(host, join(root, guest));
    }
    const init = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo KLPKIT-GUEST-START
${opts.script}
echo KLPKIT-GUEST-END
reboot -f
`;
    writeFileSync(join(root, 'init'), init, { mode: 0o755 });
    const initrd = join(dir, 'initrd.cpio.gz');
    run('sh', ['-c', 'cd "$1" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > "$2"', 'sh', root, initrd]);
    const serial0 = join(dir, 'serial0.log');
    const serial1 = join(dir, 'serial1.log');
    const t0 = Date.now();
    const r = spawnSync('timeout', [String(opts.timeout ?? 180), 'qemu-system-x86_64',
      '-machine', 'q35', '-cpu', 'max', '-smp', '1', '-m', opts.memory ?? '512M',
      '-kernel', opts.image ?? kernelImage(opts.kernel), '-initrd', initrd,
      '-append', 'console=ttyS0 nokaslr panic=-1 oops=panic quiet loglevel=4',
      '-nographic', '-no-reboot', '-monitor', 'none', '-display', 'none',
      '-serial', `file:${serial0}`, '-serial', `file:${serial1}`], { encoding: 'latin1' });
    const seconds = (Date.now() - t0) / 1000;
    const clean = (s: string): string => s.replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g, '');
    const consoleLog = existsSync(serial0) ? clean(readFileSync(serial0, 'latin1')) : '';
    if (r.status === 124) throw new Error(`QEMU timed out after ${opts.timeout ?? 180} s; console:\n${consoleLog.slice(-4000)}`);
    if (!consoleLog.includes('KLPKIT-GUEST-END')) {
      throw new Error(`the guest did not finish its script (panic or hang); QEMU status ${r.status} ${r.stderr}; console:\n${consoleLog.slice(-4000)}`);
    }
    return { console: consoleLog, data: existsSync(serial1) ? clean(readFileSync(serial1, 'latin1')) : '', seconds };
  } finally {
    cleanup();
  }
}

/**
 * /proc/kallsyms of Debian's kernel with some modules loaded, captured once per kernel version
 * and module set, and cached (it does not change).
 */
export function capturedKallsyms(modules: readonly string[], kernel: KernelCorpus = kernelCorpus()): { kernel: KernelCorpus; text: string; console: string; from: string } {
  const cacheDir = join(process.env.KLPKIT_CACHE ?? join(process.env.HOME ?? '/root', '.cache/klpkit'), 'kallsyms');
  mkdirSync(cacheDir, { recursive: true });
  // Keyed by what went in: the image's and the modules' bytes, not only their names.
  const h = createHash('sha256').update(readFileSync(kernelImage(kernel)));
  for (const m of modules) h.update(readFileSync(join(kernel.modulesDir, m)));
  const key = `${kernel.version}-${modules.map((m) => basename(m, '.ko')).join('+') || 'none'}-${h.digest('hex').slice(0, 12)}`;
  const cached = join(cacheDir, `${key}.txt`);
  const cachedConsole = join(cacheDir, `${key}.console`);
  if (existsSync(cached) && existsSync(cachedConsole)) {
    // Said by the callers (t.diagnostic): this run compares with a capture of an earlier boot.
    return { kernel, text: readFileSync(cached, 'latin1'), console: readFileSync(cachedConsole, 'latin1'), from: `cache ${cached} (an earlier boot of the same image; delete it to boot again)` };
  }
  const files: Record<string, string> = {};
  for (const m of modules) files[`lib/modules/${basename(m)}`] = join(kernel.modulesDir, m);
  const script = modules.map((m) => `insmod /lib/modules/${basename(m)}; echo "KLPKIT-INSMOD ${basename(m)} $?"`).join('\n') +
    '\ncat /proc/kallsyms > /dev/ttyS1\necho KLPKIT-KALLSYMS-DONE';
  const r = boot({ kernel, script, files, timeout: 240 });
  if (!r.console.includes('KLPKIT-KALLSYMS-DONE')) throw new Error(`kallsyms capture failed:\n${r.console.slice(-3000)}`);
  writeFileSync(`${cached}.tmp`, r.data, 'latin1');
  run('mv', [`${cached}.tmp`, cached]);
  writeFileSync(cachedConsole, r.console, 'latin1');
  return { kernel, text: r.data, console: r.console, from: `a boot of ${kernel.version} just now (${r.seconds.toFixed(0)} s)` };
}

/** Where a table read without booting differs from the running kernel's /proc/kallsyms (first 10). */
export function kallsymsMismatches(ours: ReadonlyArray<{ name: string; type: string; address: bigint | undefined }>, kernel: ReadonlyArray<{ name: string; type: string; address: bigint | undefined }>): string[] {
  const out: string[] = [];
  if (ours.length !== kernel.length) out.push(`${ours.length} symbols read, the kernel lists ${kernel.length}`);
  for (let i = 0; i < ours.length && out.length < 10; i++) {
    const s = ours[i]!, d = kernel[i];
    if (!d || s.name !== d.name || s.type !== d.type || s.address !== d.address) out.push(`#${i}: ours ${s.address?.toString(16)} ${s.type} ${s.name}, kernel ${d?.address?.toString(16)} ${d?.type} ${d?.name}`);
  }
  return out;
}
