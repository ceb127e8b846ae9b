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
import { concatBytes, latin1Write } from '../elf/bytes.js';
import { Interner } from '../elf/strtab.js';
import { damaged, DatabaseError } from './errors.js';
import { MODSYM_CORE, type ExportInfo, type ExportType, type ModuleSymbols, type RawSymbol, type SymbolDefinition } from './types.js';

export interface DbObject extends DbObjectHead {
  /** Where its symbols came from (a path or a description). */
  source: string;
}

/** An object as the header names it: what a look-up needs (its source is read when asked). */
export interface DbObjectHead {
  name: string;
  kind: 'vmlinux' | 'module';
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
/**
 * 2: a compilation unit per symbol (`file` column, `files` table). 3: a module symbol's offset in
 * its section (in the address columns, F_HAS_OFFSET), its size, and every symbol's position in its
 * object's table (`index`), so homonyms can be told apart by where they sit; and the fingerprints
 * of module homonyms (few: kept as `hashes`, row and value pairs, in the header). 4: the header's
 * JSON holds what every reader needs only: the objects' sources (paths: 655 KB of Debian's
 * 1.15 MB header) follow it as a JSON text of their own, read when asked, and the fingerprints as
 * two columns of their own (56,330 numbers); which objects export anything is in the header.
 * Parsing the header cold took 24 ms, 3 ms now (docs/performance.md, eleventh round).
 */
const VERSION = 4;

// flags byte
export const F_EXPORTED = 1;
const F_GPL = 2, F_HAS_ADDR = 4, F_BIND_SHIFT = 3; // bind: 0 local, 1 global, 2 weak (bits 3-4)
const F_HAS_OFFSET = 32, F_HAS_SIZE = 64;

/** The high half of the last address made, shifted, and its number: vmlinux's addresses share one. */
let lastHi = -1, lastHiShifted = 0n;
/**
 * An address from its two 32-bit halves: two BigInts made, not four, where the high half is the
 * last one's (a lookup makes one a definition; a patch of 20,000 functions looks up 20,000 names).
 */
function addressOf(hi: number, lo: number): bigint {
  if (hi !== lastHi) {
    lastHiShifted = BigInt(hi) << 32n;
    lastHi = hi;
  }
  return lastHiShifted + BigInt(lo);
}

export const COLUMNS = [
  ['nameOff', Uint32Array], ['object', Uint16Array], ['type', Uint8Array], ['flags', Uint8Array],
  ['pos', Uint32Array], ['corePos', Uint32Array], ['addrLo', Uint32Array], ['addrHi', Uint32Array],
  ['section', Uint32Array], ['namespace', Uint16Array], ['file', Uint32Array],
  ['size', Uint32Array], ['index', Uint32Array],
] as const;
export type ColumnName = (typeof COLUMNS)[number][0];
export type Columns = { [K in ColumnName]: Extract<(typeof COLUMNS)[number], readonly [K, unknown]>[1] extends new (n: number) => infer T ? T : never };

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

/**
 * A database read in part (symbols/db-file.ts): the rows of some names only. Every other
 * question goes to the whole database, read from the file when first asked.
 */
export interface PartialRows {
  /** The names whose rows (all of them, or none when the database has none) were read. */
  names: ReadonlySet<string>;
  /** The whole database. */
  whole: () => SymbolDb;
}

/**
 * The indices `from` to the end of `list`, in the order of their names: as `list.slice().sort()`
 * orders them (code-unit order: byte order for latin1 names), equal names next to each other.
 * Made for an interner's list of distinct names, whose ids they are (513,000 Debian 6.1 names,
 * shuffled: about three times faster than one default sort of them all). A radix sort on three
 * characters at a time (two counting passes of twelve bits), again on the next three within each
 * run of names that share them, down to runs small enough for an insertion sort: kernel names
 * share long prefixes (`__ksymtab_`, `__UNIQUE_ID_`), and no string is made or hashed on the way.
 */
export function sortOrder(list: readonly string[], from = 0): Uint32Array {
  const n = list.length - from;
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = from + i;
  const t = new Uint32Array(n);
  const key = new Uint32Array(list.length); // by id
  const count = new Uint32Array(4097);
  const byString = (x: number, y: number): number => (list[x]! < list[y]! ? -1 : list[x]! > list[y]! ? 1 : 0);
  const insertion = (lo: number, hi: number): void => {
    for (let i = lo + 1; i < hi; i++) {
      const v = a[i]!, sv = list[v]!;
      let j = i - 1;
      for (; j >= lo && list[a[j]!]! > sv; j--) a[j + 1] = a[j]!;
      a[j + 1] = v;
    }
  };
  // a[lo, hi) by their characters from `depth` on (they agree before it); false if one is not latin1.
  const radix = (lo: number, hi: number, depth: number): boolean => {
    for (let i = lo; i < hi; i++) {
      const id = a[i]!, s = list[id]!;
      // A shorter name's missing characters count as 0, below any character: "ab" < "ab\x01".
      const c0 = s.length > depth ? s.charCodeAt(depth) : 0;
      const c1 = s.length > depth + 1 ? s.charCodeAt(depth + 1) : 0;
      const c2 = s.length > depth + 2 ? s.charCodeAt(depth + 2) : 0;
      if ((c0 | c1 | c2) > 0xff) return false;
      key[id] = (c0 << 16) | (c1 << 8) | c2;
    }
    for (const shift of [0, 12]) {
      count.fill(0);
      for (let i = lo; i < hi; i++) count[((key[a[i]!]! >>> shift) & 0xfff) + 1]!++;
      for (let k = 0; k < 4096; k++) count[k + 1]! += count[k]!;
      for (let i = lo; i < hi; i++) t[lo + count[(key[a[i]!]! >>> shift) & 0xfff]!++] = a[i]!;
      a.set(t.subarray(lo, hi), lo);
    }
    for (let i = lo; i < hi;) {
      const k0 = key[a[i]!]!;
      let j = i + 1;
      while (j < hi && key[a[j]!] === k0) j++;
      // A run whose third character is 0 holds names that ended there: distinct names, so one.
      if (j - i > 1 && (k0 & 0xff) !== 0) {
        if (j - i <= 64) insertion(i, j);
        else if (!radix(i, j, depth + 3)) a.subarray(i, j).sort(byString);
      }
      i = j;
    }
    return true;
  };
  if (!radix(0, n, 0)) a.sort(byString); // not latin1: the keys would not order it
  return a;
}

/** Two sortOrder() results over one list as one. */
export function mergeOrders(list: readonly string[], x: Uint32Array, y: Uint32Array): Uint32Array {
  const out = new Uint32Array(x.length + y.length);
  let i = 0, j = 0, o = 0;
  while (i < x.length && j < y.length) out[o++] = list[x[i]!]! < list[y[j]!]! ? x[i++]! : y[j++]!;
  while (i < x.length) out[o++] = x[i++]!;
  while (j < y.length) out[o++] = y[j++]!;
  return out;
}

/**
 * The parsed header of a .klpdb file. `exporters`: the objects (by index) that export anything.
 * `sourcesBytes`: the length of the objects' sources (a JSON array of strings) after the header;
 * `hashCount`: the number of fingerprints, in the two columns before the symbols' own.
 */
export interface DbHeader {
  meta: DbMeta; objects: DbObjectHead[]; sections: string[]; namespaces: string[]; files: string[]; exporters: number[];
  count: number; namesBytes: number; sourcesBytes: number; hashCount: number;
}

/** The fingerprints of module homonyms: rows, ascending, and their values. */
export interface DbHashes {
  row: ArrayLike<number>;
  value: ArrayLike<number>;
}

/** What a database is made of, as built or read. */
interface DbParts {
  meta: DbMeta;
  objects: readonly DbObjectHead[];
  /** The objects' sources, an object's each: made when first asked (from the file, parsed then). */
  sources: () => readonly string[];
  sections: readonly string[];
  namespaces: readonly string[];
  files: readonly string[];
  exporters: readonly number[];
  names: Uint8Array;
  col: Columns;
  count: number;
  hashes: DbHashes;
}

/**
 * The names of a build's symbols, interned as the sources come in: `klp symbols build` hands
 * over each module as a scan worker delivers it, while the workers read the next ones (the main
 * thread would wait for them otherwise), and the build after the scan is left with sorting and
 * writing. Ids are provisional: the rows are ordered by the names themselves, so the database
 * does not depend on the order names were met in.
 */
export class BuildNames {
  readonly table: Interner;
  private readonly ofModule = new WeakMap<ModuleSymbols, Uint32Array>();
  private readonly ofSymbols = new WeakMap<readonly RawSymbol[], Uint32Array>();
  /** The ids interned when presort() ran, in name order. */
  private sorted: Uint32Array | undefined;

