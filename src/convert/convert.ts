/**
 * klp convert: turn a livepatch module's relocations to non-exported symbols into livepatch
 * relocations (Documentation/livepatch/module-elf-format.rst), the job of upstream's
 * scripts/livepatch/klp-convert and of objtool's `klp post-link`.
 *
 * Steps, for every relocation section whose target is allocated (the loader ignores the others):
 *  1. read the module's annotations (KLP_MODULE_RELOC sections, `.klp.sym.rela.` names) and its
 *     klp_patch/klp_object/klp_func data;
 *  2. for each relocation against an undefined symbol that vmlinux does not export, find the
 *     object and sympos: --sym/--map, then annotations, then the klp_object the referencing
 *     function patches (when the name is ambiguous across objects), then a unique definition;
 *  3. refuse what the kernel cannot apply (special sections, non-zero targets, names past the
 *     kernel's limits), collecting every problem before giving up;
 *  4. move each converted relocation into `.klp.rela.<obj>.<section>` and give it a
 *     `.klp.sym.<obj>.<name>,<pos>` symbol with st_shndx = SHN_LIVEPATCH.
 */
import { archForMachine } from '../arch/index.js';
import { SHF, SHN, SHT, SIZES, STB, STT } from '../elf/constants.js';
import { offsetHexOf, relocationReader, type RelocReader } from '../elf/reloc-reader.js';
import type { ElfFile } from '../elf/file.js';
import { writeBindings, type Binding } from '../klp/bindings.js';
import { unitMatches } from '../symbols/units.js';
import { definitionNeighbours, definitionPlace } from '../symbols/describe.js';

export { unitMatches };
import { ElfSymbol, type Relocation, type Section } from '../elf/model.js';
import { Interner } from '../elf/strtab.js';
import { isLivepatchModule, moduleName } from '../elf/module.js';
import type { SymbolDb } from '../symbols/database.js';
import type { SymbolDefinition } from '../symbols/types.js';
import { klpFindAmong } from '../symbols/sympos.js';
import { containingFunction, newFuncObjects, readKlpPatches, type KlpPatchInfo } from '../klp/objects.js';
import {
  checkObjectName, checkSymbolName, KLP_SYM_RELA_PREFIX, klpRelaName, klpSymName, parseKernelVersion, parseKlpSym, parseKlpSymRela,
  type KernelVersion,
} from '../klp/names.js';
import { initTargetProblem, specialSectionProblem, splittableEntrySize, targetMayMatter } from '../klp/special.js';

/**
 * How a symbol is resolved: an object and a sympos, or an object and the compilation unit that
 * defines it (`NAME=OBJ@FILE`), whose sympos is computed for the build being converted against.
 */
export type Resolution = { obj: string; pos: number; file?: string };
export type ResolvedBy = '--sym' | 'KLP_MODULE_RELOC' | 'KLP_SYMUNIT' | 'KLP_RELOC_SYMBOL' | 'klp_object' | 'unique' | 'module export';

export interface PlanEntry {
  section: string;
  target: string;
  offset: string;
  type: number;
  typeName: string;
  symbol: string;
  object: string;
  sympos: number;
  newSection: string;
  newSymbol: string;
  resolvedBy: ResolvedBy;
  /** The compilation unit of the definition it binds to, when the database knows it. */
  file: string | null;
}

/** What the text report says of a conversion: a line a converted symbol. */
export interface ConvertSummary {
  /** Livepatch relocation sections (one a target section and object). */
  sections: number;
  /** Each `.klp.sym.` symbol, in the order first used, with its relocation count. */
  symbols: Array<{ newSymbol: string; count: number; resolvedBy: ResolvedBy; file: string | null }>;
}

const summaries = new WeakMap<ConvertResult, ConvertSummary>();

/** The summary of a conversion: kept by convertModule(), else worked out from the plan. */
export function convertSummary(r: ConvertResult): ConvertSummary {
  const known = summaries.get(r);
  if (known) return known;
  const sections = new Set<string>();
  const bySymbol = new Map<string, ConvertSummary['symbols'][number]>();
  for (const p of r.plan) {
    sections.add(p.newSection);
    const e = bySymbol.get(p.newSymbol);
    if (e) e.count++;
    else bySymbol.set(p.newSymbol, { newSymbol: p.newSymbol, count: 1, resolvedBy: p.resolvedBy, file: p.file });
  }
  return { sections: sections.size, symbols: [...bySymbol.values()] };
}

export interface Problem {
  symbol: string;
  /** Where the first offending relocation is: `section+0xoff`. */
  where: string;
  message: string;
  /** What to do about it. */
  hint: string;
}

export interface ConvertOptions {
  db: SymbolDb;
  /** Explicit resolutions (`--sym NAME=OBJ,POS` and --map lines), by symbol name. */
  explicit?: ReadonlyMap<string, Resolution>;
  targetKernel?: string;
  /**
   * Convert for the per-object loader design: special-section entries that need a module's
   * symbol (__jump_table, .static_call_sites) are converted rather than refused; klp split then
   * moves them into .klp.arch.<obj> sections, which that design applies once the object is there.
   */
  perObject?: boolean;
}

export interface ConvertResult {
  /** The module's name (`.gnu.linkonce.this_module`). */
  module: string | null;
  plan: PlanEntry[];
  /** Relocations to undefined symbols left as they are (exported by vmlinux). */
  kept: Array<{ symbol: string; reason: string; count: number }>;
  problems: Problem[];
  /** Annotation sections that were read and removed. */
  removedSections: string[];
  patches: KlpPatchInfo[];
  /** True when the file was changed (false for an already converted module). */
  changed: boolean;
}

const hex = (n: bigint | number): string => `0x${n.toString(16)}`;

