/**
 * Proof on a real kernel: livepatch modules built with Kbuild against Debian's 6.1 headers,
 * converted by `klp convert`, loaded into Debian's own 6.1 kernel under QEMU.
 *
 * Boot 1: the bundled example (non-exported vmlinux symbols); the target module, then the patch
 * (a static function of the module, by sympos); unload and reload of the patched module, which
 * 6.1 refuses (no relocation clearing before 6.3), and which works once the patch is gone.
 * Boot 2: late module patching (the patch first, then the module); a wrong sympos, which the
 * kernel refuses as klp convert predicted.
 * Boot 6: two patches in the shape of upstream klp-convert's selftests (klp_objects without
 * klp_funcs, symbols resolved by KLP_MODULE_RELOC annotations alone, built with Debian's -g), in
 * both load orders.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { readElf, SHF, writeElf } from '../../src/elf/index.js';
import { join } from 'node:path';
import { test } from 'node:test';
import { kernelCorpus } from '../helpers/corpus.js';
import { klp } from '../helpers/cli.js';
import { ROOT, run, tempDir } from '../helpers/tools.js';
import { kbuildModule } from './kbuild.js';
import { boot, kernelImage } from './qemu.js';
import { assertSameLog, bundledScenarios, compareScenarios, scenarioBoot, value, waitTransition } from './scenarios.js';
import { EmulatedKernel } from '../../src/loader/kernel.js';
import { SymbolDb } from '../../src/symbols/database.js';
import { convertModule } from '../../src/convert/convert.js';

const kernel = kernelCorpus();
const headers = join(kernel.root, 'usr/src', `linux-headers-${kernel.version}`);
const { dir } = tempDir('klpkit-kernel-');
process.on('exit', () => run('rm', ['-rf', dir]));

/** Build one of test/kernel/modules/<name> with Kbuild; returns the .ko path. */
function kbuild(name: string, as: string, extra: string[] = []): string {
  return kbuildModule(headers, name, join(dir, as), extra);
}

const target = kbuild('klpkit_target', 'target');
const patch = kbuild('klpkit_patch', 'patch', ['KBUILD_MODPOST_WARN=1']);
const branchy = kbuild('klpkit_patch', 'patch-branch', ['KBUILD_MODPOST_WARN=1', 'KCFLAGS=-DKLPKIT_STATIC_BRANCH']);

const convMod = kbuild('klpkit_conv_mod', 'conv_mod');
// One folder, two modules (conv1.c and conv2.c include the same source with another sympos).
kbuild('klpkit_conv', 'conv', ['KBUILD_MODPOST_WARN=1']);
const conv1 = join(dir, 'conv', 'klpkit_conv1.ko');
const conv2 = join(dir, 'conv', 'klpkit_conv2.ko');

const db = join(dir, 'kernel.klpdb');
const b = klp('symbols', 'build', '--vmlinuz', kernelImage(kernel), '--modules', join(dir, 'target'), '-o', db, '--quiet');
const convDb = join(dir, 'conv.klpdb');
assert.equal(klp('symbols', 'build', '--vmlinuz', kernelImage(kernel), '--modules', join(dir, 'conv_mod'), '-o', convDb, '--quiet').status, 0);
assert.equal(b.status, 0, b.stderr);
const vmOnlyDb = join(dir, 'vmlinux-only.klpdb');
assert.equal(klp('symbols', 'build', '--vmlinuz', kernelImage(kernel), '-o', vmOnlyDb, '--quiet').status, 0);

const demo = join(ROOT, 'examples/klp_demo.ko');

/**
 * Run insmod/rmmod/disable steps in the emulator (6.1 design); returns each step's status and the
 * steps with their messages (busybox's insmod retries a failed load: the emulator does too).
 */
type Step = ['insmod', string] | ['rmmod', string] | ['disable', string];
function emulate(steps: Step[], design: '6.1' | '6.3' = '6.1'): { rc: number[]; log: string[]; steps: Array<{ insmod: boolean; rc: number; log: string[] }> } {
  const k = new EmulatedKernel(SymbolDb.load(readFileSync(db), db), design);
  const done = steps.map(([op, arg]) => {
    const before = k.log.length;
    const rc = op === 'insmod' ? k.insmod(readElf(readFileSync(arg), { path: arg })) : op === 'rmmod' ? k.rmmod(arg) : k.disablePatch(arg);
    return { insmod: op === 'insmod', rc, log: k.log.slice(before) };
  });
  return { rc: done.map((d) => d.rc), log: k.log, steps: done };
}
/** The guest's `KLPKIT-<marker> <status>` lines, in order; null stands for a step that prints none (0). */
function statuses(console: string, markers: Array<string | null>): number[] {
  return markers.map((m) => (m === null ? 0 : Number(new RegExp(`KLPKIT-${m} (\\d+)`).exec(console)![1])));
}
const demoKlp = join(dir, 'klp_demo.ko');
const patchKlp = join(dir, 'klpkit_patch.ko');
const patchWrong = join(dir, 'klpkit_patch_wrong.ko');

