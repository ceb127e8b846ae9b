/**
 * Upstream's livepatch selftests (tools/testing/selftests/livepatch/ of the 6.12 source) on two
 * kernels booted here: Debian's packaged 6.12 and the kernel scripts/build-kernel.sh builds from
 * Debian's 6.12 source with the per-object series of kernel/patches/ applied. The series must
 * change nothing that works today: every selftest script ends the same way on both, and passes
 * on the packaged kernel (the baseline that shows the harness itself works).
 *
 * The test modules are built against each kernel's own tree (Debian's headers, the build
 * directory); the scripts run under bash with the GNU tools and kmod they call, copied from this
 * machine into the initramfs.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { kernelCorpus } from '../helpers/corpus.js';
import { run, tempDir } from '../helpers/tools.js';
import { kbuildDir } from './kbuild.js';
import { boot } from './qemu.js';
import { seriesKernel } from './series.js';

const packaged = kernelCorpus('amd64', '6.12');
const { dir } = tempDir('klpkit-selftests-');
process.on('exit', () => run('rm', ['-rf', dir]));

const SCRIPTS = ['test-livepatch.sh', 'test-callbacks.sh', 'test-shadow-vars.sh', 'test-state.sh', 'test-ftrace.sh', 'test-sysfs.sh', 'test-syscall.sh'];
const PROGRAMS = ['bash', 'date', 'stat', 'sleep', 'sysctl', 'getconf', 'grep', 'sed', 'mawk', 'awk=mawk', 'kmod', 'insmod=kmod', 'rmmod=kmod', 'modinfo=kmod', 'modprobe=kmod'];

/** The selftests with their modules built against `kdir` (a Kbuild tree). */
function selftests(source: string, kdir: string, as: string): string {
  const st = join(dir, as);
  cpSync(join(source, 'tools/testing/selftests/livepatch'), st, { recursive: true });
  kbuildDir(kdir, join(st, 'test_modules'), ['KBUILD_MODPOST_WARN=1', 'CONFIG_DEBUG_INFO_BTF_MODULES=']);
  run('gcc', ['-static', '-O2', '-o', join(st, 'test_klp-call_getpid'), join(st, 'test_klp-call_getpid.c')]);
  return st;
}

interface Outcome { script: string; rc: number; lines: string[] }

/** Boot `image` and run every selftest script; each one's exit status and its "TEST:" lines. */
function runSelftests(image: string | undefined, st: string): { outcomes: Outcome[]; output: string } {
  const files: Record<string, string> = {};
  for (const f of readdirSync(st)) if (f.endsWith('.sh') || f === 'test_klp-call_getpid') files[`selftests/${f}`] = join(st, f);
  for (const f of readdirSync(join(st, 'test_modules'))) if (f.endsWith('.ko')) files[`selftests/test_modules/${f}`] = join(st, 'test_modules', f);
  const script = [
    'mount -t debugfs debugfs /sys/kernel/debug',
    // functions.sh runs /bin/stat --format: GNU's, not busybox's applet.
    'ln -sf /usr/bin/stat /bin/stat',
    'chmod 755 /selftests/*.sh /selftests/test_klp-call_getpid',
    'cd /selftests',
    // has_kdir() wants a directory to build in; the modules are built already.
    'export KDIR=/selftests',
    ...SCRIPTS.map((s) => `bash ./${s} > /tmp/out 2>&1; rc=$?; cat /tmp/out > /dev/ttyS1; echo "KLPKIT-SELFTEST ${s} $rc" > /dev/ttyS1; echo "KLPKIT-SELFTEST ${s} $rc"`),
  ].join('\n');
  const r = boot({ kernel: packaged, image, script, files, programs: PROGRAMS, timeout: 1500, memory: '512M' });
  const outcomes: Outcome[] = [];
  let lines: string[] = [];
  for (const l of r.data.split('\n')) {
    const m = /^KLPKIT-SELFTEST (\S+) (\d+)$/.exec(l);
    if (m) {
      outcomes.push({ script: m[1]!, rc: Number(m[2]), lines });
      lines = [];
    } else if (/^TEST: |^ERROR: |^SKIP: /.test(l)) {
      lines.push(l);
    }
  }
  return { outcomes, output: r.data };
}

test('upstream\'s livepatch selftests end the same way on Debian\'s packaged 6.12 and on the kernel built with the series', () => {
  const build = seriesKernel();
  assert.ok(existsSync(join(build, 'arch/x86/boot/bzImage')), `${build}: no bzImage`);
  const headers = join(packaged.root, 'usr/src', `linux-headers-${packaged.version}`);
  const onPackaged = runSelftests(undefined, selftests(build, headers, 'packaged'));
  assert.deepEqual(onPackaged.outcomes.map((o) => o.script), SCRIPTS, onPackaged.output.slice(-3000));
  const failing = onPackaged.outcomes.filter((o) => o.rc !== 0);
  assert.deepEqual(failing.map((o) => `${o.script}: ${o.rc}`), [], `the selftests fail on the packaged kernel: the harness is wrong\n${onPackaged.output.slice(-4000)}`);

  const onBuilt = runSelftests(join(build, 'arch/x86/boot/bzImage'), selftests(build, build, 'built'));
  assert.deepEqual(onBuilt.outcomes, onPackaged.outcomes, onBuilt.output.slice(-4000));
});