/** Parse `NAME=OBJ[,POS]` (as --sym takes it and --map lines hold it). */
export function parseSymOption(s: string): [string, Resolution] {
  const f = /^([^=\s]+)=([^,@\s]+)@(\S+)$/.exec(s.trim());
  if (f) return [f[1]!, { obj: f[2]!, pos: 0, file: f[3]! }];
  const m = /^([^=\s]+)=([^,\s]+)(?:,(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`'${s}' is not NAME=OBJ[,POS] or NAME=OBJ@FILE (e.g. jhash=vmlinux,3, homonym=mod@b.c)`);
  return [m[1]!, { obj: m[2]!, pos: m[3] === undefined ? 0 : Number(m[3]) }];
}


/** A --map file: one NAME=OBJ[,POS] a line; blank lines and # comments ignored. */
export function parseMapFile(text: string, file: string): Map<string, Resolution> {
  const out = new Map<string, Resolution>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    try {
      const [k, v] = parseSymOption(line);
      out.set(k, v);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: ${(e as Error).message}`);
    }
  });
  return out;
}



/**
 * Read the KLP_MODULE_RELOC(obj) annotations: arrays of 12-byte
 * `struct klp_module_reloc { void *sym; u32 sympos; } __packed` in `.klp.module_relocs.<obj>`,
 * whose `sym` is given by a relocation (include/uapi/linux/livepatch.h of the klp-convert series).
 */
function readModuleRelocAnnotations(elf: ElfFile, problems: Problem[]): { map: Map<string, Resolution>; units: Map<string, Resolution>; sections: Section[] } {
  const map = new Map<string, Resolution>();
  const sections: Section[] = [];
  const units = readModuleUnitAnnotations(elf, problems, sections);
  for (const sec of elf.sections) {
    if (!sec.name.startsWith('.klp.module_relocs.')) continue;
    const obj = sec.name.slice('.klp.module_relocs.'.length);
    sections.push(sec, ...elf.relocationSectionsFor(sec));
    const relocs = elf.relocationSectionsFor(sec).flatMap((rs) => elf.relocations(rs));
    const n = Math.floor(sec.data.length / 12);
    if (n !== relocs.length || sec.data.length % 12 !== 0) {
      problems.push({ symbol: '', where: sec.name, message: `nr_entries mismatch: ${sec.data.length} bytes hold ${n} entries but there are ${relocs.length} relocations`, hint: 'each KLP_SYMPOS() entry must name one symbol' });
      continue;
    }
    const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
    // Pair entries with relocations by offset, not list order (an upstream quirk we do not copy).
    for (const r of relocs) {
      const off = Number(r.offset);
      if (off % 12 !== 0 || off + 12 > sec.data.length) {
        problems.push({ symbol: r.symbol.name, where: `${sec.name}+${hex(off)}`, message: 'annotation relocation is not at the start of an entry', hint: 'rebuild the module' });
        continue;
      }
      const pos = dv.getUint32(off + 8, elf.littleEndian);
      const prev = map.get(r.symbol.name);
      if (prev && (prev.obj !== obj || prev.pos !== pos)) {
        problems.push({ symbol: r.symbol.name, where: `${sec.name}+${hex(off)}`, message: `Conflicting KLP_SYMPOS definition: ${prev.obj},${prev.pos} and ${obj},${pos}`, hint: 'keep one annotation per symbol' });
      }
      map.set(r.symbol.name, { obj, pos });
    }
  }
  return { map, units, sections };
}

/**
 * Read the KLP_MODULE_UNITS(obj) annotations (klpkit's, next to KLP_SYMPOS; docs/convert.md):
 * arrays of 16-byte `struct klp_module_unit { void *sym; const char *unit; }` in
 * `.klp.module_units.<obj>`, each field given by a relocation: the symbol, and the compilation
 * unit's name as a string. They choose a homonym by its unit, as `--sym NAME=OBJ@UNIT` does.
 */
function readModuleUnitAnnotations(elf: ElfFile, problems: Problem[], sections: Section[]): Map<string, Resolution> {
  const units = new Map<string, Resolution>();
  const ptr = elf.elfClass / 8;
  for (const sec of elf.sections) {
    if (!sec.name.startsWith('.klp.module_units.')) continue;
    const obj = sec.name.slice('.klp.module_units.'.length);
    sections.push(sec, ...elf.relocationSectionsFor(sec));
    const at = new Map(elf.relocationSectionsFor(sec).flatMap((rs) => elf.relocations(rs)).map((r) => [Number(r.offset), r]));
    if (sec.data.length % (2 * ptr) !== 0) {
      problems.push({ symbol: '', where: sec.name, message: `${sec.data.length} bytes are not a whole number of ${2 * ptr}-byte entries`, hint: 'declare the array with KLP_MODULE_UNITS(obj) and fill it with KLP_SYMUNIT()' });
      continue;
    }
    for (let off = 0; off < sec.data.length; off += 2 * ptr) {
      const sym = at.get(off);
      const str = at.get(off + ptr);
      const text = str?.symbol.section && !str.symbol.section.isNobits ? cString(str.symbol.section.data, Number(str.symbol.value + str.addend)) : undefined;
      if (!sym || text === undefined || text === '') {
        problems.push({ symbol: sym?.symbol.name ?? '', where: `${sec.name}+${hex(off)}`, message: 'a KLP_SYMUNIT entry needs a symbol and a compilation unit name (a string)', hint: 'write KLP_SYMUNIT(symbol, "file.c")' });
        continue;
      }
      const prev = units.get(sym.symbol.name);
      if (prev && (prev.obj !== obj || prev.file !== text)) {
        problems.push({ symbol: sym.symbol.name, where: `${sec.name}+${hex(off)}`, message: `Conflicting KLP_SYMUNIT definition: ${prev.obj}@${prev.file} and ${obj}@${text}`, hint: 'keep one annotation per symbol' });
      }
      units.set(sym.symbol.name, { obj, pos: 0, file: text });
    }
  }
  return units;
}

/** Store a 32-bit value in the given byte order. */
function putU32(b: Uint8Array, off: number, v: number, le: boolean): void {
  for (let k = 0; k < 4; k++) b[off + (le ? k : 3 - k)] = (v >>> (8 * k)) & 0xff;
}

/** Are the `size` bytes at `off` all zero? */
function zeroAt(data: Uint8Array, off: number, size: number): boolean {
  for (let i = off; i < off + size; i++) if (data[i] !== 0) return false;
  return true;
}

/** The NUL-terminated string at `off` (undefined past the end or without a terminator). */
function cString(data: Uint8Array, off: number): string | undefined {
  if (!Number.isSafeInteger(off) || off < 0 || off >= data.length) return undefined;
  const end = data.indexOf(0, off);
  return end < 0 ? undefined : new TextDecoder().decode(data.subarray(off, end));
}

/**
 * The names convertModule() looks up in the symbol database: those of the undefined symbols, and
 * the names inside `.klp.sym.rela.` ones (a reader of part of a database reads these rows).
 */
export function namesToResolve(elf: ElfFile): Set<string> {
  const names = new Set<string>();
  for (const y of elf.allSymbols) {
    if (!y.isUndefined || y.name === '') continue;
    names.add(y.name);
    const minimal = parseKlpSymRela(y.name);
    if (minimal) names.add(minimal.name);
  }
  return names;
}

export function convertModule(elf: ElfFile, opts: ConvertOptions): ConvertResult {
  const k: KernelVersion = parseKernelVersion(opts.targetKernel ?? '6.1');
  const db = opts.db;
  const problems: Problem[] = [];
  const arch = archForMachine(elf.machine);
  const module = moduleName(elf) ?? null;
  if (!isLivepatchModule(elf)) {
    problems.push({ symbol: '', where: '.modinfo', message: 'not a livepatch module: .modinfo has no livepatch=Y', hint: 'add MODULE_INFO(livepatch, "Y") to the module source; the kernel refuses klp_enable_patch() otherwise' });
    return { module, plan: [], kept: [], problems, removedSections: [], patches: [], changed: false };
  }
  const symtab = elf.symtab;
  if (!symtab) {
    problems.push({ symbol: '', where: elf.path, message: 'the module has no symbol table', hint: 'do not strip the module before converting it' });
    return { module, plan: [], kept: [], problems, removedSections: [], patches: [], changed: false };
  }

  // 1. Annotations and klp_object data.
  const annotations = readModuleRelocAnnotations(elf, problems);
  const patches = readKlpPatches(elf);
  const funcObject = newFuncObjects(patches);
  const declaredObjects = new Set(patches.flatMap((p) => p.objects.map((o) => o.name ?? 'vmlinux')));
  const annotationRelSecs = new Set(annotations.sections.filter((s) => s.isRelocation));

  // 2. Resolve every relocation against an undefined symbol in an allocated section. A name
  //    resolves the same way wherever it is used, but for a name ambiguous across objects, which
  //    the referencing function settles: each other name is resolved once (a patch of 20,000
  //    functions makes 40,000 references), and relocations are read where they lie.
  /**
   * `name`: the symbol as the source names it (before the rewrite renames it); `homonyms`: its
   * object's definitions of that name; `def`: what the report and the bindings say of the one it
   * binds to (its fields, not the database row: 20,000 of them live until the module is written),
   * null when the database does not have it.
   */
  interface Resolved {
    name: string; res: Resolution; by: ResolvedBy; lpObj: string; klpName: string; homonyms: number;
    def: Pick<SymbolDefinition, 'section' | 'file' | 'size' | 'hash'> | null;
    /** Its livepatch symbol's number (`klpIds`), once seen: -1 before. */
    klpId: number;
    /** Its number among the moves' resolutions (Moves), once moved: -1 before. */
    moveRef: number;
  }
  const KEPT = 'kept', SKIP = 'skip';
  // Decided once a symbol (not a map keyed by 20,000 names: its growth is fresh pages each time),
  // over the table as read (decoded here, as the relocations' reading below would).
  elf.symbols(symtab);
  const moves = new Moves<Resolved>(symtab._origSymbols ?? []);
  const decided = new SymbolValues<Resolved | typeof KEPT | typeof SKIP>(symtab);
  const keptCount = new Map<string, { reason: string; count: number }>();
  const reported = new Set<string>();
  const problem = (p: Problem): void => {
    const key = `${p.symbol}\0${p.message}`;
    if (!reported.has(key)) problems.push(p);
    reported.add(key);
  };
  const whereOf = (target: Section, rr: RelocReader, i: number): string => `${target.name}+${rr.offsetHex(i)}`;
  // One resolution an object and position, shared (20,000 resolutions of a patch are nearly all
  // vmlinux's position 0): nothing changes a Resolution once made.
  const sharedResolutions = new Map<string, Resolution>();
  const resolutionOf = (obj: string, pos: number): Resolution => {
    const key = `${pos},${obj}`;
    let r = sharedResolutions.get(key);
    if (!r) sharedResolutions.set(key, (r = { obj, pos }));
    return r;
  };
  /** Set by resolve() when the answer depended on the referencing place. */
  let placed = false;
  /** How relocation `i` of `rs` (in `target`) to the undefined symbol `yName` resolves. */
  const resolve = (yName: string, rs: Section, target: Section, rr: RelocReader, i: number): Resolved | typeof KEPT | typeof SKIP => {
    placed = false;
    if (!yName.startsWith(KLP_SYM_RELA_PREFIX) && parseKlpSym(yName, k)) return SKIP; // already converted
    let at: string | undefined;
    const where = (): string => (at ??= whereOf(target, rr, i));
    let res: Resolution | undefined;
    let by: ResolvedBy = 'unique';
    let lpObj: string | undefined;
    let name = yName;
    const minimal = parseKlpSymRela(yName);
    const defs = db.lookup(minimal ? minimal.name : yName);
    if (minimal) {
      name = minimal.name;
      res = { obj: minimal.obj, pos: minimal.pos };
      lpObj = minimal.lpObj;
      by = 'KLP_RELOC_SYMBOL';
    } else if (opts.explicit?.has(name) || annotations.units.has(name)) {
      const asked = opts.explicit?.get(name) ?? annotations.units.get(name)!;
      by = opts.explicit?.has(name) ? '--sym' : 'KLP_SYMUNIT';
      res = asked;
      if (asked.file !== undefined) {
        // By compilation unit: the sympos of the one definition of that unit in this build.
        const wanted = asked.file;
        const how = by === '--sym' ? `--sym ${name}=${asked.obj}@${wanted}` : `KLP_SYMUNIT(${name}, "${wanted}") in .klp.module_units.${asked.obj}`;
        const inObj = defs.filter((d) => d.object === asked.obj);
        const hits = inObj.filter((d) => d.file !== null && unitMatches(d.file, wanted));
        if (hits.length !== 1) {
          const known = inObj.map((d) => `    ${definitionPlace(d)}  ->  --sym ${name}=${d.object},${d.count > 1 ? d.sympos : 0}`).join('\n');
          problem({ symbol: name, where: where(), message: `${how}: ${hits.length === 0 ? 'no' : hits.length} definition(s) of '${name}' in ${asked.obj} come from a unit matching '${wanted}'${inObj.length ? `; the definitions are:\n${known}` : ''}`,
            hint: inObj.some((d) => d.file !== null) ? 'name the unit as the list shows it' : `the database knows no compilation units for ${asked.obj} (its module has no STT_FILE symbols): give a sympos, or build the database from a module built with Kbuild` });
          return SKIP;
        }
        const d = hits[0]!;
        res = { obj: d.object, pos: d.count > 1 ? d.sympos : 0, file: d.file! };
      }
    } else if (defs.some((d) => d.object === 'vmlinux' && d.exported)) {
      if (!keptCount.has(name)) keptCount.set(name, { reason: 'exported by vmlinux', count: 0 });
      return KEPT;
    } else if (annotations.map.has(name)) {
      res = annotations.map.get(name)!;
      by = 'KLP_MODULE_RELOC';
    } else {
      const objects: string[] = [];
      for (const d of defs) if (!objects.includes(d.object)) objects.push(d.object);
      const exportedBy = defs.filter((d) => d.exported);
      let candidates = defs;
      if (objects.length > 1) {
        placed = true;
        // Ambiguous across objects: prefer the object that the referencing function patches.
        const fn = containingFunction(elf, target, rr.offset(i)) ?? codeOfSpecialEntry(elf, rs, rr.offset(i));
        const obj = fn ? funcObject.get(fn) : undefined;
        if (obj && defs.some((d) => d.object === obj)) {
          candidates = defs.filter((d) => d.object === obj);
          by = 'klp_object';
        } else if (exportedBy.length === 1) {
          candidates = exportedBy;
          by = 'module export';
        }
      } else if (exportedBy.length === 1) {
        by = 'module export'; // late module patching: the patch may load before that module
      }
      if (candidates.length === 0) {
        problem({ symbol: name, where: where(), message: `Unable to find symbol '${name}': it is not defined in any object of the symbol database`,
          hint: `check the name; if it lives in a module missing from the database, add --modules, or give --sym ${name}=OBJ,POS` });
        return SKIP;
      }
      if (candidates.length > 1) {
        const list = candidates.map((d) => {
          const near = definitionNeighbours(db, d);
          return `    ${definitionPlace(d)}  ->  --sym ${name}=${d.object},${d.count > 1 ? d.sympos : 0}${d.file ? ` or --sym ${name}=${d.object}@${d.file}` : ''}${near ? `\n      ${near}` : ''}`;
        }).join('\n');
        problem({ symbol: name, where: where(), message: `ambiguous symbol '${name}' has ${candidates.length} definitions:\n${list}`,
          hint: `choose one with --sym (by compilation unit, NAME=OBJ@FILE, where the list names one: it stays right when the link order moves; or KLP_SYMPOS/KLP_RELOC_SYMBOL_POS in the source)` });
        return SKIP;
      }
      const d = candidates[0]!;
      res = resolutionOf(d.object, d.count > 1 ? d.sympos : 0);
    }
    // The definition it binds to, found the way klp_find_object_symbol will find it: explicit and
    // annotated positions are refused here when it would not; the report and the bindings say what
    // it is.
    const inObj = defs.filter((d) => d.object === res.obj);
    const found = klpFindAmong(inObj, res.obj, name, res.pos);
    if (by !== 'unique' && by !== 'klp_object' && by !== 'module export' && db.hasObject(res.obj)) {
      if (!found.ok) {
        problem({ symbol: name, where: where(), message: `${found.message} (${inObj.length} in '${res.obj}'; given by ${by})`,
          hint: inObj.length > 0 ? `use a position 1..${inObj.length}` : `objects that define it: ${[...new Set(defs.map((d) => d.object))].join(', ') || 'none'}` });
        return SKIP;
      }
    }
    lpObj ??= res.obj;
    const objProblem = checkObjectName(res.obj) ?? checkObjectName(lpObj);
    const symProblem = checkSymbolName(name, k);
    if (objProblem || symProblem) {
      problem({ symbol: name, where: where(), message: (objProblem ?? symProblem)!, hint: 'the kernel would refuse this livepatch symbol name' });
      return SKIP;
    }
    if (lpObj !== 'vmlinux' && res.obj === 'vmlinux') {
      problem({ symbol: name, where: where(), message: `a relocation section for module '${lpObj}' cannot use vmlinux symbol '${name}' (the kernel refuses it: "invalid access to vmlinux symbol")`, hint: 'annotate it for object vmlinux' });
      return SKIP;
    }
    const def = found.ok ? { section: found.match.section, file: found.match.file, size: found.match.size, hash: found.match.hash } : null;
    return { name, res, by, lpObj, klpName: klpSymName(res.obj, name, res.pos), homonyms: inObj.length, def, klpId: -1, moveRef: -1 };
  };
  // What the kernel refuses by where the relocation applies, once a target section and object
  // (a section's relocations nearly always name one object: a short chain, not a map, each), and
  // only for a place that can matter: most targets are code nothing special reads.
  type PlaceRules = { lpObj: string; special: ReturnType<typeof specialSectionProblem>; init: ReturnType<typeof initTargetProblem>; next: PlaceRules | undefined };
  const placeRules = new Map<Section, PlaceRules>();
  const NO_RULES: PlaceRules = { lpObj: '', special: undefined, init: undefined, next: undefined };
  const rulesFor = (target: Section, lpObj: string): PlaceRules => {
    const first = placeRules.get(target);
    let rules = first;
    while (rules && rules.lpObj !== lpObj) rules = rules.next;
    if (!rules) {
      rules = {
        lpObj,
        special: opts.perObject && (splittableEntrySize(target.name) !== undefined || target.name === '.altinstr_replacement') ? undefined : specialSectionProblem(target.name, lpObj, k),
        init: initTargetProblem(target.name, lpObj),
        next: first,
      };
      placeRules.set(target, rules);
    }
    return rules;
  };
  // How many relocations in allocated sections use each undefined symbol: a symbol whose every
  // such use is converted is renamed in place (its index does not change). Counted here for the
  // sections this loop reads, after the rewrite's first step for the livepatch sections it passes
  // over. Uses in non-allocated sections (DWARF) follow it: the loader never applies them, but a
  // symbol left SHN_UNDEF would fail the load ("Unknown symbol", simplify_symbols).
  const uses = new SymbolCounts(symtab);
  for (let s = 0; s < elf.sections.length; s++) {
    const rs = elf.sections[s]!;
    if (!rs.isRelocation || !rs.infoSection || rs.isLivepatchRela || annotationRelSecs.has(rs)) continue;
    const target = rs.infoSection;
    if (!target.hasFlag(SHF.ALLOC)) continue; // apply_relocations() skips them too
    // Read once here: the moves keep what they need of each entry, not the section's reader.
    const rr = relocationReader(elf, rs, { keep: false });
    // Most targets are code nothing special reads: asked once a section, not a relocation.
    const mayMatter = targetMayMatter(target.name);
    for (let i = 0; i < rr.count; i++) {
      const y = rr.symbol(i);
      if (!y.isUndefined) continue;
      uses.add(y);
      if (y.name === '' || y.name === '.TOC.') continue;
      let d = decided.get(y);
      if (d === undefined) {
        d = resolve(y.name, rs, target, rr, i);
        if (!placed) decided.set(y, d);
      }
      if (d === SKIP) continue;
      if (d === KEPT) {
        keptCount.get(y.name)!.count++;
        continue;
      }
      const { name, lpObj } = d;
      const rules = mayMatter ? rulesFor(target, lpObj) : NO_RULES;
      if (rules.special) {
        problem({ symbol: name, where: whereOf(target, rr, i), message: `${target.name} entry needs '${name}' from ${lpObj}: ${rules.special.why}`, hint: rules.special.wayOut });
        continue;
      }
      if (rules.init) {
        problem({ symbol: name, where: whereOf(target, rr, i), message: rules.init.message, hint: rules.init.hint });
        continue;
      }
      // The kernel's x86 loader refuses a livepatch relocation whose target bytes are not zero.
      const size = arch?.relocs.get(rr.type(i))?.size ?? 0;
      const off = rr.offset(i);
      if (!target.isNobits && off + size > target.dataLength) {
        problem({ symbol: name, where: whereOf(target, rr, i), message: `relocation offset is past the end of ${target.name}`, hint: 'the module is corrupt' });
        continue;
      }
      if (!target.isNobits && !zeroAt(target.backing, target.backingStart + off, size)) {
        problem({ symbol: name, where: whereOf(target, rr, i), message: `the ${size} target bytes of this relocation are not zero; the kernel would refuse it ("existing value is nonzero")`, hint: 'rebuild the module (targets of RELA relocations are zero in compiler output)' });
        continue;
      }
      moves.push(rs, i, y, d, rr);
    }
  }

  // Without export data for vmlinux, every vmlinux reference looks non-exported: calls to
  // __fentry__, _printk or klp_enable_patch would become livepatch relocations, which the kernel
  // resolves by name, bypassing modversions and the GPL check. Refuse until exports are known.
  const guessed: number[] = [];
  if (!db.hasExports('vmlinux')) for (let k = 0; k < moves.length; k++) if (moves.d(k).res.obj === 'vmlinux' && moves.d(k).by === 'unique') guessed.push(k);
  if (guessed.length > 0) {
    const names = [...new Set(guessed.map((k) => moves.d(k).name))];
    problem({ symbol: names[0]!, where: `${moves.rs(guessed[0]!).infoSection!.name}+${moves.offsetHex(guessed[0]!)}`,
      message: `the symbol database has no export data for vmlinux, so exported symbols cannot be told apart: ${names.length} vmlinux symbol(s) would become livepatch relocations (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}), exported ones included`,
      hint: 'give --symvers Module.symvers of that kernel (or use --vmlinuz, whose __ksymtab carries the exports); --sym NAME=vmlinux,POS converts one symbol on purpose' });
  }

  // Objects named by relocations must be objects the patch declares, or the kernel never applies
  // them (a crash later). Warn through a problem only when the patch data was found.
  if (patches.length > 0) {
    for (let k = 0; k < moves.length; k++) {
      const d = moves.d(k), sym = moves.sym(k);
      if (d.lpObj !== 'vmlinux' && !declaredObjects.has(d.lpObj)) {
        problem({ symbol: sym.name, where: `${moves.rs(k).infoSection!.name}+${moves.offsetHex(k)}`,
          message: `object '${d.lpObj}' is not among the patch's klp_objects (${[...declaredObjects].join(', ')}): its relocations would never be applied`,
          hint: `add a klp_object for '${d.lpObj}', or resolve '${sym.name}' to another object with --sym` });
      }
    }
  }

  /** The unit each resolution binds to. */
  const unitOf = (d: Resolved): string | null => d.res.file ?? d.def?.file ?? null;
  // The plan (a line a relocation) is made when asked: the text report gives a line a symbol,
  // from the summary below, and a patch of 20,000 functions has 40,000 relocations.
  let planMade: PlanEntry[] | undefined;
  const makePlan = (): PlanEntry[] => {
    if (planMade) return planMade;
    const typeNames = new Map<number, string>();
    planMade = [];
    for (let k = 0; k < moves.length; k++) {
      const type = moves.type[k]!, d = moves.d(k), rs = moves.rs(k);
      let typeName = typeNames.get(type);
      if (typeName === undefined) typeNames.set(type, (typeName = arch?.relocs.get(type)?.name ?? String(type)));
      planMade.push({
        section: rs.name, target: rs.infoSection!.name, offset: moves.offsetHex(k), type, typeName, symbol: d.name,
        object: d.res.obj, sympos: d.res.pos, newSection: groupName[moveGroup[k]!]!, newSymbol: d.klpName, resolvedBy: d.by,
        file: unitOf(d),
      });
    }
    return planMade;
  };
  // The livepatch relocation section of each move, numbered in the order first used (the order the
  // plan names them and the rewrite makes them): by name, which two targets may share. A section's
  // moves come together, nearly always to one object: a name is made once a run of moves to one
  // target and object. The summary counts them, the plan and the rewrite use them. Names are
  // numbered by an Interner (typed arrays), not a Map: 20,000 of them.
  const relaNames = new Interner(moves.length);
  const groupName = relaNames.list, groupTarget: Section[] = [];
  const moveGroup = new Int32Array(moves.length);
  // What each binding means, for klp check to verify on every build the patch ships to: one a
  // livepatch symbol, as its first use resolved it. Its name stands for one object, name and
  // position: resolve() refuses an object name with '.' or ',' and a symbol name with ','.
  const bindingOf = (d: Resolved): Binding => {
    const name = d.name, def = d.def;
    const asked = d.by === '--sym' ? opts.explicit?.get(name) : d.by === 'KLP_SYMUNIT' ? annotations.units.get(name) : undefined;
    const intent = !asked ? d.by : d.by === 'KLP_SYMUNIT' ? `KLP_SYMUNIT(${name}, "${asked.file}")` : `--sym ${name}=${asked.obj}${asked.file !== undefined ? `@${asked.file}` : `,${asked.pos}`}`;
    return { object: d.res.obj, name, sympos: d.res.pos, homonyms: d.homonyms,
      section: def?.section || null, unit: d.res.file ?? def?.file ?? null, intent, size: def?.size ?? null, hash: def?.hash ?? null };
  };
  // The livepatch symbols, numbered in the order first used: the resolution that first used each
  // (its report line and its binding are made from it when asked) and how many moves use it. A
  // resolution keeps its number: names are looked up once a resolution, not a move. (A line and
  // a binding made here for each of 20,000 symbols lived to the end of the conversion: 3 MB of
  // V8's heap copied into fresh pages of its old generation, docs/performance.md.)
  const klpIds = new Interner(moves.length);
  const firstOf: Resolved[] = [];
  const klpCount = new Int32Array(moves.length);
  for (let k = 0, group = -1; k < moves.length; k++) {
    const d = moves.d(k);
    const target = moves.rs(k).infoSection!;
    if (k === 0 || target !== moves.rs(k - 1).infoSection || d.lpObj !== moves.d(k - 1).lpObj) {
      group = relaNames.id(klpRelaName(d.lpObj, target.name));
      if (group === groupTarget.length) groupTarget.push(target);
    }
    moveGroup[k] = group;
    if (d.klpId < 0) {
      d.klpId = klpIds.id(d.klpName);
      if (d.klpId === firstOf.length) firstOf.push(d);
    }
    klpCount[d.klpId]!++;
  }
  let lines: ConvertSummary['symbols'] | undefined;
  const summary: ConvertSummary = {
    sections: groupName.length,
    get symbols() {
      return (lines ??= firstOf.map((d, id) => ({ newSymbol: d.klpName, count: klpCount[id]!, resolvedBy: d.by, file: unitOf(d) })));
    },
  };
  const kept = [...keptCount].map(([symbol, v]) => ({ symbol, ...v }));
  const removedSections = annotations.sections.filter((s) => !s.isRelocation).map((s) => s.name);
  const result = (changed: boolean): ConvertResult => {
    const r: ConvertResult = { module, get plan() { return makePlan(); }, kept, problems, removedSections, patches, changed };
    summaries.set(r, summary);
    return r;
  };
  if (problems.length > 0) return result(false);
  if (moves.length === 0 && annotations.sections.length === 0) return result(false);

  // 3. Rewrite. Annotation sections (and the symbols they define) go first.
  if (annotations.sections.length > 0) {
    const gone = new Set(annotations.sections);
    const goneSyms = new Set(elf.symbols(elf.symtab!).filter((y) => y.section !== null && gone.has(y.section)));
    // Debug info describes the annotation arrays too (`vmlinux_relocs` in .debug_info when
    // Kbuild builds with -g, as Debian's CONFIG_DEBUG_INFO does): those relocations go with the
    // data they point at, as upstream klp-convert drops them. The loader never applies relocations
    // of non-allocated sections (kernel/module/main.c apply_relocations), so nothing is lost.
    if (goneSyms.size > 0) {
      for (const rs of elf.sections) {
        if (!rs.isRelocation || gone.has(rs) || !rs.infoSection || gone.has(rs.infoSection) || rs.infoSection.hasFlag(SHF.ALLOC)) continue;
        const relocs = elf.relocations(rs);
        if (relocs.some((r) => goneSyms.has(r.symbol))) elf.removeRelocations(rs, (r) => goneSyms.has(r.symbol));
      }
    }
    elf.removeSymbols((y) => goneSyms.has(y));
    elf.removeSections(gone);
  }
  // The uses in existing livepatch sections (a partly converted module), which the resolve loop
  // passed over; the annotations' own relocations are gone with them.
  for (let s = 0; s < elf.sections.length; s++) {
    const rs = elf.sections[s]!;
    if (!rs.isLivepatchRela || !rs.infoSection?.hasFlag(SHF.ALLOC)) continue;
    const rr = relocationReader(elf, rs);
    for (let i = 0; i < rr.count; i++) {
      const y = rr.symbol(i);
      if (y.isUndefined) uses.add(y);
    }
  }
  // Per moved symbol, in the order first moved: how many of its uses move, and the livepatch
  // symbol of the first.
  const moved = new SymbolCounts(symtab);
  const movedSyms: ElfSymbol[] = [], firstResolved: Resolved[] = [];
  for (let k = 0; k < moves.length; k++) {
    const sym = moves.sym(k);
    if (moved.add(sym) === 1) {
      movedSyms.push(sym);
      firstResolved.push(moves.d(k));
    }
  }
  /** The symbol of each livepatch symbol, by its number (`klpIds`). */
  const klpSymbols: (ElfSymbol | undefined)[] = new Array<ElfSymbol | undefined>(klpIds.list.length);
  for (let j = 0; j < movedSyms.length; j++) {
    const sym = movedSyms[j]!, first = firstResolved[j]!;
    if (moved.get(sym) === uses.get(sym) && !klpSymbols[first.klpId]) {
      sym.name = first.klpName;
      sym.shndx = SHN.LIVEPATCH;
      sym.section = null;
      sym.value = 0n;
      klpSymbols[first.klpId] = sym;
    }
  }
  // Existing livepatch sections are reused (a partly converted module); one map, not a search per move.
  const klpSections = new Map<string, Section>(elf.sections.filter((x) => x.isLivepatchRela).map((x) => [x.name, x]));
  if (!moveInPlace(elf, symtab, moves, { name: groupName, target: groupTarget, of: moveGroup }, klpSymbols, klpSections)) {
    const klpSymbol = (d: Resolved): ElfSymbol => {
      return (klpSymbols[d.klpId] ??= elf.addSymbol(new ElfSymbol({ name: d.klpName, bind: STB.GLOBAL, type: STT.NOTYPE, shndx: SHN.LIVEPATCH }), symtab));
    };
    const movedRelocs = new Set<Relocation>();
    for (let k = 0; k < moves.length; k++) {
      const rs = moves.rs(k);
      const r = elf.relocations(rs)[moves.i[k]!]!;
      const secName = groupName[moveGroup[k]!]!;
      let sec = klpSections.get(secName);
      if (!sec) sec = elf.createRelaSection(secName, rs.infoSection!, SHF.ALLOC | SHF.RELA_LIVEPATCH, symtab);
      klpSections.set(secName, sec);
      elf.addRelocations(sec, { ...r, symbol: klpSymbol(moves.d(k)) });
      movedRelocs.add(r);
    }
    const emptied: Section[] = [];
    for (const rs of moves.sections) {
      elf.removeRelocations(rs, (r) => movedRelocs.has(r));
      if (elf.relocations(rs).length === 0) emptied.push(rs);
    }
    // An emptied .rela section goes: binutils cannot show two RELA sections for one target (bug 24456).
    if (emptied.length > 0) elf.removeSections(emptied);
  }
  // Made as they are written, a batch at a time.
  writeBindings(elf, (function* () {
    for (const d of firstOf) yield bindingOf(d);
  })());
  return result(true);
}

