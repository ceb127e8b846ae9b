/**
 * Relocation type names of every architecture against GNU readelf, which knows every machine
 * regardless of the host: one synthetic object per architecture holding one entry per type.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARCHES } from '../../src/arch/index.js';
import { readElf } from '../../src/elf/index.js';
import { listElf } from '../../src/report/elf-listing.js';
import { fixtures } from '../helpers/fixtures.js';
import { readelfRelocs } from '../helpers/readelf.js';
import { synthRelocObject } from '../helpers/synth.js';

const fx = fixtures();

for (const arch of ARCHES) {
  for (const le of arch.endian === 'both' ? [true, false] : [arch.endian === 'little']) {
    test(`${arch.name} (${le ? 'LE' : 'BE'}): relocation names agree with readelf`, () => {
      const max = Math.max(...arch.relocs.keys());
      const types = Array.from({ length: Math.min(max + 2, arch.elfClass === 32 ? 256 : max + 2) }, (_, i) => i);
      const bytes = synthRelocObject({ machine: arch.machine, elfClass: arch.elfClass, littleEndian: le, types, rela: arch.rela });
      const path = join(fx.dir, `relocs-${arch.name}-${le ? 'le' : 'be'}.o`);
      writeFileSync(path, bytes);
      const theirs = readelfRelocs(path);
      assert.equal(theirs.length, types.length, 'readelf listed every entry');
      const ours = listElf(readElf(bytes, { path })).relocations;
      const mismatches: string[] = [];
      theirs.forEach((t, i) => {
        const readelfKnows = t.type.startsWith('R_');
        const weKnow = arch.relocs.has(types[i]!);
        // Types newer than the host's binutils (readelf says "unrecognized") cannot be checked here.
        if (weKnow && readelfKnows && ours[i]!.typeName !== t.type) mismatches.push(`${types[i]}: ours ${ours[i]!.typeName}, readelf ${t.type}`);
        // x86_64 is complete; the other tables cover what kernel modules use and must never disagree.
        if (!weKnow && readelfKnows && arch.name === 'x86_64') mismatches.push(`${types[i]}: readelf knows ${t.type}, we do not`);
      });
      assert.deepEqual(mismatches, []);
    });
  }
}
