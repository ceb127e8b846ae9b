/**
 * How the kernel prints what the emulator reports in its words.
 *
 * `%p` prints a hashed pointer (lib/vsprintf.c ptr_to_id: siphash of the address under a key
 * drawn at boot, masked to 32 bits, zero-padded to 16 hex digits on 64-bit). The key differs on
 * every boot, so no two kernels print the same value: the emulator prints a hash of the same shape
 * (deterministic, FNV-1a of the address), and comparisons with a real log take any 16 hex digits
 * with 8 leading zeros there. It is the only field of a message that is not reproduced.
 */
export function hashedPointer(addr: bigint): string {
  let h = 0x811c9dc5;
  for (let i = 0n; i < 64n; i += 8n) {
    h ^= Number((addr >> i) & 0xffn);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `00000000${h.toString(16).padStart(8, '0')}`;
}

/** A hashed pointer in a line of the kernel's log, as `hashedPointer` writes it or the kernel does. */
export const HASHED_POINTER = /\b00000000[0-9a-f]{8}\b/g;