  /** `expected`: how many distinct names are likely (a kernel's modules hold some 100 each). */
  constructor(expected?: number) {
    this.table = new Interner(expected);
  }

  /** Intern a module's names now. */
  addModule(m: ModuleSymbols): void {
    if (!this.ofModule.has(m)) this.ofModule.set(m, this.intern(m));
  }

  /** Intern the names of symbols (vmlinux's) now. */
  addSymbols(syms: readonly RawSymbol[]): void {
    if (!this.ofSymbols.has(syms)) this.ofSymbols.set(syms, this.internAll(syms.map((y) => y.name)));
  }

  /** The ids of a module's names, a symbol's each: as addModule() interned them, or now. */
  idsOf(m: ModuleSymbols): Uint32Array {
    return this.ofModule.get(m) ?? this.intern(m);
  }

  /** The ids of the names of symbols, a symbol's each: as addSymbols() interned them, or now. */
  idsOfSymbols(syms: readonly RawSymbol[]): Uint32Array {
    return this.ofSymbols.get(syms) ?? this.internAll(syms.map((y) => y.name));
  }

  /**
   * Sort the names interned so far, while the scan goes on: order() then sorts only the names met
   * since, and merges.
   */
  presort(): void {
    this.sorted = sortOrder(this.table.list);
  }

  /** Every id, in the order of the names (sortOrder). */
  order(): Uint32Array {
    const list = this.table.list;
    if (!this.sorted) return sortOrder(list);
    if (this.sorted.length === list.length) return this.sorted;
    return mergeOrders(list, this.sorted, sortOrder(list, this.sorted.length));
  }

  private intern(m: ModuleSymbols): Uint32Array {
    return this.internAll(m.count === 0 ? [] : m.names.split('\0'));
  }

