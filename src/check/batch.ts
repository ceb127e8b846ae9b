/**
 * One patch checked against many kernel builds (`klp check PATCH --dbs DIR`): each database is
 * loaded and the patch checked against it, on every core. Worker threads take interleaved shares
 * of the databases (a database is tens of MB: loading it is most of the cost), each parsing the
 * patch once; a single database is checked in this thread, with no worker to start.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ElfFile } from '../elf/file.js';
import { readInputFile } from '../elf/load.js';
import { SymbolDb } from '../symbols/database.js';
import { checkModule } from './check.js';

export interface BatchRow {
  db: string;
  kernel: string | null;
  verdict: 'loads' | 'fails' | 'bad database';
  errors: number;
  first: string;
}

export interface BatchOptions {
  targetKernel: string;
  /** Threads to use; the machine's cores by default. */
  jobs?: number | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
}

// The worker is a sibling file: .js once built, .ts when run from source (tests), where it must
// load tsx itself (Node 20 does not carry module hooks into workers), as symbols/scan.ts does.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./batch-worker.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);

/** The patch against one database; a database that cannot be read is a row, not an exception. */
export async function checkOne(patch: ElfFile, db: string, targetKernel: string): Promise<BatchRow> {
  try {
    const d = SymbolDb.load(await readInputFile(db, 'symbol database', 'build one with klp symbols build'), db);
    const r = checkModule(patch, { db: d, targetKernel });
    const errors = r.findings.filter((x) => x.severity === 'error');
    return { db, kernel: d.meta.kernel, verdict: errors.length ? 'fails' : 'loads', errors: errors.length, first: errors[0]?.message ?? '' };
  } catch (e) {
    return { db, kernel: null, verdict: 'bad database', errors: 1, first: e instanceof Error ? e.message : String(e) };
  }
}

/** Rows in the order of `dbs`. Workers get the patch's bytes and parse it once each. */
export async function checkAgainstDatabases(patch: ElfFile, dbs: readonly string[], opts: BatchOptions): Promise<BatchRow[]> {
  const jobs = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), dbs.length));
  const rows = new Array<BatchRow>(dbs.length);
  let done = 0;
  const tick = (): void => opts.onProgress?.(++done, dbs.length);
  if (jobs === 1) {
    for (let i = 0; i < dbs.length; i++) {
      rows[i] = await checkOne(patch, dbs[i]!, opts.targetKernel);
      tick();
    }
    return rows;
  }
  await Promise.all(Array.from({ length: jobs }, (_, w) => new Promise<void>((resolve, reject) => {
    const indices = dbs.map((_, i) => i).filter((i) => i % jobs === w);
    const workerData = { patch: { bytes: patch.source, path: patch.path }, dbs: indices.map((i) => dbs[i]!), targetKernel: opts.targetKernel };
    const worker = FROM_SOURCE
      ? new Worker(`import('tsx/esm/api').then((t) => t.register()).then(() => import(${JSON.stringify(WORKER_URL.href)}))`, { eval: true, workerData })
      : new Worker(WORKER_URL, { workerData });
    let k = 0;
    worker.on('message', (r: BatchRow) => {
      rows[indices[k++]!] = r;
      tick();
    });
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 && k === indices.length ? resolve() : reject(new Error(`check worker exited with ${code} after ${k} of ${indices.length} databases`))));
  })));
  return rows;
}
