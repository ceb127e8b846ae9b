/**
 * The 6.3 design against a real kernel that has it: Debian bookworm's 6.12 kernel
 * (linux-image-6.12-amd64) under QEMU. The bundled scenarios run with the same sources built
 * against its headers; every status and message must agree with the emulator's 6.3 design, and
 * there the patched module's reload works (its livepatch relocations are cleared on removal).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SymbolDb } from '../../src/symbols/database.js';
import { kernelCorpus } from '../helpers/corpus.js';
import { klp } from '../helpers/cli.js';
import { run, tempDir } from '../helpers/tools.js';
import { kbuildModule } from './kbuild.js';
import { boot, capturedKallsyms, kallsymsMismatches, kernelImage } from './qemu.js';
import { decompressBzImage, kallsymsFromVmlinuz } from '../../src/symbols/vmlinuz.js';
import { parseKallsyms } from '../../src/symbols/kallsyms-text.js';
import { bundledScenarios, compareScenarios, scenarioBoot } from './scenarios.js';

const kernel = kernelCorpus('amd64', '6.12');
const headers = join(kernel.root, 'usr/src', `linux-headers-${kernel.version}`);
const { dir } = tempDir('klpkit-kernel612-');
process.on('exit', () => run('rm', ['-rf', dir]));

/** Kbuild against 6.12's headers; no BTF for out-of-tree modules (pahole is not needed to load them). */
function kbuild(name: string, as: string, cflags = ''): string {
  return kbuildModule(headers, name, join(dir, as), ['KBUILD_MODPOST_WARN=1', 'CONFIG_DEBUG_INFO_BTF_MODULES=', `KCFLAGS=-ffunction-sections -fdata-sections ${cflags}`]);
}

test(`the bundled scenarios on Debian's ${kernel.version} agree with the emulator's 6.3 design`, async () => {
  const target = kbuild('klpkit_target', 'target');
  const patch = kbuild('klpkit_patch', 'patch');
  const branchy = kbuild('klpkit_patch', 'patch-branch', '-DKLPKIT_STATIC_BRANCH');
  const archy = kbuild('klpkit_patch', 'patch-arch', '-DKLPKIT_ARCH');
  // The symbol database straight from the kernel image (its kallsyms table is checked against the
  // running kernel's below), as a user would build it.
  const db = join(dir, 'kernel.klpdb');
  const b = klp('symbols', 'build', '--vmlinuz', kernelImage(kernel), '--modules', join(dir, 'target'), '-o', db, '--quiet');
  assert.equal(b.status, 0, b.stderr);
  const patchKlp = join(dir, 'klpkit_patch.ko');
  const branchKlp = join(dir, 'klpkit_patch_branch.ko');
  const archKlp = join(dir, 'klpkit_patch_arch.ko');
  const c1 = klp('convert', patch, '--db', db, '--sym', 'get_homonym_string=klpkit_target,2', '-o', patchKlp);
  assert.equal(c1.status, 0, c1.stderr);
  const c2 = klp('convert', branchy, '--db', db, '--sym', 'get_homonym_string=klpkit_target,2', '--per-object', '-o', branchKlp);
  assert.equal(c2.status, 0, c2.stderr);
  const c3 = klp('convert', archy, '--db', db, '--sym', 'get_homonym_string=klpkit_target,2', '--per-object', '-o', archKlp);
  assert.equal(c3.status, 0, c3.stderr);
  const scenarios = bundledScenarios({ 'klpkit_target.ko': target, 'klpkit_patch.ko': patchKlp, 'klpkit_patch_branch.ko': branchKlp, 'klpkit_patch_arch.ko': archKlp });
  const { files, script } = scenarioBoot(scenarios);
  const r = boot({ kernel, files, script, timeout: 240 });
  // The reload that 6.1 refuses: here the module comes back, patched again.
  assert.match(r.data, /livepatch: applying patch 'klpkit_patch' to loading module 'klpkit_target'[\s\S]*livepatch: reverting patch 'klpkit_patch' on unloading module 'klpkit_target'[\s\S]*livepatch: applying patch 'klpkit_patch' to loading module 'klpkit_target'/);
  assert.doesNotMatch(r.data, /existing value is nonzero/);
  await compareScenarios(scenarios, r, '6.3', SymbolDb.load(readFileSync(db), db), { otherBuild: true });
});

test(`the ${kernel.version} image: its zstd payload (size trailer and all) and its 6.4+ kallsyms table == the running kernel's /proc/kallsyms`, async (t) => {
  const img = await decompressBzImage(new Uint8Array(readFileSync(kernelImage(kernel))), kernelImage(kernel));
  assert.equal(img.compression, 'zstd');
  assert.ok(img.version?.startsWith('6.12'), img.version);
  const k = await kallsymsFromVmlinuz(kernelImage(kernel));
  assert.equal(k.layout.order, '6.4+');
  const cap = capturedKallsyms([], kernel);
  t.diagnostic(`/proc/kallsyms from ${cap.from}`);
  const dump = parseKallsyms(cap.text, 'guest /proc/kallsyms');
  assert.ok(dump.vmlinux.length > 100000, `${dump.vmlinux.length} vmlinux lines captured`);
  assert.equal(k.symbols.length, dump.vmlinux.length);
  assert.deepEqual(kallsymsMismatches(k.symbols, dump.vmlinux), []);
});
