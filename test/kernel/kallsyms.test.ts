/**
 * The real kernel is the oracle: boot Debian's 6.1 kernel under QEMU (nokaslr), load a few
 * modules, capture /proc/kallsyms, and compare it with what klpkit reads without booting:
 * the kallsyms table embedded in vmlinuz, and each module's symbol table.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readElf } from '../../src/elf/index.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { parseKallsyms } from '../../src/symbols/kallsyms-text.js';
import { moduleSymbols } from '../../src/symbols/module-symbols.js';
import { MODSYM_CORE } from '../../src/symbols/types.js';
import { kallsymsFromVmlinuz } from '../../src/symbols/vmlinuz.js';
import { readDebMembers } from '../../src/symbols/deb.js';
import { readelfSymbols, readelfUnitOfAddress } from '../helpers/readelf.js';
import { ROOT, tempDir } from '../helpers/tools.js';
import { capturedKallsyms, kallsymsMismatches, kernelImage } from './qemu.js';

// Dependency-free modules (every undefined symbol is a vmlinux export) with duplicated names.
const MODULES = ['fs/minix/minix.ko', 'fs/efs/efs.ko', 'net/kcm/kcm.ko', 'fs/qnx6/qnx6.ko'];
const PSEUDO = new Set(['bpf', '__builtin__ftrace', '__builtin__kprobes']);

const cap = capturedKallsyms(MODULES);
const dump = parseKallsyms(cap.text, 'guest /proc/kallsyms');
for (const p of PSEUDO) dump.modules.delete(p);

test('the guest loaded every module', (t) => {
  t.diagnostic(`/proc/kallsyms from ${cap.from}`);
  for (const m of MODULES) assert.match(cap.console, new RegExp(`KLPKIT-INSMOD ${m.split('/').pop()!.replace('.', '\\.')} 0`));
  assert.deepEqual([...dump.modules.keys()].sort(), ['efs', 'kcm', 'minix', 'qnx6']);
});

test('vmlinuz kallsyms table == the running kernel\'s /proc/kallsyms (every name, type, address, in order)', async () => {
  const k = await kallsymsFromVmlinuz(kernelImage(cap.kernel));
  assert.ok(dump.vmlinux.length > 50000, `${dump.vmlinux.length} vmlinux lines captured`);
  assert.equal(k.symbols.length, dump.vmlinux.length);
  assert.deepEqual(kallsymsMismatches(k.symbols, dump.vmlinux), []);
});

test('database sympos == position in the kernel\'s own order, for vmlinux and for loaded modules', async () => {
  const { db } = await buildDatabase({ vmlinuz: kernelImage(cap.kernel), modules: join(cap.kernel.modulesDir, 'fs/minix') });
  // vmlinux: every duplicated name.
  const seen = new Map<string, number>();
  for (const s of dump.vmlinux) seen.set(s.name, (seen.get(s.name) ?? 0) + 1);
  let dups = 0;
  const pos = new Map<string, number>();
  for (const s of dump.vmlinux) {
    const n = (pos.get(s.name) ?? 0) + 1;
    pos.set(s.name, n);
    if (seen.get(s.name)! < 2) continue;
    const def = db.lookup(s.name).filter((d) => d.object === 'vmlinux')[n - 1]!;
    assert.equal(def.sympos, n, s.name);
    assert.equal(def.address, s.address, s.name);
    dups++;
  }
  assert.ok(dups > 1000, `${dups} duplicated vmlinux definitions compared`);
  // minix: the kernel lists its core (after-init) table; compare with coreSympos.
  const minix = dump.modules.get('minix')!;
  const mpos = new Map<string, number>();
  const mcount = new Map<string, number>();
  for (const s of minix) mcount.set(s.name, (mcount.get(s.name) ?? 0) + 1);
  for (const s of minix) {
    const n = (mpos.get(s.name) ?? 0) + 1;
    mpos.set(s.name, n);
    const core = db.lookup(s.name).filter((d) => d.object === 'minix' && d.coreSympos !== null);
    assert.equal(core.length, mcount.get(s.name), `minix ${s.name}`);
    assert.equal(core[n - 1]!.coreSympos, mcount.get(s.name)! > 1 ? n : 0, `minix ${s.name} #${n}`);
  }
});

test('each loaded module\'s kallsyms == its core symbols in .symtab order (is_core_symbol), with elf_type letters', () => {
  for (const m of MODULES) {
    const path = join(cap.kernel.modulesDir, m);
    const ms = moduleSymbols(readElf(readFileSync(path), { path }));
    const names = ms.names.split('\0');
    const exported = new Set(ms.exports.map((e) => e.name));
    const ours = names.flatMap((n, i) => (ms.flags[i]! & MODSYM_CORE ? [`${exported.has(n) ? ms.types[i]!.toUpperCase() : ms.types[i]} ${n}`] : []));
    const kernel = dump.modules.get(ms.name)!.map((s) => `${s.type} ${s.name}`);
    assert.deepEqual(ours, kernel, ms.name);
  }
});

test('vmlinux homonyms by unit: the debug .deb gives each definition, in the running kernel\'s order, the unit readelf shows at its address in the debug vmlinux (its DWARF path), its size, and a fingerprint', async (t) => {
  // The package the corpus test fetches (cached); the members it unpacks do not matter here.
  const debugDir = execFileSync(join(ROOT, 'scripts/fetch-debug.sh'), ['amd64', 'arch/x86/crypto/sha256-ssse3.ko'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const debDir = debugDir.slice(0, debugDir.indexOf('/root-'));
  const deb = join(debDir, readdirSync(debDir).find((f) => f.endsWith('.deb'))!);
  const { db, failures } = await buildDatabase({ vmlinuz: kernelImage(cap.kernel), debug: deb });
  assert.deepEqual(failures, []);
  // The oracle: readelf of the debug vmlinux, taken out of the package (a local's unit is the
  // last FILE symbol before it).
  const { dir, cleanup } = tempDir('klpkit-vmlinux-units-');
  try {
    const vmlinux = join(dir, 'vmlinux');
    await readDebMembers(deb, (p) => /\/boot\/vmlinux-/.test(p), ({ bytes }) => {
      writeFileSync(vmlinux, bytes);
      return true;
    });
    const oracle = new Map<string, string | null>();
    let unit: string | null = null;
    for (const y of readelfSymbols(vmlinux).filter((x) => x.table === '.symtab')) {
      if (y.type === 'FILE') { unit = y.name; continue; }
      if (y.bind !== 'LOCAL' || y.name === '' || y.type === 'SECTION') continue;
      const key = `${y.name}@${y.value}`;
      oracle.set(key, oracle.has(key) && oracle.get(key) !== unit ? null : unit);
    }
    // A second oracle, by another path through DWARF: the unit whose .debug_aranges range holds
    // a function's address (ours come from the functions' DIEs), and readelf's st_size.
    const unitAt = readelfUnitOfAddress(vmlinux);
    const sizes = new Map<string, number>();
    const twice = new Set<string>(); // two definitions at one site (empty lock class keys): neither is told
    for (const y of readelfSymbols(vmlinux)) {
      if (y.table !== '.symtab' || y.type === 'FILE' || y.type === 'SECTION') continue;
      const k = `${y.name}@${y.value}`;
      if (sizes.has(k)) twice.add(k);
      sizes.set(k, y.size);
    }
    for (const k of twice) sizes.delete(k);
    let byRange = 0, paths = 0, sized = 0, hashed = 0;
    const seen = new Map<string, number>();
    for (const s of dump.vmlinux) seen.set(s.name, (seen.get(s.name) ?? 0) + 1);
    const pos = new Map<string, number>();
    const names = new Set<string>();
    const complete = new Set<string>();
    let compared = 0;
    for (const s of dump.vmlinux) {
      const n = (pos.get(s.name) ?? 0) + 1;
      pos.set(s.name, n);
      if (seen.get(s.name)! < 2) continue;
      const def = db.lookup(s.name).filter((d) => d.object === 'vmlinux')[n - 1]!;
      assert.equal(def.address, s.address, `${s.name} #${n}`);
      const want = oracle.get(`${s.name}@${s.address}`);
      if (n === 1) { names.add(s.name); complete.add(s.name); }
      if (!def.file) complete.delete(s.name);
      const size = sizes.get(`${s.name}@${s.address}`);
      if (size !== undefined) {
        assert.equal(def.size, size, `${s.name} #${n}: size`);
        sized++;
      }
      if (def.hash !== null) hashed++;
      if (want === undefined || want === null) continue;
      // The STT_FILE name, which DWARF's path (when it has the function or variable) ends with.
      assert.ok(def.file === want || def.file?.endsWith(`/${want}`), `${s.name} #${n} at ${s.address?.toString(16)}: ${def.file} is not ${want}`);
      if (def.file!.includes('/')) paths++;
      compared++;
      const cu = def.section === '.text' ? unitAt(s.address!) : undefined;
      if (cu !== undefined) {
        assert.ok(def.file === cu || cu.endsWith(`/${def.file}`), `${s.name} #${n}: ${def.file}, aranges says ${cu}`);
        if (def.file === cu) byRange++;
      }
    }
    t.diagnostic(`${compared} homonym definitions compared; ${complete.size} of ${names.size} names have every definition's unit; ${paths} units are DWARF paths, ${byRange} of them the unit aranges gives; ${sized} sizes, ${hashed} fingerprints`);
    assert.ok(compared > 5000, `${compared} compared`);
    assert.ok(paths > 4000 && byRange > 500 && sized > 5000 && hashed > 5000, `${paths} paths, ${byRange} by aranges, ${sized} sizes, ${hashed} fingerprints`);
    assert.deepEqual(db.lookup('active_show').filter((d) => d.object === 'vmlinux').map((d) => `${d.sympos}:${d.file}:${d.section}`),
      ['1:kernel/cpu.c:.text', '2:drivers/char/tpm/tpm-sysfs.c:.text']);
  } finally {
    cleanup();
  }
});
