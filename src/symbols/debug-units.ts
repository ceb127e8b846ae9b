/**
 * Compilation units for stripped modules, from their unstripped copies. Debian's packaged modules
 * have no STT_FILE symbols, so the database cannot say which `.c` file a local symbol comes from;
 * the debug package (`linux-image-<abi>-dbg`, unpacked with `dpkg-deb -x`) ships the same modules
 * unstripped, with the same symbols in the same `.symtab` order plus the STT_FILE entries (and
 * whatever else strip took). Each stripped symbol is matched to the next debug symbol of the same
 * name, value and section, in order, and takes its unit.
 */
import { STT } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { ModuleSymbols, RawSymbol } from './types.js';

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

/**
 * Give vmlinux's local symbols (from a kallsyms table or dump, in its order) their units from the
 * debug vmlinux (`usr/lib/debug/boot/vmlinux-<abi>` of the same package): a local symbol's unit
 * is the last STT_FILE before it in `.symtab` (the linker keeps each object's locals after its
 * FILE symbol), matched by name and address (kallsyms addresses are link-time ones when read
 * from the image or a nokaslr dump). A name and address that two units define stay without one.
 * Returns how many symbols got a unit.
 */
export function vmlinuxUnitsFromDebug(symbols: RawSymbol[], debug: ElfFile): number {
  const unitOf = new Map<string, string | null>();
  let unit: string | null = null;
  for (const y of debug.allSymbols) {
    if (y.type === STT.FILE) {
      unit = y.name || null;
      continue;
    }
    if (y.bind !== 0 || y.name === '' || y.type === STT.SECTION || !unit) continue;
    const key = `${y.name}@${y.value.toString(16)}`;
    unitOf.set(key, unitOf.has(key) && unitOf.get(key) !== unit ? null : unit);
  }
  let found = 0;
  for (const s of symbols) {
    // Not by the type letter: kallsyms prints a per-CPU local as 'A' (absolute), upper case.
    if (s.address === undefined) continue;
    const u = unitOf.get(`${s.name}@${s.address.toString(16)}`);
    if (u) {
      s.file = u;
      found++;
    }
  }
  return found;
}
