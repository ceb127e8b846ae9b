/**
 * Running klp sim scenarios on a real kernel under QEMU and comparing each step with the
 * emulator: the guest script for a scenario's steps, and the comparison of statuses, messages and
 * (for the static key scenario) what the patched function does.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readElf } from '../../src/elf/index.js';
import { moduleName } from '../../src/elf/module.js';
import type { Design } from '../../src/loader/designs/index.js';
import { parseScenario, readScenarioFiles, runScenario, type Scenario } from '../../src/loader/scenario.js';
import type { SymbolDb } from '../../src/symbols/database.js';
import { ROOT } from '../helpers/tools.js';
import type { BootResult } from './qemu.js';
import { HASHED_POINTER } from '../../src/arch/printk.js';

export const waitTransition = (p: string): string =>
  `for i in $(seq 1 100); do [ "$(cat /sys/kernel/livepatch/${p}/transition 2>/dev/null)" = 0 ] && break; sleep 0.1; done`;
export const value = 'cat /sys/module/klpkit_target/parameters/value';

/**
 * The lines of a kernel log that the module loader and the livepatch core print: what the emulator
 * models. Everything else (boot messages, what the test modules themselves print) is left out.
 */
const LOADER_LINE = /^(livepatch: |module: |overflow in relocation type |`\S+' likely not compiled|\S+: (loading out-of-tree module taints kernel\.|tainting kernel with TAINT_LIVEPATCH|module verification failed: |Unknown symbol |Unknown rela relocation: |disagrees about version of symbol ))/;
/** A kernel built without CONFIG_MODULE_SIG (the per-object kernel) checks no signature and says nothing. */
const UNSIGNED_LINE = /^\S+: module verification failed: /;
const ONCE_LINE = /^\S+: (loading out-of-tree module taints kernel\.|tainting kernel with TAINT_LIVEPATCH|module verification failed: )/;

/** A kernel's dmesg as the loader lines, timestamps and hashed pointers normalised. */
export function loaderLines(dmesg: string): string[] {
  return dmesg.split('\n').map((l) => l.replace(/^\[\s*[\d.]+\]\s*/, '').trimEnd()).filter((l) => LOADER_LINE.test(l)).map(normPointers);
}

/**
 * Hashed pointers, and addresses in the module area (vmalloc's placement of each module, which the
 * emulator's allocator does not reproduce: its layout inside a module is exact, its base is not).
 */
const normPointers = (l: string): string => l.replace(HASHED_POINTER, '<%p>').replace(/\bffffffffc[0-9a-f]{7}\b/g, '<module address>');

/**
 * The emulator's messages equal the kernel's, line for line and in order; a hashed pointer (`%p`)
 * is the one wildcard. `steps` are the emulator's steps: a failed insmod is retried by busybox
 * (finit_module, then init_module), so the kernel prints its refusal twice, without the once-only
 * taint lines; `tainted` says the kernel printed those already (an earlier scenario of the boot).
 */
export function assertSameLog(steps: ReadonlyArray<{ insmod: boolean; rc: number; log: readonly string[] }>, dmesg: string, opts: { tainted?: boolean; unsigned?: 'silent' | undefined } = {}): void {
  const expected: string[] = [];
  for (const st of steps) {
    const log = st.log.filter((l) => !(opts.tainted && ONCE_LINE.test(l)) && !(opts.unsigned === 'silent' && UNSIGNED_LINE.test(l)));
    expected.push(...log);
    if (st.insmod && st.rc !== 0 && st.rc !== 17) expected.push(...log.filter((l) => !ONCE_LINE.test(l)));
  }
  const emulated = expected.filter((l) => LOADER_LINE.test(l)).map(normPointers);
  assert.deepEqual(loaderLines(dmesg), emulated, 'the kernel\'s loader lines (actual) against the emulator\'s (expected), whole lines in order');
}

/** examples/scenarios/module-arch-calls.klpsim's name: the guest also retargets the static call. */
const ARCH_CALLS = 'alternative and static call into the module';

/** The bundled scenarios the real-kernel suites run (examples/scenarios/<name>.klpsim). */
export const BUNDLED_SCENARIOS = ['patch-before-module', 'module-before-patch', 'module-reload', 'module-static-key', 'static-key-patch-after-module', 'module-arch-calls'] as const;

/** The bundled scenarios; `modules` replaces module files by alias (other builds of them). */
export function bundledScenarios(modules: Record<string, string> = {}): Scenario[] {
  const scDir = join(ROOT, 'examples/scenarios');
  return BUNDLED_SCENARIOS.map((n) => {
    const f = join(scDir, `${n}.klpsim`);
    const sc = parseScenario(readFileSync(f, 'utf8'), f);
    for (const [alias, path] of sc.modules) {
      const base = path.slice(path.lastIndexOf('/') + 1);
      if (modules[base]) sc.modules.set(alias, modules[base]!);
    }
    return sc;
  });
}

/** The guest script for a scenario's steps; `KLPKIT-B5-<n>-<i> <status>` and the module's value after each. */
function scenarioScript(n: number, sc: Scenario, names: Map<string, string>): string {
  const lines: string[] = [];
  sc.steps.forEach((st, i) => {
    const tag = `KLPKIT-B5-${n}-${i}`;
    const op = st.op;
    if (op.op === 'insmod') {
      const path = sc.modules.get(op.module)!;
      lines.push(`insmod /m/${n}/${path.slice(path.lastIndexOf('/') + 1)}; echo "${tag} $?"`);
      if (names.get(path) === 'klpkit_patch') lines.push(waitTransition('klpkit_patch'));
    } else if (op.op === 'rmmod') {
      const name = sc.modules.has(op.name) ? names.get(sc.modules.get(op.name)!)! : op.name;
      lines.push(`rmmod ${name} 2>/tmp/err; echo "${tag} $?"`, `sed "s/^/${tag}-ERR /" /tmp/err`);
    } else if (op.op === 'disable') {
      lines.push(`echo 0 > /sys/kernel/livepatch/klpkit_patch/enabled; echo "${tag} $?"`, waitTransition('klpkit_patch'));
    } else if (op.op === 'key') {
      assert.equal(`${op.obj}:${op.name}`, 'klpkit_target:klpkit_target_key', 'the guest flips this key through the module parameter');
      lines.push(`echo ${op.on ? 1 : 0} > /sys/module/klpkit_target/parameters/key; echo "${tag} $?"`);
    } else {
      assert.fail(`the guest has no modules.dep for ${st.text}`);
    }
    lines.push(`echo "${tag}-VALUE $(${value} 2>/dev/null)"`);
    // The static call retargeted and back (static_call_update() prints nothing): the patch's call
    // follows it.
    if (sc.name === ARCH_CALLS) {
      const call = '/sys/module/klpkit_target/parameters/call';
      lines.push(`if [ -e ${call} ]; then echo 2 > ${call}; echo "${tag}-CALL2 $(${value})"; echo 1 > ${call}; fi`);
    }
  });
  // Leave a clean kernel for the next scenario; the marker in the kernel log keeps what the
  // clean-up prints out of the comparison.
  lines.push('echo klpkit-cleanup > /dev/kmsg');
  lines.push(`echo 0 > /sys/kernel/livepatch/klpkit_patch/enabled 2>/dev/null`, waitTransition('klpkit_patch'), 'rmmod klpkit_patch 2>/dev/null', 'rmmod klpkit_target 2>/dev/null');
  lines.push(`dmesg -c | sed "s/^/B5-${n} /" > /dev/ttyS1`);
  return lines.join('\n');
}

/** The guest's files and script for running `scenarios` one after the other. */
export function scenarioBoot(scenarios: readonly Scenario[]): { files: Record<string, string>; script: string; names: Map<string, string> } {
  const files: Record<string, string> = {};
  const names = new Map<string, string>();
  scenarios.forEach((sc, n) => {
    for (const path of sc.modules.values()) {
      files[`m/${n}/${path.slice(path.lastIndexOf('/') + 1)}`] = path;
      names.set(path, moduleName(readElf(readFileSync(path), { path }))!);
    }
  });
  return { files, names, script: scenarios.map((sc, n) => scenarioScript(n, sc, names)).join('\n') };
}

/**
 * Every step's status and every emulator message against the guest's; busybox's insmod exits with
 * the errno, its rmmod exits 1 and prints strerror(errno); a key write or a disable only fails or not.
 */
export async function compareScenarios(scenarios: readonly Scenario[], r: BootResult, design: Design, db: SymbolDb, opts: { otherBuild?: boolean; unsigned?: 'silent' } = {}): Promise<void> {
  const strerror: Record<number, string> = { 2: 'No such file or directory', 11: 'Resource temporarily unavailable', 16: 'Device or resource busy' };
  for (const [n, sc] of scenarios.entries()) {
    const run = runScenario(sc, design, db, await readScenarioFiles(sc));
    const real = sc.steps.map((_, i) => Number(new RegExp(`KLPKIT-B5-${n}-${i} (\\d+)`).exec(r.console)?.[1] ?? NaN));
    const emulated = run.steps.map((x) => x.rc);
    assert.ok(real.every((x) => Number.isInteger(x)), `${sc.name}: every step reported a status: ${real.join(' ')}\n${r.console.slice(-2000)}`);
    sc.steps.forEach((st, i) => {
      const what = `${sc.name}, step ${i} (${st.text}): emulator ${emulated[i]}, kernel ${real[i]}`;
      if (st.op.op === 'insmod') assert.equal(emulated[i], real[i], what);
      else assert.equal(emulated[i] === 0, real[i] === 0, what);
      if (st.op.op === 'rmmod' && emulated[i] !== 0) {
        assert.match(r.console, new RegExp(`KLPKIT-B5-${n}-${i}-ERR rmmod: can't unload module '\\w+': ${strerror[emulated[i]!]}`), what);
      }
    });
    const all = r.data.split('\n').filter((l) => l.startsWith(`B5-${n} `)).map((l) => l.slice(`B5-${n} `.length));
    const cleanup = all.findIndex((l) => l.endsWith('klpkit-cleanup'));
    const dmesg = (cleanup < 0 ? all : all.slice(0, cleanup)).join('\n');
    assertSameLog(run.steps.map((x, i) => ({ insmod: sc.steps[i]!.op.op === 'insmod' || sc.steps[i]!.op.op === 'modprobe', rc: x.rc, log: x.log })), dmesg, { tainted: n > 0, unsigned: opts.unsigned });
    // Addresses in expectations belong to the bundled build; another build has its own.
    const failed = run.steps.flatMap((s) => s.expects.filter((x) => !x.ok && !(opts.otherBuild && /^expect(\[[^\]]*\])? address /.test(x.text))));
    assert.deepEqual(failed.map((x) => `${x.text}: ${x.detail}`), [], `${sc.name}: the scenario's own expectations hold under ${design}`);
    // What the static key does to the patched function: the emulator's jump site state and the
    // module's output tell the same story.
    if (sc.name === 'module-keyed static key') {
      const values = sc.steps.map((_, i) => new RegExp(`KLPKIT-B5-${n}-${i}-VALUE (.*)`).exec(r.console)?.[1] ?? '');
      if (design.startsWith('per-object')) {
        // The series links the part's jump table to the module's key: the branch follows the
        // key (on is its initial state), and again after the module is reloaded.
        assert.deepEqual([1, 2, 3, 5, 6].map((i) => /^patched-branch homonym string B/.test(values[i]!) ? 'branch' : /^patched homonym string B key=0/.test(values[i]!) ? 'no branch, key 0' : values[i]),
          ['branch', 'no branch, key 0', 'branch', 'branch', 'no branch, key 0'], 'the patched function after insmod, key off, key on, reload, key off');
      } else {
        // The site keeps its nop: the likely branch runs whatever the key says.
        assert.match(values[2]!, /^patched-branch homonym string B/, 'key off, and the branch is still taken');
        assert.match(values[3]!, /^patched-branch homonym string B/);
      }
    }
    if (sc.name === ARCH_CALLS) {
      const values = sc.steps.map((_, i) => new RegExp(`KLPKIT-B5-${n}-${i}-VALUE (.*)`).exec(r.console)?.[1] ?? '');
      const call2 = sc.steps.map((_, i) => new RegExp(`KLPKIT-B5-${n}-${i}-CALL2 (.*)`).exec(r.console)?.[1] ?? '');
      // The alternative's replacement calls the module: the per-object loader applies it when the
      // module arrives (and again when it comes back); today's kernels never apply a .klp.arch
      // alternative, so the original call runs. The static call reaches the module everywhere,
      // through its trampoline.
      const alt = design.startsWith('per-object') ? 'alt' : 'orig';
      assert.match(values[1]!, new RegExp(`^patched-arch homonym string B call=1 alt=${alt}$`), 'the module arrives under the patch');
      assert.match(call2[1]!, new RegExp(`^patched-arch homonym string B call=2 alt=${alt}$`), 'static_call_update() retargets the call');
      if (design !== '6.1') {
        assert.match(values[3]!, new RegExp(`^patched-arch homonym string B call=1 alt=${alt}$`), 'the module comes back');
        assert.match(call2[3]!, new RegExp(`^patched-arch homonym string B call=2 alt=${alt}$`), 'and its static call is followed again');
      }
    }
    if (sc.name === 'module-keyed static key, patch after module') {
      const values = sc.steps.map((_, i) => new RegExp(`KLPKIT-B5-${n}-${i}-VALUE (.*)`).exec(r.console)?.[1] ?? '');
      // Linked when the patch is enabled, the site follows the key that was off before it came;
      // today's kernels leave it as built (the likely branch).
      const follows = design.startsWith('per-object');
      assert.match(values[2]!, follows ? /^patched homonym string B key=0/ : /^patched-branch homonym string B/, 'the patch arrives with the key off');
      assert.match(values[3]!, /^patched-branch homonym string B/, 'key on');
    }
  }
}