test('klp convert: the example, and the module patch with the sympos of its ambiguous static', () => {
  const d = klp('convert', demo, '--db', db, '-o', demoKlp);
  assert.equal(d.status, 0, d.stderr);
  // get_homonym_string is static twice in klpkit_target: refused without a sympos...
  const amb = klp('convert', patch, '--db', db, '-o', patchKlp);
  assert.equal(amb.status, 1);
  assert.match(amb.stderr, /ambiguous symbol 'get_homonym_string' has 2 definitions[\s\S]*--sym get_homonym_string=klpkit_target,2/);
  const p = klp('convert', patch, '--db', db, '-o', patchKlp, '--sym', 'get_homonym_string=klpkit_target,2', '--json');
  assert.equal(p.status, 0, p.stderr);
  const plan = (JSON.parse(p.stdout) as { plan: Array<{ newSymbol: string }> }).plan.map((x) => x.newSymbol);
  assert.ok(plan.includes('.klp.sym.klpkit_target.get_homonym_string,2'));
  assert.ok(plan.includes('.klp.sym.klpkit_target.klpkit_target_key,0'));
  assert.ok(plan.includes('.klp.sym.vmlinux.nr_processes,0'));
});

test('klp convert refuses static_branch on a module key, and says to use static_key_enabled()', () => {
  const r = klp('convert', branchy, '--db', db, '-o', join(dir, 'branchy.ko'), '--sym', 'get_homonym_string=klpkit_target,2');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /__jump_table\+0x[0-9a-f]+: __jump_table entry needs 'klpkit_target_key' from klpkit_target/);
  assert.match(r.stderr, /static_key_enabled\(\)/);
});

test('a wrong sympos: klp convert predicts the failure when it knows the module', () => {
  const r = klp('convert', patch, '--db', db, '-o', patchWrong, '--sym', 'get_homonym_string=klpkit_target,3');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /symbol position 3 for symbol 'get_homonym_string' in object 'klpkit_target' not found/);
  // Without the module in the database it cannot check, and writes the module the kernel will refuse.
  const blind = klp('convert', patch, '--db', vmOnlyDb, '-o', patchWrong, '--sym', 'get_homonym_string=klpkit_target,3',
    '--sym', 'klpkit_target_key=klpkit_target,0');
  assert.equal(blind.status, 0, blind.stderr);
});


