/**
 * Emulated kernel memory: regions with a base address, real bytes and page permissions. Every
 * write is recorded (who, what, where), so that a write to read-only or executable memory by
 * anything but text_poke shows up as a violation.
 */

export interface Perms { r: boolean; w: boolean; x: boolean }

export interface Region {
  name: string;
  base: bigint;
  bytes: Uint8Array;
  perms: Perms;
}

export interface WriteRecord {
  stage: string;
  by: 'memcpy' | 'text_poke';
  region: string;
  address: bigint;
  size: number;
  /** A plain write to memory that was not writable, or was executable, at the time. */
  violation: boolean;
}

export class Memory {
  private readonly regions: Region[] = [];
  readonly writes: WriteRecord[] = [];
  /** Keep every write record (the scale test turns this off). */
  record = true;

  /** Regions are kept sorted by base address (they never overlap), so lookups are a binary search. */
  map(r: Region): Region {
    let lo = 0, hi = this.regions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.regions[mid]!.base < r.base) lo = mid + 1;
      else hi = mid;
    }
    this.regions.splice(lo, 0, r);
    return r;
  }

  unmap(r: Region): void {
    const i = this.regions.indexOf(r);
    if (i >= 0) this.regions.splice(i, 1);
  }

  find(addr: bigint, size: number): { region: Region; off: number } | undefined {
    // Only the regions with the greatest base <= addr can hold it.
    let lo = 0, hi = this.regions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.regions[mid]!.base <= addr) lo = mid + 1;
      else hi = mid;
    }
    // Empty regions (a module without init sections) can share a base with the next region.
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
  write(addr: bigint, bytes: Uint8Array, stage: string, by: 'memcpy' | 'text_poke'): boolean {
    const f = this.find(addr, bytes.length);
    if (!f) return false;
    f.region.bytes.set(bytes, f.off);
    const violation = by === 'memcpy' && (!f.region.perms.w || f.region.perms.x);
    if (this.record || violation) this.writes.push({ stage, by, region: f.region.name, address: addr, size: bytes.length, violation });
    return true;
  }
}

export const PAGE_SIZE = 4096;
export const pageAlign = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
