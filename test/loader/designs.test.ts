/**
 * The loader emulator's designs on the bundled example modules (built with Kbuild against
 * Debian's 6.1 headers by examples/late-patching/build.sh): the bundled scenarios' expectations,
 * and the invariants of the per-object design note: same final bytes whichever order patch and
 * module load in, no permission violation for 6.x and per-object, permission flips for 4.x.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DESIGNS } from '../../src/loader/designs/index.js';
import type { EmulatedKernel } from '../../src/loader/kernel.js';
import { parseScenario, readScenarioFiles, simulate, ScenarioError, type Scenario } from '../../src/loader/scenario.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { ROOT, tempDir } from '../helpers/tools.js';
import { readElf, writeElf } from '../../src/elf/index.js';

const ex = join(ROOT, 'examples');
const kernelDir = join(ex, 'kernel-6.1.0-56-amd64');
const { db } = await buildDatabase({ kallsyms: join(kernelDir, 'kallsyms.excerpt'), symvers: join(kernelDir, 'Module.symvers.excerpt') });
const scenarioFiles = readdirSync(join(ex, 'scenarios')).filter((f) => f.endsWith('.klpsim')).sort();
const load = (f: string): Scenario => parseScenario(readFileSync(f, 'utf8'), f);

test('the bundled scenarios meet every expectation under every design', async () => {
  assert.deepEqual(scenarioFiles, ['module-arch-calls.klpsim', 'module-before-patch.klpsim', 'module-reload.klpsim', 'module-static-key.klpsim', 'patch-before-module.klpsim', 'static-key-patch-after-module.klpsim']);
  for (const f of scenarioFiles) {
    const sc = load(join(ex, 'scenarios', f));
    const files = await readScenarioFiles(sc);
    for (const d of DESIGNS) {
      const { run } = simulate(sc, d, db, files);
      const failed = run.steps.flatMap((s) => s.expects.filter((x) => !x.ok).map((x) => `${f}:${x.line} [${d}] ${x.text}: ${x.detail}`));
      assert.deepEqual(failed, []);
      assert.ok(run.steps.reduce((n, s) => n + s.expects.length, 0) >= 5, `${f} [${d}] checks something`);
    }
  }
});

/** Every relocated location of every loaded module and the bytes there. */
function relocatedBytes(k: EmulatedKernel, names: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of names) {
    const mod = k.module(n);
    assert.ok(mod, `${n} is loaded`);
    for (const rs of mod.elf.sections) {
      if (!rs.isRelocation || !rs.infoSection) continue;
      const base = mod.sectionAddr.get(rs.infoSection);
      if (base === undefined) continue;
      for (const r of mod.elf.relocations(rs)) {
        const b = k.memory.read(base + r.offset, 8) ?? k.memory.read(base + r.offset, 4);
        out.set(`${n}:${rs.infoSection.name}+0x${r.offset.toString(16)}`, Buffer.from(b ?? []).toString('hex'));
      }
    }
  }
  return out;
}

test('invariant: the final bytes of every relocated location do not depend on the load order', async () => {
  for (const patch of ['klpkit_patch.ko', 'klpkit_patch_branch.ko', 'klpkit_patch_arch.ko']) {
    const orders = [['target', 'patch'], ['patch', 'target']].map((o) => o.map((m) => `step insmod ${m}\nexpect ok`).join('\n'));
    const sc = (order: string): Scenario => parseScenario(`kallsyms x\nmodule target ../late-patching/klpkit_target.ko\nmodule patch ../late-patching/${patch}\n${order}\n`, join(ex, 'scenarios', 'order.klpsim'));
    for (const d of DESIGNS) {
      const runs: Array<Map<string, string>> = [];
      for (const o of orders) {
        const s = sc(o);
        const { run, kernel } = simulate(s, d, db, await readScenarioFiles(s));
        assert.ok(run.passed, `${patch} [${d}] loads in both orders`);
        runs.push(relocatedBytes(kernel, ['klpkit_target', 'klpkit_patch']));
      }
      assert.ok(runs[0]!.size > 20, `${runs[0]!.size} locations`);
      const differ = [...runs[0]!].filter(([where, b]) => runs[1]!.get(where) !== b).map(([where]) => where);
      assert.deepEqual(differ, [], `${patch} [${d}]`);
    }
  }
});

