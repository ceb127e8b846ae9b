/**
 * Timing two commands in turns, for the benchmarks whose goal is a ratio against a native tool:
 * the machine's speed moves by 20 % from one minute to the next, and turns put both sides in the
 * same minutes, where one run of each, or each side's runs minutes apart, moved the ratio by as
 * much. Each run is a fresh process (no JIT warmth carried over).
 */
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
  [a, b].forEach(([label], k) => console.log(`${label.padEnd(labelWidth)} ${median(times[k]!).toFixed(0).padStart(7)} ms   (median of ${times[k]!.map((x) => x.toFixed(0)).join(', ')})`));
  return [median(times[0]), median(times[1])];
}
