/**
 * Text symbol lists: `/proc/kallsyms` dumps and System.map (`nm -n vmlinux` filtered by
 * scripts/mksysmap). One line a symbol: `address type name`, plus `\t[module]` for module symbols
 * in /proc/kallsyms. Serial-console captures end lines with CRLF; both are accepted.
 */
import { lineError } from './errors.js';
import type { ExportInfo, RawSymbol } from './types.js';

export interface KallsymsDump {
  /** vmlinux symbols in file order (kallsyms table order: ascending address). */
  vmlinux: RawSymbol[];
  /** Module symbols per module, in file order (the module's core-only table after init). */
  modules: Map<string, RawSymbol[]>;
}

const LINE = /^([0-9a-fA-F]{1,16})\s+(\S)\s+(\S+)(?:\s+\[([^\]\s]+)\])?\s*$/;

export function parseKallsyms(text: string, file: string): KallsymsDump {
  const vmlinux: RawSymbol[] = [];
  const modules = new Map<string, RawSymbol[]>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    if (/^ffffffffffffffff B The real System\.map is in/.test(line)) {
      throw lineError(file, i + 1, "this is Debian's placeholder System.map, not a symbol map",
        'use --vmlinuz with the kernel image (klpkit reads its embedded kallsyms), or --kallsyms with a /proc/kallsyms dump');
    }
    const m = LINE.exec(line);
    if (!m) {
      throw lineError(file, i + 1, `malformed line '${line.slice(0, 80).replace(/[^\x20-\x7e]/g, '?')}'`,
        'expected "<hex address> <type> <name> [module]" as in System.map or /proc/kallsyms');
    }
    const sym: RawSymbol = { name: m[3]!, type: m[2]!, address: BigInt(`0x${m[1]}`) };
    if (m[4]) {
      let list = modules.get(m[4]);
      if (!list) modules.set(m[4], (list = []));
      list.push(sym);
    } else {
      vmlinux.push(sym);
    }
  }
  return { vmlinux, modules };
}

/** System.map has no module lines; kallsyms' are ignored if present. */
export function parseSystemMap(text: string, file: string): RawSymbol[] {
  const { vmlinux, modules } = parseKallsyms(text, file);
  if (modules.size > 0) throw lineError(file, 1, 'a System.map has no [module] columns; this looks like /proc/kallsyms', 'pass it with --kallsyms');
  return vmlinux;
}

/**
 * vmlinux's exports as a kallsyms dump or System.map shows them: EXPORT_SYMBOL leaves a
 * `__ksymtab_<name>` entry in `__ksymtab` or `__ksymtab_gpl` (include/linux/export.h, 5.4 to 6.12
 * at least), and the `__start___ksymtab_gpl`/`__stop___ksymtab_gpl` bounds tell the GPL ones
 * apart when addresses are real (a dump taken as root). Namespaces are not visible here.
 */
export function kallsymsExports(symbols: readonly RawSymbol[], object = 'vmlinux'): ExportInfo[] {
  const at = (n: string): bigint | undefined => symbols.find((y) => y.name === n)?.address;
  const gplStart = at('__start___ksymtab_gpl');
  const gplStop = at('__stop___ksymtab_gpl');
  const bounded = gplStart !== undefined && gplStop !== undefined && gplStart !== 0n && gplStart < gplStop;
  const out: ExportInfo[] = [];
  for (const y of symbols) {
    if (!y.name.startsWith('__ksymtab_') || y.name.length === '__ksymtab_'.length) continue;
    const gpl = bounded && y.address !== undefined && y.address >= gplStart! && y.address < gplStop!;
    out.push({ name: y.name.slice('__ksymtab_'.length), object, type: gpl ? 'EXPORT_SYMBOL_GPL' : 'EXPORT_SYMBOL', namespace: '' });
  }
  return out;
}
