/**
 * The bindings a converted patch remembers: for every symbol klp convert turned into a
 * `.klp.sym.<obj>.<name>,<sympos>`, which definition it chose (its section and compilation unit,
 * how many same-named definitions the object had) and why (the option or annotation). They live
 * in `.klpkit.bindings`, a section without SHF_ALLOC: the module loader never copies it into
 * memory (kernel/module/main.c layout_sections takes only SHF_ALLOC sections), so the module
 * loads and occupies memory exactly as without it. `klp check --db/--dbs` compares them with
 * each kernel build the patch ships to.
 *
 * Format: UTF-8 text, a header line, then one binding per line, tab-separated:
 *   object  name  sympos  homonyms  section  unit  intent  size  fingerprint      ('-' for unknown)
 * A tab, newline or backslash in a text field is written \t, \n, \\ (a module's names may hold
 * any byte but NUL).
 * (`klpkit bindings 2`; version 1 had no size and fingerprint, and is still read.) The fingerprint
 * is the chosen definition's bytes with relocated fields zeroed (symbols/fingerprint.ts), in hex.
 */
import { concatBytes } from '../elf/bytes.js';
import { SHT } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import { InputError } from '../errors.js';
import { fingerprintHex } from '../symbols/fingerprint.js';

export const BINDINGS_SECTION = '.klpkit.bindings';
const HEADER = 'klpkit bindings 2';
const HEADER_V1 = 'klpkit bindings 1';

export interface Binding {
  object: string;
  name: string;
  sympos: number;
  /** Definitions of `name` in `object` when the patch was converted. */
  homonyms: number;
  section: string | null;
  /** Compilation unit of the chosen definition, when the database knew it. */
  unit: string | null;
  /** How it was chosen: `--sym NAME=OBJ@UNIT`, `--sym NAME=OBJ,POS`, an annotation, `unique`. */
  intent: string;
  /** st_size of the chosen definition, when the database knew it. */
  size: number | null;
  /** Its fingerprint (a module homonym's bytes, relocated fields zeroed), when the database had one. */
  hash: number | null;
}

const NEEDS_ESCAPE = /[\t\n\\]/;
const escapeField = (s: string): string => (!NEEDS_ESCAPE.test(s) ? s : s.replace(/[\t\n\\]/g, (c) => (c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\\\')));
const unescapeField = (s: string): string => s.replace(/\\(.)/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c));
/** A field that may be unknown: '-' for null (or empty). */
const field = (s: string | null): string => (s === null || s === '' ? '-' : escapeField(s));
const unfield = (s: string): string | null => (s === '-' ? null : unescapeField(s));

/** Bindings formatBindings() encodes at a time. */
const FORMAT_BATCH = 512;

export function formatBindings(list: Iterable<Binding>): Uint8Array {
  // Lines as arrays of fields joined, then the lines joined: a patch of 20,000 functions has
  // 20,000 bindings, and lines built by template literals appended to one string took twice as
  // long, cold (docs/performance.md). Encoded a batch of lines at a time: the text of 20,000 as
  // one string is a large object of V8's heap, fresh pages each time (docs/performance.md).
  // `list` may make its bindings as they are asked for (klp convert's do): none is kept past its batch.
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [encoder.encode(`${HEADER}\n`)];
  let lines: string[] = [];
  const flush = (): void => {
    lines.push('');
    parts.push(encoder.encode(lines.join('\n')));
    lines = [];
  };
  for (const b of list) {
    lines.push([escapeField(b.object), escapeField(b.name), b.sympos, b.homonyms, field(b.section), field(b.unit), field(b.intent),
      b.size === null ? '-' : b.size, b.hash === null ? '-' : fingerprintHex(b.hash)].join('\t'));
    if (lines.length === FORMAT_BATCH) flush();
  }
  if (lines.length > 0) flush();
  return concatBytes(parts, parts.reduce((n, p) => n + p.length, 0));
}

/** The bindings recorded in a module, or [] when it has none. Malformed lines are an error naming the line. */
export function readBindings(elf: ElfFile): Binding[] {
  const sec = elf.findSectionByName(BINDINGS_SECTION);
  if (!sec) return [];
  const lines = new TextDecoder().decode(sec.data).split('\n').filter((l) => l !== '');
  if (lines[0] !== HEADER && lines[0] !== HEADER_V1) {
    throw new InputError('BAD_BINDINGS', { file: elf.path, section: BINDINGS_SECTION, offset: Number(sec.offset) }, `not a klpkit bindings section (its first line is not '${HEADER}')`, 'rename or drop the section, or convert the patch again');
  }
  const fields = lines[0] === HEADER ? 9 : 7;
  return lines.slice(1).map((l, i) => {
    const f = l.split('\t');
    const sympos = Number(f[2]);
    const homonyms = Number(f[3]);
    const size = f[7] === undefined || f[7] === '-' ? null : Number(f[7]);
    const hash = f[8] === undefined || f[8] === '-' ? null : /^[0-9a-f]{8}$/.test(f[8]) ? parseInt(f[8], 16) : NaN;
    if (f.length !== fields || !Number.isSafeInteger(sympos) || !Number.isSafeInteger(homonyms) || (size !== null && !Number.isSafeInteger(size)) || Number.isNaN(hash)) {
      throw new InputError('BAD_BINDINGS', { file: elf.path, section: BINDINGS_SECTION, line: i + 2 },
        `expected ${fields} tab-separated fields (object, name, sympos, homonyms, section, unit, intent${fields === 9 ? ', size, fingerprint' : ''})`, 'drop the section, or convert the patch again');
    }
    return { object: unescapeField(f[0]!), name: unescapeField(f[1]!), sympos, homonyms, section: unfield(f[4]!), unit: unfield(f[5]!), intent: unfield(f[6]!) ?? '', size, hash };
  });
}

/**
 * Record `list` (one binding an object, name and sympos, as convert makes them) in the module,
 * merged with what it records already (a second convert adds to it). Nothing is recorded when
 * there is nothing to record.
 */
export function writeBindings(elf: ElfFile, list: Iterable<Binding>): void {
  const key = (b: Binding): string => `${b.object}\0${b.name}\0${b.sympos}`;
  const recorded = readBindings(elf);
  let all = list;
  if (recorded.length > 0) {
    const merged = new Map(recorded.map((b) => [key(b), b]));
    for (const b of list) merged.set(key(b), b);
    all = merged.values();
  }
  let count = 0;
  const data = formatBindings((function* () {
    for (const b of all) {
      count++;
      yield b;
    }
  })());
  if (count === 0) return;
  const sec = elf.findSectionByName(BINDINGS_SECTION) ?? elf.addSection({ name: BINDINGS_SECTION, type: SHT.PROGBITS, flags: 0n, addralign: 1n });
  sec.setData(data);
}
