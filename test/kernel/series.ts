/**
 * The kernel with the per-object series (kernel/patches/) that scripts/build-kernel.sh builds
 * from Debian's 6.12 source and caches by its inputs.
 */
import { join } from 'node:path';
import { ROOT, run } from '../helpers/tools.js';

/**
 * The series' kernel build directory: the last line the script prints (built now when the cache
 * has none for these inputs). KLPKIT_KERNEL_BUILD names another tree: a developer's incremental
 * build while working on the series.
 */
export function seriesKernel(): string {
  if (process.env.KLPKIT_KERNEL_BUILD) return process.env.KLPKIT_KERNEL_BUILD;
  const out = run('bash', [join(ROOT, 'scripts/build-kernel.sh')]).trim().split('\n');
  return out[out.length - 1]!;
}
