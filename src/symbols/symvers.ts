/**
 * Module.symvers (scripts/mod/modpost.c write_dump): one export a line,
 * `crc<TAB>symbol<TAB>module<TAB>export type<TAB>namespace` (the namespace column exists since
 * 5.4 and may be empty). `module` is `vmlinux` or the module's path without `.ko`.
 */
import { normaliseModuleName } from '../elf/module.js';
import { lineError } from './errors.js';
import type { ExportInfo, ExportType } from './types.js';

export function parseSymvers(text: string, file: string): ExportInfo[] {
  const out: ExportInfo[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '') continue;
    const f = line.split('\t');
    if (f.length < 4 || f.length > 5 || !/^0x[0-9a-fA-F]+$/.test(f[0]!) || !f[1] || !f[2]) {
      throw lineError(file, i + 1, 'malformed Module.symvers line', 'expected crc, symbol, module, export type[, namespace] separated by tabs');
    }
    const type = f[3]!;
    if (type !== 'EXPORT_SYMBOL' && type !== 'EXPORT_SYMBOL_GPL') {
      throw lineError(file, i + 1, `unknown export type '${type}'`, 'expected EXPORT_SYMBOL or EXPORT_SYMBOL_GPL');
    }
    const mod = f[2]!;
    const object = mod === 'vmlinux' ? 'vmlinux' : normaliseModuleName(mod.slice(mod.lastIndexOf('/') + 1));
    out.push({ name: f[1]!, object, type: type as ExportType, namespace: f[4] ?? '' });
  }
  return out;
}
