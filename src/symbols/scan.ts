/**
 * Scan a tree of modules (`/lib/modules/<ver>/kernel/**`: .ko, .ko.xz, .ko.zst, .ko.gz) on all
 * cores. A module that cannot be read is reported and the scan goes on.
 */
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { isElfError } from '../elf/errors.js';
import { loadElf, ReadBuffer } from '../elf/load.js';
import { moduleSymbols } from './module-symbols.js';
import type { ModuleSymbols } from './types.js';

export interface ScanFailure { path: string; message: string }
export interface ScanResult { modules: ModuleSymbols[]; failures: ScanFailure[] }
export interface ScanOptions {
  jobs?: number | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** Stop: the workers are terminated, and the scan rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Each module read, as it comes (in no set order), while the others are being read. */
  onModule?: ((m: ModuleSymbols) => void) | undefined;
}

/** A module file's name: `.ko`, or compressed as Kbuild compresses them. */
export const MODULE_FILE = /\.ko(\.(xz|zst|gz))?$/;
// The worker is a sibling file: .js once built, .ts when run from source (tests), where the
// worker must load tsx itself: Node 20 does not carry module hooks into workers.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./scan-worker.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);

export async function listModuleFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  // Synchronous: a kernel's tree is some 300 directories, and an await a directory cost more
  // than the reading (nothing else runs meanwhile: the scan starts once the list is made).
  const walk = (d: string, depth: number): void => {
    if (depth > 32) return; // a symlink loop or a hostile tree; kernel trees are a few levels deep
    const entries = readdirSync(d, { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.isFile() && MODULE_FILE.test(e.name)) out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}

/** An error reading the module at `path` as a failure (typed errors keep their message). */
export function scanFailure(path: string, e: unknown): ScanFailure {
  return { path, message: isElfError(e) ? e.message : `${path}: ${e instanceof Error ? e.message : String(e)}` };
}

/**
 * The buffer modules are read into, one after the other (each thread has its own): moduleSymbols()
 * copies out all it keeps, so the next module may take its place.
 */
const readBuffer = new ReadBuffer();

/** Read one module's symbols; errors become failures. */
export async function readModuleSymbols(path: string): Promise<ModuleSymbols | ScanFailure> {
  try {
    return moduleSymbols(await loadElf(path, { into: readBuffer }));
  } catch (e) {
    return scanFailure(path, e);
  }
}

export async function scanModules(files: readonly string[], opts: ScanOptions = {}): Promise<ScanResult> {
  const jobs = Math.max(1, Math.min(opts.jobs ?? availableParallelism(), files.length >= 64 ? 16 : 1));
  const results = new Array<ModuleSymbols | ScanFailure>(files.length);
  let done = 0;
  const got = (i: number, r: ModuleSymbols | ScanFailure): void => {
    results[i] = r;
    if (!('message' in r)) opts.onModule?.(r);
    opts.onProgress?.(++done, files.length);
  };
  if (jobs === 1) {
    for (let i = 0; i < files.length; i++) {
      opts.signal?.throwIfAborted();
      got(i, await readModuleSymbols(files[i]!));
    }
  } else {
    // Interleaved shares keep the workers evenly loaded (big drivers cluster in the tree).
    await Promise.all(Array.from({ length: jobs }, (_, w) => new Promise<void>((resolve, reject) => {
      const indices = files.map((_, i) => i).filter((i) => i % jobs === w);
      const workerData = indices.map((i) => files[i]);
      const worker = FROM_SOURCE
        ? new Worker(`import('tsx/esm/api').then((t) => t.register()).then(() => import(${JSON.stringify(WORKER_URL.href)}))`, { eval: true, workerData })
        : new Worker(WORKER_URL, { workerData });
      opts.signal?.addEventListener('abort', () => {
        void worker.terminate();
        reject(opts.signal!.reason);
      }, { once: true });
      let k = 0;
      worker.on('message', (r: ModuleSymbols | ScanFailure) => got(indices[k++]!, r));
      worker.on('error', reject);
      worker.on('exit', (code) => (code === 0 && k === indices.length ? resolve() : reject(new Error(`module scan worker exited with ${code} after ${k} of ${indices.length} modules`))));
    })));
  }
  const modules: ModuleSymbols[] = [];
  const failures: ScanFailure[] = [];
  for (const r of results) ('message' in r ? failures : modules).push(r as never);
  return { modules, failures };
}
