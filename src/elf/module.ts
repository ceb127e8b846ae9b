/**
 * Kernel-module specifics of a .ko: `.modinfo`, `__versions`, `.gnu.linkonce.this_module`, notes.
 */
import { ByteReader, cString, latin1Of } from './bytes.js';
import { SHT } from './constants.js';
import { ElfError } from './errors.js';
import type { ElfFile } from './file.js';

/**
 * A section the module loader lays out as init memory, freed once the module's init returns
 * (kernel/module/main.c module_init_section(); x86 has no override).
 */
export const isInitSection = (name: string): boolean => name.startsWith('.init');

export interface ModinfoEntry {
  key: string;
  value: string;
}

/**
 * Each `.modinfo` entry's place, [start, end) of `d`, in file order: NUL-separated `key=value`
 * strings, possibly with padding NULs between them (kernel/module/main.c `get_next_modinfo` skips
 * them the same way). The walk stops when `visit` returns true.
 */
function walkModinfo(d: Uint8Array, visit: (start: number, end: number) => boolean): void {
  let i = 0;
  while (i < d.length) {
    if (d[i] === 0) {
      i++;
      continue;
    }
    let end = d.indexOf(0, i);
    if (end < 0) end = d.length;
    if (visit(i, end)) return;
    i = end + 1;
  }
}

/** `.modinfo` entries in file order. */
export function readModinfo(elf: ElfFile): ModinfoEntry[] {
  const sec = elf.findSectionByName('.modinfo');
  if (!sec) return [];
  const d = sec.data;
  const out: ModinfoEntry[] = [];
  walkModinfo(d, (i, end) => {
    const s = latin1Of(d, i, end);
    const eq = s.indexOf('=');
    out.push(eq < 0 ? { key: s, value: '' } : { key: s.slice(0, eq), value: s.slice(eq + 1) });
    return false;
  });
  return out;
}

/**
 * The value of the first `.modinfo` entry whose key is `key`, as readModinfo(elf).find() gives it,
 * found without decoding the others: a driver's `.modinfo` holds hundreds of `alias=` entries, and
 * the module loader asks three keys a module.
 */
export function modinfoValue(elf: ElfFile, key: string): string | undefined {
  const sec = elf.findSectionByName('.modinfo');
  // A key is what comes before an entry's first '=': one holding '=' names none.
  if (!sec || key.includes('=')) return undefined;
  const d = sec.data;
  const n = key.length;
  let value: string | undefined;
  walkModinfo(d, (i, end) => {
    let k = 0;
    while (k < n && i + k < end && d[i + k] === key.charCodeAt(k)) k++;
    if (k !== n) return false;
    if (i + n === end) value = ''; // the entry is the key alone
    else if (d[i + n] === 0x3d) value = latin1Of(d, i + n + 1, end); // '='
    return value !== undefined;
  });
  return value;
}

/** `livepatch=Y` in .modinfo (kernel/module/main.c `check_modinfo_livepatch`). */
export function isLivepatchModule(elf: ElfFile): boolean {
  return modinfoValue(elf, 'livepatch') === 'Y';
}

export interface ModversionEntry {
  crc: number;
  name: string;
}

/**
 * `__versions`: an array of `struct modversion_info { unsigned long crc; char name[MODULE_NAME_LEN]; }`
 * (include/linux/module.h), 64 bytes an entry on both 32- and 64-bit.
 */
export function readModversions(elf: ElfFile): ModversionEntry[] {
  const sec = elf.findSectionByName('__versions');
  if (!sec || sec.type === SHT.NOBITS) return [];
  const word = elf.elfClass === 64 ? 8 : 4;
  const ent = 64;
  if (sec.data.length % ent !== 0) {
    throw new ElfError('BAD_SECTION', { file: elf.path, section: '__versions', offset: sec.offset },
      `size ${sec.data.length} is not a multiple of ${ent}`);
  }
  const r = new ByteReader(sec.data, elf.littleEndian, elf.path);
  const out: ModversionEntry[] = [];
  for (let o = 0; o < sec.data.length; o += ent) {
    // The CRC is an unsigned long but holds a 32-bit value.
    const crc = word === 8 ? Number(r.u64(o) & 0xffffffffn) : r.u32(o);
    const nameBytes = sec.data.subarray(o + word, o + ent);
    const end = nameBytes.indexOf(0);
    out.push({ crc, name: latin1Of(nameBytes, 0, end < 0 ? nameBytes.length : end) });
  }
  return out;
}

/**
 * The module's name as the kernel sees it: `struct module.name` in `.gnu.linkonce.this_module`
 * (after `enum module_state state` and `struct list_head list`: offset 24 on 64-bit, 12 on 32-bit),
 * else `.modinfo` `name=`. Kbuild already turns `-` into `_` (KBUILD_MODNAME); we normalise too.
 */
/**
 * include/linux/module.h: `#define MODULE_NAME_LEN MAX_PARAM_PREFIX_LEN`, which is
 * `64 - sizeof(unsigned long)`: the size of `struct module`'s name field, NUL included.
 */
export const MODULE_NAME_LEN = 64 - 8;

export function moduleName(elf: ElfFile): string | undefined {
  const sec = elf.findSectionByName('.gnu.linkonce.this_module');
  const off = elf.elfClass === 64 ? 24 : 12;
  if (sec && sec.type !== SHT.NOBITS && sec.data.length > off) {
    const n = cString(sec.data.subarray(off, Math.min(sec.data.length, off + 64)), 0);
    if (n) return normaliseModuleName(n);
  }
  const n = modinfoValue(elf, 'name');
  return n ? normaliseModuleName(n) : undefined;
}

/** kernel: module names use `_`; `modprobe` and Kbuild map `-` to `_`. */
export const normaliseModuleName = (n: string): string => n.replace(/-/g, '_');

export interface ElfNote {
  section: string;
  name: string;
  type: number;
  desc: Uint8Array;
}

/** Entries of every SHT_NOTE section: { namesz, descsz, type, name, desc }, 4-byte aligned. */
export function readNotes(elf: ElfFile): ElfNote[] {
  const out: ElfNote[] = [];
  for (const sec of elf.sections) {
    if (sec.type !== SHT.NOTE) continue;
    const d = sec.data;
    const r = new ByteReader(d, elf.littleEndian, elf.path);
    let o = 0;
    while (o + 12 <= d.length) {
      const namesz = r.u32(o);
      const descsz = r.u32(o + 4);
      const type = r.u32(o + 8);
      const nameOff = o + 12;
      const descOff = nameOff + align4(namesz);
      const next = descOff + align4(descsz);
      if (namesz > d.length || descsz > d.length || next > d.length) {
        throw new ElfError('BAD_SECTION', { file: elf.path, section: sec.name, offset: sec.offset + o },
          `note entry (namesz ${namesz}, descsz ${descsz}) runs past the end of the section`);
      }
      const nameEnd = namesz > 0 && d[nameOff + namesz - 1] === 0 ? nameOff + namesz - 1 : nameOff + namesz;
      out.push({ section: sec.name, name: latin1Of(d, nameOff, nameEnd), type, desc: d.subarray(descOff, descOff + descsz) });
      o = next;
    }
  }
  return out;
}

const align4 = (n: number): number => (n + 3) & ~3;
