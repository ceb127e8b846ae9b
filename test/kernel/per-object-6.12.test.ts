/**
 * The per-object design in a real kernel: Debian's 6.12 source with the series of kernel/patches/
 * applied (scripts/build-kernel.sh), booted under QEMU. The bundled scenarios run with their
 * modules built against that tree with -ffunction-sections -fdata-sections and the patch put
 * through `klp convert --per-object`; every step's status and every kernel message must agree
 * with the emulator's `per-object` design, whole lines in order, and the patch's pages must have
 * the permissions the emulator gives them, read from the guest's page tables at each step.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readElf } from '../../src/elf/index.js';
import { EmulatedKernel } from '../../src/loader/kernel.js';
import { readBindings } from '../../src/klp/bindings.js';
import { SymbolDb } from '../../src/symbols/database.js';
import { kernelCorpus } from '../helpers/corpus.js';
import { klp } from '../helpers/cli.js';
import { ROOT, run, runStatus, tempDir } from '../helpers/tools.js';
import { kbuildModule } from './kbuild.js';
import { boot } from './qemu.js';
import { seriesKernel } from './series.js';
import { bundledScenarios, compareScenarios, scenarioBoot, value, waitTransition } from './scenarios.js';

const { dir } = tempDir('klpkit-per-object-');
process.on('exit', () => run('rm', ['-rf', dir]));

function kbuild(kdir: string, name: string, as: string, cflags = ''): string {
  return kbuildModule(kdir, name, join(dir, as), ['KBUILD_MODPOST_WARN=1', `KCFLAGS=-ffunction-sections -fdata-sections ${cflags}`]);
}

/** The series' kernel, the target and patch built against it, and a database of both: once per file. */
let built: { build: string; image: string; target: string; patch: string; db: string } | undefined;
function series(): NonNullable<typeof built> {
  if (built) return built;
  const build = seriesKernel();
  const image = join(build, 'arch/x86/boot/bzImage');
  const target = kbuild(build, 'klpkit_target', 'target');
  const patch = kbuild(build, 'klpkit_patch', 'patch');
  const db = join(dir, 'kernel.klpdb');
  const b = klp('symbols', 'build', '--vmlinuz', image, '--symvers', join(build, 'Module.symvers'), '--modules', join(dir, 'target'), '-o', db, '--quiet');
  assert.equal(b.status, 0, b.stderr);
  return (built = { build, image, target, patch, db });
}

test('the bundled scenarios on the per-object kernel agree with the emulator\'s per-object design', async () => {
  const { build, image, target, patch, db } = series();
  const branchy = kbuild(build, 'klpkit_patch', 'patch-branch', '-DKLPKIT_STATIC_BRANCH');
  const archy = kbuild(build, 'klpkit_patch', 'patch-arch', '-DKLPKIT_ARCH');
  const patchKlp = join(dir, 'klpkit_patch.ko');
  const branchKlp = join(dir, 'klpkit_patch_branch.ko');
  const archKlp = join(dir, 'klpkit_patch_arch.ko');
  // One patch names the homonym by its compilation unit, the other by its sympos: the scenarios'
  // expectations ("homonym string B") show on the real kernel that both bind target_b.c's.
  for (const [from, to, sym] of [[patch, patchKlp, 'get_homonym_string=klpkit_target@target_b.c'], [branchy, branchKlp, 'get_homonym_string=klpkit_target,2'], [archy, archKlp, 'get_homonym_string=klpkit_target,2']] as const) {
    const c = klp('convert', from, '--db', db, '--sym', sym, '--per-object', '-o', to);
    assert.equal(c.status, 0, c.stderr);
  }
  const bound = readBindings(readElf(readFileSync(patchKlp), { path: patchKlp })).find((b) => b.name === 'get_homonym_string');
  assert.deepEqual([bound?.sympos, bound?.unit], [2, 'target_b.c']);
  // The per-object path is the one under test: the patch has its part for the target.
  assert.match(run('readelf', ['-SW', patchKlp]), /\.klp\.text\.klpkit_target\s+PROGBITS/);
  // The alternative and the static call into the target sit in parts of their own.
  assert.match(run('readelf', ['-SW', archKlp]), /\.klp\.arch\.klpkit_target\.\.altinstructions[\s\S]*\.klp\.arch\.klpkit_target\.\.static_call_sites/);
  const scenarios = bundledScenarios({ 'klpkit_target.ko': target, 'klpkit_patch.ko': patchKlp, 'klpkit_patch_branch.ko': branchKlp, 'klpkit_patch_arch.ko': archKlp });
  const { files, script } = scenarioBoot(scenarios);
  const r = boot({ kernel: kernelCorpus('amd64', '6.12'), image, files, script, timeout: 300 });
  // The reload 6.1 refuses works here, and without a text_poke: the part was released.
  assert.match(r.data, /livepatch: applying patch 'klpkit_patch' to loading module 'klpkit_target'[\s\S]*livepatch: reverting patch 'klpkit_patch' on unloading module 'klpkit_target'[\s\S]*livepatch: applying patch 'klpkit_patch' to loading module 'klpkit_target'/);
  assert.doesNotMatch(r.data, /existing value is nonzero|does not match expected value/);
  // This kernel is built without CONFIG_MODULE_SIG: it prints no signature notice.
  await compareScenarios(scenarios, r, 'per-object', SymbolDb.load(readFileSync(db), db), { otherBuild: true, unsigned: 'silent' });
});

