/** Worker of scan.ts: reads its share of modules and posts each result in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { readModuleSymbols } from './scan.js';

for (const path of workerData as string[]) parentPort!.postMessage(await readModuleSymbols(path));
