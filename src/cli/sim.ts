/**
 * `klp sim SCENARIO [--design D | --all-designs]`: run load/unload steps in the loader emulator,
 * or without a file: `klp sim --db DB --step insmod:PATH --step rmmod:NAME ...`.
 */
import { join, resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { DESIGNS, parseDesign, type Design } from '../loader/designs/index.js';
import { parseScenario, parseStep, readScenarioFiles, runScenario, ScenarioError, type Scenario } from '../loader/scenario.js';
import { renderSimText } from '../report/sim-text.js';
import { renderSimHtml } from '../report/sim-html.js';
import { readInputFile, writeFileAtomic } from '../elf/load.js';
import { refuseInputs, sourceInputs } from './output.js';
import { buildDatabase } from '../symbols/build.js';
import type { SymbolDb } from '../symbols/database.js';
import { UsageError } from '../errors.js';
import { addSourceOptions, dbFromOptions, loadDb } from './db-source.js';
import { EXIT, out, runCommand, toJson } from './run.js';
import { escapeText } from '../report/escape.js';

/** The scenario's own symbol sources, when the command line gives none. */
async function scenarioDb(sc: Scenario): Promise<SymbolDb> {
  const s = sc.symbols;
  if (s.db) return loadDb(s.db);
  if (!s.kallsyms && !s.vmlinuz && !s.systemMap && !s.modules) throw new UsageError(`${sc.file}: no symbol data: add a 'db', 'kallsyms' or 'vmlinuz' line, or give --db`);
  return (await buildDatabase({ kallsyms: s.kallsyms, symvers: s.symvers, vmlinuz: s.vmlinuz, systemMap: s.systemMap, modules: s.modules })).db;
}

export function registerSim(program: Command): void {
  addSourceOptions(program.command('sim')
    .description('simulate loading and unloading modules and livepatches in the loader emulator, under one design or all')
    .argument('[scenario]', 'scenario file (docs/loader.md); or give --step')
    .option('--design <design>', `design to run: ${DESIGNS.join(', ')} (repeatable)`, (v: string, prev: string[] = []) => [...prev, v])
    .option('--all-designs', 'run every design (the default for a scenario without a designs line)')
    .option('--step <step>', 'insmod:PATH, modprobe:NAME, rmmod:NAME, disable:PATCH or key:OBJ:KEY=on|off (repeatable, in order)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--modules-dep <file>', 'modules.dep (as depmod writes it) for modprobe steps')
    .option('--db <db>', 'symbol database of the kernel (vmlinux symbols and exports); or source options')
    .option('--brief', "print only the kernel's messages, not the emulator's trace")
    .option('--json', 'machine-readable runs: every step, message, event, write violation and permission change')
    .option('--html <file>', 'also write a self-contained HTML report: steps x designs as a picture, the logs one click away'))
    .action((file, opts) => runCommand(async () => {
      if (file && opts.step?.length) throw new UsageError('give a scenario file or --step, not both');
      if (!file && !opts.step?.length) throw new UsageError('give a scenario file, or steps with --step (e.g. --step insmod:patch.ko)');
      if (opts.allDesigns && opts.design?.length) throw new UsageError('give --design or --all-designs, not both');
      if (file && opts.modulesDep) throw new UsageError('a scenario file names its modules.dep with a modules-dep line');
      let sc: Scenario;
      if (file) {
        sc = parseScenario((await readInputFile(file, 'scenario')).toString('utf8'), file);
      } else {
        sc = { file: 'command line', name: 'command line', notes: [], symbols: {}, modules: new Map(), designs: undefined, steps: [], ...(opts.modulesDep ? { modulesDep: resolve(opts.modulesDep) } : {}) };
        opts.step!.forEach((s, i) => {
          const err = (m: string): never => { throw new ScenarioError(`--step ${s}: ${m}`); };
          const k = /^key:([^:]+:[^=]+)=(on|off|1|0)$/.exec(s);
          const words = k ? ['key', k[1]!, k[2] === 'on' || k[2] === '1' ? 'on' : 'off'] : [s.slice(0, Math.max(0, s.indexOf(':'))), s.slice(s.indexOf(':') + 1)];
          sc.steps.push({ line: i + 1, text: words.join(' '), op: parseStep(words, err), expects: [] });
        });
        if (sc.steps.some((st) => st.op.op === 'modprobe') && !sc.modulesDep) throw new UsageError(`modprobe steps need --modules-dep FILE (the modules.dep depmod writes): ${depmodHint(opts.modules)}`);
      }
      let designs: Design[];
      try {
        designs = opts.design?.length ? opts.design.map(parseDesign) : opts.allDesigns ? [...DESIGNS] : sc.designs ?? [...DESIGNS];
      } catch (e) {
        throw new UsageError(`--design: ${(e as Error).message}`);
      }
      const given = opts.db || opts.vmlinuz || opts.kallsyms || opts.systemMap || opts.vmlinux || opts.symbolsKlp || opts.symvers || opts.modules;
      const db = given || !file ? await dbFromOptions(opts) : await scenarioDb(sc);
      const files = await readScenarioFiles(sc);
      // Refused before any design runs: the report would replace an input.
      if (opts.html) {
        refuseInputs(opts.html, '--html', [{ flag: 'the scenario', path: file }, { flag: '--modules-dep', path: sc.modulesDep },
          ...sourceInputs(opts), ...sourceInputs(sc.symbols).map((i) => ({ ...i, flag: `the scenario's ${i.flag.slice(2)} line` })),
          ...[...files.bytes.keys()].map((p) => ({ flag: 'module', path: p }))]);
      }
      const runs = designs.map((d) => runScenario(sc, d, db, files));
      if (opts.html) {
        await writeFileAtomic(opts.html, Buffer.from(renderSimHtml([{ scenario: sc, runs }]), 'utf8'));
      }
      if (opts.json) {
        out(toJson({ scenario: { file: sc.file, name: sc.name, notes: sc.notes, steps: sc.steps.map((s) => s.text) }, runs }));
      } else {
        out(renderSimText(sc, runs, { brief: !!opts.brief }));
      }
      const hasExpectations = sc.steps.some((s) => s.expects.length > 0);
      const failed = hasExpectations ? runs.some((r) => !r.passed) : runs.some((r) => r.steps.some((s) => s.rc !== 0));
      return failed ? EXIT.FINDINGS : EXIT.OK;
    }));
}

/**
 * What to run for modules.dep: `depmod -b ROOT VERSION` writes ROOT/lib/modules/VERSION/modules.dep
 * for a tree unpacked under ROOT (a Debian package's data, as `dpkg -x` leaves it).
 */
export function depmodHint(modules: string | undefined): string {
  const m = modules ? /^(.*?)\/?lib\/modules\/([^/]+)/.exec(resolve(modules)) : null;
  if (m) {
    const root = m[1] || '/';
    return `run \`depmod -b ${escapeText(root)} ${escapeText(m[2]!)}\` and give --modules-dep ${escapeText(join(root, 'lib/modules', m[2]!, 'modules.dep'))}`;
  }
  return 'for a tree unpacked under ROOT with modules in ROOT/lib/modules/VERSION, run `depmod -b ROOT VERSION` and give --modules-dep ROOT/lib/modules/VERSION/modules.dep';
}
