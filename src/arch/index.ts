/** Architecture registry: look an architecture up by e_machine. */
import { aarch64 } from './aarch64.js';
import { i386 } from './i386.js';
import { loongarch64 } from './loongarch64.js';
import { ppc64 } from './ppc64.js';
import { riscv64 } from './riscv64.js';
import { s390x } from './s390x.js';
import type { Arch } from './types.js';
import { x86_64 } from './x86_64.js';

export type { Arch, RelocInfo, RelocKind } from './types.js';
export { x86_64, i386, aarch64, ppc64, s390x, riscv64, loongarch64 };

export const ARCHES: readonly Arch[] = [x86_64, aarch64, ppc64, s390x, riscv64, loongarch64, i386];

const byMachine = new Map(ARCHES.map((a) => [a.machine, a]));

export function archForMachine(machine: number): Arch | undefined {
  return byMachine.get(machine);
}

/** Relocation type name as readelf prints it, or a hex placeholder for unknown types. */
export function relocTypeName(machine: number, type: number): string {
  return byMachine.get(machine)?.relocs.get(type)?.name ?? `unrecognized: ${type.toString(16)}`;
}