/**
 * The relocations to convert, in columns: entry `i` of a section, its symbol, its resolution, and
 * its type and r_offset as read (the plan is made after the rewrite replaced the bytes they were
 * read from). An object a move, holding its section's reader, was 40,000 objects and 20,000
 * readers for a patch of 20,000 functions, which lived to the end: 5 MB of V8's heap copied into
 * fresh pages of its old generation (docs/performance.md, tenth round). All are numbers in typed
 * arrays, outside V8's heap: a move's section and resolution are indices into lists of each once
 * (a section's moves come together), its symbol its index in the table as read.
 */
class Moves<D extends { moveRef: number }> {
  length = 0;
  /** The sections moved from, each once, in the order of their moves. */
  readonly sections: Section[] = [];
  /** The resolutions of the moves, each once (its `moveRef` is its index here). */
  private readonly resolved: D[] = [];
  /** Symbols not in the table as read (a decoded section's), by ~index. */
  private readonly others: ElfSymbol[] = [];
  private readonly orig: readonly ElfSymbol[];
  i = new Int32Array(256);
  type = new Uint32Array(256);
  private sec = new Int32Array(256);
  private symIndex = new Int32Array(256);
  private res = new Int32Array(256);
  private offHi = new Uint32Array(256);
  private offLo = new Uint32Array(256);

