/**
 * Livepatch ELF names, formatted and parsed with the kernel's own limits (kernel/livepatch/core.c):
 *
 *   section  .klp.rela.<obj>.<section>   parsed as ".klp.rela.%55[^.]"          (klp_write_section_relocs)
 *   symbol   .klp.sym.<obj>.<name>,<pos> parsed as ".klp.sym.%55[^.].%511[^,],%lu" (klp_resolve_symbols)
 *
 * The object name stops at the first '.', is at most MODULE_NAME_LEN - 1 = 55 characters; the
 * symbol name may hold dots but no comma and is at most KSYM_NAME_LEN - 1 characters: 511 from
 * 6.1 (commit b8a94bfb3395), 127 before.
 */
import { atLeast, parseKernelVersion, type KernelVersion } from '../kernel-version.js';
import { MODULE_NAME_LEN } from '../elf/module.js';

export const KLP_RELA_PREFIX = '.klp.rela.';
export const KLP_SYM_PREFIX = '.klp.sym.';
/** The minimal klp-convert series' annotation: `.klp.sym.rela.<lp_obj>.<sym_obj>.<sym>,<pos>`. */
export const KLP_SYM_RELA_PREFIX = '.klp.sym.rela.';
/** The longest module (object) name: MODULE_NAME_LEN less its NUL. */
export const MODULE_NAME_MAX = MODULE_NAME_LEN - 1;

export { atLeast, parseKernelVersion, type KernelVersion };

/** KSYM_NAME_LEN - 1 for the target kernel. */
export const maxSymbolLength = (k: KernelVersion): number => (atLeast(k, 6, 1) ? 511 : 127);

export type NameProblem = string | undefined;

export function checkObjectName(obj: string): NameProblem {
  if (obj.length === 0) return 'the object name is empty';
  if (obj.length > MODULE_NAME_MAX) return `object name '${obj}' is longer than ${MODULE_NAME_MAX} characters (MODULE_NAME_LEN)`;
  if (obj.includes('.')) return `object name '${obj}' contains '.', which ends the object in .klp.rela./.klp.sym. names`;
  if (obj.includes(',')) return `object name '${obj}' contains ','`;
  return undefined;
}

export function checkSymbolName(name: string, k: KernelVersion): NameProblem {
  if (name.length === 0) return 'the symbol name is empty';
  if (name.includes(',')) return `symbol name '${name}' contains ',', which the kernel's sscanf stops at`;
  const max = maxSymbolLength(k);
  if (name.length > max) return `symbol name '${name.slice(0, 40)}...' is ${name.length} characters; ${k.major}.${k.minor} reads at most ${max} (KSYM_NAME_LEN)`;
  return undefined;
}

export const klpSymName = (obj: string, name: string, pos: number): string => flat(`${KLP_SYM_PREFIX}${obj}.${name},${pos}`);
export const klpRelaName = (obj: string, section: string): string => flat(`${KLP_RELA_PREFIX}${obj}.${section}`);

/**
 * `s` as one flat string. V8 keeps a string built by + or a template literal as a tree of its
 * pieces (a cons string, 32 bytes a piece) until something reads a character of it; a converted
 * patch of 20,000 functions keeps 40,000 such names (its symbols and sections) until the module
 * is written, some 5 MB of trees that every collection walks. Reading one character flattens it.
 */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

/** Parse `.klp.sym.<obj>.<name>,<pos>` as the kernel does; undefined if it would not parse. */
export function parseKlpSym(s: string, k: KernelVersion = { major: 6, minor: 1 }): { obj: string; name: string; pos: number } | undefined {
  if (!s.startsWith(KLP_SYM_PREFIX)) return undefined;
  const rest = s.slice(KLP_SYM_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot <= 0 || dot > MODULE_NAME_MAX) return undefined;
  const obj = rest.slice(0, dot);
  const tail = rest.slice(dot + 1);
  const comma = tail.indexOf(',');
  if (comma <= 0 || comma > maxSymbolLength(k)) return undefined;
  const pos = tail.slice(comma + 1);
  if (!/^\d+$/.test(pos)) return undefined;
  return { obj, name: tail.slice(0, comma), pos: Number(pos) };
}

/** Object of a `.klp.rela.<obj>...` section name as the kernel reads it (%55[^.]). */
export function parseKlpRelaObject(s: string): string | undefined {
  if (!s.startsWith(KLP_RELA_PREFIX)) return undefined;
  const m = /^[^.]{1,55}/.exec(s.slice(KLP_RELA_PREFIX.length));
  return m?.[0];
}

/** `.klp.sym.rela.<lp_obj>.<sym_obj>.<sym>,<pos>` (Lukas Hruska's minimal klp-convert series). */
export function parseKlpSymRela(s: string): { lpObj: string; obj: string; name: string; pos: number } | undefined {
  if (!s.startsWith(KLP_SYM_RELA_PREFIX)) return undefined;
  const m = /^([^.]{1,55})\.([^.]{1,55})\.([^,]+),(\d+)$/.exec(s.slice(KLP_SYM_RELA_PREFIX.length));
  if (!m) return undefined;
  return { lpObj: m[1]!, obj: m[2]!, name: m[3]!, pos: Number(m[4]) };
}
