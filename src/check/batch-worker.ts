/** Worker of batch.ts: checks the patch against its share of databases, posting each row in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { readElf } from '../elf/reader.js';
import { checkOne } from './batch.js';

const { patch, dbs, targetKernel } = workerData as { patch: { bytes: Uint8Array; path: string }; dbs: string[]; targetKernel: string };
const elf = readElf(patch.bytes, { path: patch.path });
for (const db of dbs) parentPort!.postMessage(await checkOne(elf, db, targetKernel));