test('invariant: no permission violation under 6.x and per-object; 4.x flips and writes into executable memory', async () => {
  for (const f of scenarioFiles) {
    const sc = load(join(ex, 'scenarios', f));
    const files = await readScenarioFiles(sc);
    for (const d of DESIGNS) {
      const { run, kernel } = simulate(sc, d, db, files);
      if (d === '4.x') {
        assert.ok(run.flips >= 4, `${f} [4.x]: ${run.flips} flips`);
        assert.ok(run.violations.length > 0 && run.violations.every((v) => v.stage.startsWith('klp_') && /core\.text$/.test(v.region)), `${f} [4.x]`);
      } else {
        assert.deepEqual(run.violations, [], `${f} [${d}]`);
      }
      if (d === 'per-object' || d.startsWith('6.')) assert.equal(run.flips, 0, `${f} [${d}]`);
      // Late relocation writes into formed modules go through text_poke under 6.x, never under
      // per-object. (A jump label that follows its key is patched through text_poke whenever the
      // key changes, in all code: under per-object, when a part is linked to a key already flipped.)
      const late = kernel.memory.writes.filter((w) => (w.stage === 'klp_module_coming' || w.stage === 'klp_enable_patch') && !/: jump label at /.test(w.what));
      if (d.startsWith('6.')) assert.ok(late.every((w) => w.by === 'text_poke'));
      if (d.startsWith('per-object')) assert.deepEqual(late, []);
    }
  }
});

test('per-object-ro pays for read-only absent code with flips when the object arrives', async () => {
  const sc = load(join(ex, 'scenarios', 'patch-before-module.klpsim'));
  const { run } = simulate(sc, 'per-object-ro', db, await readScenarioFiles(sc));
  const flips = run.permChanges.filter((c) => c.kind === 'flip');
  assert.ok(flips.length > 0);
  // Where the kernel series writes an arriving module's parts: right after its post_relocation().
  assert.ok(flips.every((c) => c.region.startsWith('klpkit_patch:klp.klpkit_target.') && c.stage === 'klp_module_apply_parts' && c.to.w));
});

test('the module-keyed static key follows the key only under per-object, also after a reload', async () => {
  const sc = load(join(ex, 'scenarios', 'module-static-key.klpsim'));
  const files = await readScenarioFiles(sc);
  const site = (d: string): string[] => {
    const { kernel } = simulate(sc, d as never, db, files);
    const mod = kernel.module('klpkit_patch')!;
    const table = mod.elf.sections.find((s) => s.name === '.klp.arch.klpkit_target.__jump_table')!;
    return kernel.jumpLabels.readEntries(mod, table).map((e) => Buffer.from(kernel.memory.read(e.code, 5)!).toString('hex'));
  };
  // The scenario ends with the key off: a jump under per-object, the compiled 2-byte nop elsewhere.
  assert.match(site('per-object')[0]!, /^eb/);
  assert.match(site('per-object-ro')[0]!, /^eb/);
  assert.match(site('6.3')[0]!, /^6690/);
});

test('scenario files: errors name the file and line', () => {
  const bad = (text: string, re: RegExp): void => assert.throws(() => parseScenario(text, 's.klpsim'), (e: unknown) => e instanceof ScenarioError && re.test(e.message));
  bad('step insmod a\nexpect maybe\n', /^s\.klpsim:2: unknown expectation 'maybe'/);
  bad('expect ok\n', /^s\.klpsim:1: expect before any step/);
  bad('step insmod a\nexpect[5.x] ok\n', /^s\.klpsim:2: unknown design '5\.x'/);
  bad('step frobnicate a\n', /^s\.klpsim:1: unknown step/);
  bad('step insmod a\nexpect log "unterminated\n', /^s\.klpsim:2: unbalanced quote/);
  bad('name nothing\n', /^s\.klpsim: no steps/);
  bad('step key klpkit_target:k maybe\n', /^s\.klpsim:1: key takes OBJECT:KEY on\|off/);
});