  private internAll(names: readonly string[]): Uint32Array {
    const ids = new Uint32Array(names.length);
    for (let k = 0; k < names.length; k++) ids[k] = this.table.id(names[k]!);
    return ids;
  }
}

export class SymbolDb {
  readonly meta: DbMeta;
  private readonly heads: readonly DbObjectHead[];
  private readonly sourcesOf: () => readonly string[];
  private objectList: readonly DbObject[] | undefined;
  private readonly exporters: ReadonlySet<number>;
  private readonly sections: readonly string[];
  private readonly namespaces: readonly string[];
  private readonly names: Uint8Array;
  private readonly col: Columns;
  /** Rows held (all of them unless partial). */
  private readonly rows: number;
  private readonly objectIndex: Map<string, number>;
  private readonly partial: PartialRows | undefined;
  private wholeDb: SymbolDb | undefined;

  /** Fingerprints of module homonyms by row (symbols/fingerprint.ts). */
  private readonly hashes: DbHashes;
  /** Compilation units (STT_FILE names) that symbols point into. */
  private readonly files: readonly string[];

  private constructor(p: DbParts, partial?: PartialRows) {
    this.partial = partial;
    this.files = p.files;
    this.hashes = p.hashes;
    this.meta = p.meta;
    this.heads = p.objects;
    this.sourcesOf = p.sources;
    this.exporters = new Set(p.exporters);
    this.sections = p.sections;
    this.namespaces = p.namespaces;
    this.names = p.names;
    this.col = p.col;
    this.rows = p.count;
    this.objectIndex = new Map(p.objects.map((o, i) => [o.name, i]));
  }

  /** Every object, with where its symbols came from. */
  get objects(): readonly DbObject[] {
    if (!this.objectList) {
      const sources = this.sourcesOf();
      this.objectList = this.heads.map((o, i) => ({ name: o.name, kind: o.kind, source: sources[i]! }));
    }
    return this.objectList;
  }

  // -------------------------------------------------------------------------------------------
  // Building

