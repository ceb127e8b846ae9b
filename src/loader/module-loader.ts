/**
 * The module loader's stages that place a module in memory and link it (kernel/module/main.c,
 * 6.1): layout_and_allocate (layout_sections, module_alloc, move_module's memcpy of every
 * allocated section), simplify_symbols and apply_relocations, plus the relocation writer that
 * the livepatch core shares with it (apply_relocate_add, arch/x86/kernel/module.c). main.ts runs
 * them in order, with the later stages and the livepatch core around them.
 */
import type { KernelVersion } from '../kernel-version.js';
import { archForMachine } from '../arch/index.js';
import type { Arch } from '../arch/types.js';
import { SHN, SHT, STB } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol, Relocation, Section } from '../elf/model.js';
import { isLivepatchModule, moduleName } from '../elf/module.js';
import { moduleExports } from '../symbols/module-symbols.js';
import { layout_sections, type LayoutPart, type ModuleLayout } from './layout.js';
import { RW_NX, type Memory, type Region, type Writer } from './memory.js';

export interface KernelEnv {
  kernel: KernelVersion;
  memory: Memory;
  /** An export of vmlinux or of a loaded module (resolve_symbol). */
  resolveExport(name: string): bigint | undefined;
  /** module_alloc(): where `module`'s layout `part` of `size` bytes goes. */
  allocModule(module: string, part: string, size: number): bigint;
  /** __alloc_reserved_percpu(). */
  allocPercpu(size: number, align: number): bigint;
}

export type ModuleState = 'UNFORMED' | 'COMING' | 'LIVE' | 'GOING';

/** The four parts of a layout, in address order, as complete_formation protects them. */
export const PARTS = ['text', 'rodata', 'ro_after_init', 'data'] as const;
export type Part = (typeof PARTS)[number];

/**
 * st_value after simplify_symbols, a symbol's: a typed table by the symbol's index in the module's
 * symbol table as read (a Map of BigInts held 830,000 entries for Debian's 4,023 modules, all
 * loaded at once, that every garbage collection walked), with a map for a symbol made in memory.
 * Iterated in the table's order, the order simplify_symbols() sets them in.
 */
export class SymbolValues {
  private readonly elf: ElfFile;
  /** The symbol table as read: a symbol's index in it is its slot. */
  private readonly table: readonly ElfSymbol[];
  private readonly values: BigUint64Array;
  private readonly known: Uint8Array;
  /** Symbols made in memory, and values outside 0..2^64-1 (kept exact, as set). */
  private readonly other = new Map<ElfSymbol, bigint>();

  constructor(elf: ElfFile) {
    this.elf = elf;
    const st = elf.symtab;
    if (st) elf.symbols(st);
    this.table = st?._origSymbols ?? [];
    this.values = new BigUint64Array(this.table.length);
    this.known = new Uint8Array(this.table.length);
  }

  /** The symbol's slot in the typed table, or -1. */
  private slot(y: ElfSymbol): number {
    const i = y.origIndex;
    return i >= 0 && this.table[i] === y ? i : -1;
  }

  set(y: ElfSymbol, v: bigint): void {
    const i = this.slot(y);
    if (i < 0 || v < 0n || v > 0xffffffffffffffffn) {
      if (i >= 0) this.known[i] = 0;
      this.other.set(y, v);
    } else {
      this.values[i] = v;
      this.known[i] = 1;
    }
  }

  get(y: ElfSymbol): bigint | undefined {
    const i = this.slot(y);
    if (i >= 0 && this.known[i]) return this.values[i]!;
    return this.other.get(y);
  }

  has(y: ElfSymbol): boolean {
    return this.get(y) !== undefined;
  }

  *[Symbol.iterator](): IterableIterator<[ElfSymbol, bigint]> {
    for (const y of this.elf.allSymbols) {
      const v = this.get(y);
      if (v !== undefined) yield [y, v];
    }
  }
}

export interface LoadedModule {
  name: string;
  elf: ElfFile;
  layout: ModuleLayout;
  livepatch: boolean;
  state: ModuleState;
  /** Memory by layout and part: `core.text`, `init.data`, `klp.<obj>.text`, ... */
  regions: Map<string, Region>;
  /** Final address of every allocated section. */
  sectionAddr: Map<Section, bigint>;
  /** st_value after simplify_symbols. */
  symbolValue: SymbolValues;
  exports: Map<string, bigint>;
}

/**
 * A failed stage: the errno insmod reports and the kernel's messages (its exact words), and for a
 * relocation the place the kernel does not print: module, relocation section, index in it.
 */
export interface StageError {
  errno: string;
  kind: string;
  messages: string[];
  at?: { module: string; section: string; index: number };
}

