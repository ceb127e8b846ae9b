/**
 * upstream klp-convert's symbol map, `symbols.klp` (the v7 series, scripts/Makefile.modfinal
 * filechk_klp_map): a header line `klp-convert-symbol-data.0.1`, then for each object a line
 * `*<object>` followed by that object's symbol names, one a line. Exported symbols show up as
 * their `__ksymtab_<name>` companion, which is how upstream tells exports apart.
 *
 * We write each object's names in kallsyms order, so that the N-th occurrence of a name in an
 * object's list is its sympos N. (Upstream generates the file from `nm -f posix`, sorted by name,
 * and its sympos check counts list positions: see docs/symbols.md.)
 */
import type { SymbolDb } from './database.js';
import { MODULE_NAME_LEN } from '../elf/module.js';
import { lineError } from './errors.js';
import type { ExportInfo, RawSymbol } from './types.js';

export const SYMBOLS_KLP_HEADER = 'klp-convert-symbol-data.0.1';

export function exportSymbolsKlp(db: SymbolDb): string {
  const lines = [SYMBOLS_KLP_HEADER];
  for (const o of db.objects) {
    lines.push(`*${o.name}`);
    // A name is one line: an empty name (a module's section symbols) would be a blank line.
    const order = kallsymsOrder(db.objectSymbols(o.name).filter((s) => s.name !== ''));
    for (const s of order) lines.push(s.name);
    // Upstream recognises exports by their __ksymtab_ companion; add it where the source lacked it.
    const present = new Set(order.map((s) => s.name));
    for (const s of order) if (s.exported && !present.has(`__ksymtab_${s.name}`)) lines.push(`__ksymtab_${s.name}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The database keeps positions, not the whole original order: list every first occurrence, then
 * every second, ... which keeps "the N-th occurrence of a name is sympos N" true.
 */
function kallsymsOrder<T extends { name: string; pos: number }>(syms: T[]): T[] {
  return [...syms].sort((a, b) => a.pos - b.pos || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface SymbolsKlp {
  objects: Map<string, RawSymbol[]>;
  exports: ExportInfo[];
}

export function parseSymbolsKlp(text: string, file: string): SymbolsKlp {
  const lines = text.split('\n');
  if (!lines[0]?.replace(/\r$/, '').startsWith(SYMBOLS_KLP_HEADER)) {
    throw lineError(file, 1, 'Symbol list is in unknown format.', `expected the header line '${SYMBOLS_KLP_HEADER}'`);
  }
  const objects = new Map<string, RawSymbol[]>();
  const exports: ExportInfo[] = [];
  let current: RawSymbol[] | undefined;
  let object = '';
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') continue;
    if (line.startsWith('*')) {
      object = line.slice(1);
      if (!/^[A-Za-z0-9_-]+$/.test(object) || object.length > MODULE_NAME_LEN - 1) throw lineError(file, i + 1, `bad object name '${object}'`, `object names are module names (at most ${MODULE_NAME_LEN - 1} characters) or vmlinux`);
      if (objects.has(object)) throw lineError(file, i + 1, `object '${object}' appears twice`);
      objects.set(object, (current = []));
      continue;
    }
    if (!current) throw lineError(file, i + 1, 'symbol before the first *<object> line');
    if (/\s/.test(line)) throw lineError(file, i + 1, 'symbol names cannot contain whitespace');
    if (line.startsWith('__ksymtab_')) exports.push({ name: line.slice('__ksymtab_'.length), object, type: 'EXPORT_SYMBOL', namespace: '' });
    current.push({ name: line, type: '?', address: undefined });
  }
  return { objects, exports };
}
