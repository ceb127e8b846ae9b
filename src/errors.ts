/** An error the user can act on that is not about a file's contents: bad option combinations, empty inputs. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An input echoed in a message is cut to `max` characters, saying how much was left out. */
export function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length - max} more characters)`;
}
