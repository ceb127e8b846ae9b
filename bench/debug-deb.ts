/**
 * Benchmark: compilation units for every Debian module and vmlinux from the debug package itself
 * (`klp symbols build --debug linux-image-<abi>-dbg_*.deb`: one pass over the .deb, nothing
 * unpacked), against the native one-pass extraction of a single module from the same package
 * (`dpkg-deb --fsys-tarfile | tar -x`, which decodes the whole stream too), in the same run; and
 * the database's size with and without the units.
 *
 *   node --import tsx bench/debug-deb.ts     (part of npm run bench; fetches the package once)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildDatabase } from '../src/symbols/build.js';
import { kallsymsFromVmlinuz } from '../src/symbols/vmlinuz.js';
import { kernelCorpus } from '../test/helpers/corpus.js';
import { ROOT } from '../test/helpers/tools.js';

const corpus = kernelCorpus();
const member = 'arch/x86/crypto/sha256-ssse3.ko';
const debugDir = execFileSync(join(ROOT, 'scripts/fetch-debug.sh'), ['amd64', member], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const debDir = debugDir.slice(0, debugDir.indexOf('/root-'));
const deb = join(debDir, readdirSync(debDir).find((f) => f.endsWith('.deb'))!);
const vmlinuz = join(corpus.root, 'boot', `vmlinuz-${corpus.version}`);
const symvers = join(corpus.root, 'usr/src', `linux-headers-${corpus.version}`, 'Module.symvers');
const k = await kallsymsFromVmlinuz(vmlinuz);
const dump = join(tmpdir(), `klpkit-bench-kallsyms-${process.pid}.txt`);
writeFileSync(dump, k.symbols.map((s) => `${s.address!.toString(16).padStart(16, '0')} ${s.type} ${s.name}`).join('\n') + '\n');

async function time(label: string, fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(64)} ${ms.toFixed(0).padStart(7)} ms`);
  return ms;
}

const out = mkdtempSync(join(tmpdir(), 'klpkit-bench-deb-'));
const extract = await time('dpkg-deb --fsys-tarfile | tar -x of one module (native)', () => {
  const r = spawnSync('bash', ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "./usr/lib/debug/lib/modules/${corpus.version}/kernel/${member}"`, 'x', deb, out]);
  if (r.status !== 0) throw new Error(`dpkg-deb | tar: ${r.stderr.toString()}`);
});
rmSync(out, { recursive: true, force: true });
let plainBytes = 0;
let unitBytes = 0;
const plain = await time('klpkit: build DB, every module, no units', async () => {
  plainBytes = (await buildDatabase({ kallsyms: dump, symvers, modules: corpus.modulesDir })).db.serialize().length;
});
const withUnits = await time("klpkit: the same with --debug <the .deb> (modules' and vmlinux's units)", async () => {
  const r = await buildDatabase({ kallsyms: dump, symvers, modules: corpus.modulesDir, debug: deb });
  if (r.failures.length > 0) throw new Error(`${r.failures.length} failures: ${r.failures[0]!.message}`);
  unitBytes = r.db.serialize().length;
});
rmSync(dump, { force: true });
console.log(`\n${deb.slice(deb.lastIndexOf('/') + 1)}; node ${process.version}`);
console.log(`ratio units from the .deb / one-pass extraction = ${((withUnits - plain) / extract).toFixed(2)}   (what --debug adds to the build; the whole build with units: ${(withUnits / extract).toFixed(2)})`);
console.log(`database size with units / without = ${(unitBytes / plainBytes).toFixed(2)}   (${(unitBytes / 1048576).toFixed(1)} MiB / ${(plainBytes / 1048576).toFixed(1)} MiB)`);
