/**
 * Typed errors for malformed input. Every error carries the file and, where one exists, the byte
 * offset of the problem, so the CLI can print `file: offset 0x1c: problem (what to do)` and exit 2.
 */

import { InputError, type InputPlace } from '../errors.js';

export type ElfErrorCode =
  | 'NOT_ELF'
  | 'BAD_CLASS'
  | 'BAD_ENDIAN'
  | 'BAD_VERSION'
  | 'TRUNCATED'
  | 'BAD_HEADER'
  | 'BAD_SECTION'
  | 'BAD_SECTION_INDEX'
  | 'BAD_STRING'
  | 'BAD_SYMBOL'
  | 'BAD_RELOCATION'
  | 'BAD_GROUP'
  | 'TOO_LARGE'
  | 'DECOMPRESS'
  | 'UNSUPPORTED'
  | 'READ'
  | 'WRITE';

export type ElfErrorPlace = InputPlace;

/** A problem with ELF or compressed data (or reading a file at all). */
export class ElfError extends InputError {
  override readonly name: string = 'ElfError';
  declare readonly code: ElfErrorCode;

  constructor(code: ElfErrorCode, place: ElfErrorPlace, detail: string, hint?: string) {
    super(code, place, detail, hint);
  }
}

export const isElfError = (e: unknown): e is ElfError => e instanceof ElfError;
