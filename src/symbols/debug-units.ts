/**
 * Compilation units for stripped modules, from their unstripped copies. Debian's packaged modules
 * have no STT_FILE symbols, so the database cannot say which `.c` file a local symbol comes from;
 * the debug package (`linux-image-<abi>-dbg`, unpacked with `dpkg-deb -x`) ships the same modules
 * unstripped, with the same symbols in the same `.symtab` order plus the STT_FILE entries (and
 * whatever else strip took). Each stripped symbol is matched to the next debug symbol of the same
 * name, value and section, in order, and takes its unit.
 */
import type { ModuleSymbols } from './types.js';

/** Give `m` the units of `debug` (the same module unstripped); returns how many symbols got one. */
export function unitsFromDebugCopy(m: ModuleSymbols, debug: ModuleSymbols): number {
  const names = m.count === 0 ? [] : m.names.split('\0');
  const dnames = debug.count === 0 ? [] : debug.names.split('\0');
  const file = new Uint16Array(m.count);
  let j = 0;
  let found = 0;
  for (let i = 0; i < m.count; i++) {
    const section = m.sections[m.section[i]!];
    let k = j;
    while (k < debug.count && !(dnames[k] === names[i] && debug.value[k] === m.value[i] && debug.sections[debug.section[k]!] === section)) k++;
    if (k === debug.count) continue; // not in the debug copy: no unit, and the walk stays where it was
    file[i] = debug.file[k]!;
    if (file[i]) found++;
    j = k + 1;
  }
  m.files = debug.files;
  m.file = file;
  return found;
}