test('boot 1: example patch; module then patch; reload of a patched module refused on 6.1', () => {
  const r = boot({
    kernel,
    files: {
      'm/raw_demo.ko': demo, 'm/klp_demo.ko': demoKlp, 'm/target.ko': target, 'm/patch.ko': patchKlp,
    },
    script: `
insmod /m/raw_demo.ko; echo "KLPKIT-S1-RAW $?"
insmod /m/klp_demo.ko; echo "KLPKIT-S1-RC $?"
${waitTransition('klp_demo')}
echo "KLPKIT-S1-CMDLINE $(cat /proc/cmdline)"
grep -E ' (nr_processes|saved_command_line|cmdline_proc_show)$' /proc/kallsyms | sed 's/^/KLPKIT-KALLSYMS /'
insmod /m/target.ko; echo "KLPKIT-S2-TARGET $?"
echo "KLPKIT-S2-BEFORE $(${value})"
insmod /m/patch.ko; echo "KLPKIT-S2-PATCH $?"
${waitTransition('klpkit_patch')}
echo "KLPKIT-S2-AFTER $(${value})"
echo 0 > /sys/module/klpkit_target/parameters/key
echo "KLPKIT-S6-KEYOFF $(${value})"
echo 1 > /sys/module/klpkit_target/parameters/key
rmmod klpkit_target; echo "KLPKIT-S4-RMMOD $?"
insmod /m/target.ko; echo "KLPKIT-S4-RELOAD $?"
echo 0 > /sys/kernel/livepatch/klpkit_patch/enabled
${waitTransition('klpkit_patch')}
rmmod klpkit_patch; echo "KLPKIT-S4-RMPATCH $?"
insmod /m/target.ko; echo "KLPKIT-S4-RELOAD2 $?"
echo "KLPKIT-S4-VALUE $(${value})"
dmesg > /dev/ttyS1
`,
  });
  const c = r.console;
  const dmesg = r.data;
  // Scenario 1: without conversion the module does not load; converted, it patches /proc/cmdline.
  assert.match(c, /KLPKIT-S1-RAW 2\b/);
  assert.match(dmesg, /klp_demo: Unknown symbol saved_command_line \(err -2\)/);
  assert.match(c, /KLPKIT-S1-RC 0\b/);
  assert.match(c, /KLPKIT-S1-CMDLINE klp_demo: nr_processes=\d+ cmdline=console=ttyS0/);
  // klp check's resolved addresses are the running kernel's (nokaslr).
  const check = klp('check', demoKlp, '--db', db, '--json');
  assert.equal(check.status, 0, check.stdout);
  const resolved = (JSON.parse(check.stdout) as { resolved: Array<{ name: string; address: string }> }).resolved;
  for (const m of c.matchAll(/KLPKIT-KALLSYMS ([0-9a-f]+) \w (\w+)/g)) {
    assert.equal(resolved.find((x) => x.name === m[2])?.address, `0x${m[1]!.replace(/^0+/, '')}`, m[2]);
  }
  assert.equal(resolved.length, 3);
  // Scenario 2: a static function of the module (sympos 2 = target_b.c's "homonym string B").
  assert.match(c, /KLPKIT-S2-BEFORE orig homonym string A homonym string B/);
  assert.match(c, /KLPKIT-S2-PATCH 0\b/);
  assert.match(c, /KLPKIT-S2-AFTER patched homonym string B key=1 procs=1/);
  // Scenario 6, converted side: static_key_enabled() on the module's key follows the key.
  assert.match(c, /KLPKIT-S6-KEYOFF patched homonym string B key=0 procs=1/);
  // Scenario 4: 6.1 has no relocation clearing (6.3): the reload is refused, exactly so.
  assert.match(c, /KLPKIT-S4-RMMOD 0\b/);
  assert.match(dmesg, /livepatch: reverting patch 'klpkit_patch' on unloading module 'klpkit_target'/);
  assert.match(c, /KLPKIT-S4-RELOAD 8\b/);
  const predicted = JSON.parse(klp('check', patchKlp, '--db', db, '--json').stdout) as { findings: Array<{ code: string; message: string }> };
  assert.ok(predicted.findings.some((f) => f.code === 'NO_RELOAD' && /module 'klpkit_target' cannot be unloaded and loaded again on 6\.1/.test(f.message)), 'klp check predicted it');
  assert.ok(!JSON.parse(klp('check', patchKlp, '--db', db, '--json', '--target-kernel', '6.3').stdout).findings.some((f: { code: string }) => f.code === 'NO_RELOAD'));
  assert.match(dmesg, /x86\/modules: Skipping invalid relocation target, existing value is nonzero for type \d+/);
  assert.match(dmesg, /livepatch: patch 'klpkit_patch' failed for module 'klpkit_target', refusing to load module 'klpkit_target'/);
  // ... and once the patch is disabled and removed, the module loads again, unpatched.
  assert.match(c, /KLPKIT-S4-RMPATCH 0\b/);
  assert.match(c, /KLPKIT-S4-RELOAD2 0\b/);
  assert.match(c, /KLPKIT-S4-VALUE orig homonym string A homonym string B/);

  // The emulator's 6.1 design predicts every status and message.
  const e = emulate([['insmod', demo], ['insmod', demoKlp], ['insmod', target], ['insmod', patchKlp], ['rmmod', 'klpkit_target'],
    ['insmod', target], ['disable', 'klpkit_patch'], ['rmmod', 'klpkit_patch'], ['insmod', target]]);
  assert.deepEqual(e.rc, statuses(c, ['S1-RAW', 'S1-RC', 'S2-TARGET', 'S2-PATCH', 'S4-RMMOD', 'S4-RELOAD', null, 'S4-RMPATCH', 'S4-RELOAD2']));
  assertSameLog(e.steps, dmesg);
  assert.ok(e.log.some((l) => l.includes('existing value is nonzero')));
  // Under the 6.3 design (relocations cleared when the module goes) the same reload works.
  const e63 = emulate([['insmod', target], ['insmod', patchKlp], ['rmmod', 'klpkit_target'], ['insmod', target]], '6.3');
  assert.deepEqual(e63.rc, [0, 0, 0, 0]);
  assert.ok(e63.log.includes("livepatch: applying patch 'klpkit_patch' to loading module 'klpkit_target'"));
});

