/**
 * Benchmark: read every symbol and relocation of every module of the Debian kernel corpus, against
 * GNU nm and readelf -r over the same files in the same run. Prints ratios (ours / native).
 *
 *   npm run bench            (fetches the corpus into the cache first if needed)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { readElf } from '../src/elf/index.js';
import { kernelCorpus, walkModules } from '../test/helpers/corpus.js';

const corpus = kernelCorpus();
const files = [...walkModules(corpus.modulesDir)];
const bytesTotal = files.reduce((n, f) => n + readFileSync(f).length, 0);

function time(label: string, fn: () => void): number {
  fn(); // warm the page cache and the JIT
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(48)} ${ms.toFixed(0).padStart(7)} ms`);
  return ms;
}

/** Run a tool over all files in a few large batches, discarding output (as xargs would). */
function native(cmd: string, args: string[]): () => void {
  return () => {
    for (let i = 0; i < files.length; i += 500) {
      const r = spawnSync(cmd, [...args, ...files.slice(i, i + 500)], { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 });
      if (r.status !== 0) throw new Error(`${cmd} failed`);
    }
  };
}

let symbols = 0, relocations = 0;
const oursSyms = time('klpkit: read + decode all symbols', () => {
  symbols = 0;
  for (const f of files) symbols += readElf(readFileSync(f), { path: f }).allSymbols.length;
});
const oursBoth = time('klpkit: read + decode all symbols and relocations', () => {
  relocations = 0;
  for (const f of files) {
    const elf = readElf(readFileSync(f), { path: f });
    for (const s of elf.sections) if (s.isRelocation) relocations += elf.relocations(s).length;
  }
});
const nm = time('nm -p (symbols, unsorted)', native('nm', ['-p']));
const readelfR = time('readelf -rW (relocations)', native('readelf', ['-rW']));

const version = execFileSync('nm', ['--version'], { encoding: 'utf8' }).split('\n')[0];
console.log(`\n${files.length} modules of ${corpus.version}, ${(bytesTotal / 1048576).toFixed(0)} MiB, ${symbols} symbols, ${relocations} relocations; ${version}; node ${process.version}`);
console.log(`ratio symbols:            klpkit / nm -p        = ${(oursSyms / nm).toFixed(2)}`);
console.log(`ratio symbols+relocations: klpkit / readelf -rW = ${(oursBoth / readelfR).toFixed(2)}`);
