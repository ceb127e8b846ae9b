/**
 * The gcc-built fixtures, compiled once per test process into a temp dir.
 */
import { join } from 'node:path';
import { buildObject, tempDir } from './tools.js';

export interface Fixtures {
  dir: string;
  /** Two compilation units linked with ld -r, like a Kbuild module: statics, groups, special sections. */
  module: string;
  /** The same with DWARF (-g): many .rela.debug_* sections. */
  moduleDebug: string;
  /** One compilation unit, not linked. */
  object: string;
  /** ELF32 i386 object with REL relocations. */
  elf32: string;
  cleanup: () => void;
}

let cached: Fixtures | undefined;

export function fixtures(): Fixtures {
  if (cached) return cached;
  const { dir, cleanup } = tempDir('klpkit-fx-');
  cached = {
    dir,
    module: buildObject(dir, ['mod_a.c', 'mod_b.c'], 'fixture_mod.ko'),
    moduleDebug: buildObject(dir, ['mod_a.c', 'mod_b.c'], 'fixture_mod_g.ko', ['-g']),
    object: buildObject(dir, ['mod_a.c'], 'mod_a.o'),
    elf32: buildObject(dir, ['elf32.c'], 'elf32.o', ['-m32', '-mcmodel=32']),
    cleanup,
  };
  process.on('exit', cleanup);
  return cached;
}

export const allFixtures = (f: Fixtures): string[] => [f.module, f.moduleDebug, f.object, f.elf32];
export const fixtureName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
export { join };