test('a patch that fails against an arriving module: the module is refused and the patch left as it was', async () => {
  const src = join(ex, 'late-patching/klpkit_patch.ko');
  const elf = readElf(readFileSync(src), { path: src });
  elf.findSymbolByName('.klp.sym.klpkit_target.get_homonym_string,2')!.name = '.klp.sym.klpkit_target.get_homonym_string,3';
  const { dir, cleanup } = tempDir('klpkit-designs-');
  try {
    writeFileSync(join(dir, 'wrong.ko'), writeElf(elf));
    const text = [
      `module target ${join(ex, 'late-patching/klpkit_target.ko')}`, `module wrong ${join(dir, 'wrong.ko')}`,
      'step insmod wrong', 'expect ok',
      'step insmod target', 'expect fail 22 "symbol position 3 for symbol \'get_homonym_string\' in object \'klpkit_target\' not found"',
      'expect log "refusing to load module \'klpkit_target\'"', 'expect not-loaded klpkit_target',
      'expect[per-object,per-object-ro,6.3] reloc klpkit_patch klpkit_target:klpkit_target_key zero',
      'expect no-violations',
      'step disable wrong', 'expect ok', 'step rmmod wrong', 'expect ok',
      'step insmod target', 'expect ok',
    ].join('\n');
    const sc = parseScenario(text, join(dir, 'wrong.klpsim'));
    const files = await readScenarioFiles(sc);
    for (const d of ['6.1', '6.3', 'per-object', 'per-object-ro'] as const) {
      const { run } = simulate(sc, d, db, files);
      assert.deepEqual(run.steps.flatMap((s) => s.expects.filter((x) => !x.ok).map((x) => `[${d}] ${x.text}: ${x.detail}`)), []);
    }
  } finally {
    cleanup();
  }
});

test('a module refused by a second patch: the first is reverted with the kernel\'s notice (klp_cleanup_module_patches_limited)', async () => {
  const { EmulatedKernel } = await import('../../src/loader/kernel.js');
  const lp = join(ex, 'late-patching');
  const good = readElf(readFileSync(join(lp, 'klpkit_patch.ko')), { path: 'klpkit_patch.ko' });
  // A second patch of the same module, under another name, with a sympos the module does not have.
  const bad = readElf(readFileSync(join(lp, 'klpkit_patch.ko')), { path: 'klpkit_patch2.ko' });
  const thisModule = bad.findSectionByName('.gnu.linkonce.this_module')!;
  const at = Buffer.from(thisModule.data).indexOf('klpkit_patch\0');
  assert.ok(at >= 0);
  thisModule.data.set(Buffer.from('klpkit_patch2\0'), at);
  const sym = bad.allSymbols.find((y) => y.name === '.klp.sym.klpkit_target.get_homonym_string,2')!;
  sym.name = '.klp.sym.klpkit_target.get_homonym_string,3';
  const second = readElf(writeElf(bad), { path: 'klpkit_patch2.ko' });
  for (const design of ['6.1', '6.3'] as const) {
    const k = new EmulatedKernel(db, design);
    assert.equal(k.insmod(good), 0);
    assert.equal(k.insmod(second), 0, 'the second patch loads: its module is not there yet');
    const before = k.log.length;
    assert.equal(k.insmod(readElf(readFileSync(join(lp, 'klpkit_target.ko')), { path: 'klpkit_target.ko' })), 22);
    // In the kernel's order: the first patch applied, the second refused, then the first reverted.
    assert.deepEqual(k.log.slice(before).filter((l) => l.startsWith('livepatch: ')), [
      "livepatch: applying patch 'klpkit_patch' to loading module 'klpkit_target'",
      "livepatch: symbol position 3 for symbol 'get_homonym_string' in object 'klpkit_target' not found",
      "livepatch: failed to initialize patch 'klpkit_patch2' for module 'klpkit_target' (-22)",
      "livepatch: patch 'klpkit_patch2' failed for module 'klpkit_target', refusing to load module 'klpkit_target'",
      "livepatch: reverting patch 'klpkit_patch' on unloading module 'klpkit_target'",
    ], design);
  }
});
