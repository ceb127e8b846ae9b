/**
 * Parsers for GNU readelf --wide output: the oracle our reader is compared with.
 */
import { run, runStatus } from './tools.js';

export interface ReSection { index: number; name: string; type: string; addr: bigint; offset: number; size: number; entsize: number; flags: string; link: number; info: number; align: number }
export interface ReSymbol { table: string; index: number; value: bigint; size: number; type: string; bind: string; vis: string; ndx: string; name: string }
export interface ReReloc { section: string; offset: bigint; info: bigint; type: string; addend: bigint | undefined; symbol: string }

const SHDR = /^\s*\[\s*(\d+)\] (.*?) ([0-9a-f]{8,16}) ([0-9a-f]{6,}) ([0-9a-f]{6,}) ([0-9a-f]{2,}) (.{3}) +(\d+) +(\d+) +(\d+)$/;

export function readelfSections(file: string): ReSection[] {
  const out: ReSection[] = [];
  for (const line of run('readelf', ['-SW', file]).split('\n')) {
    const m = SHDR.exec(line);
    if (!m) continue;
    const head = m[2]!.trimEnd();
    // The type is the last column before the address; "SYMTAB SECTION INDICES" has spaces.
    const multi = ['SYMTAB SECTION INDICES'].find((t) => head.endsWith(t));
    const type = multi ?? head.slice(head.lastIndexOf(' ') + 1);
    const name = head.slice(0, head.length - type.length).trim();
    out.push({
      index: Number(m[1]), name, type, addr: BigInt(`0x${m[3]}`), offset: parseInt(m[4]!, 16), size: parseInt(m[5]!, 16),
      entsize: parseInt(m[6]!, 16), flags: m[7]!.trim(), link: Number(m[8]), info: Number(m[9]), align: Number(m[10]),
    });
  }
  return out;
}

const SYM = /^\s*(\d+): ([0-9a-f]+)\s+(0x[0-9a-f]+|\d+) (\S+)\s+(\S+)\s+(\S+)\s+(OS \[0x[0-9a-f]+\]|PRC \[0x[0-9a-f]+\]|\S+) ?(.*)$/;

export function readelfSymbols(file: string): ReSymbol[] {
  const out: ReSymbol[] = [];
  let table = '';
  for (const line of run('readelf', ['-sW', file]).split('\n')) {
    const t = /^Symbol table '(.*)' contains/.exec(line);
    if (t) { table = t[1]!; continue; }
    const m = SYM.exec(line);
    if (!m) continue;
    out.push({
      table, index: Number(m[1]), value: BigInt(`0x${m[2]}`), size: Number(m[3]), type: m[4]!, bind: m[5]!, vis: m[6]!,
      ndx: m[7]!, name: m[8]!,
    });
  }
  return out;
}

export function readelfRelocs(file: string): ReReloc[] {
  const out: ReReloc[] = [];
  let section = '';
  for (const line of run('readelf', ['-rW', file]).split('\n')) {
    const s = /^Relocation section '(.*)' at offset/.exec(line);
    if (s) { section = s[1]!; continue; }
    const m = /^([0-9a-f]{8,16})\s+([0-9a-f]{8,16})\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[4]!;
    let addend: bigint | undefined;
    const withSym = /^[0-9a-f]+\s+(.*?)(?: ([+-]) [0-9a-f]+)?$/.exec(rest.trim());
    const symbol = withSym && !/^[0-9a-f]+$/.test(rest.trim()) ? withSym[1]! : '';
    const a = /([+-]) ([0-9a-f]+)$/.exec(rest);
    if (a) addend = (a[1] === '-' ? -1n : 1n) * BigInt(`0x${a[2]}`);
    else if (/^[0-9a-f]+$/.test(rest.trim())) addend = BigInt(`0x${rest.trim()}`);
    out.push({ section, offset: BigInt(`0x${m[1]}`), info: BigInt(`0x${m[2]}`), type: m[3]!, addend, symbol });
  }
  return out;
}

/** readelf's warnings and errors for a file (empty when it is clean); readelf writes them to stderr. */
export function readelfComplaints(file: string): string[] {
  const r = runStatus('readelf', ['-a', '--wide', file]);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  if (r.status !== 0) lines.push(`readelf exited ${r.status}`);
  return lines;
}

/** A view that does not depend on indices: what must survive any reindexing edit unchanged. */
export function semanticView(file: string) {
  const secs = readelfSections(file);
  const secName = (ndx: string): string => (/^\d+$/.test(ndx) ? secs[Number(ndx)]?.name ?? `?${ndx}` : ndx);
  const symbols = readelfSymbols(file).map((y) => `${y.name}|${y.type}|${y.bind}|${secName(y.ndx)}|${y.value}|${y.size}`).sort();
  const relocs = readelfRelocs(file).map((r) => `${r.section}|${r.offset}|${r.type}|${r.symbol}|${r.addend}`).sort();
  const sections = secs.map((s) => `${s.name}|${s.type}|${s.flags}|${s.size}|${s.align}|${s.link ? secs[s.link]?.name : ''}|${s.type === 'RELA' || s.type === 'REL' ? secs[s.info]?.name : s.info}`).sort();
  return { symbols, relocs, sections };
}