  /** `orig`: the symbol table as read. */
  constructor(orig: readonly ElfSymbol[]) {
    this.orig = orig;
  }

  push(rs: Section, i: number, sym: ElfSymbol, d: D, rr: RelocReader): void {
    const k = this.length++;
    if (k === this.i.length) {
      const grow = <T extends Int32Array | Uint32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(2 * a.length);
        b.set(a);
        return b;
      };
      this.i = grow(this.i);
      this.type = grow(this.type);
      this.sec = grow(this.sec);
      this.symIndex = grow(this.symIndex);
      this.res = grow(this.res);
      this.offHi = grow(this.offHi);
      this.offLo = grow(this.offLo);
    }
    if (this.sections[this.sections.length - 1] !== rs) this.sections.push(rs);
    this.sec[k] = this.sections.length - 1;
    this.symIndex[k] = sym.origIndex >= 0 && this.orig[sym.origIndex] === sym ? sym.origIndex : ~(this.others.push(sym) - 1);
    if (d.moveRef < 0) d.moveRef = this.resolved.push(d) - 1;
    this.res[k] = d.moveRef;
    this.i[k] = i;
    this.type[k] = rr.type(i);
    this.offHi[k] = rr.offsetHi(i);
    this.offLo[k] = rr.offsetLo(i);
  }

  /** Move k's section, symbol and resolution. */
  rs(k: number): Section {
    return this.sections[this.sec[k]!]!;
  }
  sym(k: number): ElfSymbol {
    const s = this.symIndex[k]!;
    return s >= 0 ? this.orig[s]! : this.others[~s]!;
  }
  d(k: number): D {
    return this.resolved[this.res[k]!]!;
  }

  offsetHex(k: number): string {
    return offsetHexOf(this.offHi[k]!, this.offLo[k]!);
  }
}