export const isStageError = (x: unknown): x is StageError => typeof x === 'object' && x !== null && 'errno' in x;

function partRegions(env: KernelEnv, module: string, key: string, p: LayoutPart): Array<[string, Region]> {
  const base = env.allocModule(module, key, p.size);
  const bounds = [0, p.textSize, p.roSize, p.roAfterInitSize, p.size];
  // One allocation a layout, as module_alloc() makes one; each part a view of its share.
  const memory = new Uint8Array(p.size);
  return PARTS.map((part, i) => [`${key}.${part}`, { name: `${module}:${key}.${part}`, base: base + BigInt(bounds[i]!), bytes: memory.subarray(bounds[i]!, bounds[i + 1]!), perms: { ...RW_NX } }]);
}

/**
 * The emulator holds a module's memory in real buffers, so it refuses layouts past this size
 * (the kernel's own limit is the modules area, MODULES_LEN, 1520 MiB on x86_64: module_alloc()
 * fails with -ENOMEM). Debian 6.1's largest module lays out in well under 16 MiB.
 */
export const MAX_LAYOUT = 256 * 1024 * 1024;

/** layout_and_allocate + move_module: memory for every layout, each section's bytes copied in. */
export function move_module(elf: ElfFile, env: KernelEnv, perObject: boolean): LoadedModule | StageError {
  const name = moduleName(elf) ?? '?';
  const layout = layout_sections(elf, perObject);
  const total = layout.core.size + layout.init.size + [...layout.klp.values()].reduce((a, p) => a + p.size, 0);
  if (!Number.isSafeInteger(total) || total > MAX_LAYOUT) {
    return { errno: 'ENOMEM', kind: 'alloc', messages: [`${name}: module_alloc: a layout of ${total} bytes is more than the emulator holds (${MAX_LAYOUT} bytes); check the sections' sizes`] };
  }
  const regions = new Map<string, Region>([
    ...partRegions(env, name, 'core', layout.core),
    ...partRegions(env, name, 'init', layout.init),
    ...[...layout.klp].flatMap(([obj, p]) => partRegions(env, name, `klp.${obj}`, p)),
  ]);
  for (const r of regions.values()) env.memory.map(r);
  const sectionAddr = new Map<Section, bigint>();
  const layoutBase = (key: string): bigint => regions.get(`${key}.text`)!.base;
  for (const [s, p] of layout.placement) {
    const addr = layoutBase(p.layout) + BigInt(p.offset);
    sectionAddr.set(s, addr);
    if (!s.isNobits && s.data.length > 0) {
      const f = env.memory.find(addr, s.data.length)!;
      f.region.bytes.set(s.data, f.off); // move_module(): memcpy into fresh RW memory, not audited
    }
  }
  return { name, elf, layout, livepatch: isLivepatchModule(elf), state: 'UNFORMED', regions, sectionAddr, symbolValue: new SymbolValues(elf), exports: new Map() };
}

export function freeModule(mod: LoadedModule, memory: Memory): void {
  for (const r of mod.regions.values()) memory.unmap(r);
}

/** simplify_symbols: every unknown symbol is reported before the load fails. */
export function simplify_symbols(mod: LoadedModule, env: KernelEnv): StageError | undefined {
  const { elf, layout, name } = mod;
  let percpuBase = 0n;
  if (layout.percpu && layout.percpu.size > 0) percpuBase = env.allocPercpu(layout.percpu.size, Number(layout.percpu.addralign || 1n));
  const unknown: string[] = [];
  const syms = elf.allSymbols;
  for (let i = 1; i < syms.length; i++) {
    const y = syms[i]!;
    if (y.section) {
      const base = y.section === layout.percpu ? percpuBase : mod.sectionAddr.get(y.section) ?? 0n;
      mod.symbolValue.set(y, y.value + base);
      continue;
    }
    switch (y.shndx) {
      case SHN.COMMON:
        if (!y.name.startsWith('__gnu_lto')) return { errno: 'ENOEXEC', kind: 'common', messages: [`${name}: please compile with -fno-common`] };
        break;
      case SHN.ABS:
        mod.symbolValue.set(y, y.value);
        break;
      case SHN.LIVEPATCH:
        break; // "Livepatch symbols are resolved by livepatch"
      case SHN.UNDEF: {
        if (y.name === '') break;
        const addr = env.resolveExport(y.name);
        if (addr !== undefined) mod.symbolValue.set(y, addr);
        else if (y.bind !== STB.WEAK) unknown.push(`${name}: Unknown symbol ${y.name} (err -2)`);
        else mod.symbolValue.set(y, 0n);
        break;
      }
      default:
        mod.symbolValue.set(y, y.value);
    }
  }
  if (unknown.length > 0) return { errno: 'ENOENT', kind: 'unknown-symbol', messages: unknown };
  return undefined;
}