/**
 * What `readelf --debug-dump=info` shows of each compile unit: its DW_AT_name, and the places of
 * its functions (a DW_TAG_subprogram's DW_AT_low_pc) and variables (a DW_TAG_variable's
 * DW_OP_addr location), as readelf prints them (relocated, in a relocatable object: the offset in
 * whichever section). The oracle of src/elf/dwarf.ts.
 */
export function readelfDwarfPlaces(file: string): { units: string[]; places: { unit: number; tag: string; name: string; at: bigint }[] } {
  const units: string[] = [];
  const places: { unit: number; tag: string; name: string; at: bigint }[] = [];
  let tag = '';
  let depth = -1;
  let name = '';
  let at: bigint | undefined;
  const flush = (): void => {
    if (at !== undefined && (tag === 'DW_TAG_subprogram' || tag === 'DW_TAG_variable')) places.push({ unit: units.length - 1, tag, name, at });
    at = undefined;
    name = '';
  };
  for (const line of run('readelf', ['--debug-dump=info', file]).split('\n')) {
    const die = /^ <(\d+)><[0-9a-f]+>: Abbrev Number: \d+ \((\w+)\)/.exec(line);
    if (die) {
      flush();
      depth = Number(die[1]);
      tag = die[2]!;
      if (depth === 0 && tag === 'DW_TAG_compile_unit') units.push('');
      continue;
    }
    if (/^ <\d+><[0-9a-f]+>: Abbrev Number: 0$/.test(line)) { flush(); tag = ''; continue; }
    const attr = /^\s+<[0-9a-f]+>\s+(DW_AT_\w+)\s*: (.*)$/.exec(line);
    if (!attr) continue;
    const value = attr[2]!.trim();
    const str = /^\((?:indirect (?:line )?string|indexed string: (?:0x[0-9a-f]+|0)), offset: (?:0x[0-9a-f]+|0)\): (.*)$/.exec(value)?.[1] ?? value;
    if (attr[1] === 'DW_AT_name') {
      if (depth === 0 && tag === 'DW_TAG_compile_unit') units[units.length - 1] = str;
      else name = str;
    } else if (attr[1] === 'DW_AT_low_pc' && tag === 'DW_TAG_subprogram') {
      at = BigInt(value.startsWith('0x') ? value : `0x${value}`);
    } else if (attr[1] === 'DW_AT_location' && tag === 'DW_TAG_variable') {
      const a = /\(DW_OP_addr: ([0-9a-f]+)\)$/.exec(value);
      if (a) at = BigInt(`0x${a[1]}`);
    }
  }
  flush();
  return { units, places };
}

/**
 * The compile unit readelf names for a code address: `--debug-dump=aranges` (address ranges to a
 * unit's offset) and the units' DW_AT_name (`--debug-dump=info --dwarf-depth=1`, the unit DIEs
 * only): an independent path to what src/elf/dwarf.ts reads from the functions' DIEs, cheap
 * enough for vmlinux.
 */
export function readelfUnitOfAddress(file: string): (address: bigint) => string | undefined {
  const names = new Map<number, string>();
  let cu = -1;
  for (const line of run('readelf', ['--debug-dump=info', '--dwarf-depth=1', file]).split('\n')) {
    const c = /^\s+Compilation Unit @ offset (0x[0-9a-f]+|0):/.exec(line);
    if (c) { cu = Number(c[1]); continue; }
    const n = /^\s+<[0-9a-f]+>\s+DW_AT_name\s*: (?:\((?:indirect (?:line )?string|indexed string: (?:0x[0-9a-f]+|0)), offset: (?:0x[0-9a-f]+|0)\): )?(.*)$/.exec(line);
    if (n && cu >= 0 && !names.has(cu)) names.set(cu, n[1]!.trim());
  }
  const ranges: { lo: bigint; hi: bigint; cu: number }[] = [];
  for (const line of run('readelf', ['--debug-dump=aranges', '--wide', file]).split('\n')) {
    const c = /Offset into \.debug_info:\s+(0x[0-9a-f]+|0)/.exec(line);
    if (c) { cu = Number(c[1]); continue; }
    const r = /^\s+([0-9a-f]{8,16}) ([0-9a-f]{8,16})\s*$/.exec(line);
    if (r && BigInt(`0x${r[2]}`) !== 0n) ranges.push({ lo: BigInt(`0x${r[1]}`), hi: BigInt(`0x${r[1]}`) + BigInt(`0x${r[2]}`), cu });
  }
  ranges.sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  return (address) => {
    let lo = 0, hi = ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid]!.lo <= address) lo = mid + 1;
      else hi = mid;
    }
    const r = ranges[lo - 1];
    return r && address < r.hi ? names.get(r.cu) : undefined;
  };
}
