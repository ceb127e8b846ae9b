/**
 * The symbol database: every symbol of a kernel build, its object, export status and sympos.
 *
 * sympos follows kernel/livepatch/core.c klp_find_object_symbol(): the object's symbols are
 * walked in kallsyms order and the N-th exact name match is position N; sympos 0 means "must be
 * unique", and 1 is accepted for a unique name too. kallsyms order is ascending address for
 * vmlinux (scripts/kallsyms.c sorts the table) and ELF .symtab order for modules.
 *
 * On disk (`.klpdb`) the database is columnar and sorted by name, so that loading is reading one
 * file and taking typed-array views, and a lookup is a binary search: the whole Debian 6.1 kernel
 * (94k vmlinux symbols and 4,023 modules) loads in a few tens of milliseconds.
 */
import { ElfError } from '../elf/errors.js';
import { MODSYM_CORE, type ExportInfo, type ExportType, type ModuleSymbols, type RawSymbol, type SymbolDefinition } from './types.js';

export interface DbObject {
  name: string;
  kind: 'vmlinux' | 'module';
  /** Where its symbols came from (a path or a description). */
  source: string;
}

export interface DbMeta {
  kernel: string | null;
  created: string;
  sources: string[];
  /** How vmlinux symbols were obtained: kallsyms (vmlinuz or dump) is exact, others approximate. */
  vmlinuxOrder: 'kallsyms' | 'address' | 'none';
  exportsFrom: string | null;
}

const MAGIC = 'KLPSYMDB';
const VERSION = 1;

// flags byte
const F_EXPORTED = 1, F_GPL = 2, F_HAS_ADDR = 4, F_BIND_SHIFT = 3; // bind: 0 local, 1 global, 2 weak (bits 3-4)

const COLUMNS = [
  ['nameOff', Uint32Array], ['object', Uint16Array], ['type', Uint8Array], ['flags', Uint8Array],
  ['pos', Uint32Array], ['corePos', Uint32Array], ['addrLo', Uint32Array], ['addrHi', Uint32Array],
  ['section', Uint32Array], ['namespace', Uint16Array],
] as const;
type ColumnName = (typeof COLUMNS)[number][0];
type Columns = { [K in ColumnName]: Extract<(typeof COLUMNS)[number], readonly [K, unknown]>[1] extends new (n: number) => infer T ? T : never };

/** Input to `SymbolDb.build`. */
export interface BuildInput {
  kernel?: string | null;
  /** vmlinux symbols in kallsyms order (or address order for ELF/System.map sources). */
  vmlinux?: { symbols: RawSymbol[]; source: string; order: 'kallsyms' | 'address' };
  modules?: ModuleSymbols[];
  /** Modules known only from a kallsyms dump (their core table after init, in order). */
  dumpModules?: Map<string, RawSymbol[]>;
  exports?: ExportInfo[];
  exportsFrom?: string;
  sources?: string[];
}

interface Row {
  name: string; object: number; type: string; bind: number; pos: number; corePos: number;
  address: bigint | undefined; section: string | undefined;
}

export class SymbolDb {
  readonly meta: DbMeta;
  readonly objects: readonly DbObject[];
  private readonly sections: readonly string[];
  private readonly namespaces: readonly string[];
  private readonly names: Uint8Array;
  private readonly col: Columns;
  readonly count: number;
  private readonly objectIndex: Map<string, number>;

  private constructor(meta: DbMeta, objects: DbObject[], sections: string[], namespaces: string[], names: Uint8Array, col: Columns, count: number) {
    this.meta = meta;
    this.objects = objects;
    this.sections = sections;
    this.namespaces = namespaces;
    this.names = names;
    this.col = col;
    this.count = count;
    this.objectIndex = new Map(objects.map((o, i) => [o.name, i]));
  }

  // -------------------------------------------------------------------------------------------
  // Building

