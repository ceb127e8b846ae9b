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

  map(r: Region): Region {
    this.regions.push(r);
    return r;
  }

  unmap(r: Region): void {
    const i = this.regions.indexOf(r);
    if (i >= 0) this.regions.splice(i, 1);
  }

  find(addr: bigint, size: number): { region: Region; off: number } | undefined {
    for (const region of this.regions) {
      const off = addr - region.base;
      if (off >= 0n && off + BigInt(size) <= BigInt(region.bytes.length)) return { region, off: Number(off) };
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
