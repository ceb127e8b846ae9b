/**
 * What the symbol database knows about one symbol definition.
 */

/** One symbol as a kallsyms-like source lists it, in the source's own order. */
export interface RawSymbol {
  name: string;
  /** kallsyms/nm type letter: T t D d B b R r W w V v A a ... */
  type: string;
  /** Absolute address where known (vmlinux sources), else undefined. */
  address: bigint | undefined;
  /** The compilation unit (DWARF's path or the STT_FILE name) of a local symbol, where known. */
  file?: string | undefined;
  /** Its section and size, where an ELF source (the debug vmlinux) told them. */
  section?: string | undefined;
  size?: number | undefined;
  /** The fingerprint of a homonym's bytes (symbols/fingerprint.ts), where known. */
  hash?: number | undefined;
}

export type ExportType = 'EXPORT_SYMBOL' | 'EXPORT_SYMBOL_GPL';

export interface ExportInfo {
  name: string;
  object: string;
  type: ExportType;
  namespace: string;
}

/**
 * A module's symbols in its ELF .symtab order (SHN_UNDEF entries left out), column by column:
 * compact to pass between worker threads (one string and a few typed arrays a module).
 */
export interface ModuleSymbols {
  /** Module name as the kernel sees it (`-` turned into `_`). */
  name: string;
  path: string;
  count: number;
  /** Names joined by NUL (names never contain NUL). */
  names: string;
  /** One kallsyms type letter a symbol (kernel/module/kallsyms.c elf_type, lower case). */
  types: string;
  /** Per symbol: bits 0-1 binding (0 local, 1 global, 2 weak); bit 2 visible after init (is_core_symbol). */
  flags: Uint8Array;
  /** Per symbol: index into `sections`. */
  section: Uint16Array;
  sections: string[];
  /** Symbols the module exports (its __ksymtab*). */
  exports: ExportInfo[];
  /** Compilation units named by the module's STT_FILE symbols (Kbuild keeps them; strip may not). */
  files: string[];
  /** Per symbol: 1 + index into `files` of the unit a local symbol belongs to; 0 when unknown. */
  file: Uint16Array;
  /** Per symbol: st_value, its offset in its section (a relocatable object), clamped to 32 bits. */
  value: Uint32Array;
  /** Per symbol: st_size, clamped to 32 bits. */
  size: Uint32Array;
  /**
   * Per symbol: a fingerprint of its bytes with relocated fields zeroed (symbols/fingerprint.ts),
   * for names the module defines more than once (the ones a sympos chooses among); 0 otherwise.
   */
  hash: Uint32Array;
  /** The GNU build id (`.note.gnu.build-id`, hex) when the module has one: strip keeps it. */
  buildId?: string | undefined;
}

export const MODSYM_CORE = 4;

/** One definition, as `lookup()` returns it. */
export interface SymbolDefinition {
  name: string;
  /** 'vmlinux' or a module name. */
  object: string;
  /**
   * The sympos to use in `.klp.sym.<object>.<name>,<sympos>` and klp_func.old_sympos: 0 when the
   * name is unique in the object, else its 1-based position (kernel/livepatch/core.c
   * klp_find_object_symbol). For modules it is the position in the full symbol table that the
   * kernel searches while the module is COMING (late module patching, and the first load).
   */
  sympos: number;
  /** How many symbols of this name the object has (in the same view as `sympos`). */
  count: number;
  /**
   * Modules only: the position in the core-only table searched after the module's init has run
   * (a patch loaded later resolves against it). null when the symbol is not visible there
   * (e.g. __init code); equal to `sympos` in most cases.
   */
  coreSympos: number | null;
  coreCount: number | null;
  address: bigint | null;
  /** Modules: the offset in `section` (st_value of the .ko), where the address is not known yet. */
  offset: number | null;
  /** st_size, when the source gives it (modules), else null. */
  size: number | null;
  /** Position in the object's table (kallsyms order; a module's .symtab order, undefined skipped): neighbours are +-1. */
  index: number;
  /** A module homonym's fingerprint (its bytes, relocated fields zeroed), else null. */
  hash: number | null;
  type: string;
  binding: 'local' | 'global' | 'weak';
  /** Section name (modules; vmlinux when read from an ELF), or null. */
  section: string | null;
  /**
   * The compilation unit that defines it, when the source says (the STT_FILE symbol before a
   * local symbol in .symtab), else null.
   */
  file: string | null;
  exported: boolean;
  exportType: ExportType | null;
  namespace: string | null;
}
