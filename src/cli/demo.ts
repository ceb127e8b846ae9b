/**
 * `klp demo`: the main job on bundled material, no kernel needed. Lists the example livepatch
 * module, builds a symbol database from excerpts of Debian 6.1's real kallsyms and Module.symvers,
 * converts the module and checks the result, simulates its load under every loader design, and runs
 * the bundled late module patching scenarios, writing everything into one directory.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '@commander-js/extra-typings';
import { checkModule } from '../check/check.js';
import { convertModule } from '../convert/convert.js';
import { loadElf, writeFileAtomic } from '../elf/load.js';
import { writeElf } from '../elf/writer.js';
import { DESIGNS } from '../loader/designs/index.js';
import { simulatePatchLoad } from '../loader/patch-sim.js';
import { parseScenario, readScenarioFiles, runScenario } from '../loader/scenario.js';
import { renderSimTable } from '../report/sim-text.js';
import { renderSimHtml, type SimReport } from '../report/sim-html.js';
import { listElf } from '../report/elf-listing.js';
import { renderCheckHtml } from '../report/html.js';
import { buildDatabase } from '../symbols/build.js';
import { renderCheckText, renderPatchSimulation } from './check.js';
import { renderConvertText } from './convert.js';
import { EXIT, out, runCommand } from './run.js';

const EXAMPLES = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples');

export function registerDemo(program: Command): void {
  program.command('demo')
    .description('run klpkit on the bundled example: list, build a symbol database, convert, check, simulate, report')
    .option('-o, --output <dir>', 'where to write the results', 'klp-demo-out')
    .action((opts) => runCommand(async () => {
      const outDir = resolve(opts.output);
      await mkdir(outDir, { recursive: true });
      const input = join(EXAMPLES, 'klp_demo.ko');
      const kernel = join(EXAMPLES, 'kernel-6.1.0-56-amd64');

      out('== 1. the example livepatch module (klp elf)');
      const elf = await loadElf(input);
      const l = listElf(elf);
      out(`${input}: module ${l.module}, livepatch=${l.livepatch ? 'Y' : 'N'}, ${l.sections.length} sections, ${l.symbols.length} symbols, ${l.relocations.length} relocations`);
      const undef = l.symbols.filter((y) => y.shndx === 'UND' && y.name !== '').map((y) => y.name);
      out(`undefined symbols: ${undef.join(', ')}`);

      out('\n== 2. symbol database from Debian 6.1 excerpts (klp symbols build)');
      const { db } = await buildDatabase({ kallsyms: join(kernel, 'kallsyms.excerpt'), symvers: join(kernel, 'Module.symvers.excerpt') });
      const dbPath = join(outDir, 'kernel.klpdb');
      await writeFileAtomic(dbPath, db.serialize());
      for (const name of undef) {
        const d = db.lookup(name)[0];
        out(`  ${name.padEnd(20)} ${d ? `${d.object} sympos ${d.sympos} at 0x${d.address?.toString(16)} ${d.exported ? d.exportType : 'NOT exported'}` : 'not found'}`);
      }

      out('\n== 3. convert (klp convert)');
      const r = convertModule(elf, { db });
      out(renderConvertText(r, false, true));
      if (r.problems.length) return EXIT.FINDINGS;
      const converted = join(outDir, 'klp_demo.ko');
      await writeFileAtomic(converted, writeElf(elf));

      out('\n== 4. will it load on 6.1? (klp check)');
      const c = checkModule(await loadElf(converted), { db });
      out(renderCheckText(c));

      out('\n== 5. simulated load in the loader emulator, under every design (klp check --design all)');
      const simulations = DESIGNS.map((d) => simulatePatchLoad(db, d, elf));
      for (const s of simulations) out(renderPatchSimulation(s));
      const report = join(outDir, 'report.html');
      await writeFileAtomic(report, Buffer.from(renderCheckHtml(c, simulations), 'utf8'));

      out('\n== 6. late module patching scenarios, under every design (klp sim examples/scenarios/*.klpsim)');
      const scenarios = join(EXAMPLES, 'scenarios');
      let expectationsFailed = 0;
      const simReports: SimReport[] = [];
      for (const f of (await readdir(scenarios)).filter((x) => x.endsWith('.klpsim')).sort()) {
        const path = join(scenarios, f);
        const sc = parseScenario(await readFile(path, 'utf8'), path);
        const files = await readScenarioFiles(sc);
        const runs = DESIGNS.map((d) => runScenario(sc, d, db, files));
        expectationsFailed += runs.filter((r) => !r.passed).length;
        simReports.push({ scenario: sc, runs });
        out(`\n-- ${sc.name} (${f})`);
        out(renderSimTable(sc, runs).join('\n'));
      }

      const simHtml = join(outDir, 'scenarios.html');
      await writeFileAtomic(simHtml, Buffer.from(renderSimHtml(simReports), 'utf8'));

      await writeFile(join(outDir, 'README.txt'), `klp demo output\n  kernel.klpdb  symbol database (klp symbols find nr_processes --db kernel.klpdb)\n  klp_demo.ko   the converted livepatch module (klp elf -r klp_demo.ko)\n  report.html   klp check's report, with the simulated load under every design\n  scenarios.html  the bundled scenarios, steps x designs (klp sim --html)\n`);
      out(`\nwrote ${dbPath}, ${converted}\nreport: ${report}\nscenarios: ${simHtml}`);
      return c.findings.some((f) => f.severity === 'error') || expectationsFailed > 0 ? EXIT.FINDINGS : EXIT.OK;
    }));
}
