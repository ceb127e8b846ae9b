#!/usr/bin/env node
/** The `klp` command. Each subcommand lives in its own file and registers itself here. */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { registerElf } from './elf.js';
import { registerCheck } from './check.js';
import { registerConvert } from './convert.js';
import { registerDemo } from './demo.js';
import { registerSymbols } from './symbols.js';
import { registerSplit } from './split.js';
import { registerSim } from './sim.js';
import { EXIT, reportError } from './run.js';
import { escapeText } from '../report/escape.js';

const program = new Command()
  .name('klp')
  .description('klpkit: tools for Linux kernel livepatch modules')
  .version('0.1.0')
  .exitOverride()
  // Commander's own usage errors ("unknown option", "missing required argument", an option
  // value its parser refused) print as every other error: one escaped line, exit 2.
  .configureOutput({
    outputError: (str, write) => write(`klp: ${escapeText(str.trim()).replace(/^error: /, 'error: ')} (run with --help for usage)\n`),
  });

registerElf(program);
registerSymbols(program);
registerConvert(program);
registerSplit(program);
registerCheck(program);
registerSim(program);
registerDemo(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version exit 0; every usage error is "bad input" (2), not commander's 1.
    process.exitCode = e.exitCode === 0 ? EXIT.OK : EXIT.BAD_INPUT;
  } else {
    // An error thrown while options are parsed (an argParser's UsageError) never reached a
    // command's runCommand: print it the same way.
    process.exitCode = reportError(e);
  }
}
