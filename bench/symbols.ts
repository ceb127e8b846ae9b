/**
 * Benchmark: build the symbol database from kallsyms plus every Debian module (both cores), against
 * GNU nm over the same module files in the same run: `klp symbols build` as a command (what issue
 * #16 measures; Node's start and the file written included), and the same build in-process (the
 * built code of dist/, as the command runs it, JIT warm); and the time to load the database and
 * look a symbol up. Then the kernel image path: `klp symbols build --vmlinuz` (the payload's xz
 * decoded, the kallsyms table found in the image, exports from its __ksymtab) against `nm -p`
 * over the modules plus `xz -dc` of the same payload, with the decode and the kallsyms search
 * timed in-process. The command and `nm` are timed in turns, three times each: the ratio is of
 * their medians.
 *
 *   npm run bench      (builds dist/ first)
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildDatabase } from '../dist/symbols/build.js';
import { SymbolDb } from '../dist/symbols/database.js';
import { listModuleFiles } from '../src/symbols/scan.js';
import { extractKallsyms } from '../dist/symbols/kallsyms-table.js';
import { decompressBzImage } from '../dist/symbols/vmlinuz.js';
import { kallsymsFromVmlinuz } from '../src/symbols/vmlinuz.js';
import { kernelCorpus } from '../test/helpers/corpus.js';
import { alternate } from './alternate.js';

const corpus = kernelCorpus();
const vmlinuz = join(corpus.root, 'boot', `vmlinuz-${corpus.version}`);
const symvers = join(corpus.root, 'usr/src', `linux-headers-${corpus.version}`, 'Module.symvers');
// A kallsyms dump of this kernel, as `cat /proc/kallsyms` would give it (made once, not timed).
const k = await kallsymsFromVmlinuz(vmlinuz);
const dump = join(tmpdir(), `klpkit-bench-kallsyms-${process.pid}.txt`);
writeFileSync(dump, k.symbols.map((s) => `${s.address!.toString(16).padStart(16, '0')} ${s.type} ${s.name}`).join('\n') + '\n');
const files = await listModuleFiles(corpus.modulesDir);

async function time(label: string, fn: () => Promise<unknown> | unknown): Promise<number> {
  await fn(); // warm the page cache and the JIT
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(60)} ${ms.toFixed(0).padStart(7)} ms`);
  return ms;
}

const out = join(tmpdir(), `klpkit-bench-db-${process.pid}.klpdb`);
// The command as users run it (bin/klp, the launcher npm puts on the PATH), in turns with nm.
const nmModules = (): Promise<unknown> => Promise.all([0, 1].map((w) => {
  const share = files.filter((_, i) => i % 2 === w);
  return (async () => {
    for (let i = 0; i < share.length; i += 500) {
      await new Promise<void>((resolve, reject) => {
        spawn('nm', ['-p', ...share.slice(i, i + 500)], { stdio: ['ignore', 'ignore', 'ignore'] })
          .on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nm exited ${code}`))));
      });
    }
  })();
}));
const [command, nm] = await alternate(
  ['klp symbols build (the command: kallsyms, Module.symvers, every module)', () => {
    execFileSync('bin/klp', ['symbols', 'build', '--kallsyms', dump, '--symvers', symvers, '--modules', corpus.modulesDir, '-o', out], { stdio: 'ignore' });
  }],
  ['nm -p over the same modules (2 processes, like xargs -P2)', nmModules],
  3, 60,
);
rmSync(out, { force: true });
let db: SymbolDb | undefined;
const build = await time('the same build in-process (dist/, JIT warm)', async () => {
  db = (await buildDatabase({ kallsyms: dump, symvers, modules: corpus.modulesDir })).db;
});
const bytes = db!.serialize();
const load = await time(`load DB (${(bytes.length / 1048576).toFixed(1)} MiB)`, () => SymbolDb.load(bytes, 'bench.klpdb'));
const loaded = SymbolDb.load(bytes, 'bench.klpdb');
const lookup = await time('1000 lookups (active_show, homonyms across modules)', () => {
  for (let i = 0; i < 1000; i++) loaded.lookup(i % 2 ? 'active_show' : 'init_module');
});
console.log(`\n${files.length} modules + ${k.symbols.length} vmlinux symbols = ${db!.count} definitions; node ${process.version}`);
console.log(`ratio klp symbols build / nm = ${(command / nm).toFixed(2)}; in-process build / nm = ${(build / nm).toFixed(2)}   (nm only reads the modules; klpkit also parses kallsyms, Module.symvers, sorts, indexes and writes)`);
console.log(`load ${load.toFixed(0)} ms, lookup ${(lookup / 1000).toFixed(3)} ms each`);

// The kernel image path (README's first command): the payload decoded and its kallsyms table
// found, in the command and by phase; natively, xz decoding the same payload.
const vmlinuzBytes = readFileSync(vmlinuz);
const setup = (vmlinuzBytes[0x1f1] || 4) + 1;
const view = new DataView(vmlinuzBytes.buffer, vmlinuzBytes.byteOffset, vmlinuzBytes.byteLength);
const payloadAt = setup * 512 + view.getUint32(0x248, true);
const payload = join(tmpdir(), `klpkit-bench-payload-${process.pid}.xz`);
writeFileSync(payload, vmlinuzBytes.subarray(payloadAt, payloadAt + view.getUint32(0x24c, true)));
console.log('');
const fromImage = await time('klp symbols build --vmlinuz (the command: every module too)', () => {
  execFileSync('bin/klp', ['symbols', 'build', '--vmlinuz', vmlinuz, '--modules', corpus.modulesDir, '-o', out], { stdio: 'ignore' });
});
rmSync(out, { force: true });
let image: Uint8Array | undefined;
const decode = await time('in-process: the payload\'s xz decoded', async () => {
  image = (await decompressBzImage(vmlinuzBytes, vmlinuz)).image;
});
const search = await time('in-process: the kallsyms table found and read', () => extractKallsyms(image!, vmlinuz));
// --single-stream: the build appends the decompressed size after the stream (scripts/Makefile.lib
// size_append), which the kernel's decompressor, like this, does not read.
const xz = await time('xz -dc of the same payload (native)', () => {
  execFileSync('xz', ['-dc', '--single-stream', payload], { stdio: ['ignore', 'ignore', 'ignore'] });
});
rmSync(payload, { force: true });
console.log(`ratio klp symbols build --vmlinuz / (nm -p + xz -dc) = ${(fromImage / (nm + xz)).toFixed(2)}; xz decode / xz -dc = ${(decode / xz).toFixed(2)}; kallsyms search ${search.toFixed(0)} ms`);
