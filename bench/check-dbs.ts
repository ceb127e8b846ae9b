/**
 * Benchmark: `klp check PATCH --dbs DIR`, one patch against 1 to 50 whole-kernel databases (one per
 * kernel build a distribution ships; here copies of Debian 6.1's), against a single
 * `klp check PATCH --db DB` in the same run: the cost per database, Node's start taken out of both.
 *
 *   node --import tsx bench/check-dbs.ts     (part of npm run bench)
 */
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildDatabase } from '../src/symbols/build.js';
import { kallsymsFromVmlinuz } from '../src/symbols/vmlinuz.js';
import { kernelCorpus } from '../test/helpers/corpus.js';
import { ROOT } from '../test/helpers/tools.js';

const corpus = kernelCorpus();
const dir = mkdtempSync(join(tmpdir(), 'klpkit-bench-dbs-'));
const vmlinuz = join(corpus.root, 'boot', `vmlinuz-${corpus.version}`);
const symvers = join(corpus.root, 'usr/src', `linux-headers-${corpus.version}`, 'Module.symvers');
const k = await kallsymsFromVmlinuz(vmlinuz);
const dump = join(dir, 'kallsyms.txt');
writeFileSync(dump, k.symbols.map((s) => `${s.address!.toString(16).padStart(16, '0')} ${s.type} ${s.name}`).join('\n') + '\n');
const db = join(dir, 'debian.klpdb');
writeFileSync(db, (await buildDatabase({ kallsyms: dump, symvers, modules: corpus.modulesDir })).db.serialize());
const klp = join(ROOT, 'dist/cli/main.js');
const patch = join(dir, 'klp_demo.ko');
const c = spawnSync('node', [klp, 'convert', join(ROOT, 'examples/klp_demo.ko'), '--db', db, '-o', patch]);
if (c.status !== 0) throw new Error(`convert: ${c.stderr.toString()}`);

/** Best of `n` runs of the command, in ms. */
function best(args: string[], n = 3): number {
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = spawnSync('node', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr.toString()}`);
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

const start = best(['-e', '0']);
const single = best([klp, 'check', patch, '--db', db]);
console.log(`${'node -e 0 (Node\'s start)'.padEnd(52)} ${start.toFixed(0).padStart(7)} ms`);
console.log(`${'klp check PATCH --db DB (one database)'.padEnd(52)} ${single.toFixed(0).padStart(7)} ms`);
console.log('\n databases   klp check --dbs   per database   / single check (both less Node\'s start)');
const dbs = join(dir, 'dbs');
mkdirSync(dbs);
let have = 0;
let worst = 0;
for (const n of [1, 2, 5, 10, 25, 50]) {
  for (; have < n; have++) linkSync(db, join(dbs, `build-${String(have).padStart(2, '0')}.klpdb`));
  const t = best([klp, 'check', patch, '--dbs', dbs, '--quiet'], n >= 25 ? 1 : 3);
  const per = (t - start) / n;
  const ratio = per / (single - start);
  if (n >= 10) worst = Math.max(worst, ratio);
  console.log(`${String(n).padStart(10)} ${t.toFixed(0).padStart(14)} ms ${per.toFixed(0).padStart(11)} ms ${ratio.toFixed(2).padStart(12)}`);
}
const oneThread = best([klp, 'check', patch, '--dbs', dbs, '--quiet', '-j', '1'], 1);
console.log(`${'50 (-j 1: one thread)'.padStart(10)} ${oneThread.toFixed(0).padStart(14)} ms ${((oneThread - start) / 50).toFixed(0).padStart(11)} ms ${((oneThread - start) / 50 / (single - start)).toFixed(2).padStart(12)}`);
rmSync(dir, { recursive: true, force: true });
console.log(`\n${availableParallelism()} cores; node ${process.version}`);
console.log(`ratio per database / single check, 10 to 50 databases = ${worst.toFixed(2)}   (goal at most 1.2)`);
