#!/usr/bin/env node
/** The `klp` command. Each subcommand lives in its own file and registers itself here. */
import { Command, CommanderError } from '@commander-js/extra-typings';
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

// Each subcommand's module is imported only when it runs: a command pays for loading its own code,
// not everybody's (docs/performance.md). The top-level help, a mistyped command and options
// before the command need them all, in this order.
const SUBCOMMANDS: Record<string, () => Promise<(p: Command) => void>> = {
  elf: async () => (await import('./elf.js')).registerElf,
  symbols: async () => (await import('./symbols.js')).registerSymbols,
  convert: async () => (await import('./convert.js')).registerConvert,
  split: async () => (await import('./split.js')).registerSplit,
  check: async () => (await import('./check.js')).registerCheck,
  sim: async () => (await import('./sim.js')).registerSim,
  demo: async () => (await import('./demo.js')).registerDemo,
};
/**
 * Register the command asked for (or all of them) and run it. Not top-level await: the command is
 * also bundled into one CommonJS script (scripts/bundle.ts, run by bin/klp), which has none.
 */
async function main(): Promise<void> {
  const asked = process.argv[2];
  const names = asked !== undefined && Object.hasOwn(SUBCOMMANDS, asked) ? [asked] : Object.keys(SUBCOMMANDS);
  for (const register of await Promise.all(names.map((n) => SUBCOMMANDS[n]!()))) register(program);
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
}
void main();
