/**
 * vmlinux as an ELF file: its symbol table (an approximation of kallsyms, see below) and its
 * export table, which also survives in the stripped image inside vmlinuz.
 */
import { SHN, STT } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { ExportInfo, RawSymbol } from './types.js';

/**
 * Exports from `__ksymtab` / `__ksymtab_gpl` of a linked vmlinux (6.1, x86_64 with
 * CONFIG_HAVE_ARCH_PREL32_RELOCATIONS): `struct kernel_symbol { int value_offset, name_offset,
 * namespace_offset; }`, each offset relative to its own field (include/linux/export.h,
 * kernel/module/main.c kernel_symbol_name/kernel_symbol_namespace). Works on the stripped
 * vmlinux.bin of a bzImage: section headers survive objcopy -S.
 */
export function vmlinuxExports(elf: ElfFile): ExportInfo[] {
  const strings = elf.findSectionByName('__ksymtab_strings');
  if (!strings) return [];
  const str = (addr: bigint): string | undefined => {
    const off = Number(addr - strings.addr);
    if (off < 0 || off >= strings.data.length) return undefined;
    const end = strings.data.indexOf(0, off);
    return end < 0 ? undefined : Buffer.from(strings.data.subarray(off, end)).toString('latin1');
  };
  const out: ExportInfo[] = [];
  for (const [secName, type] of [['__ksymtab', 'EXPORT_SYMBOL'], ['__ksymtab_gpl', 'EXPORT_SYMBOL_GPL']] as const) {
    const sec = elf.findSectionByName(secName);
    if (!sec || sec.isNobits) continue;
    const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
    for (let o = 0; o + 12 <= sec.data.length; o += 12) {
      const at = sec.addr + BigInt(o);
      const name = str(at + 4n + BigInt(dv.getInt32(o + 4, true)));
      const nsOff = dv.getInt32(o + 8, true);
      const namespace = nsOff === 0 ? '' : str(at + 8n + BigInt(nsOff)) ?? '';
      if (name) out.push({ name, object: 'vmlinux', type, namespace });
    }
  }
  return out;
}

/**
 * Symbols of an unstripped vmlinux in the order kallsyms would list them: defined, named,
 * not FILE/SECTION, sorted by address (stable). scripts/kallsyms.c also drops a few name patterns
 * and symbols outside its ranges, so this is an approximation: when the kernel image or a
 * /proc/kallsyms dump is available, klpkit uses those instead.
 */
export function vmlinuxElfSymbols(elf: ElfFile): RawSymbol[] {
  const out: Array<RawSymbol & { i: number }> = [];
  elf.allSymbols.forEach((y, i) => {
    if (i === 0 || y.name === '' || y.isUndefined || y.type === STT.FILE || y.type === STT.SECTION) return;
    if (y.name.startsWith('__crc_') || y.name.startsWith('.L') || y.name.startsWith('$')) return;
    const sec = y.section;
    let t = '?';
    if (!sec) t = y.shndx === SHN.ABS ? 'a' : '?';
    else if (sec.hasFlag(4n)) t = 't';
    else if (sec.isNobits) t = 'b';
    else if (sec.hasFlag(1n)) t = 'd';
    else t = 'r';
    if (y.bind === 1) t = t.toUpperCase();
    if (y.bind === 2) t = y.type === STT.OBJECT ? 'V' : 'W';
    out.push({ name: y.name, type: t, address: y.value, i });
  });
  out.sort((a, b) => (a.address! < b.address! ? -1 : a.address! > b.address! ? 1 : a.i - b.i));
  return out.map(({ name, type, address }) => ({ name, type, address }));
}
