/**
 * The Debian kernel corpus: bookworm's linux-image package unpacked into klpkit's cache by
 * scripts/fetch-kernel.sh (which .ci/run runs first). Tests that need it fail, not skip, when it
 * cannot be had.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './tools.js';

export interface KernelCorpus {
  root: string;
  version: string;
  modulesDir: string;
}

/** `series` picks another kernel of bookworm's, e.g. '6.12' (linux-image-6.12-amd64); default: 6.1. */
export function kernelCorpus(flavour = 'amd64', series?: string): KernelCorpus {
  let root = series ? undefined : process.env.KLPKIT_KERNEL_ROOT;
  if (!root) {
    try {
      root = execFileSync(join(ROOT, 'scripts/fetch-kernel.sh'), [flavour, ...(series ? [series] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    } catch (e) {
      throw new Error(`cannot fetch the Debian kernel corpus (run 'apt-get update' and scripts/fetch-kernel.sh): ${(e as Error).message}`);
    }
  }
  const version = readFileSync(join(root, '..', '.complete'), 'utf8').trim();
  const modulesDir = join(root, 'lib/modules', version, 'kernel');
  if (!existsSync(modulesDir)) throw new Error(`corpus at ${root} has no ${modulesDir}`);
  return { root, version, modulesDir };
}

export function* walkModules(dir: string): Generator<string> {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) yield* walkModules(p);
    else if (/\.ko(\.(xz|zst|gz))?$/.test(e)) yield p;
  }
}
