/**
 * docs/per-object-kernel.md's table of the bundled scenarios under the three kernels the test
 * suite boots (Debian's 6.1, Debian's 6.12, 6.12 with the series): regenerated here from the
 * emulator's designs that the QEMU suites hold equal to those kernels step by step, so the page
 * cannot drift from a run. Run with KLPKIT_PRINT_TABLE=1 to print the table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Design } from '../../src/loader/designs/index.js';
import { parseScenario, readScenarioFiles, simulate } from '../../src/loader/scenario.js';
import { buildDatabase } from '../../src/symbols/build.js';
import { ROOT } from '../helpers/tools.js';
import { BUNDLED_SCENARIOS } from '../kernel/scenarios.js';

const ex = join(ROOT, 'examples');
const kernelDir = join(ex, 'kernel-6.1.0-56-amd64');

test('docs/per-object-kernel.md: the table of the bundled scenarios is what the designs give', async () => {
  const { db } = await buildDatabase({ kallsyms: join(kernelDir, 'kallsyms.excerpt'), symvers: join(kernelDir, 'Module.symvers.excerpt') });
  const kernels: Array<[string, Design]> = [["Debian's 6.1", '6.1'], ["Debian's 6.12", '6.3'], ['6.12 + series', 'per-object']];
  const rows = ['| scenario | kernel (design) | insmod/rmmod statuses | relocations written by the loader | `text_poke` writes | permission flips |', '|---|---|---|---|---|---|'];
  for (const n of BUNDLED_SCENARIOS) {
    const f = join(ex, 'scenarios', `${n}.klpsim`);
    const sc = parseScenario(readFileSync(f, 'utf8'), f);
    const files = await readScenarioFiles(sc);
    for (const [kernel, design] of kernels) {
      const { run, kernel: k } = simulate(sc, design, db, files);
      rows.push(`| ${n} | ${kernel} (\`${design}\`) | ${run.steps.map((s) => s.rc).join(' ')} | ${k.relocationsApplied} | ${run.textPokes} | ${run.flips} |`);
    }
  }
  const table = rows.join('\n');
  if (process.env.KLPKIT_PRINT_TABLE) console.log(table);
  const doc = readFileSync(join(ROOT, 'docs/per-object-kernel.md'), 'utf8');
  assert.ok(doc.includes(table), `docs/per-object-kernel.md lacks the current table:\n${table}`);
});
