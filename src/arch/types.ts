/**
 * One interface for every architecture: identity (e_machine, class, byte order) and relocation
 * types as data. Semantics that the loader emulator needs (how a type is computed and how wide it
 * is) are filled in per architecture as it becomes supported; names are complete for printing.
 */

/** How a relocation value is computed, in psABI letters: S symbol, A addend, P place. */
export type RelocKind =
  | 'none'
  | 'abs' //   S + A
  | 'pcrel' // S + A - P
  | 'other'; // GOT/PLT/TLS and instruction-field types: named, not applied by klpkit yet

export interface RelocInfo {
  readonly name: string;
  readonly kind?: RelocKind;
  /** Bytes written at the place. */
  readonly size?: number;
  /** Overflow rule the kernel applies after computing the value, when any. */
  readonly check?: 'u32' | 's32';
}

export interface Arch {
  /** klpkit's name for the architecture (as in `uname -m`). */
  readonly name: string;
  readonly machine: number;
  readonly elfClass: 32 | 64;
  /** The byte orders the kernel supports for it. */
  readonly endian: 'little' | 'big' | 'both';
  /** Does the kernel's module loader use RELA (true) or REL (false) for this arch. */
  readonly rela: boolean;
  /** Relocation types by number. */
  readonly relocs: ReadonlyMap<number, RelocInfo>;
}

/** Build a relocation table from `[number, name]` pairs (the prefix is added). */
export function relocTable(prefix: string, entries: ReadonlyArray<readonly [number, string, Omit<RelocInfo, 'name'>?]>): ReadonlyMap<number, RelocInfo> {
  return new Map(entries.map(([n, name, extra]) => [n, { name: prefix + name, ...extra }]));
}
