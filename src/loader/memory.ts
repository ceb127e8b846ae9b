/**
 * Emulated kernel memory: regions with a base address, real bytes and page permissions. Every
 * write and every permission change is recorded (who, what, where, at which stage), so that a
 * plain write to read-only or executable memory shows up as a violation and a design's permission
 * flips can be counted.
 */

export interface Perms { r: boolean; w: boolean; x: boolean }

export const RW_NX: Perms = { r: true, w: true, x: false };
export const RO_NX: Perms = { r: true, w: false, x: false };
export const RO_X: Perms = { r: true, w: false, x: true };
/** What module_disable_ro() (before 5.8) left text at: writable and still executable. */
export const RW_X: Perms = { r: true, w: true, x: true };

export const permString = (p: Perms): string => `${p.r ? 'r' : '-'}${p.w ? 'w' : '-'}${p.x ? 'x' : '-'}`;

export interface Region {
  /** `<module>:<part>`, e.g. `klpkit_patch:text` or `klpkit_patch:klp.klpkit_target.text`. */
  name: string;
  base: bigint;
  bytes: Uint8Array;
  perms: Perms;
}

/** Who wrote: a plain store (memcpy, *(u32 *)loc = val) or text_poke() through a temporary mapping. */
export type Writer = 'memcpy' | 'text_poke';

export interface WriteRecord {
  stage: string;
  by: Writer;
  region: string;
  /** What was written, e.g. `klpkit_patch:.text+0x12 (R_X86_64_PLT32 get_homonym_string)`. */
  what: string;
  address: bigint;
  size: number;
  /** A plain write to memory that was not writable, or was executable, at the time. */
  violation: boolean;
}

export interface PermChange {
  stage: string;
  region: string;
  from: Perms;
  to: Perms;
  /**
   * protect: memory becomes read-only or executable for the first time (module_enable_ro/_x);
   * flip: read-only memory of a formed module made writable again to write into it
   * (module_disable_ro before 5.8), and protected back afterwards;
   * release: memory of retired code reset to RW+NX (module_memfree's VM_FLUSH_RESET_PERMS).
   */
  kind: 'protect' | 'flip' | 'release';
}

export class Memory {
  private readonly regions: Region[] = [];
  readonly writes: WriteRecord[] = [];
  readonly permChanges: PermChange[] = [];
  /** Keep every write record (the scale test turns this off; violations are always kept). */
  record = true;

  /**
   * Regions are kept sorted by base address (they never overlap), so lookups are a binary search:
   * the index of the first region whose base is >= addr, or > addr when `strictly`.
   */
  private firstFrom(addr: bigint, strictly: boolean): number {
    let lo = 0, hi = this.regions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.regions[mid]!.base;
      if (b < addr || (strictly && b === addr)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  map(r: Region): Region {
    this.regions.splice(this.firstFrom(r.base, false), 0, r);
    return r;
  }

  unmap(r: Region): void {
    // The first region with r's base, then the few that share it (empty parts).
    for (let i = this.firstFrom(r.base, false); i < this.regions.length && this.regions[i]!.base === r.base; i++) {
      if (this.regions[i] === r) {
        this.regions.splice(i, 1);
        return;
      }
    }
  }

  find(addr: bigint, size: number): { region: Region; off: number } | undefined {
    // Only the regions with the greatest base <= addr can hold it.
    const lo = this.firstFrom(addr, true);
    // Empty regions (a part without sections) share a base with the next region.
    const base = this.regions[lo - 1]?.base;
    for (let i = lo - 1; i >= 0 && this.regions[i]!.base === base; i--) {
      const region = this.regions[i]!;
      const off = addr - region.base;
      if (off + BigInt(size) <= BigInt(region.bytes.length)) return { region, off: Number(off) };
    }
    return undefined;
  }

  read(addr: bigint, size: number): Uint8Array | undefined {
    const f = this.find(addr, size);
    return f ? f.region.bytes.subarray(f.off, f.off + size) : undefined;
  }

  /** Write `bytes` at `addr`; returns false if no region holds the place. */
  write(addr: bigint, bytes: Uint8Array, stage: string, by: Writer, what: string | (() => string) = ''): boolean {
    const f = this.find(addr, bytes.length);
    if (!f) return false;
    f.region.bytes.set(bytes, f.off);
    const violation = by === 'memcpy' && (!f.region.perms.w || f.region.perms.x);
    // `what` may come as a function: a description made only for a write that is recorded.
    if (this.record || violation) this.writes.push({ stage, by, region: f.region.name, what: typeof what === 'string' ? what : what(), address: addr, size: bytes.length, violation });
    return true;
  }

  /** set_memory_ro/rw/x/nx on a whole region; a change to the same permissions is not recorded. */
  protect(region: Region, to: Perms, stage: string, kind: PermChange['kind']): void {
    const from = region.perms;
    if (from.r === to.r && from.w === to.w && from.x === to.x) return;
    region.perms = to;
    if (region.bytes.length > 0) this.permChanges.push({ stage, region: region.name, from, to, kind });
  }
}

export const PAGE_SIZE = 4096;
export const pageAlign = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