/** The permissions ptdump gives the page holding `addr` (x86: "RW"/"ro", "NX"/"x"). */
function pagePerms(ptdump: string, addr: bigint): string {
  for (const l of ptdump.split('\n')) {
    const m = /^0x([0-9a-f]+)-0x([0-9a-f]+)\s/.exec(l);
    if (!m || addr < BigInt(`0x${m[1]}`) || addr >= BigInt(`0x${m[2]}`)) continue;
    return `${/\bRW\b/.test(l) ? 'RW' : 'RO'}+${/\bNX\b/.test(l) ? 'NX' : 'X'}`;
  }
  return 'unmapped';
}

test('the patch\'s part for the target has, at every step, the permissions the emulator gives it (the guest\'s page tables)', () => {
  const { image, target, patch, db } = series();
  const split = join(dir, 'pt-klpkit_patch.ko');
  const c = klp('convert', patch, '--db', db, '--sym', 'get_homonym_string=klpkit_target,2', '--per-object', '-o', split);
  assert.equal(c.status, 0, c.stderr);
  const steps = ['insmod /m/klpkit_patch.ko', 'insmod /m/klpkit_target.ko', 'rmmod klpkit_target', 'insmod /m/klpkit_target.ko'];
  const script = ['mount -t debugfs debugfs /sys/kernel/debug', ...steps.flatMap((st, i) => [
    `${st}; echo "PT-STEP ${i} $?"`,
    `echo "PT-PART ${i} $(cat /sys/module/klpkit_patch/sections/.klp.text.klpkit_target)"`,
    `echo "PT-CORE ${i} $(cat /sys/module/klpkit_patch/sections/.text.klpkit_patch_init)"`,
    `grep '^0xffffffff' /sys/kernel/debug/page_tables/kernel | sed "s/^/PT-${i} /" > /dev/ttyS1`,
  ])].join('\n');
  const r = boot({ kernel: kernelCorpus('amd64', '6.12'), image, files: { 'm/klpkit_patch.ko': split, 'm/klpkit_target.ko': target }, script, timeout: 300 });

  const k = new EmulatedKernel(SymbolDb.load(readFileSync(db), db), 'per-object');
  const elf = (f: string) => readElf(readFileSync(f), { path: f });
  const emulated = [() => k.insmod(elf(split)), () => k.insmod(elf(target)), () => k.rmmod('klpkit_target'), () => k.insmod(elf(target))].map((step) => {
    const rc = step();
    const perms = (region: string): string => {
      const p = k.module('klpkit_patch')!.regions.get(region)!.perms;
      return `${p.w ? 'RW' : 'RO'}+${p.x ? 'X' : 'NX'}`;
    };
    return { rc, part: perms('klp.klpkit_target.text'), core: perms('core.text') };
  });
  const real = steps.map((_, i) => {
    const rc = Number(new RegExp(`PT-STEP ${i} (\\d+)`).exec(r.console)?.[1]);
    const addr = BigInt(new RegExp(`PT-PART ${i} (0x[0-9a-f]+)`).exec(r.console)?.[1] ?? '0');
    const ptdump = r.data.split('\n').filter((l) => l.startsWith(`PT-${i} `)).map((l) => l.slice(`PT-${i} `.length)).join('\n');
    const core = BigInt(new RegExp(`PT-CORE ${i} (0x[0-9a-f]+)`).exec(r.console)?.[1] ?? '0');
    return { rc, part: pagePerms(ptdump, addr), core: pagePerms(ptdump, core) };
  });
  assert.deepEqual(real, emulated, r.console.slice(-3000));
  // What the design promises, in the kernel's own page tables.
  assert.deepEqual(real.map((x) => x.part), ['RW+NX', 'RO+X', 'RW+NX', 'RO+X']);
  // The rest of the patch's text is formed once and never flipped.
  assert.deepEqual(real.map((x) => x.core), ['RO+X', 'RO+X', 'RO+X', 'RO+X']);
});