test('boot 2: late module patching (patch first); a wrong sympos refused by the kernel', () => {
  const r = boot({
    kernel,
    files: { 'm/target.ko': target, 'm/patch.ko': patchKlp, 'm/wrong.ko': patchWrong },
    script: `
insmod /m/patch.ko; echo "KLPKIT-S3-PATCH $?"
${waitTransition('klpkit_patch')}
insmod /m/target.ko; echo "KLPKIT-S3-TARGET $?"
echo "KLPKIT-S3-VALUE $(${value})"
echo 0 > /sys/kernel/livepatch/klpkit_patch/enabled
${waitTransition('klpkit_patch')}
rmmod klpkit_patch; echo "KLPKIT-S5-RMPATCH $?"
insmod /m/wrong.ko; echo "KLPKIT-S5-WRONG $?"
echo "KLPKIT-S5-VALUE $(${value})"
dmesg > /dev/ttyS1
`,
  });
  const c = r.console;
  const dmesg = r.data;
  assert.match(c, /KLPKIT-S3-PATCH 0\b/);
  assert.match(c, /KLPKIT-S3-TARGET 0\b/);
  assert.match(dmesg, /livepatch: applying patch 'klpkit_patch' to loading module 'klpkit_target'/);
  assert.match(c, /KLPKIT-S3-VALUE patched homonym string B key=1 procs=1/);
  assert.match(c, /KLPKIT-S5-RMPATCH 0\b/);
  assert.match(c, /KLPKIT-S5-WRONG 22\b/);
  assert.match(dmesg, /livepatch: symbol position 3 for symbol 'get_homonym_string' in object 'klpkit_target' not found/);
  // klp check with the module in its database prints the kernel's own message first.
  const check = klp('check', patchWrong, '--db', db);
  assert.equal(check.status, 1);
  assert.match(check.stdout, /error: .*symbol position 3 for symbol 'get_homonym_string' in object 'klpkit_target' not found/);
  assert.match(c, /KLPKIT-S5-VALUE orig homonym string A homonym string B/);

  // The emulator's 6.1 design predicts every status and message here too.
  const e = emulate([['insmod', patchKlp], ['insmod', target], ['disable', 'klpkit_patch'], ['rmmod', 'klpkit_patch'], ['insmod', patchWrong]]);
  assert.deepEqual(e.rc, statuses(c, ['S3-PATCH', 'S3-TARGET', null, 'S5-RMPATCH', 'S5-WRONG']));
  assertSameLog(e.steps, dmesg);
  assert.ok(e.log.includes("livepatch: applying patch 'klpkit_patch' to loading module 'klpkit_target'"));
  assert.ok(e.log.includes("livepatch: symbol position 3 for symbol 'get_homonym_string' in object 'klpkit_target' not found"));
});

