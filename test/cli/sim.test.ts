/**
 * `klp sim` as users run it: a scenario file or --step, one design or all, text and --json, exit
 * codes (0 expectations met, 1 not met or a step failed, 2 bad input), errors naming file and line.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { assertCleanError, klp } from '../helpers/cli.js';
import { buildObject, ROOT } from '../helpers/tools.js';
import { fixtureDb } from '../helpers/fixture-db.js';
import { convertModule } from '../../src/convert/convert.js';
import { readElf, writeElf } from '../../src/elf/index.js';

const ex = join(ROOT, 'examples');
const reload = join(ex, 'scenarios/module-reload.klpsim');
const kernel = join(ex, 'kernel-6.1.0-56-amd64');
const lp = join(ex, 'late-patching');
const tmp = mkdtempSync(join(tmpdir(), 'klpkit-sim-'));

test('a scenario under every design: the kernel\'s messages, each expectation, one table', () => {
  const r = klp('sim', reload);
  assert.equal(r.status, 0, r.stderr);
  for (const d of ['4.x', '6.1', '6.3', 'per-object', 'per-object-ro']) assert.match(r.stdout, new RegExp(`== design ${d.replace('.', '\\.')}: `));
  assert.match(r.stdout, /module: x86\/modules: Skipping invalid relocation target, existing value is nonzero for type \d+, loc [0-9a-f]+, val [0-9a-f]+/);
  assert.match(r.stdout, /livepatch: patch 'klpkit_patch' failed for module 'klpkit_target', refusing to load module 'klpkit_target'/);
  // The trace names the relocation the kernel refused, which the kernel's own words do not.
  assert.match(r.stdout, /\[klp_module_coming\] klpkit_patch: \.klp\.rela\.klpkit_target\.\S+ entry \d+ refused \(nonzero\): -ENOEXEC\n/);
  // Every livepatch relocation is traced with its symbol, object, sympos and address.
  assert.match(r.stdout, /\[klp_module_coming\] klpkit_patch:\.text\.livepatch_klpkit_target_report\+0x[0-9a-f]+ R_X86_64_PLT32 -> get_homonym_string in klpkit_target sympos 2 = 0xffffffffc[0-9a-f]+ \(\.klp\.rela\.klpkit_target\.\.text\.livepatch_klpkit_target_report\)/);
  assert.match(r.stdout, /^step\s+4\.x\s+6\.1\s+6\.3\s+per-object\s+per-object-ro$/m);
  assert.match(r.stdout, /^insmod target\s+8\s+8\s+0\s+0\s+0$/m);
  assert.doesNotMatch(r.stdout, /FAIL/);
});

test('--json: every step of every design, with statuses, messages and the permission audit', () => {
  const r = klp('sim', reload, '--design', '6.1', '--design', 'per-object', '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { runs: Array<{ design: string; passed: boolean; flips: number; violations: unknown[]; steps: Array<{ text: string; rc: number; log: string[] }> }> };
  assert.deepEqual(j.runs.map((x) => x.design), ['6.1', 'per-object']);
  assert.deepEqual(j.runs.map((x) => x.steps.map((s) => s.rc)), [[0, 0, 0, 8, 11, 0, 0, 0], [0, 0, 0, 0, 11, 0, 0, 17]]);
  assert.ok(j.runs.every((x) => x.passed && x.violations.length === 0 && x.flips === 0));
});

test('--step without a file: exit 1 when a step fails, 0 when all succeed', () => {
  const src = ['--kallsyms', join(kernel, 'kallsyms.excerpt'), '--symvers', join(kernel, 'Module.symvers.excerpt')];
  const steps = ['--step', `insmod:${lp}/klpkit_target.ko`, '--step', `insmod:${lp}/klpkit_patch.ko`, '--step', 'rmmod:klpkit_target', '--step', `insmod:${lp}/klpkit_target.ko`];
  const r61 = klp('sim', ...src, '--design', '6.1', ...steps);
  assert.equal(r61.status, 1);
  assert.match(r61.stdout, /-> 8\n/);
  const r63 = klp('sim', ...src, '--design', '6.3', ...steps, '--step', 'key:klpkit_target:klpkit_target_key=off', '--brief');
  assert.equal(r63.status, 0, r63.stdout);
  assert.doesNotMatch(r63.stdout, /\[apply_relocations\]/, '--brief: no trace');
  // Compressed modules load as they are.
  copyFileSync(join(lp, 'klpkit_target.ko'), join(tmp, 'klpkit_target.ko'));
  execFileSync('xz', ['-f', join(tmp, 'klpkit_target.ko')]);
  const xz = klp('sim', ...src, '--design', 'per-object', '--step', `insmod:${tmp}/klpkit_target.ko.xz`, '--step', `insmod:${lp}/klpkit_patch.ko`);
  assert.equal(xz.status, 0, xz.stdout);
  assert.match(xz.stdout, /livepatch: 'klpkit_patch': patching complete/);
});

test('an unmet expectation: FAIL with file and line, exit 1', () => {
  const f = join(tmp, 'wrong.klpsim');
  writeFileSync(f, `kallsyms ${kernel}/kallsyms.excerpt\nsymvers ${kernel}/Module.symvers.excerpt\nmodule t ${lp}/klpkit_target.ko\nstep insmod t\nexpect[6.1] fail 8\n`);
  const r = klp('sim', f, '--design', '6.1');
  assert.equal(r.status, 1);
  assert.match(r.stdout, new RegExp(`FAIL expect\\[6\\.1\\] fail 8  \\(status 0; ${f.replace(/\//g, '\\/')}:5\\)`));
});

test('bad input: clean errors naming the file and line, exit 2', () => {
  const f = join(tmp, 'bad.klpsim');
  writeFileSync(f, 'kallsyms x\nstep insmod a.ko\nexpect sometimes\n');
  const bad = klp('sim', f);
  assert.equal(bad.status, 2);
  assert.ok(assertCleanError(bad.stderr), bad.stderr);
  assert.match(bad.stderr, /bad\.klpsim:3: unknown expectation 'sometimes'/);
  const missing = join(tmp, 'missing.klpsim');
  writeFileSync(missing, `kallsyms ${kernel}/kallsyms.excerpt\nstep insmod /nonexistent/x.ko\n`);
  const m = klp('sim', missing);
  assert.equal(m.status, 2);
  assert.ok(assertCleanError(m.stderr), m.stderr);
  assert.match(m.stderr, /\/nonexistent\/x\.ko: cannot read module \(ENOENT\)/);
  assert.equal(klp('sim').status, 2, 'no scenario and no --step');
  assert.equal(klp('sim', reload, '--design', 'nope').status, 2);
  const notElf = join(tmp, 'not.ko');
  writeFileSync(notElf, 'hello');
  const ne = klp('sim', '--kallsyms', join(kernel, 'kallsyms.excerpt'), '--step', `insmod:${notElf}`);
  assert.equal(ne.status, 2);
  assert.ok(assertCleanError(ne.stderr), ne.stderr);
});

test('a patch built without -ffunction-sections under the per-object designs: 6.3\'s path (text_poke), no violations, and how to build it so it splits', async () => {
  const { dir, db, dbFile, modules } = await fixtureDb('sim-unsplit', ['ffffffff81800000 T undefined_function', 'ffffffff82800000 D some_kernel_var'], ['undefined_function', 'some_kernel_var']);
  // -fno-function-sections after the kernel flags: one .text, which klp split cannot divide.
  const raw = buildObject(dir, ['lp_main.c'], 'lp_unsplit.o', ['-fno-function-sections', '-fno-data-sections']);
  const elf = readElf(readFileSync(raw), { path: raw });
  const c = convertModule(elf, { db });
  assert.deepEqual(c.problems, []);
  const patch = join(dir, 'lp_unsplit.klp.o');
  writeFileSync(patch, writeElf(elf));
  const mod = join(modules, 'fixture_mod.ko');
  for (const design of ['per-object', 'per-object-ro']) {
    const r = klp('sim', '--db', dbFile, '--design', design, '--step', `insmod:${patch}`, '--step', `insmod:${mod}`, '--json');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const [run] = (JSON.parse(r.stdout) as { runs: Array<{ violations: unknown[]; textPokes: number; unsplit: string[]; steps: Array<{ rc: number }> }> }).runs;
    assert.deepEqual(run!.steps.map((s) => s.rc), [0, 0], 'the patch, then the module it patches');
    assert.deepEqual(run!.violations, [], 'no plain store into read-only text');
    assert.ok(run!.textPokes > 0, 'the relocations went in by text_poke');
    assert.deepEqual(run!.unsplit, ['lp_fixture:fixture_mod']);
  }
  const text = klp('sim', '--db', dbFile, '--design', 'per-object', '--step', `insmod:${patch}`, '--step', `insmod:${mod}`);
  assert.match(text.stdout, /note: lp_fixture is not split for fixture_mod: .*build the patch with -ffunction-sections -fdata-sections \(Kbuild: ccflags-y \+= -ffunction-sections -fdata-sections\) and run klp split/);
  assert.match(text.stdout, /\ntext pokes +\d+/);
  const check = klp('check', patch, '--db', dbFile, '--design', 'per-object');
  assert.match(check.stdout, /note: fixture_mod: the patch is not split for 'fixture_mod'[\s\S]*-> build the patch with -ffunction-sections -fdata-sections/);
});
