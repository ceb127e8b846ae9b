/** Compilation units as the symbol database records them (STT_FILE names). */

/**
 * Does a compilation unit match what the user wrote after `@`? STT_FILE names are usually the
 * file name alone (`bar_v2.c`), sometimes a path: they match when one ends with the other at a
 * path-component boundary (`@fs/foo/bar_v2.c` matches `bar_v2.c`, and `@bar_v2.c` matches
 * `fs/foo/bar_v2.c`).
 */
export function unitMatches(unit: string, wanted: string): boolean {
  const ends = (a: string, b: string): boolean => a === b || a.endsWith(`/${b}`);
  return ends(unit, wanted) || ends(wanted, unit);
}
