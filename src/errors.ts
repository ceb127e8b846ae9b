/** An error the user can act on that is not about a file's contents: bad option combinations, empty inputs. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
