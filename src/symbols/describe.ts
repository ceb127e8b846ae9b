/**
 * One definition said so that a reader can tell it from its homonyms: its sympos, where it sits
 * (a vmlinux address, or a module section and offset), its size, its compilation unit when known,
 * and its neighbours in the object's table and by address. Used wherever homonyms are listed
 * (convert's ambiguity error, `klp symbols find`, `klp check`).
 */
import type { SymbolDb } from './database.js';
import type { SymbolDefinition } from './types.js';

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** ` at 0x... in .text size 0x30` or ` in .text+0x40 size 0x30`: where it sits (what the database has). */
export function definitionWhere(d: SymbolDefinition): string {
  const where = d.address !== null ? ` at ${hex(d.address)}${d.section ? ` in ${d.section}` : ''}`
    : d.section ? ` in ${d.section}${d.offset !== null ? `+${hex(d.offset)}` : ''}` : '';
  return `${where}${d.size ? ` size ${hex(d.size)}` : ''}`;
}

/** `vmlinux sympos 2 at 0x... size 0x30 from fs/a.c`. */
export function definitionPlace(d: SymbolDefinition): string {
  return `${d.object} sympos ${d.count > 1 ? d.sympos : '0 (or 1)'}${definitionWhere(d)}${d.file ? ` from ${d.file}` : ''}${d.exported ? ` [${d.exportType}]` : ''}`;
}

/** `after a, before b; by address after c, before d` (what the database knows). */
export function definitionNeighbours(db: SymbolDb, d: SymbolDefinition): string {
  const n = db.neighbours(d);
  const pair = ([a, b]: [string | null, string | null]): string => [a ? `after ${a}` : '', b ? `before ${b}` : ''].filter(Boolean).join(', ');
  const table = pair(n.table);
  const byAddress = pair(n.byAddress);
  const by = d.address !== null ? 'address' : 'offset';
  // vmlinux's table is kallsyms, in address order: the two usually agree.
  const where = d.object === 'vmlinux' ? 'kallsyms' : '.symtab';
  if (table && table === byAddress) return `${table} in ${where} and by ${by}`;
  return [table ? `${table} in ${where}` : '', byAddress ? `${byAddress} by ${by}` : ''].filter(Boolean).join('; ');
}
