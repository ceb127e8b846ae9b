/**
 * Compilation units for stripped modules, from their unstripped copies. Debian's packaged modules
 * have no STT_FILE symbols, so the database cannot say which `.c` file a local symbol comes from;
 * the debug package (`linux-image-<abi>-dbg`, unpacked with `dpkg-deb -x`) ships the same modules
 * unstripped, with the same symbols in the same `.symtab` order plus the STT_FILE entries (and
 * whatever else strip took). Each stripped symbol is matched to the next debug symbol of the same
 * name, value and section, in order, and takes its unit.
 */
import { STB, STT } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import { dwarfUnitsOf, preferDwarf } from './dwarf-units.js';
import { fingerprints } from './fingerprint.js';
import type { ModuleSymbols, RawSymbol } from './types.js';
import { fileRuns } from './units.js';

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
 * Give vmlinux's symbols (from a kallsyms table or dump, in its order) what the debug vmlinux
 * (`usr/lib/debug/boot/vmlinux-<abi>` of the same package) knows of them, matched by name and
 * address (kallsyms addresses are link-time ones when read from the image or a nokaslr dump):
 *  - a local symbol's unit: DWARF's path for the function or variable at its address
 *    (dwarfUnitsOf), else the last STT_FILE before it in `.symtab` (the linker keeps each
 *    object's locals after its FILE symbol); a name and address two units define stay without;
 *  - its section and size, which a kallsyms table does not have;
 *  - for the names vmlinux defines more than once, the fingerprint of their bytes with the
 *    fields the linker relocated zeroed: Debian links vmlinux with --emit-relocs (x86's
 *    CONFIG_RELOCATABLE needs them for vmlinux.relocs), so the debug vmlinux keeps every
 *    relocation, and a build whose code is the same gives the same fingerprint.
 * Returns how many symbols got a unit.
 */
export function vmlinuxUnitsFromDebug(symbols: RawSymbol[], debug: ElfFile): number {
  const all = debug.allSymbols;
  const runOf = fileRuns(all);
  const bySite = new Map<string, number>();
  for (let i = 1; i < all.length; i++) {
    const y = all[i]!;
    if (y.type === STT.FILE || y.name === '' || y.type === STT.SECTION || y.isUndefined) continue;
    const key = `${y.name}@${y.value.toString(16)}`;
    const had = bySite.get(key);
    // Two definitions at one site (a local in two units, or a local and a global): -1, no unit.
    bySite.set(key, had === undefined ? i : -1);
  }
  const count = new Map<string, number>();
  for (const s of symbols) count.set(s.name, (count.get(s.name) ?? 0) + 1);
  const matched = symbols.map((s) => (s.address === undefined ? undefined : bySite.get(`${s.name}@${s.address.toString(16)}`)));
  const wanted = [...new Set(matched.filter((i): i is number => i !== undefined && i > 0))];
  const dwarf = dwarfUnitsOf(debug, wanted.map((i) => all[i]!)) ?? [];
  const dwarfOf = new Map(wanted.map((i, k) => [i, dwarf[k] ?? null]));
  const homonyms = wanted.filter((i) => (count.get(all[i]!.name) ?? 0) > 1);
  const hashOf = new Map(fingerprints(debug, homonyms.map((i) => all[i]!)).map((h, k) => [homonyms[k]!, h]));
  let found = 0;
  symbols.forEach((s, k) => {
    // Not by the type letter: kallsyms prints a per-CPU local as 'A' (absolute), upper case.
    const i = matched[k];
    if (i === undefined || i < 0) return;
    const y = all[i]!;
    s.section = y.section?.name;
    s.size = y.size > 0xffffffffn ? undefined : Number(y.size);
    const h = hashOf.get(i);
    if (h) s.hash = h;
    if (y.bind !== STB.LOCAL) return;
    const u = preferDwarf(dwarfOf.get(i) ?? null, runOf[i]! < 0 ? null : all[runOf[i]!]!.name || null);
    if (u) {
      s.file = u;
      found++;
    }
  });
  return found;
}
