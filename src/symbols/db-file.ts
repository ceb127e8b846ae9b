/**
 * A symbol database read in part, for a command that asks about a few thousand names (klp
 * convert): the file is streamed through one small buffer and only the rows of the names asked
 * are kept, each checked as `SymbolDb.load` checks it. The whole Debian
 * database is 42 MiB; a patch naming 20,000 symbols keeps 1 MiB of it. On a machine where fresh
 * memory is dear (each page touched for the first time is a fault) that is most of the cost of
 * reading it whole.
 *
 * Layout (database.ts): 16 bytes (magic, version, header length), the JSON header, the objects'
 * sources, the fingerprints, then one column after another (each 8-aligned), then the names
 * table. Rows are sorted by name, and the names table holds each distinct name once, in the same
 * order: a few names' rows are found by a binary search each, as `SymbolDb.lookup` finds them;
 * many names' by one walk of the names table and one of the name-offset column, side by side
 * with the sorted names asked.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { COLUMNS, refersOutside, SymbolDb, type ColumnName, type Columns, type DbHeader, type DbLayout } from './database.js';
import { latin1Write } from '../elf/bytes.js';
import { damaged, DatabaseError } from './errors.js';

const CHUNK = 1 << 20;
/** Up to this many names asked are searched for one by one; more are found by one walk. */
const SEARCH_MAX = 256;
/** Bytes of the names table a walk looks through at a time for the next name asked. */
const WINDOW = 4096;

/**
 * A database file opened and checked (its header, and where each part lies), not yet read:
 * `rowsFor` then reads the rows of the names asked, and checks those.
 */
export class DbFile {
  private readonly fd: number;
  private readonly path: string;
  private readonly h: DbHeader;
  private readonly L: DbLayout;
  private readonly chunk = new Uint8Array(CHUNK);
  /**
   * Whether rows come in name order (the name-offset column never goes down): undefined until a
   * walk or a search has read that column whole.
   */
  private ordered: boolean | undefined;

  private constructor(fd: number, path: string, h: DbHeader, L: DbLayout) {
    this.fd = fd;
    this.path = path;
    this.h = h;
    this.L = L;
  }

