/**
 * Timing two commands in turns, for the benchmarks whose goal is a ratio against a native tool:
 * the machine's speed moves by 20 % from one minute to the next, and turns put both sides in the
 * same minutes, where one run of each, or each side's runs minutes apart, moved the ratio by as
 * much. Each run is a fresh process (no JIT warmth carried over).
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/**
 * A label and a run. A run that returns a number timed itself (in ms): a child process that sets
 * up before the part the benchmark is about, and reports that part's time.
 */
export type Timed = [label: string, run: () => Promise<unknown> | unknown];

const median = (x: readonly number[]): number => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)]!;

/** `a` and `b` in turns, `runs` times each after a warm-up of each: their medians, printed with every run. */
export async function alternate(a: Timed, b: Timed, runs: number, labelWidth: number): Promise<[number, number]> {
  await a[1]();
  await b[1]();
  const times: [number[], number[]] = [[], []];
  for (let r = 0; r < runs; r++) {
    for (const [k, [, run]] of [a, b].entries()) {
      const t0 = performance.now();
      const own = await run();
      times[k]!.push(typeof own === 'number' ? own : performance.now() - t0);
    }
  }
  return report([a[0], b[0]], times, labelWidth);
}

function report(labels: readonly [string, string], times: readonly [number[], number[]], labelWidth: number): [number, number] {
  labels.forEach((label, k) => console.log(`${label.padEnd(labelWidth)} ${median(times[k]!).toFixed(0).padStart(7)} ms   (median of ${times[k]!.map((x) => x.toFixed(0)).join(', ')})`));
  return [median(times[0]), median(times[1])];
}

/** A command to time: its label, the program and its arguments. */
export type Command = [label: string, cmd: string, args: string[]];

/**
 * The runs of alternateCommands(), in a process that holds nothing else: CommonJS for `node -e`
 * (no loader of TypeScript), given the two commands and the number of runs as JSON, printing each
 * side's times as JSON.
 */
const TURNS = `
const { execFileSync } = require('node:child_process');
const { performance } = require('node:perf_hooks');
const [cmds, runs] = JSON.parse(process.argv[1]);
for (const [cmd, args] of cmds) execFileSync(cmd, args, { stdio: 'ignore' });
const times = [[], []];
for (let r = 0; r < runs; r++) {
  cmds.forEach(([cmd, args], k) => {
    const t0 = performance.now();
    execFileSync(cmd, args, { stdio: 'ignore' });
    times[k].push(performance.now() - t0);
  });
}
process.stdout.write(JSON.stringify(times));
`;

/**
 * Two commands in turns, as alternate() times them, from a child process that holds nothing but
 * the loop: a benchmark that built a whole-kernel database first is a large heap, whose
 * collector's threads go on working for a while after, beside the commands it times, and on two
 * cores they slowed the command that runs on two threads (Node's, for its own collector) more
 * than objcopy (docs/performance.md, eleventh round).
 */
export function alternateCommands(a: Command, b: Command, runs: number, labelWidth: number): [number, number] {
  const out = execFileSync(process.execPath, ['-e', TURNS, JSON.stringify([[a.slice(1), b.slice(1)], runs])], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'inherit'] });
  return report([a[0], b[0]], JSON.parse(out) as [number[], number[]], labelWidth);
}