  /** `pool`: the names interned so far (a scan's modules), or none yet. */
  static build(input: BuildInput, pool = new BuildNames()): SymbolDb {
    const objects: DbObject[] = [];
    const byName = new Map<string, DbObject>();
    const addObject = (o: DbObject): number => {
      const twin = byName.get(o.name);
      if (twin) {
        throw new DatabaseError('DUPLICATE_OBJECT', { file: o.source }, `object '${o.name}' is given twice (also from ${twin.source})`,
          'give each module once: from --modules or from the kallsyms dump, not both');
      }
      objects.push(o);
      byName.set(o.name, o);
      if (objects.length > 0xffff) throw new DatabaseError('TOO_LARGE', { file: o.source }, 'more than 65535 objects');
      return objects.length - 1;
    };
    const bindOf = (type: string): number => (type === 'w' || type === 'W' || type === 'v' || type === 'V' ? 2 : type === type.toUpperCase() && type !== '?' ? 1 : 0);

    // A row is a symbol of an object: its name (an id, below), its object and its place in that
    // object's table; everything else is read from the sources when the sorted rows are written
    // (a kernel has close to a million rows: a few typed columns, no object and no copy per row).
    const total = (input.vmlinux?.symbols.length ?? 0) + (input.modules ?? []).reduce((t, m) => t + m.count, 0) +
      [...(input.dumpModules ?? [])].reduce((t, [, syms]) => t + syms.length, 0);
    const nameTable = pool.table;
    const uniq = nameTable.list;
    const rName = new Uint32Array(total), rObject = new Uint16Array(total);
    // Sections and units get provisional ids here, renumbered below in the order the sorted rows meet them.
    const tmpSections = new Interner();
    const tmpFiles = new Interner(); // '' (no unit) is id 0
    tmpFiles.id('');
    /** Where an object's rows come from: a module's tables, or symbols (vmlinux, a kallsyms dump's modules). */
    type Source =
      | { kind: 'module'; m: ModuleSymbols; secId: number[]; fileId: number[] }
      | { kind: 'symbols'; syms: readonly RawSymbol[]; secId: Uint32Array; fileId: Uint32Array };
    const sources: Source[] = [];
    let rows = 0;
    const addSymbols = (o: number, syms: readonly RawSymbol[]): void => {
      const secId = new Uint32Array(syms.length), fileId = new Uint32Array(syms.length);
      const ids = pool.idsOfSymbols(syms);
      syms.forEach((s, k) => {
        const i = rows++;
        rName[i] = ids[k]!; rObject[i] = o;
        secId[k] = tmpSections.id(s.section ?? '');
        fileId[k] = tmpFiles.id(s.file ?? '');
      });
      sources[o] = { kind: 'symbols', syms, secId, fileId };
    };

    if (input.vmlinux) addSymbols(addObject({ name: 'vmlinux', kind: 'vmlinux', source: input.vmlinux.source }), input.vmlinux.symbols);
    for (const m of input.modules ?? []) {
      const o = addObject({ name: m.name, kind: 'module', source: m.path });
      // The module's own section and unit tables, mapped once to the provisional ids.
      sources[o] = { kind: 'module', m, secId: m.sections.map((x) => tmpSections.id(x)), fileId: [0, ...m.files.map((x) => tmpFiles.id(x))] };
      const ids = pool.idsOf(m);
      for (let k = 0; k < ids.length; k++) {
        const i = rows++;
        rName[i] = ids[k]!; rObject[i] = o;
      }
    }
    for (const [name, syms] of input.dumpModules ?? []) addSymbols(addObject({ name, kind: 'module', source: 'kallsyms dump (core table after init)' }), syms);

    // Order: by name (latin1 bytes: the default string sort compares code units, which for
    // latin1 strings is byte order), then object, then position. Rows already come in
    // (object, position) order, so a stable counting sort by name rank finishes the job.
    const rank = new Uint32Array(uniq.length);
    const sortedIds = pool.order();
    for (let r = 0; r < sortedIds.length; r++) rank[sortedIds[r]!] = r;
    const n = rows;
    const bucketStart = new Uint32Array(uniq.length + 1);
    for (let i = 0; i < n; i++) bucketStart[rank[rName[i]!]! + 1]!++;
    for (let r = 0; r < uniq.length; r++) bucketStart[r + 1]! += bucketStart[r]!;
    // Each row's place in that order.
    const where = new Uint32Array(n);
    for (let i = 0; i < n; i++) where[i] = bucketStart[rank[rName[i]!]!]!++;

    const col = Object.fromEntries(COLUMNS.map(([k, T]) => [k, new T(n)])) as unknown as Columns;
    // Names table: each distinct name once, in sorted order.
    const nameOff = new Uint32Array(uniq.length);
    let nameBytes = 0;
    for (const name of uniq) nameBytes += name.length + 1;
    const names = new Uint8Array(nameBytes);
    let off = 0;
    for (let r = 0; r < sortedIds.length; r++) {
      nameOff[sortedIds[r]!] = off;
      off = latin1Write(names, uniq[sortedIds[r]!]!, off);
      names[off++] = 0;
    }

    // 1. Each row's own fields, written at its sorted place: the sources are read in their order,
    //    one after the other (a kernel's million rows in name order would jump between them at
    //    every row). Section and unit ids are provisional here; the core bit stands in corePos.
    const hashAt: number[] = []; // sorted place, fingerprint
    const split = new BigUint64Array(1);
    const halves = new Uint32Array(split.buffer); // an address's halves, no BigInt made
    const lo = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
    for (let i = 0; i < n;) {
      const object = rObject[i]!;
      const src = sources[object]!;
      if (src.kind === 'module') {
        const m = src.m;
        const secId = src.secId, fileId = src.fileId;
        for (let k = 0; k < m.count; k++, i++) {
          const j = where[i]!;
          const f = m.flags[k]!;
          col.corePos[j] = f & MODSYM_CORE ? 1 : 0;
          col.type[j] = m.types.charCodeAt(k) & 0xff;
          // Modules: the offset in its section (where vmlinux keeps an address), and the size.
          col.addrLo[j] = m.value[k]!;
          col.size[j] = m.size[k]!;
          col.flags[j] = F_HAS_OFFSET | F_HAS_SIZE | ((f & 3) << F_BIND_SHIFT);
          col.section[j] = secId[m.section[k]!]!;
          col.file[j] = fileId[m.file?.[k] ?? 0]!;
          if (m.hash[k]) hashAt.push(j, m.hash[k]!);
          col.nameOff[j] = nameOff[rName[i]!]!;
          col.object[j] = object;
          col.index[j] = k;
        }
      } else {
        const syms = src.syms;
        for (let k = 0; k < syms.length; k++, i++) {
          const j = where[i]!;
          const s = syms[k]!;
          col.corePos[j] = 1;
          col.type[j] = s.type.charCodeAt(0) & 0xff;
          let f = bindOf(s.type) << F_BIND_SHIFT;
          if (s.address !== undefined) {
            f |= F_HAS_ADDR;
            split[0] = BigInt.asUintN(64, s.address);
            col.addrLo[j] = halves[lo]!;
            col.addrHi[j] = halves[1 - lo]!;
          }
          if (s.size !== undefined && s.size >= 0) {
            f |= F_HAS_SIZE;
            col.size[j] = s.size;
          }
          col.flags[j] = f;
          col.section[j] = src.secId[k]!;
          col.file[j] = src.fileId[k]!;
          if (s.hash) hashAt.push(j, s.hash);
          col.nameOff[j] = nameOff[rName[i]!]!;
          col.object[j] = object;
          col.index[j] = k;
        }
      }
    }
    // Fingerprints by sorted place, ascending.
    const hashOrder = Array.from({ length: hashAt.length / 2 }, (_, k) => k).sort((x, y) => hashAt[2 * x]! - hashAt[2 * y]!);
    const hashes = { row: new Uint32Array(hashOrder.length), value: new Uint32Array(hashOrder.length) };
    hashOrder.forEach((k, q) => {
      hashes.row[q] = hashAt[2 * k]!;
      hashes.value[q] = hashAt[2 * k + 1]!;
    });
    const exporters = new Set<number>();

    // Exports by name (its offset in the names table: only names that occur), then by object.
    const exportsAt = new Map<number, ExportInfo[]>();
    for (const e of input.exports ?? []) {
      const id = nameTable.find(e.name);
      if (id < 0) continue;
      const list = exportsAt.get(nameOff[id]!);
      if (list) list.push(e);
      else exportsAt.set(nameOff[id]!, [e]);
    }

    // 2. The rows in sorted order. sympos counts same-named symbols of an object in its table's
    //    order: in sorted order those are one run, in that order, so a row's position is its place
    //    in its run (and, for a module's core symbols, its place among the run's core symbols: a
    //    vmlinux or dump symbol is a core one). Sections and units get their final ids, in the
    //    order the sorted rows meet them (-1: not met yet).
    const sectionIds = new Int32Array(tmpSections.list.length).fill(-1);
    const sections: string[] = [];
    const noSection = tmpSections.find('');
    const fileIds = new Int32Array(tmpFiles.list.length).fill(-1);
    const files: string[] = [];
    const namespaceIds = new Map<string, number>([['', 0]]);
    const namespaces: string[] = [''];
    let runName = -1, runObject = -1, pos = 0, corePos = 0;
    for (let j = 0; j < n; j++) {
      const object = col.object[j]!;
      const nameAt = col.nameOff[j]!;
      if (nameAt !== runName || object !== runObject) {
        runName = nameAt;
        runObject = object;
        pos = 0;
        corePos = 0;
      }
      pos++;
      if (col.corePos[j]) col.corePos[j] = ++corePos;
      col.pos[j] = pos;
      let flags = col.flags[j]!;
      const bind = (flags >> F_BIND_SHIFT) & 3;
      // An export names the global definition; a same-named local is a different symbol. A
      // source that gives names only (symbols.klp: type '?') cannot tell, so its names take the
      // export as upstream klp-convert does.
      const e = bind !== 0 || col.type[j] === 0x3f ? exportsAt.get(nameAt)?.find((x) => x.object === objects[object]!.name) : undefined;
      if (e) {
        exporters.add(object);
        flags |= F_EXPORTED;
        if (e.type === 'EXPORT_SYMBOL_GPL') flags |= F_GPL;
        let ns = namespaceIds.get(e.namespace);
        if (ns === undefined) {
          ns = namespaces.length;
          namespaces.push(e.namespace);
          namespaceIds.set(e.namespace, ns);
        }
        col.namespace[j] = ns;
        col.flags[j] = flags;
      }
      const unit = col.file[j]!;
      if (unit !== 0) {
        let fid = fileIds[unit]!;
        if (fid < 0) {
          fid = fileIds[unit] = files.length;
          files.push(tmpFiles.list[unit]!);
        }
        col.file[j] = fid + 1;
      }
      const section = col.section[j]!;
      if (section === noSection && objects[object]!.kind === 'vmlinux') col.section[j] = 0xffffffff;
      else {
        let sid = sectionIds[section]!;
        if (sid < 0) {
          sid = sectionIds[section] = sections.length;
          sections.push(tmpSections.list[section]!);
        }
        col.section[j] = sid;
      }
    }
    const meta: DbMeta = {
      kernel: input.kernel ?? null,
      created: new Date().toISOString(),
      sources: input.sources ?? [],
      vmlinuxOrder: input.vmlinux ? input.vmlinux.order : 'none',
      exportsFrom: input.exportsFrom ?? null,
    };
    const objectSources = objects.map((o) => o.source);
    return new SymbolDb({
      meta, objects, sources: () => objectSources, sections, namespaces, files, exporters: [...exporters].sort((a, b) => a - b), names, col, count: n, hashes,
    });
  }

