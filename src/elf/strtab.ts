/**
 * String table builder. Strings are latin1 (one char per byte, see bytes.ts); identical strings
 * share one entry. No tail merging: tables are small and a plain layout is easier to audit.
 */

export class StringTableBuilder {
  private readonly offsets = new Map<string, number>();
  private readonly parts: string[] = [];
  private size = 1; // offset 0 is the empty string

  /** Offset of `s` in the table, adding it if needed. */
  add(s: string): number {
    if (s === '') return 0;
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const off = this.size;
    this.offsets.set(s, off);
    this.parts.push(s);
    this.size += s.length + 1;
    return off;
  }

  /** The table bytes: a leading NUL, then every string NUL-terminated. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 1;
    for (const p of this.parts) {
      for (let k = 0; k < p.length; k++) out[o + k] = p.charCodeAt(k) & 0xff; // latin1Bytes(), in place
      o += p.length + 1;
    }
    return out;
  }
}
