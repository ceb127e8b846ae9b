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
