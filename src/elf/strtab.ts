import { latin1Write } from './bytes.js';

/**
 * String table builder. Strings are latin1 (one char per byte, see bytes.ts); identical strings
 * share one entry. No tail merging: tables are small and a plain layout is easier to audit.
 */

/** Strings finish() writes with one native call. */
const FINISH_BATCH = 512;

export class StringTableBuilder {
  private readonly strings: Interner;
  private offsets: Uint32Array;
  private size = 1; // offset 0 is the empty string

  /** `expected`: how many strings are likely to be added, so that the tables need not grow to them. */
  constructor(expected = 256) {
    this.strings = new Interner(expected, { exact: true });
    this.offsets = new Uint32Array(Math.max(expected, 256));
  }

  /** Offset of `s` in the table, adding it if needed. */
  add(s: string): number {
    if (s === '') return 0;
    const n = this.strings.size;
    const id = this.strings.id(s);
    if (id < n) return this.offsets[id]!;
    if (id === this.offsets.length) {
      const more = new Uint32Array(id * 2);
      more.set(this.offsets);
      this.offsets = more;
    }
    this.offsets[id] = this.size;
    this.size += s.length + 1;
    return this.offsets[id]!;
  }

  /**
   * The table bytes: a leading NUL, then every string NUL-terminated. Written a batch of strings
   * at a time, each joined by NULs into one string: not a native call a string (a rebuilt
   * .shstrtab of a patch of 20,000 functions holds 60,000 names), and not the whole table as one
   * string either, which is a fresh large object of the heap (megabytes of pages touched for the
   * first time, each a page fault: docs/performance.md).
   */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    const list = this.strings.list;
    for (let i = 0, at = 1; i < list.length; i += FINISH_BATCH) {
      const end = Math.min(i + FINISH_BATCH, list.length);
      at = latin1Write(out, list.slice(i, end).join('\0'), at) + 1;
    }
    return out;
  }
}

/**
 * Strings, each distinct one once, with an id (its index in `list`), in an open-addressing table
 * of typed arrays keyed by FNV-1a: symbol names as a database is built (a kernel's 733,853 symbols
 * hold some 500,000 distinct names, which a `Map` of strings took twice as long to intern: its
 * per-entry objects and rehashing, measured on Debian 6.1), and a string table's strings.
 */
export class Interner {
  /** The strings by id; room for more past `count` when made `exact`. */
  private readonly strings: string[];
  private count = 0;
  private hashes: Uint32Array;
  private slots: Int32Array;

  /**
   * `expected`: how many distinct strings are likely, so that the table need not grow to them;
   * `exact`: that many will come (a string table's names), so the list is made at that size too
   * (grown a push at a time to 60,000 names, it was copied into fresh large objects of V8's heap
   * again and again: docs/performance.md, tenth round).
   */
  constructor(expected = 1 << 10, opts: { exact?: boolean } = {}) {
    let size = 1 << 10;
    while (size < expected && size < 1 << 26) size *= 2;
    this.hashes = new Uint32Array(size);
    this.slots = new Int32Array(2 * size).fill(-1);
    this.strings = opts.exact && expected > 0 ? new Array<string>(expected) : [];
  }

  /** How many strings it holds. */
  get size(): number {
    return this.count;
  }

  /** The strings by id (a live list: ids added later are added to it). */
  get list(): string[] {
    if (this.strings.length !== this.count) this.strings.length = this.count;
    return this.strings;
  }

  /** The id of `x`, adding it when new. */
  id(x: string): number {
    const h = fnv1a(x);
    const k = this.probe(x, h);
    if (this.slots[k]! >= 0) return this.slots[k]!;
    const n = this.count++;
    if (n < this.strings.length) this.strings[n] = x;
    else this.strings.push(x);
    if (n === this.hashes.length) {
      const more = new Uint32Array(n * 2);
      more.set(this.hashes);
      this.hashes = more;
    }
    this.hashes[n] = h;
    this.slots[k] = n;
    if (2 * (n + 1) > this.slots.length) this.grow(); // keep it at most half full
    return n;
  }

  /** The id of `x`, or -1. */
  find(x: string): number {
    return this.slots[this.probe(x, fnv1a(x))]!;
  }

  /** The slot that holds `x` (hash `h`), or the empty slot where it would go. */
  private probe(x: string, h: number): number {
    const mask = this.slots.length - 1;
    for (let k = h & mask; ; k = (k + 1) & mask) {
      const id = this.slots[k]!;
      if (id < 0 || (this.hashes[id] === h && this.strings[id] === x)) return k;
    }
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let id = 0; id < this.count; id++) {
      let k = this.hashes[id]! & mask;
      while (slots[k]! >= 0) k = (k + 1) & mask;
      slots[k] = id;
    }
    this.slots = slots;
  }
}

/** FNV-1a over a name's characters (latin1: its bytes). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