test('.klpkit.bindings is never loaded: the patch loads with it, and takes the same memory as without it; it binds the homonym of the unit it names, at the address kallsyms gives', () => {
  const { build, image, target, db } = series();
  // This build prints the address of the get_homonym_string() it calls.
  const patch = kbuild(build, 'klpkit_patch', 'patch-addr', '-DKLPKIT_PRINT_ADDR');
  const withRecord = join(dir, 'sz-with', 'klpkit_patch.ko');
  const without = join(dir, 'sz-without', 'klpkit_patch.ko');
  mkdirSync(join(dir, 'sz-with'));
  mkdirSync(join(dir, 'sz-without'));
  assert.equal(klp('convert', patch, '--db', db, '--sym', 'get_homonym_string=klpkit_target@target_b.c', '-o', withRecord).status, 0);
  assert.ok(readBindings(readElf(readFileSync(withRecord), { path: withRecord })).length > 0);
  run('objcopy', ['--remove-section', '.klpkit.bindings', withRecord, without]);
  const script = ['insmod /m/klpkit_target.ko', ...(['without', 'with'] as const).flatMap((v) => [
    `insmod /m/${v}/klpkit_patch.ko; echo "SZ-RC ${v} $?"`, waitTransition('klpkit_patch'),
    `echo "SZ-SIZE ${v} $(cat /sys/module/klpkit_patch/coresize)"`, `echo "SZ-VALUE ${v} $(${value})"`,
    `grep ' get_homonym_string' /proc/kallsyms | sed "s/^/SZ-KALLSYMS ${v} /"`,
    // add_sect_attrs() lists every section the loader placed in memory (SHF_ALLOC, non-empty).
    `echo "SZ-SECTIONS ${v} $(ls -a /sys/module/klpkit_patch/sections | tr '\\n' ' ')"`,
    'echo 0 > /sys/kernel/livepatch/klpkit_patch/enabled', waitTransition('klpkit_patch'), 'rmmod klpkit_patch',
  ])].join('\n');
  const r = boot({ kernel: kernelCorpus('amd64', '6.12'), image, script, timeout: 300,
    files: { 'm/klpkit_target.ko': target, 'm/with/klpkit_patch.ko': withRecord, 'm/without/klpkit_patch.ko': without } });
  const get = (what: string, v: string): string => new RegExp(`${what} ${v} (.*)`).exec(r.console)?.[1] ?? '?';
  assert.deepEqual([get('SZ-RC', 'without'), get('SZ-RC', 'with')], ['0', '0'], r.console.slice(-2000));
  assert.equal(get('SZ-SIZE', 'with'), get('SZ-SIZE', 'without'));
  assert.match(get('SZ-SIZE', 'with'), /^\d+$/);
  assert.match(get('SZ-VALUE', 'with'), /^patched homonym string B bound=[0-9a-f]{16}$/);
  // The address the patch bound to is the second get_homonym_string of klpkit_target in the
  // kernel's own list (sympos 2), which the database says comes from target_b.c, as asked.
  const bound = /bound=([0-9a-f]{16})/.exec(get('SZ-VALUE', 'with'))![1]!;
  const listed = [...r.console.matchAll(/SZ-KALLSYMS with ([0-9a-f]{16}) t get_homonym_string\s+\[klpkit_target\]/g)].map((m) => m[1]!);
  assert.equal(listed.length, 2, r.console.slice(-2000));
  assert.equal(listed.indexOf(bound) + 1, 2, `bound to ${bound}; kallsyms lists ${listed.join(', ')}`);
  const defs = SymbolDb.load(readFileSync(db), db).lookup('get_homonym_string').filter((d) => d.object === 'klpkit_target');
  assert.deepEqual(defs.map((d) => `${d.sympos}:${d.file}`), ['1:target_a.c', '2:target_b.c']);
  const placed = get('SZ-SECTIONS', 'with').split(' ');
  assert.ok(placed.includes('.gnu.linkonce.this_module'), placed.join(' '));
  assert.ok(!placed.includes('.klpkit.bindings'), 'the record is not in memory');
  assert.deepEqual(placed, get('SZ-SECTIONS', 'without').split(' '));
});

test('the series: every patch is checkpatch --strict clean, and docs/per-object-kernel.md builds it the way the tests do', () => {
  const build = seriesKernel();
  const patches = readdirSync(join(ROOT, 'kernel/patches')).filter((f) => /^\d{4}-.*\.patch$/.test(f) && !f.startsWith('0000-'));
  assert.ok(patches.length >= 2, patches.join(' '));
  for (const p of patches) {
    const r = runStatus('perl', [join(build, 'scripts/checkpatch.pl'), '--strict', '--quiet', join(ROOT, 'kernel/patches', p)], { cwd: build });
    assert.equal(r.status, 0, `${p}:\n${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '', `${p}: checkpatch --strict says something:\n${r.stdout}`);
  }
  const doc = readFileSync(join(ROOT, 'docs/per-object-kernel.md'), 'utf8');
  const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
  assert.deepEqual(blocks, ['scripts/build-kernel.sh']);
  // The command as the page gives it, from the checkout: the cached build, its last line the tree.
  if (!process.env.KLPKIT_KERNEL_BUILD) assert.equal(run('bash', ['-c', blocks[0]!], { cwd: ROOT }).trim().split('\n').pop(), build);
});