  /**
   * @internal The rows of some names, read from a file (symbols/db-file.ts): `sources` are the
   * bytes of the objects' sources, parsed when asked.
   */
  static partialFrom(h: DbHeader, sources: Uint8Array, file: string, sourcesAt: number, names: Uint8Array, col: Columns, count: number, hashes: DbHashes,
    partial: PartialRows): SymbolDb {
    return new SymbolDb({ ...h, sources: lazySources(sources, h.objects.length, file, sourcesAt), names, col, count, hashes }, partial);
  }

  /** Number of symbols (rows). */
  get count(): number {
    return this.partial ? this.whole().count : this.rows;
  }

  /** The database with every row: itself, unless it was read in part. */
  private whole(): SymbolDb {
    if (!this.partial) return this;
    this.wholeDb ??= this.partial.whole();
    return this.wholeDb;
  }

  // -------------------------------------------------------------------------------------------
  // Lookups

  private nameAt(i: number): string {
    const o = this.col.nameOff[i]!;
    const end = this.names.indexOf(0, o);
    return Buffer.from(this.names.buffer, this.names.byteOffset + o, end - o).toString('latin1');
  }

  /**
   * Compare entry i's name with `key` as latin1 bytes (each character's low byte, as latin1Bytes
   * makes them), read off the string: a lookup makes no bytes of its own.
   */
  private cmp(i: number, key: string): number {
    const names = this.names;
    let o = this.col.nameOff[i]!;
    for (let k = 0; ; k++, o++) {
      const a = names[o]!;
      const b = k < key.length ? key.charCodeAt(k) & 0xff : 0;
      if (a !== b) return a - b;
      if (a === 0) return 0;
    }
  }

  private range(key: string): [number, number] {
    let lo = 0, hi = this.rows;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cmp(mid, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < this.rows && this.cmp(end, key) === 0) end++;
    return [lo, end];
  }

