/** Errors in text inputs (System.map, kallsyms dumps, Module.symvers, symbols.klp): file and line. */
import { ElfError } from '../elf/errors.js';

export function lineError(file: string, line: number, detail: string, hint?: string): ElfError {
  // ElfError carries the place; for text files the "offset" is meaningless, so the line goes in the message.
  return new ElfError('BAD_SYMBOL', { file: `${file}:${line}` }, detail, hint);
}
