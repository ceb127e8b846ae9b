/** Worker of scan.ts: reads its share of modules and posts each result in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { readModuleSymbols } from './scan.js';

for (const path of workerData as string[]) {
  const r = await readModuleSymbols(path);
  // A module's columns share one buffer (moduleSymbols): handed over, not copied.
  parentPort!.postMessage(r, 'flags' in r ? [r.flags.buffer as ArrayBuffer] : []);
}
