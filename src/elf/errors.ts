/**
 * Typed errors for malformed input. Every error carries the file and, where one exists, the byte
 * offset of the problem, so the CLI can print `file: offset 0x1c: problem (what to do)` and exit 2.
 */

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

export interface ElfErrorPlace {
  /** The file being read; '<memory>' for bytes without a path. */
  readonly file: string;
  /** Byte offset into the (decompressed) file where the problem is, when one applies. */
  readonly offset?: number | undefined;
  /** Section the problem is in, by name or index. */
  readonly section?: string | undefined;
  /** Entry index inside a table (symbol, relocation, group member). */
  readonly index?: number | undefined;
}

export class ElfError extends Error {
  override readonly name = 'ElfError';
  readonly code: ElfErrorCode;
  readonly file: string;
  readonly offset: number | undefined;
  readonly section: string | undefined;
  readonly index: number | undefined;
  /** The problem alone, without the place. */
  readonly detail: string;
  /** What the user can do about it, when we know. */
  readonly hint: string | undefined;

  constructor(code: ElfErrorCode, place: ElfErrorPlace, detail: string, hint?: string) {
    super(formatMessage(place, detail, hint));
    this.code = code;
    this.file = place.file;
    this.offset = place.offset;
    this.section = place.section;
    this.index = place.index;
    this.detail = detail;
    this.hint = hint;
  }
}

function formatMessage(place: ElfErrorPlace, detail: string, hint?: string): string {
  let where = place.file;
  if (place.section !== undefined) where += `: section ${place.section}`;
  if (place.index !== undefined) where += ` entry ${place.index}`;
  if (place.offset !== undefined) where += ` (offset 0x${place.offset.toString(16)})`;
  return `${where}: ${detail}${hint ? ` (${hint})` : ''}`;
}

export const isElfError = (e: unknown): e is ElfError => e instanceof ElfError;
