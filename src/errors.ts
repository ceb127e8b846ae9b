/** An error the user can act on that is not about a file's contents: bad option combinations, empty inputs. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An input echoed in a message is cut to `max` characters, saying how much was left out. */
export function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length - max} more characters)`;
}

/** Where in an input a problem is: the file and, where they apply, offset, section and entry. */
export interface InputPlace {
  /** The file being read; '<memory>' for bytes without a path. */
  readonly file: string;
  /** Byte offset into the (decompressed) file where the problem is, when one applies. */
  readonly offset?: number | undefined;
  /** Section the problem is in, by name or index. */
  readonly section?: string | undefined;
  /** Entry index inside a table (symbol, relocation, group member). */
  readonly index?: number | undefined;
  /** Line number, for text inputs. */
  readonly line?: number | undefined;
}

/**
 * A problem with an input file, as the user sees it: one line, `file[:line][: section S entry N]
 * [(offset 0x…)]: problem (what to do)`, exit 2. The kinds of input have their own subclasses
 * (ElfError for ELF and compressed data, DatabaseError for .klpdb files, TextInputError for line
 * formats), all rendered the same way.
 */
export class InputError extends Error {
  override readonly name: string = 'InputError';
  readonly code: string;
  readonly file: string;
  readonly offset: number | undefined;
  readonly section: string | undefined;
  readonly index: number | undefined;
  readonly line: number | undefined;
  /** The problem alone, without the place. */
  readonly detail: string;
  /** What the user can do about it, when we know. */
  readonly hint: string | undefined;

  constructor(code: string, place: InputPlace, detail: string, hint?: string) {
    super(formatInputMessage(place, detail, hint));
    this.code = code;
    this.file = place.file;
    this.offset = place.offset;
    this.section = place.section;
    this.index = place.index;
    this.line = place.line;
    this.detail = detail;
    this.hint = hint;
  }
}

function formatInputMessage(place: InputPlace, detail: string, hint?: string): string {
  let where = place.line !== undefined ? `${place.file}:${place.line}` : place.file;
  if (place.section !== undefined) where += `: section ${place.section}`;
  if (place.index !== undefined) where += ` entry ${place.index}`;
  if (place.offset !== undefined) where += ` (offset 0x${place.offset.toString(16)})`;
  return `${where}: ${detail}${hint ? ` (${hint})` : ''}`;
}