  /** Every definition of `name`, vmlinux first, then modules, each in kallsyms order. */
  lookup(name: string): SymbolDefinition[] {
    if (this.partial && !this.partial.names.has(name)) return this.whole().lookup(name);
    const [lo, hi] = this.range(name);
    const out: SymbolDefinition[] = [];
    const c = this.col;
    // Entries of one object are adjacent and ordered by position: count each object's run once.
    let runEnd = lo, n = 0, nCore = 0;
    for (let i = lo; i < hi; i++) {
      const obj = c.object[i]!;
      if (i === runEnd) {
        n = 0;
        nCore = 0;
        for (runEnd = i; runEnd < hi && c.object[runEnd] === obj; runEnd++) {
          n++;
          if (c.corePos[runEnd]! > 0) nCore++;
        }
      }
      const flags = c.flags[i]!;
      const bind = (flags >> F_BIND_SHIFT) & 3;
      const isModule = this.heads[obj]!.kind === 'module';
      const corePos = c.corePos[i]!;
      out.push({
        name,
        object: this.heads[obj]!.name,
        sympos: n > 1 ? c.pos[i]! : 0,
        count: n,
        coreSympos: !isModule ? null : corePos === 0 ? null : nCore > 1 ? corePos : 0,
        coreCount: isModule ? nCore : null,
        address: flags & F_HAS_ADDR ? addressOf(c.addrHi[i]!, c.addrLo[i]!) : null,
        offset: flags & F_HAS_OFFSET ? c.addrLo[i]! : null,
        size: flags & F_HAS_SIZE ? c.size[i]! : null,
        index: c.index[i]!,
        hash: this.hashOf(i),
        type: String.fromCharCode(c.type[i]!),
        binding: bind === 2 ? 'weak' : bind === 1 ? 'global' : 'local',
        section: c.section[i] === 0xffffffff ? null : this.sections[c.section[i]!]!,
        exported: (flags & F_EXPORTED) !== 0,
        exportType: flags & F_EXPORTED ? ((flags & F_GPL ? 'EXPORT_SYMBOL_GPL' : 'EXPORT_SYMBOL') as ExportType) : null,
        namespace: flags & F_EXPORTED ? this.namespaces[c.namespace[i]!]! : null,
        file: c.file[i]! ? this.files[c.file[i]! - 1]! : null,
      });
    }
    return out;
  }

  /** Row i's fingerprint, or null: a binary search of the rows that have one. */
  private hashOf(i: number): number | null {
    const q = indexIn(this.hashes.row, i);
    return q >= 0 ? this.hashes.value[q]! : null;
  }

  /**
   * Where a definition sits in its object, to tell homonyms apart: the named symbols just before
   * and after it in the object's table (a module's .symtab order, vmlinux's kallsyms order), and
   * its nearest named neighbours by address (vmlinux) or by offset in the same section (modules).
   * null at an end, or where the database has no addresses.
   */
  neighbours(d: SymbolDefinition): { table: [string | null, string | null]; byAddress: [string | null, string | null] } {
    if (this.partial) return this.whole().neighbours(d);
    const o = this.objectIndex.get(d.object);
    const c = this.col;
    const table: [string | null, string | null] = [null, null];
    const near: [{ at: bigint; i: number } | null, { at: bigint; i: number } | null] = [null, null];
    if (o === undefined) return { table, byAddress: [null, null] };
    const place = (i: number): bigint | null => {
      const f = c.flags[i]!;
      if (f & F_HAS_ADDR) return addressOf(c.addrHi[i]!, c.addrLo[i]!);
      return f & F_HAS_OFFSET ? BigInt(c.addrLo[i]!) : null;
    };
    let self = -1;
    for (let i = 0; i < this.rows && self < 0; i++) if (c.object[i] === o && c.index[i] === d.index) self = i;
    const at = self >= 0 ? place(self) : null;
    for (let i = 0; i < this.rows; i++) {
      if (c.object[i] !== o || i === self || this.names[c.nameOff[i]!] === 0) continue;
      if (c.index[i] === d.index - 1) table[0] = this.nameAt(i);
      if (c.index[i] === d.index + 1) table[1] = this.nameAt(i);
      const p = place(i);
      if (at === null || p === null || c.section[i] !== c.section[self]) continue;
      if (p < at && (!near[0] || p > near[0].at)) near[0] = { at: p, i };
      if (p > at && (!near[1] || p < near[1].at)) near[1] = { at: p, i };
    }
    return { table, byAddress: [near[0] ? this.nameAt(near[0].i) : null, near[1] ? this.nameAt(near[1].i) : null] };
  }

  hasObject(name: string): boolean {
    return this.objectIndex.has(name);
  }

  /** Every entry of an object, in name order, with its position among same-named symbols. */
  objectSymbols(object: string): Array<{ name: string; type: string; exported: boolean; pos: number }> {
    if (this.partial) return this.whole().objectSymbols(object);
    const o = this.objectIndex.get(object);
    if (o === undefined) return [];
    const out: Array<{ name: string; type: string; exported: boolean; pos: number }> = [];
    const c = this.col;
    for (let i = 0; i < this.rows; i++) {
      if (c.object[i] !== o) continue;
      out.push({ name: this.nameAt(i), type: String.fromCharCode(c.type[i]!), exported: (c.flags[i]! & F_EXPORTED) !== 0, pos: c.pos[i]! });
    }
    return out;
  }

