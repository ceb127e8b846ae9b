/** Errors in the symbol layer's inputs: text formats (file and line) and symbol databases. */
import { InputError, type InputPlace } from '../errors.js';

/** A line of System.map, a kallsyms dump, Module.symvers or symbols.klp that cannot be read. */
export class TextInputError extends InputError {
  override readonly name: string = 'TextInputError';
}

/** A .klpdb file that is not one, or is damaged, or a database that cannot be built. */
export class DatabaseError extends InputError {
  override readonly name: string = 'DatabaseError';
  constructor(code: 'BAD_DATABASE' | 'TOO_LARGE' | 'DUPLICATE_OBJECT', place: InputPlace, detail: string, hint?: string) {
    super(code, place, detail, hint);
  }
}

/** A database file's damage, at `offset` when known: rebuilding it is the way out. */
export function damaged(file: string, detail: string, offset?: number): DatabaseError {
  return new DatabaseError('BAD_DATABASE', { file, offset }, detail, 'rebuild it with klp symbols build');
}

export function lineError(file: string, line: number, detail: string, hint?: string): TextInputError {
  return new TextInputError('BAD_LINE', { file, line }, detail, hint);
}
