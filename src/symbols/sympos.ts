/** sympos, as the livepatch core counts it. */

import type { SymbolDb } from './database.js';
import type { SymbolDefinition } from './types.js';

/**
 * kernel/livepatch/core.c klp_find_object_symbol() over the same-named symbols of one object, in
 * kallsyms order: the N-th match, 0 = must be unique (1 is accepted for a unique name), with the
 * kernel's exact messages. vmlinux is a NULL object name, printed "(null)" in the ambiguity message.
 */
export function klpFindAmong<T>(matches: readonly T[], object: string, name: string, sympos: number): { ok: true; match: T } | { ok: false; message: string } {
  if (matches.length === 0) return { ok: false, message: `symbol '${name}' not found in symbol table` };
  if (sympos === 0 && matches.length > 1) return { ok: false, message: `unresolvable ambiguity for symbol '${name}' in object '${object === 'vmlinux' ? '(null)' : object}'` };
  if (sympos > matches.length) return { ok: false, message: `symbol position ${sympos} for symbol '${name}' in object '${object}' not found` };
  return { ok: true, match: matches[sympos === 0 ? 0 : sympos - 1]! };
}

/**
 * The definition of `name` in `object` that sympos `sympos` binds to, among the database's
 * definitions of that name (klpFindAmong's rule; other objects' are passed over), or undefined
 * when the kernel would refuse it.
 */
export function definitionAmong(defs: readonly SymbolDefinition[], object: string, name: string, sympos: number): SymbolDefinition | undefined {
  const r = klpFindAmong(defs.filter((d) => d.object === object), object, name, sympos);
  return r.ok ? r.match : undefined;
}

/** klpFindAmong() on the database; `view` picks the module table the kernel searches. */
export function findObjectSymbol(db: SymbolDb, object: string, name: string, sympos: number, view: 'coming' | 'core' = 'coming'):
  { ok: true; address: bigint | null } | { ok: false; message: string } {
  let defs = db.lookup(name).filter((d) => d.object === object);
  if (view === 'core') defs = defs.filter((d) => d.coreSympos !== null);
  const r = klpFindAmong(defs, object, name, sympos);
  return r.ok ? { ok: true, address: r.match.address } : r;
}
