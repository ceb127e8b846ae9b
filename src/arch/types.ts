/**
 * One interface for every architecture: identity (e_machine, class, byte order) and relocation
 * types as data. Semantics that the loader emulator needs (how a type is computed and how wide it
 * is) are filled in per architecture as it becomes supported; names are complete for printing.
 */
import type { KernelVersion } from '../kernel-version.js';

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

/** One relocation to apply, in psABI letters: S + A is `val`, P is `loc`. */
export interface RelaInput {
  type: number;
  /** S + A (st_value of the resolved symbol plus r_addend), as an unsigned 64-bit value. */
  val: bigint;
  /** P: the address being relocated. */
  loc: bigint;
  /** The module's name, for the kernel's messages. */
  module: string;
  /** Reads the current bytes at `loc` (for the zero check). */
  read: (size: number) => Uint8Array | undefined;
}

export type RelaOutcome =
  | { ok: true; size: number; bytes: Uint8Array }
  | { ok: true; size: 0 }
  | { ok: false; errno: 'ENOEXEC'; messages: string[]; kind: 'unknown-type' | 'overflow' | 'nonzero' | 'outside' };

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
  /**
   * The module loader's apply_relocate_add() for one relocation, for the kernel version given
   * (messages differ between versions); absent for architectures the emulator does not model.
   */
  readonly applyRela?: (r: RelaInput, kernel: KernelVersion) => RelaOutcome;
  /**
   * The same computation written straight into `bytes` at `off` (the place `loc`), for bulk
   * loading: returns false, having written nothing, whenever the relocation would fail, so the
   * caller can run applyRela for the kernel's message. Must agree with applyRela on success.
   * `val` (S + A) and `loc` are numbers: the signed reading of their 64 bits, exact in a double
   * (the caller takes applyRela for any that is not).
   */
  readonly applyRelaInPlace?: (bytes: Uint8Array, dv: DataView, off: number, type: number, val: number, loc: number) => boolean;
  /**
   * Entry sizes of the special sections whose entries klpkit reads or cuts (the kernel's structs
   * for this architecture), where known: the one place they are written down. (x86's struct
   * alt_instr changed shape in 6.3 and is read off each table: src/arch/x86-alt-instr.ts.)
   */
  readonly specialEntrySizes?: Readonly<Partial<Record<SpecialSectionName, number>>>;
}

export type SpecialSectionName = '__jump_table' | '.static_call_sites';

/** Build a relocation table from `[number, name]` pairs (the prefix is added). */
export function relocTable(prefix: string, entries: ReadonlyArray<readonly [number, string, Omit<RelocInfo, 'name'>?]>): ReadonlyMap<number, RelocInfo> {
  return new Map(entries.map(([n, name, extra]) => [n, { name: prefix + name, ...extra }]));
}
