/** `klp symbols build|find|export|info`: the symbol database. */
import { Command, Option } from '@commander-js/extra-typings';
import { readInputFile, writeFileAtomic } from '../elf/load.js';
import { escapeText } from '../report/escape.js';
import { buildDatabase } from '../symbols/build.js';
import { SymbolDb } from '../symbols/database.js';
import { definitionNeighbours } from '../symbols/describe.js';
import { exportSymbolsKlp } from '../symbols/symbols-klp.js';
import type { SymbolDefinition } from '../symbols/types.js';
import { addSourceOptions, loadDb, parseJobs } from './db-source.js';
import { progressBar } from './progress.js';
import { refuseInputs, sourceInputs } from './output.js';
import { err, EXIT, out, outBytes, runCommand, toJson } from './run.js';

function fmtDef(d: SymbolDefinition): string {
  // vmlinux: the address; a module: the offset in its section (its address is known only once loaded).
  const addr = d.address !== null ? d.address.toString(16).padStart(16, '0') : (d.offset !== null ? `+0x${d.offset.toString(16)}` : '-').padEnd(16);
  const size = d.size !== null ? `0x${d.size.toString(16)}` : '-';
  const exp = d.exported ? `${d.exportType}${d.namespace ? ` ns=${escapeText(d.namespace)}` : ''}` : 'not exported';
  const core = d.coreSympos === null ? (d.coreCount === null ? '' : '  [not visible after init]') : d.coreSympos !== d.sympos ? `  [after init: sympos ${d.coreSympos}]` : '';
  const unit = d.file ? `  from ${escapeText(d.file)}` : '';
  return `${escapeText(d.object).padEnd(20)} ${String(d.sympos).padStart(6)} ${String(d.count).padStart(5)}  ${addr}  ${size.padStart(6)}  ${d.type}  ${d.binding.padEnd(6)}  ${escapeText(d.section ?? '-').padEnd(24)} ${exp}${core}${unit}`;
}

export function registerSymbols(program: Command): void {
  const symbols = program.command('symbols').description('symbol database: which object defines a symbol, its export status and sympos');

  addSourceOptions(symbols.command('build').description('build a symbol database from a kernel build'))
    .requiredOption('-o, --output <db>', 'database file to write')
    .addOption(new Option('-j, --jobs <n>', 'threads for the module scan (default: all cores)').argParser(parseJobs))
    .option('-q, --quiet', 'no progress bar')
    .option('--keep-going', 'write the database even if some modules cannot be read')
    .action((opts) => runCommand(async () => {
      refuseInputs(opts.output, '-o', sourceInputs(opts));
      const t0 = Date.now();
      const bar = progressBar('scanning modules', !!opts.quiet);
      let result;
      try {
        result = await buildDatabase({ ...opts, onProgress: bar.update });
      } finally {
        bar.done();
      }
      const { db, failures } = result;
      for (const f of failures) err(`klp: warning: ${f.message}\n`);
      if (failures.length > 0 && !opts.keepGoing) {
        err(`klp: error: ${failures.length} of ${result.modulesScanned} modules could not be read or matched; no database written (use --keep-going to write one without them)\n`);
        return EXIT.BAD_INPUT;
      }
      await writeFileAtomic(opts.output, db.serializeParts());
      const counts = db.objectCounts();
      err(`klp: wrote ${opts.output}: ${db.objects.length} objects, ${db.count} symbols` +
        `${counts.has('vmlinux') ? ` (vmlinux ${counts.get('vmlinux')})` : ''}` +
        `${failures.length ? `, ${failures.length} modules skipped` : ''}, exports from ${db.meta.exportsFrom}, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }));

  symbols.command('find').description('every definition of a symbol: object, sympos, address (or offset in section), size, type, export status; homonyms with their neighbours')
    .argument('<name>', 'symbol name')
    .requiredOption('--db <db>', 'symbol database (klp symbols build)')
    .option('--object <obj>', 'only definitions in this object (vmlinux or a module name)')
    .option('--json', 'JSON array, one entry per definition')
    .action((name, opts) => runCommand(async () => {
      const db = await loadDb(opts.db);
      let defs = db.lookup(name);
      if (opts.object) defs = defs.filter((d) => d.object === opts.object);
      if (opts.json) {
        out(toJson(defs.map((d) => ({ ...d, address: d.address === null ? null : `0x${d.address.toString(16)}`, ...(d.count > 1 ? { neighbours: db.neighbours(d) } : {}) }))));
      } else if (defs.length > 0) {
        out(`${'object'.padEnd(20)} ${'sympos'.padStart(6)} ${'count'.padStart(5)}  ${'address'.padEnd(16)}  ${'size'.padStart(6)}  t  ${'bind'.padEnd(6)}  ${'section'.padEnd(24)} export`);
        for (const d of defs) {
          out(fmtDef(d));
          // Homonyms: where each sits, so they can be told apart without readelf.
          const near = d.count > 1 ? definitionNeighbours(db, d) : '';
          if (near) out(`${''.padEnd(20)}   ${escapeText(near)}`);
        }
      }
      if (defs.length === 0) {
        err(`klp: no symbol '${escapeText(name)}'${opts.object ? ` in ${escapeText(opts.object)}` : ''} in ${opts.db}\n`);
        return EXIT.FINDINGS;
      }
    }));

  symbols.command('export').description('write the database in another format')
    .requiredOption('--db <db>', 'symbol database')
    .addOption(new Option('--format <format>', 'output format').choices(['symbols-klp'] as const).makeOptionMandatory())
    .option('-o, --output <file>', 'file to write (default: standard output)')
    .action((opts) => runCommand(async () => {
      const db = await loadDb(opts.db);
      const text = exportSymbolsKlp(db);
      if (opts.output) {
        refuseInputs(opts.output, '-o', [{ flag: '--db', path: opts.db }]);
        await writeFileAtomic(opts.output, Buffer.from(text, 'latin1'));
      } else {
        outBytes(Buffer.from(text, 'latin1'));
      }
    }));

  symbols.command('info').description('what a database holds')
    .requiredOption('--db <db>', 'symbol database')
    .option('--json', 'JSON')
    .action((opts) => runCommand(async () => {
      const db = await loadDb(opts.db);
      const counts = db.objectCounts();
      if (opts.json) {
        out(toJson({ meta: db.meta, symbols: db.count, objects: db.objects.map((o) => ({ ...o, symbols: counts.get(o.name) })) }));
        return;
      }
      out(`kernel: ${db.meta.kernel ?? 'unknown'}\ncreated: ${db.meta.created}\nvmlinux order: ${db.meta.vmlinuxOrder}\nexports from: ${db.meta.exportsFrom}`);
      out(`sources:\n${db.meta.sources.map((s) => `  ${escapeText(s)}`).join('\n')}`);
      out(`${db.objects.length} objects, ${db.count} symbols; vmlinux: ${counts.get('vmlinux') ?? 0}`);
    }));
}
