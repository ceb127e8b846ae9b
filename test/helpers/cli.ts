/**
 * Run the built `klp` command (npm test builds first), as a user would: through the launcher that
 * bin/klp runs (dist/cli/launch.cjs), which runs the bundle (dist/klp.cjs) from V8's code cache
 * (test/run.mjs gives the run a cache folder of its own).
 */
import { join } from 'node:path';
import { ROOT, runStatus } from './tools.js';

export const KLP = join(ROOT, 'dist/cli/launch.cjs');

export function klp(...args: string[]) {
  return runStatus(process.execPath, [KLP, ...args], { cwd: ROOT });
}

/** A clean failure: a one-line message on stderr, no stack trace. */
export function assertCleanError(stderr: string): boolean {
  return /^klp: error: /.test(stderr) && !/\n\s+at /.test(stderr) && !/Error: .*\n.*node:internal/.test(stderr);
}