export function archOf(elf: ElfFile): Arch | StageError {
  const arch = archForMachine(elf.machine);
  if (!arch?.applyRela) return { errno: 'ENOEXEC', kind: 'arch', messages: [`${moduleName(elf) ?? '?'}: the emulator has no module loader for ${arch?.name ?? `machine ${elf.machine}`}`] };
  return arch;
}

/**
 * The bytes apply_relocate_add() would write for S + A = `val` at `loc` into a zeroed place:
 * what a relocated location must hold (6.3's clearing check, scenario expectations). Undefined
 * when the relocation would be refused or writes nothing.
 */
export function relocatedBytes(arch: Arch, type: number, val: bigint, loc: bigint, kernel: KernelVersion): Uint8Array | undefined {
  const o = arch.applyRela!({ type, val, loc, module: '', read: (n) => new Uint8Array(n) }, kernel);
  return o.ok && 'bytes' in o ? o.bytes : undefined;
}

/** How a write is labelled in the audit: `module:section+0xoff (TYPE symbol)`. */
export function describeReloc(mod: LoadedModule, rs: Section, r: Relocation, arch: Arch): string {
  return `${mod.name}:${rs.infoSection!.name}+0x${r.offset.toString(16)} (${arch.relocs.get(r.type)?.name ?? r.type} ${r.symbol.name || '(section)'})`;
}

/**
 * apply_relocate_add() for one relocation section of `mod`, with S taken from `value` (undefined
 * stops with the error it returned). Returns how many relocations were written, or the error.
 */
export function apply_relocate_add(
  mod: LoadedModule, rs: Section, arch: Arch, env: KernelEnv, stage: string, by: Writer,
  value: (symbol: ElfSymbol) => bigint | StageError,
): number | StageError {
  const target = rs.infoSection!;
  const base = mod.sectionAddr.get(target);
  if (base === undefined) return 0;
  // Fast path: every relocation of a section lands in the one region that holds the section, so
  // write straight into its bytes; the audit needs no record when nothing is kept but violations
  // and the region is writable and not executable.
  const home = env.memory.find(base, Math.max(1, target.size));
  const fast = arch.applyRelaInPlace && home && !env.memory.record && home.region.perms.w && !home.region.perms.x ? home : undefined;
  let n = 0;
  let from = 0;
  if (fast) {
    const bulk = applyInPlace(mod, rs, arch, fast.region.bytes, fast.off, base, value);
    if (bulk.next === undefined) return bulk.n;
    ({ n, next: from } = bulk);
  }
  const relocs = mod.elf.relocations(rs);
  for (let index = from; index < relocs.length; index++) {
    const r = relocs[index]!;
    const S = value(r.symbol);
    if (typeof S !== 'bigint') return { ...S, at: { module: mod.name, section: rs.name, index } };
    const loc = base + r.offset;
    const out = arch.applyRela!({ type: r.type, val: S + r.addend, loc, module: mod.name, read: (size) => env.memory.read(loc, size) }, env.kernel);
    if (!out.ok) {
      const messages = out.messages.map((m) => (m.startsWith('x86/modules:') || m.startsWith('overflow') || m.startsWith('`') ? `module: ${m}` : m));
      return { errno: out.errno, kind: out.kind, messages, at: { module: mod.name, section: rs.name, index } };
    }
    if ('bytes' in out) {
      env.memory.write(loc, out.bytes, stage, by, env.memory.record ? describeReloc(mod, rs, r, arch) : '');
      n++;
    }
  }
  return n;
}

/** The signed reading of a 64-bit value as a number, when a double holds it exactly. */
function exact(x: bigint): number | undefined {
  const s = BigInt.asIntN(64, x);
  return s >= -0x1fffffffffffffn && s <= 0x1fffffffffffffn ? Number(s) : undefined;
}

/** What applyInPlace() knows of a symbol's S: not asked yet, an exact number, or none (the general path's). */
const UNKNOWN = 0, NUMBER = 1, NOT_A_NUMBER = 2;
interface NumericValues { syms: readonly ElfSymbol[]; S: Float64Array; state: Uint8Array }
/**
 * S as numbers by symbol index, for each shared `value` function (sharedValue()) over one symbol
 * table: one table for every relocation section of a module (a map of symbols a section was a
 * look-up a relocation, 5.7 million for Debian's modules). A function is shared once it has an
 * entry here; its table is made at the first section that uses it.
 */