  /**
   * Does an object export anything? No kernel exports nothing: false for vmlinux means the
   * database was built without export data for it (a bare kallsyms dump of a kernel whose dump has
   * no `__ksymtab_` lines, a System.map without --symvers).
   */
  hasExports(object: string): boolean {
    const o = this.objectIndex.get(object);
    return o !== undefined && this.exporters.has(o);
  }

  /** Number of definitions per object. */
  objectCounts(): Map<string, number> {
    if (this.partial) return this.whole().objectCounts();
    const counts = new Array<number>(this.heads.length).fill(0);
    for (let i = 0; i < this.rows; i++) counts[this.col.object[i]!]!++;
    return new Map(this.heads.map((o, i) => [o.name, counts[i]!]));
  }

  // -------------------------------------------------------------------------------------------
  // File format

  serialize(): Uint8Array {
    const parts = this.serializeParts();
    return concatBytes(parts, parts.reduce((n, p) => n + p.length, 0));
  }

  /**
   * The file as parts to write one after the other (serialize() joins them): the header, then
   * each column as it is in memory, padded to 8 bytes, then the names.
   */
  serializeParts(): Uint8Array[] {
    if (this.partial) return this.whole().serializeParts();
    const enc = new TextEncoder();
    const sources = enc.encode(JSON.stringify(this.objects.map((o) => o.source)));
    const header = enc.encode(JSON.stringify({
      meta: this.meta, objects: this.heads.map((o) => ({ name: o.name, kind: o.kind })), sections: this.sections, namespaces: this.namespaces,
      files: this.files, exporters: [...this.exporters].sort((a, b) => a - b),
      count: this.rows, namesBytes: this.names.length, sourcesBytes: sources.length, hashCount: this.hashes.row.length,
    }));
    const pad8 = (n: number): number => (n + 7) & ~7;
    const head = new Uint8Array(16);
    head.set(enc.encode(MAGIC), 0);
    const dv = new DataView(head.buffer);
    dv.setUint32(8, VERSION, true);
    dv.setUint32(12, header.length, true);
    const parts: Uint8Array[] = [head];
    const zeros = new Uint8Array(8);
    let at = head.length;
    /** A part, then zeros to the next 8-byte boundary. */
    const push = (a: Uint8Array): void => {
      parts.push(a);
      at += a.length;
      if (at % 8 !== 0) {
        parts.push(zeros.subarray(0, pad8(at) - at));
        at = pad8(at);
      }
    };
    push(header);
    push(sources);
    push(new Uint8Array(Uint32Array.from(this.hashes.row).buffer));
    push(new Uint8Array(Uint32Array.from(this.hashes.value).buffer));
    for (const [k] of COLUMNS) {
      const a = this.col[k];
      push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    }
    parts.push(this.names);
    return parts;
  }

  /** @internal The header's length, from the file's first 16 bytes (magic, version, length). */
  static headerLength(first: Uint8Array, file: string): number {
    if (first.length < 16 || Buffer.from(first.subarray(0, 8)).toString('latin1') !== MAGIC) {
      throw new DatabaseError('BAD_DATABASE', { file, offset: 0 }, 'not a klpkit symbol database (bad magic)', 'build one with klp symbols build');
    }
    const dv = new DataView(first.buffer, first.byteOffset, 16);
    const version = dv.getUint32(8, true);
    if (version !== VERSION) throw damaged(file, `database format version ${version}, this klpkit reads ${VERSION}`, 8);
    return dv.getUint32(12, true);
  }

  /** @internal The JSON header (the bytes after the first 16), checked field by field. */
  static parseHeader(text: Uint8Array, file: string): DbHeader {
    const bad = (detail: string, offset?: number): DatabaseError => damaged(file, detail, offset);
    let h: DbHeader;
    try {
      h = JSON.parse(new TextDecoder().decode(text));
    } catch {
      throw bad('header is not valid JSON', 16);
    }
    const isStr = (x: unknown): x is string => typeof x === 'string';
    const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
    const okObject = (o: unknown): boolean => typeof o === 'object' && o !== null && isStr((o as DbObjectHead).name) &&
      ((o as DbObjectHead).kind === 'vmlinux' || (o as DbObjectHead).kind === 'module');
    if (typeof h !== 'object' || h === null || !isCount(h.count) || !Array.isArray(h.objects) || !h.objects.every(okObject) ||
        !Array.isArray(h.sections) || !h.sections.every(isStr) || !Array.isArray(h.namespaces) || !h.namespaces.every(isStr) ||
        !Array.isArray(h.files) || !h.files.every(isStr) ||
        !Array.isArray(h.exporters) || !h.exporters.every((x) => isCount(x) && x < h.objects.length) ||
        !isCount(h.namesBytes) || !isCount(h.sourcesBytes) || !isCount(h.hashCount) || typeof h.meta !== 'object' || h.meta === null ||
        !Array.isArray(h.meta.sources) || !h.meta.sources.every(isStr) || !(h.meta.kernel === null || isStr(h.meta.kernel)) ||
        !isStr(h.meta.created) || !isStr(h.meta.vmlinuxOrder) || !(h.meta.exportsFrom === null || isStr(h.meta.exportsFrom))) {
      throw bad('header fields are missing or malformed', 16);
    }
    return h;
  }

