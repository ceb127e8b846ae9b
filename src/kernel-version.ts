/**
 * Which kernel's rules apply: many behaviours klpkit models changed between releases (x86's
 * relocation messages in 6.3, vmlinux relocations at load in 5.8, KSYM_NAME_LEN in 6.1). One type
 * for all of them, shared by every layer.
 */
export interface KernelVersion { readonly major: number; readonly minor: number }

export function parseKernelVersion(v: string): KernelVersion {
  const m = /^(\d+)\.(\d+)/.exec(v);
  if (!m) throw new Error(`not a kernel version: '${v}' (expected e.g. 6.1 or 5.4.0-150)`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export const atLeast = (k: KernelVersion, major: number, minor: number): boolean =>
  k.major > major || (k.major === major && k.minor >= minor);