  static build(input: BuildInput): SymbolDb {
    const objects: DbObject[] = [];
    const rows: Row[] = [];
    const addObject = (o: DbObject): number => {
      if (objects.some((x) => x.name === o.name)) {
        throw new ElfError('BAD_SYMBOL', { file: o.source }, `object '${o.name}' is given twice (also from ${objects.find((x) => x.name === o.name)!.source})`,
          'give each module once: from --modules or from the kallsyms dump, not both');
      }
      objects.push(o);
      if (objects.length > 0xffff) throw new ElfError('TOO_LARGE', { file: o.source }, 'more than 65535 objects');
      return objects.length - 1;
    };
    const bindOf = (type: string): number => (type === 'w' || type === 'W' || type === 'v' || type === 'V' ? 2 : type === type.toUpperCase() && type !== '?' ? 1 : 0);

    // Positions: the N-th same-named symbol of an object, in the given order.
    const positions = <T extends { name: string }>(list: readonly T[], visible: (s: T) => boolean = () => true): number[] => {
      const seen = new Map<string, number>();
      return list.map((s) => {
        if (!visible(s)) return 0;
        const n = (seen.get(s.name) ?? 0) + 1;
        seen.set(s.name, n);
        return n;
      });
    };

    if (input.vmlinux) {
      const o = addObject({ name: 'vmlinux', kind: 'vmlinux', source: input.vmlinux.source });
      const syms = input.vmlinux.symbols;
      const pos = positions(syms);
      syms.forEach((s, i) => rows.push({ name: s.name, object: o, type: s.type, bind: bindOf(s.type), pos: pos[i]!, corePos: pos[i]!, address: s.address, section: undefined }));
    }
    for (const m of input.modules ?? []) {
      const o = addObject({ name: m.name, kind: 'module', source: m.path });
      const syms = (m.count === 0 ? [] : m.names.split('\0')).map((name, i) => ({ name, i }));
      const full = positions(syms);
      const core = positions(syms, (s) => (m.flags[s.i]! & MODSYM_CORE) !== 0);
      syms.forEach((s, i) => rows.push({
        name: s.name, object: o, type: m.types[i]!, bind: m.flags[i]! & 3,
        pos: full[i]!, corePos: core[i]!, address: undefined, section: m.sections[m.section[i]!],
      }));
    }
    for (const [name, syms] of input.dumpModules ?? []) {
      const o = addObject({ name, kind: 'module', source: 'kallsyms dump (core table after init)' });
      const pos = positions(syms);
      syms.forEach((s, i) => rows.push({ name: s.name, object: o, type: s.type, bind: bindOf(s.type), pos: pos[i]!, corePos: pos[i]!, address: s.address, section: undefined }));
    }

    // Exports: by (object, name).
    const exportMap = new Map<string, ExportInfo>();
    for (const e of input.exports ?? []) exportMap.set(`${e.object}\0${e.name}`, e);

    // Sort by name bytes, then object, then position: the lookup order.
    rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.object - b.object || a.pos - b.pos));

    const n = rows.length;
    const col = Object.fromEntries(COLUMNS.map(([k, T]) => [k, new T(n)])) as unknown as Columns;
    const sectionIds = new Map<string, number>();
    const sections: string[] = [];
    const namespaceIds = new Map<string, number>([['', 0]]);
    const namespaces: string[] = [''];
    let nameBytes = 0;
    for (const r of rows) nameBytes += r.name.length + 1;
    const names = new Uint8Array(nameBytes);
    let off = 0;
    let prevName: string | undefined;
    let prevOff = 0;
    for (let i = 0; i < n; i++) {
      const r = rows[i]!;
      if (r.name === prevName) {
        col.nameOff[i] = prevOff;
      } else {
        prevOff = off;
        col.nameOff[i] = off;
        for (let k = 0; k < r.name.length; k++) names[off++] = r.name.charCodeAt(k) & 0xff;
        names[off++] = 0;
        prevName = r.name;
      }
      col.object[i] = r.object;
      col.type[i] = r.type.charCodeAt(0) & 0xff;
      let flags = r.bind << F_BIND_SHIFT;
      const e = exportMap.get(`${objects[r.object]!.name}\0${r.name}`);
      // An export names the global definition; a same-named local is a different symbol.
      if (e && r.bind !== 0) {
        flags |= F_EXPORTED;
        if (e.type === 'EXPORT_SYMBOL_GPL') flags |= F_GPL;
        let ns = namespaceIds.get(e.namespace);
        if (ns === undefined) {
          ns = namespaces.length;
          namespaces.push(e.namespace);
          namespaceIds.set(e.namespace, ns);
        }
        col.namespace[i] = ns;
      }
      if (r.address !== undefined) {
        flags |= F_HAS_ADDR;
        col.addrLo[i] = Number(r.address & 0xffffffffn);
        col.addrHi[i] = Number((r.address >> 32n) & 0xffffffffn);
      }
      col.flags[i] = flags;
      col.pos[i] = r.pos;
      col.corePos[i] = r.corePos;
      if (r.section === undefined) col.section[i] = 0xffffffff;
      else {
        let s = sectionIds.get(r.section);
        if (s === undefined) {
          s = sections.length;
          sections.push(r.section);
          sectionIds.set(r.section, s);
        }
        col.section[i] = s;
      }
    }
    const meta: DbMeta = {
      kernel: input.kernel ?? null,
      created: new Date().toISOString(),
      sources: input.sources ?? [],
      vmlinuxOrder: input.vmlinux ? input.vmlinux.order : 'none',
      exportsFrom: input.exportsFrom ?? null,
    };
    return new SymbolDb(meta, objects, sections, namespaces, names.subarray(0, off), col, n);
  }

  // -------------------------------------------------------------------------------------------
  // Lookups

  private nameAt(i: number): string {
    const o = this.col.nameOff[i]!;
    const end = this.names.indexOf(0, o);
    return Buffer.from(this.names.buffer, this.names.byteOffset + o, end - o).toString('latin1');
  }

  /** Compare entry i's name with `key` (latin1 bytes). */
  private cmp(i: number, key: Uint8Array): number {
    const names = this.names;
    let o = this.col.nameOff[i]!;
    for (let k = 0; ; k++, o++) {
      const a = names[o]!;
      const b = k < key.length ? key[k]! : 0;
      if (a !== b) return a - b;
      if (a === 0) return 0;
    }
  }

  private range(name: string): [number, number] {
    const key = Uint8Array.from(name, (c) => c.charCodeAt(0) & 0xff);
    let lo = 0, hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(mid, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < this.count && this.cmp(end, key) === 0) end++;
    return [lo, end];
  }

  /** Every definition of `name`, vmlinux first, then modules, each in kallsyms order. */
  lookup(name: string): SymbolDefinition[] {
    const [lo, hi] = this.range(name);
    const out: SymbolDefinition[] = [];
    const c = this.col;
    for (let i = lo; i < hi; i++) {
      const obj = c.object[i]!;
      // Entries of one object are adjacent and ordered by position: count them once.
      let count = 0, coreCount = 0;
      for (let k = lo; k < hi; k++) {
        if (c.object[k] === obj) {
          count++;
          if (c.corePos[k]! > 0) coreCount++;
        }
      }
      const flags = c.flags[i]!;
      const bind = (flags >> F_BIND_SHIFT) & 3;
      const isModule = this.objects[obj]!.kind === 'module';
      const corePos = c.corePos[i]!;
      out.push({
        name,
        object: this.objects[obj]!.name,
        sympos: count > 1 ? c.pos[i]! : 0,
        count,
        coreSympos: !isModule ? null : corePos === 0 ? null : coreCount > 1 ? corePos : 0,
        coreCount: isModule ? coreCount : null,
        address: flags & F_HAS_ADDR ? (BigInt(c.addrHi[i]!) << 32n) | BigInt(c.addrLo[i]!) : null,
        type: String.fromCharCode(c.type[i]!),
        binding: bind === 2 ? 'weak' : bind === 1 ? 'global' : 'local',
        section: c.section[i] === 0xffffffff ? null : this.sections[c.section[i]!]!,
        exported: (flags & F_EXPORTED) !== 0,
        exportType: flags & F_EXPORTED ? ((flags & F_GPL ? 'EXPORT_SYMBOL_GPL' : 'EXPORT_SYMBOL') as ExportType) : null,
        namespace: flags & F_EXPORTED ? this.namespaces[c.namespace[i]!]! : null,
      });
    }
    return out;
  }

  /** Is `name` exported by `object` (vmlinux or a module)? */
  isExported(name: string, object?: string): boolean {
    return this.lookup(name).some((d) => d.exported && (object === undefined || d.object === object));
  }

  hasObject(name: string): boolean {
    return this.objectIndex.has(name);
  }

  /** Every entry of an object, in name order, with its position among same-named symbols. */
  objectSymbols(object: string): Array<{ name: string; type: string; exported: boolean; pos: number }> {
    const o = this.objectIndex.get(object);
    if (o === undefined) return [];
    const out: Array<{ name: string; type: string; exported: boolean; pos: number }> = [];
    const c = this.col;
    for (let i = 0; i < this.count; i++) {
      if (c.object[i] !== o) continue;
      out.push({ name: this.nameAt(i), type: String.fromCharCode(c.type[i]!), exported: (c.flags[i]! & F_EXPORTED) !== 0, pos: c.pos[i]! });
    }
    return out;
  }

  /** Number of definitions per object. */
  objectCounts(): Map<string, number> {
    const counts = new Array<number>(this.objects.length).fill(0);
    for (let i = 0; i < this.count; i++) counts[this.col.object[i]!]!++;
    return new Map(this.objects.map((o, i) => [o.name, counts[i]!]));
  }

  // -------------------------------------------------------------------------------------------
  // File format

  serialize(): Uint8Array {
    const header = new TextEncoder().encode(JSON.stringify({
      meta: this.meta, objects: this.objects, sections: this.sections, namespaces: this.namespaces,
      count: this.count, namesBytes: this.names.length,
    }));
    const pad8 = (n: number): number => (n + 7) & ~7;
    const start = pad8(16 + header.length);
    let size = start;
    for (const [k] of COLUMNS) size = pad8(size + this.col[k].byteLength);
    size += this.names.length;
    const out = new Uint8Array(size);
    out.set(new TextEncoder().encode(MAGIC), 0);
    const dv = new DataView(out.buffer);
    dv.setUint32(8, VERSION, true);
    dv.setUint32(12, header.length, true);
    out.set(header, 16);
    let o = start;
    for (const [k] of COLUMNS) {
      const a = this.col[k];
      out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
      o = pad8(o + a.byteLength);
    }
    out.set(this.names, o);
    return out;
  }

  static load(bytes: Uint8Array, file: string): SymbolDb {
    const bad = (detail: string, offset?: number): ElfError =>
      new ElfError('BAD_SECTION', { file, offset }, detail, 'rebuild it with klp symbols build');
    if (bytes.length < 16 || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== MAGIC) {
      throw new ElfError('NOT_ELF', { file, offset: 0 }, 'not a klpkit symbol database (bad magic)', 'build one with klp symbols build');
    }
    // Typed-array views need aligned offsets: copy once if the buffer is not 8-aligned.
    if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = dv.getUint32(8, true);
    if (version !== VERSION) throw bad(`database format version ${version}, this klpkit reads ${VERSION}`, 8);
    const hlen = dv.getUint32(12, true);
    if (16 + hlen > bytes.length) throw bad('header runs past the end of the file', 12);
    let h: { meta: DbMeta; objects: DbObject[]; sections: string[]; namespaces: string[]; count: number; namesBytes: number };
    try {
      h = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + hlen)));
    } catch {
      throw bad('header is not valid JSON', 16);
    }
    const n = h.count;
    if (!Number.isSafeInteger(n) || n < 0 || !Array.isArray(h.objects) || !Array.isArray(h.sections) || !Array.isArray(h.namespaces) || !Number.isSafeInteger(h.namesBytes)) {
      throw bad('header fields are missing or malformed', 16);
    }
    const pad8 = (x: number): number => (x + 7) & ~7;
    let o = pad8(16 + hlen);
    const col = {} as Record<string, ArrayLike<number>>;
    for (const [k, T] of COLUMNS) {
      const len = n * T.BYTES_PER_ELEMENT;
      if (o + len > bytes.length) throw bad(`column ${k} runs past the end of the file`, o);
      col[k] = new T(bytes.buffer as ArrayBuffer, bytes.byteOffset + o, n);
      o = pad8(o + len);
    }
    if (o + h.namesBytes !== bytes.length) throw bad('names table does not end the file', o);
    const names = bytes.subarray(o, o + h.namesBytes);
    const c = col as unknown as Columns;
    // Validate every reference once, so lookups can trust the columns.
    for (let i = 0; i < n; i++) {
      if (c.nameOff[i]! >= names.length || c.object[i]! >= h.objects.length ||
          (c.section[i] !== 0xffffffff && c.section[i]! >= h.sections.length) || c.namespace[i]! >= h.namespaces.length) {
        throw bad(`entry ${i} refers outside its tables`);
      }
    }
    if (names.length > 0 && names[names.length - 1] !== 0) throw bad('names table is not NUL-terminated');
    return new SymbolDb(h.meta, h.objects, h.sections, h.namespaces, names, c, n);
  }
}
