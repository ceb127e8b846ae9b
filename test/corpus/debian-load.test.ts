/**
 * Scale test of the loader emulator on real data: every module of Debian's 6.1 kernel loaded the
 * way modprobe would, in modules.dep order (written here by the real depmod of kmod: Debian's
 * package ships none), resolving every undefined symbol against vmlinux's and loaded modules'
 * exports and applying every relocation with x86_64's apply_relocate_add(): zero unknown
 * relocation types, zero overflows, zero unresolved symbols, zero non-zero targets. Then every
 * module is unloaded again, users before the modules they use.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readElf } from '../../src/elf/index.js';
import { EmulatedKernel } from '../../src/loader/kernel.js';
import { ModulesDep } from '../../src/loader/modules-dep.js';
import { parseScenario, readScenarioFiles, runScenario } from '../../src/loader/scenario.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { kernelCorpus, walkModules } from '../helpers/corpus.js';
import { run, tempDir } from '../helpers/tools.js';
import { klp } from '../helpers/cli.js';

const corpus = kernelCorpus();
const { db } = await buildDatabase({ vmlinuz: join(corpus.root, 'boot', `vmlinuz-${corpus.version}`) });

/** depmod over the corpus, in a scratch tree whose kernel/ links to it. */
let depFile = '';
function depmod(): ModulesDep {
  if (depFile) return new ModulesDep(readFileSync(depFile, 'utf8'), depFile);
  const { dir } = tempDir('klpkit-depmod-');
  const rel = join(dir, 'lib/modules', corpus.version);
  mkdirSync(rel, { recursive: true });
  symlinkSync(corpus.modulesDir, join(rel, 'kernel'));
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) cpSync(join(corpus.root, 'lib/modules', corpus.version, f), join(rel, f));
  run('depmod', ['-b', dir, corpus.version]);
  depFile = join(rel, 'modules.dep');
  return new ModulesDep(readFileSync(depFile, 'utf8'), depFile);
}

test(`every module of ${corpus.version} loads, links and unloads in the emulator, in modules.dep order`, (t) => {
  const dep = depmod();
  const files = [...walkModules(corpus.modulesDir)];
  assert.equal(dep.names().length, files.length, 'depmod saw every module');
  const k = new EmulatedKernel(db, '6.1');
  k.memory.record = false;
  const failures: string[] = [];
  const loaded: string[] = [];
  for (const name of dep.names()) {
    for (const m of dep.loadOrder(name)) {
      if (k.isLoaded(m) || failures.some((f) => f.startsWith(`${m}:`))) continue;
      const path = dep.path(m);
      const before = k.log.length;
      const rc = k.insmod(readElf(readFileSync(path), { path }));
      if (rc !== 0) failures.push(`${m}: insmod -> ${rc}: ${k.log.slice(before).join(' | ')}`);
      else loaded.push(m);
    }
  }
  t.diagnostic(`${loaded.length} modules loaded in modules.dep order, ${k.relocationsApplied} relocations applied`);
  assert.deepEqual(failures.slice(0, 10), []);
  assert.equal(loaded.length, files.length);
  assert.ok(k.relocationsApplied > 3_000_000, `${k.relocationsApplied} relocations applied`);
  // A module another one uses cannot go first (delete_module: -EWOULDBLOCK) ...
  const sunrpc = k.rmmod('sunrpc');
  assert.equal(sunrpc, 11, 'sunrpc is used by nfs, nfsd, lockd, ...');
  // ... and in reverse load order every module unloads.
  const stuck = [...loaded].reverse().filter((m) => k.rmmod(m) !== 0);
  assert.deepEqual(stuck, []);
  assert.ok(!k.isLoaded('sunrpc'));
});

test('klp sim modprobe: dependencies from modules.dep first; a used module cannot go first', async () => {
  depmod();
  const sc = parseScenario([
    `modules-dep ${depFile}`,
    'step modprobe nfsd', 'expect ok', 'expect loaded sunrpc', 'expect loaded lockd', 'expect loaded auth_rpcgss',
    'step rmmod sunrpc', 'expect fail 11', 'expect loaded sunrpc',
    'step rmmod nfsd', 'expect ok', 'expect not-loaded nfsd', 'expect loaded sunrpc',
    'step modprobe nfsd', 'expect ok',
  ].join('\n'), 'modprobe.klpsim');
  const files = await readScenarioFiles(sc);
  assert.deepEqual(files.dep!.loadOrder('nfsd'), ['sunrpc', 'grace', 'lockd', 'nfs_acl', 'auth_rpcgss', 'nfsd']);
  for (const d of ['6.1', 'per-object'] as const) {
    const run = runScenario(sc, d, db, files);
    assert.deepEqual(run.steps.flatMap((x) => x.expects.filter((e) => !e.ok).map((e) => `${e.text}: ${e.detail}`)), [], d);
  }
});

test('klp sim modprobe without modules.dep says exactly what to run; running it makes the step work', () => {
  const { dir } = tempDir('klpkit-depmod-hint-');
  const rel = join(dir, 'lib/modules', corpus.version);
  mkdirSync(rel, { recursive: true });
  symlinkSync(corpus.modulesDir, join(rel, 'kernel'));
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) cpSync(join(corpus.root, 'lib/modules', corpus.version, f), join(rel, f));
  const vmlinuz = join(corpus.root, 'boot', `vmlinuz-${corpus.version}`);
  const first = klp('sim', '--vmlinuz', vmlinuz, '--modules', join(rel, 'kernel'), '--step', 'modprobe:minix', '--brief');
  assert.equal(first.status, 2, first.stderr);
  const m = /run `(depmod -b \S+ \S+)` and give --modules-dep (\S+)\)?/.exec(first.stderr);
  assert.ok(m, first.stderr);
  assert.equal(m[1], `depmod -b ${dir} ${corpus.version}`);
  const [cmd, ...args] = m[1]!.split(' ');
  run(cmd!, args);
  const then = klp('sim', '--vmlinuz', vmlinuz, '--modules', join(rel, 'kernel'), '--modules-dep', m[2]!, '--step', 'modprobe:minix', '--brief');
  assert.equal(then.status, 0, then.stderr);
});