const numericValues = new WeakMap<object, NumericValues | undefined>();
/** Mark `value` as given for every relocation section of a module (apply_relocations). */
export function sharedValue<F extends (symbol: ElfSymbol) => bigint | StageError>(value: F): F {
  numericValues.set(value, undefined);
  return value;
}
const numberOf = (v: bigint | StageError): number | null => (typeof v === 'bigint' ? exact(v) ?? null : null);
/** The table of a shared `value` over `syms`, or undefined for a function not shared. */
function valuesAsNumbers(value: object, syms: readonly ElfSymbol[]): NumericValues | undefined {
  if (!numericValues.has(value)) return undefined;
  let c = numericValues.get(value);
  if (!c || c.syms !== syms) {
    c = { syms, S: new Float64Array(syms.length), state: new Uint8Array(syms.length) };
    numericValues.set(value, c);
  }
  return c;
}

/**
 * The bulk of the scale run: the entries of an unedited ELF64 little-endian RELA section read
 * where they are (no Relocation object, no BigInt per entry), S cached per symbol, S + A and P as
 * exact numbers, each written by arch.applyRelaInPlace. At the first entry it cannot write (a
 * value past 2^53, a refusal to report in the kernel's words) it stops: `next` is that entry's
 * index, for the general path to go on from; undefined when every entry is done.
 */
function applyInPlace(
  mod: LoadedModule, rs: Section, arch: Arch, bytes: Uint8Array, regionOff: number, base: bigint,
  value: (symbol: ElfSymbol) => bigint | StageError,
): { n: number; next: number | undefined } {
  const elf = mod.elf;
  const symtab = rs.linkSection;
  const none = { n: 0, next: 0 };
  if (rs._relocs !== undefined || elf.elfClass !== 64 || !elf.littleEndian || rs.type !== SHT.RELA || rs.entsize !== 24n || !symtab?.isSymbolTable) return none;
  const baseNum = exact(base);
  if (baseNum === undefined) return none;
  elf.symbols(symtab);
  const syms = symtab._origSymbols!;
  const d = rs.data;
  if (d.length % 24 !== 0) return none;
  const rd = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // S by symbol index: a module's table when the caller shares `value` across its sections,
  // else a map for this section (a livepatch's 20,000 sections must not each make a table of
  // its 40,000 symbols).
  const table = valuesAsNumbers(value, syms);
  const sNum = table ? undefined : new Map<number, number | null>();
  let n = 0;
  for (let o = 0; o < d.length; o += 24) {
    const offLo = rd.getUint32(o, true), offHi = rd.getUint32(o + 4, true);
    const type = rd.getUint32(o + 8, true), symIdx = rd.getUint32(o + 12, true);
    const aLo = rd.getUint32(o + 16, true), aHi = rd.getInt32(o + 20, true);
    let S: number | null = null; // stays null for an index past the table: the general path refuses it
    if (symIdx < syms.length && table) {
      const state = table.state[symIdx];
      if (state === NUMBER) S = table.S[symIdx]!;
      else if (state === UNKNOWN) {
        const x = numberOf(value(syms[symIdx]!));
        table.state[symIdx] = x === null ? NOT_A_NUMBER : NUMBER;
        if (x !== null) S = table.S[symIdx] = x;
      }
    } else if (symIdx < syms.length) {
      const known = sNum!.get(symIdx);
      if (known !== undefined) S = known;
      else sNum!.set(symIdx, (S = numberOf(value(syms[symIdx]!))));
    }
    const A = aHi * 0x100000000 + aLo;
    // Each sum exact too (two values under 2^53 can add up past it): else the general path.
    if (S === null || S === undefined || offHi !== 0 || aHi > 0x1fffff || aHi < -0x200000 ||
        !Number.isSafeInteger(S + A) || !Number.isSafeInteger(baseNum + offLo) ||
        !arch.applyRelaInPlace!(bytes, dv, regionOff + offLo, type, S + A, baseNum + offLo)) {
      // Not for the bulk path: this one and the rest the general way, which reports it as the kernel would.
      return { n, next: o / 24 };
    }
    if (type !== 0) n++;
  }
  return { n, next: undefined };
}
/** Exports (find_symbol looks them up in the module's __ksymtab once it is formed). */
export function collectExports(mod: LoadedModule): void {
  const globals = new Map<string, ElfSymbol>();
  for (const y of mod.elf.allSymbols) if (y.section && y.bind !== STB.LOCAL) globals.set(y.name, y);
  for (const e of moduleExports(mod.elf, mod.name)) {
    const y = globals.get(e.name);
    if (y) mod.exports.set(e.name, mod.symbolValue.get(y) ?? 0n);
  }
}