test('boot 3: what the kernel does not catch, klp check does (before loading)', () => {
  const noFlag = join(dir, 'no-flag.ko');
  const undeclared = join(dir, 'undeclared.ko');
  const elf1 = readElf(readFileSync(demoKlp), { path: demoKlp });
  for (const s of elf1.sections) if (s.isLivepatchRela) s.flags &= ~SHF.RELA_LIVEPATCH;
  writeFileSync(noFlag, writeElf(elf1));
  const elf2 = readElf(readFileSync(demoKlp), { path: demoKlp });
  for (const s of elf2.sections) if (s.isLivepatchRela) elf2.renameSection(s, '.klp.rela.kfeasmod..text');
  writeFileSync(undeclared, writeElf(elf2));
  const a = klp('check', noFlag, '--db', db);
  assert.equal(a.status, 1);
  assert.match(a.stdout, /error: \.klp\.rela\.vmlinux\.\.text: livepatch relocation section without SHF_RELA_LIVEPATCH.*\[the kernel does not catch this\]/);
  const u = klp('check', undeclared, '--db', db);
  assert.equal(u.status, 1);
  assert.match(u.stdout, /error: \.klp\.rela\.kfeasmod\.\.text: relocations for object 'kfeasmod', which is not among the patch's klp_objects \(vmlinux\): they are never applied.*\[the kernel does not catch this\]/);
  // The kernel loads both without a word (reading /proc/cmdline would then crash it: not done here).
  const r = boot({
    kernel,
    files: { 'm/a.ko': noFlag, 'm/b.ko': undeclared },
    script: `
insmod /m/a.ko; echo "KLPKIT-S8-NOFLAG $?"
${waitTransition('klp_demo')}
echo 0 > /sys/kernel/livepatch/klp_demo/enabled
${waitTransition('klp_demo')}
rmmod klp_demo; echo "KLPKIT-S8-RM $?"
insmod /m/b.ko; echo "KLPKIT-S8-UNDECLARED $?"
dmesg > /dev/ttyS1
`,
  });
  assert.match(r.console, /KLPKIT-S8-NOFLAG 0\b/);
  assert.match(r.console, /KLPKIT-S8-RM 0\b/);
  assert.match(r.console, /KLPKIT-S8-UNDECLARED 0\b/);
  assert.doesNotMatch(r.data, /livepatch: .*(not marked|incorrectly formatted|not found|invalid access)/);
  assert.equal((r.data.match(/livepatch: enabling patch 'klp_demo'/g) ?? []).length, 2);
  // The emulator predicts the same silence.
  const e = emulate([['insmod', noFlag], ['disable', 'klp_demo'], ['rmmod', 'klp_demo'], ['insmod', undeclared]]);
  assert.deepEqual(e.rc, [0, 0, 0, 0]);
  assertSameLog(e.steps, r.data);
});

test('boot 4: what klp convert refuses (static_branch on a module key) really breaks', () => {
  // What a converter without the special-section check would write: hide __jump_table from ours.
  const elf = readElf(readFileSync(branchy), { path: branchy });
  const jt = elf.findSectionByName('__jump_table')!;
  jt.name = '__jump_tablX';
  const r = convertModule(elf, { db: SymbolDb.load(readFileSync(db), db), explicit: new Map([['get_homonym_string', { obj: 'klpkit_target', pos: 2 }]]) });
  assert.deepEqual(r.problems, []);
  for (const s of elf.sections) if (s.name.includes('__jump_tablX')) s.name = s.name.replace('__jump_tablX', '__jump_table');
  const forced = join(dir, 'forced.ko');
  writeFileSync(forced, writeElf(elf));
  const b = boot({
    kernel,
    files: { 'm/target.ko': target, 'm/forced.ko': forced },
    script: `
insmod /m/target.ko; echo "KLPKIT-S6-TARGET $?"
insmod /m/forced.ko; echo "KLPKIT-S6-FORCED $?"
${waitTransition('klpkit_patch')}
echo "KLPKIT-S6-ON $(${value})"
echo 0 > /sys/module/klpkit_target/parameters/key
echo "KLPKIT-S6-OFF $(${value})"
`,
  });
  assert.match(b.console, /KLPKIT-S6-FORCED 0\b/, 'the kernel loads it without a word');
  assert.match(b.console, /KLPKIT-S6-ON patched-branch homonym string B/);
  // The key is off, but the patch's jump label was never tied to it: the branch is still taken.
  assert.match(b.console, /KLPKIT-S6-OFF patched-branch homonym string B/);
  // The emulator (6.1) says why: at COMING the entry's key field is still zero, so the kernel reads
  // a key inside the patch's own __jump_table; turning the real key off patches no site.
  const k = new EmulatedKernel(SymbolDb.load(readFileSync(db), db), '6.1');
  assert.deepEqual([k.insmod(readElf(readFileSync(target), { path: target })), k.insmod(readElf(readFileSync(forced), { path: forced }))], [0, 0]);
  assert.ok(k.events.some((x) => /__jump_table entry for code 0x[0-9a-f]+ has its key field still zero/.test(x.text)));
  const mod = k.module('klpkit_patch')!;
  const [site] = k.jumpLabels.readEntries(mod, mod.elf.findSectionByName('__jump_table')!);
  const before = Buffer.from(k.memory.read(site!.code, 2)!).toString('hex');
  assert.equal(k.setStaticKey('klpkit_target', 'klpkit_target_key', false), 0);
  assert.ok(k.events.some((x) => x.text === 'jump_label: klpkit_target:klpkit_target_key disabled: 0 site(s) updated'));
  assert.equal(Buffer.from(k.memory.read(site!.code, 2)!).toString('hex'), before, 'the site keeps its compiled state, as the real kernel showed');
});

test('boot 5: the bundled scenarios (examples/scenarios) on the real kernel agree with the emulator\'s 6.1 design', async () => {
  const scenarios = bundledScenarios();
  const { files, script } = scenarioBoot(scenarios);
  const r = boot({ kernel, files, script, timeout: 240 });
  await compareScenarios(scenarios, r, '6.1', SymbolDb.load(readFileSync(db), db));
});

test('boot 6: upstream-shaped selftest patches, converted from their annotations alone, print the expected lines in both load orders', () => {
  // Kbuild built them with Debian's flags: debug info describes the annotation arrays too.
  assert.ok(readElf(readFileSync(conv1), { path: conv1 }).findSectionByName('.rela.debug_info'), 'built with -g');
  const out1 = join(dir, 'conv1.klp.ko');
  const out2 = join(dir, 'conv2.klp.ko');
  for (const [from, to] of [[conv1, out1], [conv2, out2]] as const) {
    const c = klp('convert', from, '--db', convDb, '-o', to, '--json');
    assert.equal(c.status, 0, c.stderr);
    const j = JSON.parse(c.stdout) as { plan: Array<{ newSymbol: string; resolvedBy: string }>; kept: Array<{ symbol: string }> };
    assert.ok(j.plan.filter((x) => x.newSymbol.startsWith('.klp.sym.klpkit_conv_mod.')).every((x) => x.resolvedBy === 'KLP_MODULE_RELOC'));
    assert.ok(['_printk', 'param_get_int', 'klp_enable_patch'].every((n) => j.kept.some((k) => k.symbol === n)), 'exports stay ordinary');
  }
  const r = boot({
    kernel,
    files: { 'm/conv_mod.ko': convMod, 'm/conv1.ko': out1, 'm/conv2.ko': out2 },
    script: `
echo "KLPKIT-CMDLINE $(cat /proc/cmdline)"
insmod /m/conv_mod.ko; echo "KLPKIT-C1-MOD $?"
insmod /m/conv1.ko; echo "KLPKIT-C1-PATCH $?"
${waitTransition('klpkit_conv1')}
echo 1 > /sys/module/klpkit_conv1/parameters/print_debug
echo 0 > /sys/kernel/livepatch/klpkit_conv1/enabled
${waitTransition('klpkit_conv1')}
rmmod klpkit_conv1; echo "KLPKIT-C1-RMPATCH $?"
rmmod klpkit_conv_mod; echo "KLPKIT-C1-RMMOD $?"
insmod /m/conv2.ko; echo "KLPKIT-C2-PATCH $?"
${waitTransition('klpkit_conv2')}
insmod /m/conv_mod.ko; echo "KLPKIT-C2-MOD $?"
echo 1 > /sys/module/klpkit_conv2/parameters/print_debug
dmesg > /dev/ttyS1
`,
  });
  const c = r.console;
  for (const m of ['C1-MOD', 'C1-PATCH', 'C1-RMPATCH', 'C1-RMMOD', 'C2-PATCH', 'C2-MOD']) assert.match(c, new RegExp(`KLPKIT-${m} 0\\b`), m);
  const cmdline = /KLPKIT-CMDLINE (.*)/.exec(c)![1]!.trim();
  const expected = (n: 1 | 2, pos: 1 | 2): string[] => [
    `klpkit_conv${n}: saved_command_line: ${cmdline}`,
    `klpkit_conv${n}: driver_name, 0: klpkit_conv_mod`,
    `klpkit_conv${n}: klpkit_conv_driver_name(), 0: klpkit_conv_mod`,
    `klpkit_conv${n}: homonym_string, ${pos}: homonym string ${pos === 1 ? 'A' : 'B'}`,
    `klpkit_conv${n}: get_homonym_string(), ${pos}: homonym string ${pos === 1 ? 'A' : 'B'}`,
  ];
  // Whole lines, in order: the kernel's words are the spec.
  const printed = r.data.split('\n').map((l) => l.replace(/^\[\s*[\d.]+\]\s*/, '').trimEnd()).filter((l) => /^klpkit_conv\d: /.test(l));
  // The first livepatch taints the kernel (kernel/module/main.c check_modinfo_livepatch), once.
  assert.deepEqual(printed, ['klpkit_conv1: tainting kernel with TAINT_LIVEPATCH', ...expected(1, 1), ...expected(2, 2)]);
  assert.match(r.data, /livepatch: applying patch 'klpkit_conv2' to loading module 'klpkit_conv_mod'/);
});