  /**
   * @internal Where each part of a file of `size` bytes starts, for its header `h` of `hlen`
   * bytes: each on an 8-byte boundary, the names ending the file. Throws what load() throws.
   */
  static layout(h: DbHeader, hlen: number, size: number, file: string): DbLayout {
    const bad = (detail: string, offset?: number): DatabaseError => damaged(file, detail, offset);
    const pad8 = (x: number): number => (x + 7) & ~7;
    if (16 + hlen > size) throw bad('header runs past the end of the file', 12);
    const sourcesAt = pad8(16 + hlen);
    if (sourcesAt + h.sourcesBytes > size) throw bad('object sources run past the end of the file', sourcesAt);
    const hashRowAt = pad8(sourcesAt + h.sourcesBytes);
    const hashValueAt = pad8(hashRowAt + 4 * h.hashCount);
    let o = pad8(hashValueAt + 4 * h.hashCount);
    if (o > size) throw bad('fingerprints run past the end of the file', hashRowAt);
    const at = {} as Record<ColumnName, number>;
    for (const [k, T] of COLUMNS) {
      const len = h.count * T.BYTES_PER_ELEMENT;
      if (o + len > size) throw bad(`column ${k} runs past the end of the file`, o);
      at[k] = o;
      o = pad8(o + len);
    }
    if (o + h.namesBytes !== size) throw bad('names table does not end the file', o);
    return { sourcesAt, hashRowAt, hashValueAt, at, namesAt: o };
  }

  /**
   * @internal Check fingerprint rows as load() checks them: ascending (a look-up searches them),
   * each a row of the file's `count`. `at`: where the rows start in the file.
   */
  static checkHashRows(rows: ArrayLike<number>, count: number, file: string, at: number): void {
    for (let k = 0; k < rows.length; k++) {
      if (rows[k]! >= count || (k > 0 && rows[k]! <= rows[k - 1]!)) {
        throw damaged(file, `fingerprint ${k} refers to no row, or is out of order`, at + 4 * k);
      }
    }
  }

  static load(bytes: Uint8Array, file: string): SymbolDb {
    const bad = (detail: string, offset?: number): DatabaseError => damaged(file, detail, offset);
    // Typed-array views need aligned offsets: copy once if the buffer is not 8-aligned.
    if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
    const hlen = SymbolDb.headerLength(bytes, file);
    if (16 + hlen > bytes.length) throw bad('header runs past the end of the file', 12);
    const h = SymbolDb.parseHeader(bytes.subarray(16, 16 + hlen), file);
    const n = h.count;
    const L = SymbolDb.layout(h, hlen, bytes.length, file);
    const col = {} as Record<string, ArrayLike<number>>;
    for (const [k, T] of COLUMNS) col[k] = new T(bytes.buffer as ArrayBuffer, bytes.byteOffset + L.at[k], n);
    const o = L.namesAt;
    const names = bytes.subarray(o, o + h.namesBytes);
    const c = col as unknown as Columns;
    if (names.length > 0 && names[names.length - 1] !== 0) throw bad('names table is not NUL-terminated');
    // Validate every reference once, so lookups can trust the columns.
    for (let i = 0; i < n; i++) {
      if (c.nameOff[i]! >= names.length || refersOutside(c, i, h)) throw bad(`entry ${i} refers outside its tables`);
    }
    const hashes = {
      row: new Uint32Array(bytes.buffer as ArrayBuffer, bytes.byteOffset + L.hashRowAt, h.hashCount),
      value: new Uint32Array(bytes.buffer as ArrayBuffer, bytes.byteOffset + L.hashValueAt, h.hashCount),
    };
    SymbolDb.checkHashRows(hashes.row, n, file, L.hashRowAt);
    const sources = lazySources(bytes.subarray(L.sourcesAt, L.sourcesAt + h.sourcesBytes), h.objects.length, file, L.sourcesAt);
    return new SymbolDb({ ...h, sources, names, col: c, count: n, hashes });
  }
}

/**
 * Does row i of `c` name an object, section, namespace or unit the header `h` does not hold?
 * (Its name offset is the caller's to check: load() against the names table, the part reader by
 * having found the name there.)
 */
export function refersOutside(c: Columns, i: number, h: DbHeader): boolean {
  return c.object[i]! >= h.objects.length || (c.section[i] !== 0xffffffff && c.section[i]! >= h.sections.length) ||
    c.namespace[i]! >= h.namespaces.length || c.file[i]! > h.files.length;
}

/** Where the parts of a database file start (SymbolDb.layout). */
export interface DbLayout {
  sourcesAt: number;
  hashRowAt: number;
  hashValueAt: number;
  at: Record<ColumnName, number>;
  namesAt: number;
}

/**
 * The objects' sources, parsed from `bytes` (a JSON array of strings, `count` of them, at `at` of
 * `file`) when first asked: only `klp symbols info` and the symbols.klp export ask.
 */
function lazySources(bytes: Uint8Array, count: number, file: string, at: number): () => readonly string[] {
  let list: string[] | undefined;
  return () => {
    if (list) return list;
    let v: unknown;
    try {
      v = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      v = undefined;
    }
    if (!Array.isArray(v) || v.length !== count || !v.every((x) => typeof x === 'string')) {
      throw damaged(file, 'object sources are missing or malformed', at);
    }
    list = v as string[];
    return list;
  };
}

/** Where `x` is in the ascending `list`, or -1. */
export function indexIn(list: ArrayLike<number>, x: number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length && list[lo] === x ? lo : -1;
}