/**
 * The move of converted relocations done on the sections' bytes: each entry copied whole into its
 * `.klp.rela.<obj>.<sec>` section (its symbol renamed in place, so its index in the entry stands)
 * and dropped from its section, no `Relocation` object made. The same bytes as the general way
 * (`addRelocations`/`removeRelocations` and the writer's encoding), which it leaves to when
 * anything is out of its reach: a new symbol to add, a section whose relocations were decoded
 * (and maybe edited), an existing livepatch section to add to, REL entries to make RELA.
 * Returns false, having changed nothing, when it cannot. `newSections`: the name and target of
 * each new section, and each move's (`of`), as convertModule() numbered them.
 *
 * A patch of 20,000 functions makes 40,000 moves into 20,000 sections: the moves are numbers in
 * typed arrays here (a move's symbol index, its new section), not an object each.
 */
function moveInPlace(elf: ElfFile, symtab: Section, moves: Moves<{ klpId: number; moveRef: number }>,
  newSections: { name: readonly string[]; target: readonly Section[]; of: Int32Array }, klpSymbols: readonly (ElfSymbol | undefined)[], existing: ReadonlyMap<string, Section>): boolean {
  const orig = symtab._origSymbols;
  if (!orig) return false;
  const rela = SIZES[elf.elfClass].rela;
  const ent = BigInt(rela);
  const n = moves.length;
  /** The symbol index each moved entry gets: its livepatch symbol's, in the table as read. */
  const symIndex = new Int32Array(n);
  // Moves come section by section, each section's entries in order (as the resolve loop found
  // them): what stays is read off in one walk per section.
  const touched: Section[] = [];
  const touchedEnd: number[] = [];
  const movedEntry = moves.i;
  for (let k = 0; k < n; k++) {
    const rs = moves.rs(k);
    // Raw entries hold original symbol indices: the symbol must be one of the table as read.
    const y = klpSymbols[moves.d(k).klpId];
    if (!y || y.origIndex < 0 || orig[y.origIndex] !== y || rs._relocs || rs.type !== SHT.RELA || rs.linkSection !== symtab || rs.entsize !== ent) return false;
    symIndex[k] = y.origIndex;
    if (k > 0 && rs === moves.rs(k - 1)) {
      if (movedEntry[k]! <= movedEntry[k - 1]!) return false;
      touchedEnd[touchedEnd.length - 1] = k + 1;
    } else {
      touched.push(rs);
      touchedEnd.push(k + 1);
    }
  }
  // Each section's moves in one run: a section seen twice is left to the general way (marked by
  // its index as read, which every section with raw entries has; a set of 20,000 was a hash each).
  const seen = new Uint8Array(elf.origSections.length);
  for (const rs of touched) {
    if (rs.origIndex < 0 || seen[rs.origIndex]) return false;
    seen[rs.origIndex] = 1;
  }
  // The new sections (convertModule() numbered them): an existing one to add to is the general way's.
  const { name: groupName, target: groupTarget, of: groupOf } = newSections;
  for (const name of groupName) if (existing.has(name)) return false;
  // Moves by group, each group's in move order (a counting sort: stable).
  const groups = groupName.length;
  const groupStart = new Int32Array(groups + 1);
  for (let k = 0; k < n; k++) groupStart[groupOf[k]! + 1]!++;
  for (let g = 0; g < groups; g++) groupStart[g + 1]! += groupStart[g]!;
  const byGroup = new Int32Array(n);
  const fill = groupStart.slice(0, groups);
  for (let k = 0; k < n; k++) byGroup[fill[groupOf[k]!]!++] = k;

  const le = elf.littleEndian;
  /** Copy entry i of `rs`, read where its bytes lie (no view made of 20,000 sections). */
  const copy = (to: Uint8Array, at: number, rs: Section, i: number): void => {
    const from = rs.backing;
    for (let b = 0, f = rs.backingStart + i * rela; b < rela; b++) to[at + b] = from[f + b]!;
  };
  const all = new Uint8Array(n * rela);
  for (let g = 0, o = 0; g < groups; g++) {
    const start = o;
    for (let j = groupStart[g]!; j < groupStart[g + 1]!; j++) {
      const k = byGroup[j]!;
      copy(all, o, moves.rs(k), movedEntry[k]!);
      // r_info's symbol part: ELF64_R_INFO(sym, type) = sym << 32 | type; ELF32: sym << 8 | type.
      const sym = symIndex[k]!;
      if (elf.elfClass === 64) putU32(all, o + (le ? 12 : 8), sym, le);
      else putU32(all, o + 4, ((sym << 8) | all[o + (le ? 4 : 7)]!) >>> 0, le);
      o += rela;
    }
    const sec = elf.createRelaSection(groupName[g]!, groupTarget[g]!, SHF.ALLOC | SHF.RELA_LIVEPATCH, symtab);
    elf.setRelocationBytes(sec, all, start, o - start);
  }
  /** The first move of touched section t. */
  const firstMove = (t: number): number => (t === 0 ? 0 : touchedEnd[t - 1]!);
  let keptSize = 0;
  for (let t = 0; t < touched.length; t++) keptSize += touched[t]!.dataLength - (touchedEnd[t]! - firstMove(t)) * rela;
  const keptBytes = new Uint8Array(keptSize);
  const emptied: Section[] = [];
  for (let t = 0, o = 0; t < touched.length; t++) {
    const rs = touched[t]!;
    const start = o;
    const count = rs.dataLength / rela;
    for (let i = 0, k = firstMove(t), end = touchedEnd[t]!; i < count; i++) {
      if (k < end && movedEntry[k] === i) {
        k++;
        continue;
      }
      copy(keptBytes, o, rs, i);
      o += rela;
    }
    elf.setRelocationBytes(rs, keptBytes, start, o - start);
    if (o === start) emptied.push(rs);
  }
  // An emptied .rela section goes: binutils cannot show two RELA sections for one target (bug 24456).
  if (emptied.length > 0) elf.removeSections(emptied);
  return true;
}