  /**
   * Open and check `path`; undefined when it is not a regular file that can be opened (the
   * caller reads it the general way, which words every error). Throws DatabaseError on damage to
   * its header or layout; a damaged row, when rowsFor() reads it.
   */
  static open(path: string): DbFile | undefined {
    let fd: number;
    try {
      // stat before open: opening a pipe only to close it again could cut off its writer.
      if (!statSync(path).isFile()) return undefined;
      fd = openSync(path, 'r');
    } catch {
      return undefined;
    }
    let ok = false;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return undefined;
      const db = DbFile.check(fd, path, st.size);
      ok = true;
      return db;
    } finally {
      if (!ok) closeSync(fd);
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  private readAt(buf: Uint8Array, pos: number, len: number): void {
    readFully(this.fd, this.path, buf, pos, len);
  }

  /**
   * The header and the layout, checked as load() checks them. The rows are not read here: a
   * check of every row (five columns of 733,853 rows for Debian's database) cost more than the
   * rows a patch reads, which rowsFor() checks (docs/performance.md, eleventh round).
   */
  private static check(fd: number, file: string, size: number): DbFile {
    const first = new Uint8Array(Math.min(16, size));
    readFully(fd, file, first, 0, first.length);
    const hlen = SymbolDb.headerLength(first, file);
    if (16 + hlen > size) throw damaged(file, 'header runs past the end of the file', 12);
    const text = new Uint8Array(hlen);
    readFully(fd, file, text, 16, hlen);
    const h = SymbolDb.parseHeader(text, file);
    const db = new DbFile(fd, file, h, SymbolDb.layout(h, hlen, size, file));
    if (h.namesBytes > 0) {
      db.readAt(db.chunk, db.L.namesAt + h.namesBytes - 1, 1);
      if (db.chunk[0] !== 0) throw damaged(file, 'names table is not NUL-terminated');
    }
    return db;
  }

  /**
   * Do the rows come in name order? The name-offset column read whole (once), as a search needs
   * it to trust its halvings; a walk learns it on its own way through the column.
   */
  private inOrder(): boolean {
    if (this.ordered === undefined) {
      // An offset past the names table counts as out of order: load() words that damage.
      let prev = 0, ordered = true;
      const limit = this.h.namesBytes;
      this.chunksOf('nameOff', (_i0, values) => {
        for (let j = 0; j < values.length && ordered; j++) {
          if (values[j]! < prev || values[j]! >= limit) ordered = false;
          prev = values[j]!;
        }
      });
      this.ordered = ordered;
    }
    return this.ordered;
  }

  /** A column a chunk at a time: fn(first row, the chunk's values). */
  private chunksOf(k: ColumnName, fn: (i0: number, values: ArrayLike<number>) => void): void {
    this.rowsOf(k, 0, this.h.count, fn);
  }

  /** Rows [start, end) of a column, a chunk at a time: fn(first row, the chunk's values). */
  private rowsOf(k: ColumnName, start: number, end: number, fn: (i0: number, values: ArrayLike<number>) => void): void {
    const T = COLUMNS.find((c) => c[0] === k)![1];
    const per = CHUNK / T.BYTES_PER_ELEMENT;
    for (let i0 = start; i0 < end; i0 += per) {
      const m = Math.min(per, end - i0);
      this.readAt(this.chunk, this.L.at[k] + i0 * T.BYTES_PER_ELEMENT, m * T.BYTES_PER_ELEMENT);
      fn(i0, new T(this.chunk.buffer, 0, m));
    }
  }

  /**
   * The database holding the rows of `wanted` (a lookup of any other name, and the questions about
   * whole objects, go to `whole()`). Undefined when the file is laid out in a way the part reader
   * does not expect (rows out of name order, a name longer than the walk's buffer): read it whole
   * then. `walk` chooses how the rows are found (tests ask for both): by default, a search each
   * for up to SEARCH_MAX names, one walk for more. A Set of names the database can hold (as
   * namesToResolve() makes them) is kept as the database's own, not copied: do not change it after.
   */
  rowsFor(wanted: Iterable<string>, whole: () => SymbolDb, opts: { walk?: boolean } = {}): SymbolDb | undefined {
    const { h, L } = this;
    if (this.ordered === false) return undefined;
    // The names asked, in the table's order (latin1 bytes; the default sort is code-unit order).
    // (A second set of 20,000 names was a table grown by rehashing: fresh pages each time.)
    const kept: string[] = [];
    let every = wanted instanceof Set;
    for (const x of wanted) {
      if (x !== '' && !/[^\x01-\xff]/.test(x)) kept.push(x);
      else every = false;
    }
    const askedSet: ReadonlySet<string> = every ? wanted as Set<string> : new Set(kept);
    const asked = (every ? kept : [...askedSet]).sort();
    // A few names are searched for (a patch of ten functions names a dozen): some 20 small reads
    // a name, not a walk of the 12 MB names table and every column. Many are found by the walk.
    const found = (opts.walk ?? asked.length > SEARCH_MAX) ? this.walk(asked) : this.inOrder() ? this.search(asked) : undefined;
    if (!found) return undefined;
    const { rows, rowName, foundName, runStart, runEnd } = found;

    // The kept rows' columns, a run of rows (one name's) at a time when they were searched for,
    // else a column at a time.
    const m = rows.length;
    const col = Object.fromEntries(COLUMNS.map(([k, T]) => [k, new T(m)])) as unknown as Columns;
    for (const [k] of COLUMNS) {
      const dst = col[k] as unknown as { [i: number]: number };
      if (runStart) {
        for (let q = 0, r = 0; q < runStart.length; q++) {
          this.rowsOf(k, runStart[q]!, runEnd![q]!, (_i0, values) => {
            for (let j = 0; j < values.length; j++) dst[r++] = values[j]!;
          });
        }
        continue;
      }
      let r = 0;
      this.chunksOf(k, (i0, values) => {
        for (; r < m && rows[r]! < i0 + values.length; r++) dst[r] = values[rows[r]! - i0]!;
      });
    }
    // Each row kept checked as load() checks every row (its name offset is one found in the
    // names table): the first bad one is named, in load()'s words.
    for (let r = 0; r < m; r++) if (refersOutside(col, r, h)) throw damaged(this.path, `entry ${rows[r]!} refers outside its tables`);

    // A names table of the names found, in order, and the kept rows pointed into it.
    const names = new Uint8Array(foundName.reduce((t, x) => t + x.length + 1, 0));
    const newOff = new Uint32Array(foundName.length);
    let w = 0;
    for (let q = 0; q < foundName.length; q++) {
      const x = foundName[q]!;
      newOff[q] = w;
      w = latin1Write(names, x, w) + 1; // the NUL is there already
    }
    for (let r = 0; r < m; r++) col.nameOff[r] = newOff[rowName[r]!]!;
    // Fingerprints are kept by row: the kept ones renumbered (both lists ascend).
    const hashRow = this.u32s(L.hashRowAt, h.hashCount), hashValue = this.u32s(L.hashValueAt, h.hashCount);
    SymbolDb.checkHashRows(hashRow, h.count, this.path, L.hashRowAt);
    const keptRow: number[] = [], keptValue: number[] = [];
    for (let k = 0, r = 0; k < hashRow.length; k++) {
      while (r < m && rows[r]! < hashRow[k]!) r++;
      if (r < m && rows[r] === hashRow[k]) {
        keptRow.push(r);
        keptValue.push(hashValue[k]!);
      }
    }
    const sources = new Uint8Array(h.sourcesBytes);
    this.readAt(sources, L.sourcesAt, sources.length);
    const header: DbHeader = { ...h, count: m, namesBytes: names.length };
    return SymbolDb.partialFrom(header, sources, this.path, L.sourcesAt, names, col, m, { row: keptRow, value: keptValue }, { names: askedSet, whole });
  }

  /** `count` 32-bit numbers at `pos` of the file, read into an array of their own. */
  private u32s(pos: number, count: number): Uint32Array {
    const a = new Uint32Array(count);
    this.readAt(new Uint8Array(a.buffer), pos, 4 * count);
    return a;
  }

  /**
   * The rows of the names `asked` (sorted) by a walk of the names table beside them, then one of
   * the name-offset column; undefined when a name is longer than the buffer (load() reads it).
   */
  private walk(asked: readonly string[]): FoundRows | undefined {
    const { h, chunk } = this;
    const { namesAt } = this.L;
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // The offset of each name asked that the table holds. Both run in order, so the offsets
    // found ascend.
    const foundOff: number[] = [], foundName: string[] = [];
    let a = 0;
    for (let base = 0; base < h.namesBytes && a < asked.length;) {
      const len = Math.min(CHUNK, h.namesBytes - base);
      this.readAt(chunk, namesAt + base, len);
      const last = chunk.lastIndexOf(0, len - 1);
      if (last < 0) return undefined; // a name longer than the buffer: leave it to load()
      const end = last + 1; // the chunk's whole names are [0, end); the rest come with the next
      // `p`: where a name starts, the first that may be asked[a] or come after it. The name
      // there is compared; past it, the name asked is looked for among the whole names of a
      // window ahead as "\0name\0" (Buffer's native search), not a name at a time: 20,000 names
      // asked of 733,853 were a JS comparison and a native call each of the 733,853
      // (docs/performance.md, tenth round).
      for (let p = 0; p < end && a < asked.length;) {
        const key = asked[a]!;
        const c = compareName(chunk, p, key);
        if (c === 0) {
          foundOff.push(base + p);
          foundName.push(key);
          a++;
          p += key.length + 1;
          continue;
        }
        if (c > 0) {
          a++; // not in the table: it would have come by now
          continue;
        }
        // The name at p comes first. The window: whole names from p on, some WINDOW bytes.
        const windowEnd = chunk.indexOf(0, Math.min(p + WINDOW, end) - 1) + 1;
        const q = bytes.subarray(p, windowEnd).indexOf(`\0${key}\0`, 0, 'latin1');
        if (q >= 0) {
          const at = p + q + 1; // past the NUL that ends the name before it
          foundOff.push(base + at);
          foundName.push(key);
          a++;
          p = at + key.length + 1;
        } else if (compareName(chunk, Math.max(p, chunk.lastIndexOf(0, windowEnd - 2) + 1), key) > 0) {
          a++; // the window's last name comes after it: it would be in the window, not in the table
        } else {
          p = windowEnd; // past the window (into the next chunk, when this one is done)
        }
      }
      base += end;
    }
    // The rows of the names found, and which name found each is: the column ascends with the
    // rows, within the names table (checked on the way; else undefined, and the file is read
    // whole), and so do the offsets found.
    const rows: number[] = [], rowName: number[] = [];
    let q = 0, prev = 0, ordered = true;
    const limit = h.namesBytes;
    this.chunksOf('nameOff', (i0, values) => {
      for (let j = 0; j < values.length && ordered; j++) {
        const v = values[j]!;
        if (v < prev || v >= limit) ordered = false; // (past the table: load() words it)
        prev = v;
        while (q < foundOff.length && foundOff[q]! < v) q++;
        if (q < foundOff.length && foundOff[q] === v) {
          rows.push(i0 + j);
          rowName.push(q);
        }
      }
    });
    this.ordered = ordered;
    return ordered ? { rows, rowName, foundName } : undefined;
  }

  /**
   * The rows of the names `asked` (sorted) by a binary search each over the rows, sorted by name
   * as load()'s look-up searches them (database.ts `range`): a name's rows are one run, which
   * share its offset in the names table.
   */
  private search(asked: readonly string[]): FoundRows {
    const { h } = this;
    // Read as chunksOf() reads the column: a Uint32Array over the bytes (the chunk's, which
    // nothing else uses while the search runs).
    const windowBytes = this.chunk;
    const window = new Uint32Array(windowBytes.buffer, windowBytes.byteOffset, CHUNK / 4);
    const nameOffAt = (row: number): number => {
      this.readAt(windowBytes, this.L.at.nameOff + row * 4, 4);
      return window[0]!;
    };
    const text = new Uint8Array(256);
    /**
     * The table's name at `off` against `key`, by compareName on its first key.length + 1 bytes:
     * it decides by then (a byte differs, or both end), and a name cut short by the table's end
     * meets the table's last byte, a NUL (checked at open), first.
     */
    const compareAt = (off: number, key: string): number => {
      const len = Math.min(key.length + 1, h.namesBytes - off);
      const buf = len <= text.length ? text : new Uint8Array(len);
      this.readAt(buf, this.L.namesAt + off, len);
      return compareName(buf, 0, key);
    };
    const rows: number[] = [], rowName: number[] = [], foundName: string[] = [];
    const runStart: number[] = [], runEnd: number[] = [];
    for (const key of asked) {
      let lo = 0, hi = h.count;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareAt(nameOffAt(mid), key) < 0) lo = mid + 1;
        else hi = mid;
      }
      // Not there; or (a names table out of order) inside the run of a name found before.
      if (lo >= h.count || (runEnd.length > 0 && lo < runEnd[runEnd.length - 1]!)) continue;
      const off = nameOffAt(lo);
      if (compareAt(off, key) !== 0) continue;
      // The run's end: read in windows growing from 64 rows (most names have a row or two;
      // `__this_module` has one a module).
      let end = lo + 1;
      for (let size = 64; end < h.count;) {
        const m = Math.min(size, h.count - end, window.length);
        this.readAt(windowBytes, this.L.at.nameOff + end * 4, m * 4);
        let j = 0;
        while (j < m && window[j] === off) j++;
        end += j;
        if (j < m) break;
        size *= 4;
      }
      runStart.push(lo);
      runEnd.push(end);
      for (let r = lo; r < end; r++) {
        rows.push(r);
        rowName.push(foundName.length);
      }
      foundName.push(key);
    }
    return { rows, rowName, foundName, runStart, runEnd };
  }
}

/** What a part reader's look-up of the names asked found: the rows, in order, and whose each is. */
interface FoundRows {
  rows: number[];
  /** Per row, its name's index in `foundName`. */
  rowName: number[];
  foundName: string[];
  /** When found by search: the rows as runs [runStart[q], runEnd[q]), one a name. */
  runStart?: number[];
  runEnd?: number[];
}

function readFully(fd: number, file: string, buf: Uint8Array, pos: number, len: number): void {
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got);
    if (n === 0) throw new DatabaseError('BAD_DATABASE', { file, offset: pos + got }, 'the file ended early (did it change while read?)', 'read it again');
    got += n;
  }
}

/** Byte order of the NUL-terminated name at `p` of `table` against `key` (latin1): < 0, 0 or > 0. */
function compareName(table: Uint8Array, p: number, key: string): number {
  for (let k = 0; ; k++) {
    const t = table[p + k]!;
    const c = k < key.length ? key.charCodeAt(k) : 0;
    if (t !== c) return t - c;
    if (t === 0) return 0;
  }
}
