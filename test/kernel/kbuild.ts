/** Building external modules with Kbuild, against Debian's headers or a built kernel tree. */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, run } from '../helpers/tools.js';

/** `make -C KDIR M=DIR modules` with `args` (KCFLAGS=..., KBUILD_MODPOST_WARN=1, ...). */
export function kbuildDir(kdir: string, moduleDir: string, args: readonly string[] = []): void {
  run('make', ['-s', '-C', kdir, `M=${moduleDir}`, ...args, 'modules']);
}

/** Copy test/kernel/modules/<name> to `into` and build it there; returns the .ko path. */
export function kbuildModule(kdir: string, name: string, into: string, args: readonly string[] = []): string {
  mkdirSync(into, { recursive: true });
  cpSync(join(ROOT, 'test/kernel/modules', name), into, { recursive: true });
  kbuildDir(kdir, into, args);
  return join(into, `${name}.ko`);
}