/**
 * A value by symbol: over the symbol table as read, an array indexed by the symbol's index there;
 * a map for the others (symbols added since, or of another table).
 */
class SymbolValues<T> {
  private readonly orig: readonly ElfSymbol[];
  private readonly values: (T | undefined)[];
  private readonly others = new Map<ElfSymbol, T>();
  constructor(symtab: Section) {
    this.orig = symtab._origSymbols ?? [];
    this.values = new Array<T | undefined>(this.orig.length);
  }
  get(y: ElfSymbol): T | undefined {
    return y.origIndex >= 0 && this.orig[y.origIndex] === y ? this.values[y.origIndex] : this.others.get(y);
  }
  set(y: ElfSymbol, v: T): void {
    if (y.origIndex >= 0 && this.orig[y.origIndex] === y) this.values[y.origIndex] = v;
    else this.others.set(y, v);
  }
}

/** Counts by symbol, as SymbolValues keeps values: in a typed array over the table as read. */
class SymbolCounts {
  private readonly orig: readonly ElfSymbol[];
  private readonly counts: Int32Array;
  private readonly others = new Map<ElfSymbol, number>();
  constructor(symtab: Section) {
    this.orig = symtab._origSymbols ?? [];
    this.counts = new Int32Array(this.orig.length);
  }
  /** Count one more for `y`; returns its count. */
  add(y: ElfSymbol): number {
    if (y.origIndex >= 0 && this.orig[y.origIndex] === y) return ++this.counts[y.origIndex]!;
    const c = (this.others.get(y) ?? 0) + 1;
    this.others.set(y, c);
    return c;
  }
  get(y: ElfSymbol): number {
    if (y.origIndex >= 0 && this.orig[y.origIndex] === y) return this.counts[y.origIndex]!;
    return this.others.get(y) ?? 0;
  }
}

/**
 * A special-section entry (a __jump_table entry is { code, target, key }, others are similar)
 * belongs to the function its code field points at: the nearest relocation before `offset` in
 * the same entry that targets executable code. kpatch splits special sections the same way.
 */
function codeOfSpecialEntry(elf: ElfFile, rs: Section, offset: number): ElfSymbol | undefined {
  let best: Relocation | undefined;
  for (const r of elf.relocations(rs)) {
    const o = Number(r.offset);
    if (o >= offset || o < offset - 16) continue;
    if (!r.symbol.section?.hasFlag(SHF.EXECINSTR)) continue;
    if (!best || o > Number(best.offset)) best = r;
  }
  if (!best) return undefined;
  return containingFunction(elf, best.symbol.section!, Number(best.symbol.value + best.addend));
}
