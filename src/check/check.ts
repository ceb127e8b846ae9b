/**
 * klp check: will this livepatch module load on that kernel, and what will each livepatch
 * relocation and klp_func resolve to? Every rule below is the kernel's (cited), plus the ones the
 * kernel does not enforce although breaking them crashes it later.
 */
import { archForMachine } from '../arch/index.js';
import { SHF, SHN } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import { isLivepatchModule, moduleName } from '../elf/module.js';
import { readKlpPatches, type KlpPatchInfo } from '../klp/objects.js';
import { initTargetProblem } from '../klp/special.js';
import { atLeast, parseKernelVersion, parseKlpRelaObject, parseKlpSym, type KernelVersion } from '../klp/names.js';
import type { SymbolDb } from '../symbols/database.js';
import { definitionAmong, findObjectSymbol } from '../symbols/sympos.js';
import { definitionWhere } from '../symbols/describe.js';
import { fingerprintHex } from '../symbols/fingerprint.js';
import { BINDINGS_SECTION, readBindings } from '../klp/bindings.js';
import { unitMatches } from '../symbols/units.js';

export { findObjectSymbol };

export type Severity = 'error' | 'warning' | 'note';

export interface Finding {
  severity: Severity;
  code: string;
  where: string;
  message: string;
  hint: string;
  /** Does the kernel itself refuse this (true), or load it and fail later (false)? */
  kernelCatches: boolean;
}

export interface Resolved {
  kind: 'relocation' | 'func';
  object: string;
  name: string;
  sympos: number;
  /** Resolved address (vmlinux, from the database), or null for modules / unresolved. */
  address: string | null;
  status: 'ok' | 'late' | 'error';
  detail: string;
  where: string;
}

/** One definition among homonyms, as the report draws it. */
export interface HomonymCandidate {
  sympos: number;
  section: string | null;
  /** A module symbol's offset in its section, or null. */
  offset: number | null;
  /** A vmlinux address (hex), or null. */
  address: string | null;
  size: number | null;
  unit: string | null;
  neighbours: { table: [string | null, string | null]; byAddress: [string | null, string | null] };
  /** The one the patch's sympos binds to. */
  bound: boolean;
}

/** A name the patch binds to by sympos, and every definition it chose among. */
export interface HomonymGroup {
  object: string;
  name: string;
  sympos: number;
  candidates: HomonymCandidate[];
}

export interface CheckResult {
  file: string;
  module: string | null;
  target: string;
  objects: Array<{ name: string; present: boolean }>;
  resolved: Resolved[];
  findings: Finding[];
  patches: KlpPatchInfo[];
  /** Every homonym the patch binds to (with a database), and its candidates. */
  homonyms: HomonymGroup[];
}


export function checkModule(elf: ElfFile, opts: { db?: SymbolDb; targetKernel?: string; perObject?: boolean } = {}): CheckResult {
  const k: KernelVersion = parseKernelVersion(opts.targetKernel ?? '6.1');
  const findings: Finding[] = [];
  const resolved: Resolved[] = [];
  const add = (f: Finding): number => findings.push(f);
  const hex = (n: bigint | number): string => `0x${n.toString(16)}`;
  const db = opts.db;
  const arch = archForMachine(elf.machine);

  if (!isLivepatchModule(elf)) {
    add({ severity: 'error', code: 'NOT_LIVEPATCH', where: '.modinfo', message: 'module is not marked as a livepatch module (no livepatch=Y)',
      hint: 'add MODULE_INFO(livepatch, "Y"); klp_enable_patch() refuses the module', kernelCatches: true });
  }
  const patches = readKlpPatches(elf);
  const declared = new Set(patches.flatMap((p) => p.objects.map((o) => o.name ?? 'vmlinux')));
  if (patches.length === 0) {
    add({ severity: 'warning', code: 'NO_KLP_PATCH', where: elf.path, message: 'no struct klp_patch found in the module data',
      hint: 'klp_func targets and declared objects cannot be checked', kernelCatches: false });
  }

  // Sections that look like livepatch relocation sections.
  for (const s of elf.sections) {
    if (!s.isRelocation) continue;
    const named = s.name.startsWith('.klp.rela.');
    const flagged = s.hasFlag(SHF.RELA_LIVEPATCH);
    if (named && !flagged) {
      add({ severity: 'error', code: 'NO_RELA_LIVEPATCH_FLAG', where: s.name,
        message: 'livepatch relocation section without SHF_RELA_LIVEPATCH: the loader applies it as an ordinary section, against SHN_LIVEPATCH symbols of value 0',
        hint: 'set the flag (klp convert does); the kernel loads this silently and the patched code then dereferences address 0', kernelCatches: false });
      continue;
    }
    if (!flagged) continue;
    const obj = parseKlpRelaObject(s.name);
    if (!obj) {
      add({ severity: 'error', code: 'BAD_SECTION_NAME', where: s.name, message: `section ${s.name} has an incorrectly formatted name`,
        hint: 'name it .klp.rela.<object>.<section>', kernelCatches: true });
      continue;
    }
    if (obj === 'vmlinux' && !atLeast(k, 5, 8) && patches.length > 0 && !declared.has(obj)) {
      add({ severity: 'error', code: 'UNDECLARED_OBJECT', where: s.name,
        message: `vmlinux relocations in a patch without a vmlinux klp_object: before 5.8 klp_init_object_loaded() writes them only for a declared object, so they are never applied on ${k.major}.${k.minor}`,
        hint: 'add a klp_object with .name = NULL (vmlinux), or target 5.8+ where the loader writes vmlinux relocations itself', kernelCatches: false });
    }
    if (obj !== 'vmlinux' && patches.length > 0 && !declared.has(obj)) {
      add({ severity: 'error', code: 'UNDECLARED_OBJECT', where: s.name,
        message: `relocations for object '${obj}', which is not among the patch's klp_objects (${[...declared].join(', ')}): they are never applied`,
        hint: `declare a klp_object for '${obj}' or fix the section's object; the kernel loads this silently and the code crashes when it runs`, kernelCatches: false });
    }
    const initProblem = initTargetProblem(s.infoSection?.name ?? '', obj);
    if (initProblem) {
      add({ severity: 'error', code: 'LATE_INIT_TARGET', where: s.name, message: initProblem.message, hint: initProblem.hint, kernelCatches: false });
    }
    if (!s.hasFlag(SHF.ALLOC)) {
      add({ severity: obj === 'vmlinux' ? 'warning' : 'error', code: 'NOT_ALLOC', where: s.name,
        message: 'livepatch relocation section without SHF_ALLOC',
        hint: obj === 'vmlinux' ? 'vmlinux relocations are applied at load and work, but the documented format is AIo' : 'late relocations are read from the section after load: it must be SHF_ALLOC', kernelCatches: false });
    }
    const target = s.infoSection;
    for (const [i, r] of elf.relocations(s).entries()) {
      const where = `${s.name} #${i} (${target?.name ?? '?'}+${hex(r.offset)})`;
      const y = r.symbol;
      if (!(y.section === null && y.shndx === SHN.LIVEPATCH)) {
        add({ severity: 'error', code: 'NOT_LIVEPATCH_SYMBOL', where, message: `symbol ${y.name} is not marked as a livepatch symbol`,
          hint: 'livepatch relocations must use .klp.sym.* symbols with st_shndx SHN_LIVEPATCH', kernelCatches: true });
        continue;
      }
      const p = parseKlpSym(y.name, k);
      if (!p) {
        add({ severity: 'error', code: 'BAD_SYMBOL_NAME', where, message: `symbol ${y.name} has an incorrectly formatted name`,
          hint: 'name it .klp.sym.<object>.<name>,<sympos>', kernelCatches: true });
        continue;
      }
      if (obj !== 'vmlinux' && p.obj === 'vmlinux') {
        add({ severity: 'error', code: 'VMLINUX_FROM_MODULE_SECTION', where, message: `invalid access to vmlinux symbol '${p.name}' from module-specific livepatch relocation section`,
          hint: 'put vmlinux relocations in a .klp.rela.vmlinux.* section', kernelCatches: true });
        continue;
      }
      // The types apply_relocate_add() accepts are the ones the arch table gives a kind.
      if (arch?.applyRela && arch.relocs.get(r.type)?.kind === undefined) {
        add({ severity: 'error', code: 'UNKNOWN_RELOC', where, message: `Unknown rela relocation: ${r.type} (${arch.relocs.get(r.type)?.name ?? '?'})`,
          hint: 'the module loader cannot apply this type', kernelCatches: true });
      }
      const size = arch?.relocs.get(r.type)?.size ?? 0;
      if (target && !target.isNobits && target.data.subarray(Number(r.offset), Number(r.offset) + size).some((b) => b !== 0)) {
        add({ severity: 'error', code: 'NONZERO_TARGET', where, message: `invalid relocation target, existing value is nonzero for type ${r.type}`,
          hint: 'the target bytes of a livepatch relocation must be zero', kernelCatches: true });
      }
      resolved.push(resolveOne(db, 'relocation', p.obj, p.name, p.pos, where, findings));
    }
  }

  // 6.1 and earlier (x86): module-specific livepatch relocations are not cleared when the module
  // goes (klp_clear_object_relocs arrived in 6.3), so a reload hits the zero-target check.
  if (!atLeast(k, 6, 3) && arch?.name === 'x86_64') {
    const lateObjects = new Set(elf.sections.filter((s) => s.isLivepatchRela).map((s) => parseKlpRelaObject(s.name)).filter((o): o is string => !!o && o !== 'vmlinux'));
    for (const obj of lateObjects) {
      add({ severity: 'warning', code: 'NO_RELOAD', where: obj,
        message: `while this patch is loaded, module '${obj}' cannot be unloaded and loaded again on ${k.major}.${k.minor}: its livepatch relocations are not cleared on removal (6.3 added that), so the reload fails with "existing value is nonzero" and "refusing to load module '${obj}'"`,
        hint: 'disable and remove the patch before reloading the module, or target 6.3+', kernelCatches: true });
    }
  }

  // .klp.arch.<obj>.<section> (klp split): only the per-object design applies them; before 5.8
  // x86 applied .altinstructions and .parainstructions ones (arch_klp_init_object_loaded).
  if (!opts.perObject) {
    for (const s of elf.sections) {
      const m = /^\.klp\.arch\.([^.]+)\.(.+)$/.exec(s.name);
      if (!m || s.isRelocation) continue;
      if (!atLeast(k, 5, 8) && (m[2] === '.altinstructions' || m[2] === '.parainstructions')) continue;
      add({ severity: 'error', code: 'KLP_ARCH_IGNORED', where: s.name,
        message: `${k.major}.${k.minor} never processes ${s.name}: its ${m[2]} entries for ${m[1]} are never applied${m[2] === '__jump_table' ? ' (the jump label never follows its key)' : ''}`,
        hint: 'only the per-object loader design applies .klp.arch sections; for this kernel use static_key_enabled() and klp convert without --per-object', kernelCatches: false });
    }
  }

  // The per-object design gives each module object its own .klp.text.<obj> (klp split); a patch
  // built without -ffunction-sections cannot be split, and its relocations for a late module then
  // go into read-only core text on 6.3's path (text_poke), not the design's own.
  if (opts.perObject) {
    const unsplit = new Set(elf.sections.filter((s) => s.isLivepatchRela && s.infoSection && !s.infoSection.name.startsWith('.klp.'))
      .map((s) => parseKlpRelaObject(s.name)).filter((o): o is string => !!o && o !== 'vmlinux'));
    for (const obj of unsplit) {
      add({ severity: 'note', code: 'NOT_SPLIT', where: obj,
        message: `the patch is not split for '${obj}': under the per-object design its relocations for ${obj} are written into read-only text with text_poke when ${obj} arrives, and cleared the same way when it goes, as 6.3 does`,
        hint: `build the patch with -ffunction-sections -fdata-sections (Kbuild: ccflags-y += -ffunction-sections -fdata-sections), then klp split (or klp convert --per-object), so that ${obj} gets its own .klp.text.${obj}`, kernelCatches: false });
    }
  }

  // klp_func: old_name / old_sympos in their object.
  for (const patch of patches) {
    for (const o of patch.objects) {
      const obj = o.name ?? 'vmlinux';
      for (const f of o.funcs) {
        resolved.push(resolveOne(db, 'func', obj, f.oldName, f.oldSympos, `${f.at.section}+${hex(f.at.offset)} (klp_func ${f.oldName})`, findings));
      }
    }
  }

  // Undefined symbols the loader must resolve as exports.
  if (db) {
    for (const y of elf.allSymbols) {
      if (!y.isUndefined || y.name === '' || y.bind === 2) continue; // weak undefined symbols may stay unresolved
      // simplify_symbols() resolves them against vmlinux's and loaded modules' exports.
      if (!db.lookup(y.name).some((d) => d.exported)) {
        add({ severity: 'error', code: 'UNKNOWN_SYMBOL', where: `.symtab ${y.name}`, message: `Unknown symbol ${y.name} (err -2)`,
          hint: 'convert it with klp convert, or it is missing from the kernel', kernelCatches: true });
      }
    }
  }

  if (db) for (const f of verifyBindings(elf, db)) add(f);

  const objects = [...new Set([...declared, ...resolved.map((r) => r.object)])].map((name) => ({ name, present: db ? db.hasObject(name) : false }));
  for (const o of objects) {
    if (!o.present && db) {
      add({ severity: 'note', code: 'LATE_OBJECT', where: o.name, message: `object '${o.name}' is not in the symbol database: its relocations and functions are resolved when it loads (late module patching)`,
        hint: 'build the database with that module to check them now', kernelCatches: false });
    }
  }
  return { file: elf.path, module: moduleName(elf) ?? null, target: `${k.major}.${k.minor}`, objects, resolved, findings, patches, homonyms: db ? homonymGroups(db, resolved) : [] };
}

/** The resolved names that have homonyms in their object, each once, with where every candidate sits. */
function homonymGroups(db: SymbolDb, resolved: readonly Resolved[]): HomonymGroup[] {
  const groups = new Map<string, HomonymGroup>();
  for (const r of resolved) {
    const key = `${r.object}\0${r.name}\0${r.sympos}`;
    if (r.status !== 'ok' || groups.has(key)) continue;
    const defs = db.lookup(r.name).filter((d) => d.object === r.object);
    if (defs.length < 2) continue;
    const bound = definitionAmong(defs, r.object, r.name, r.sympos);
    groups.set(key, { object: r.object, name: r.name, sympos: r.sympos, candidates: defs.map((d) => ({
      sympos: d.sympos, section: d.section, offset: d.offset, address: d.address === null ? null : `0x${d.address.toString(16)}`,
      size: d.size, unit: d.file, neighbours: db.neighbours(d), bound: d === bound,
    })) });
  }
  return [...groups.values()];
}

function resolveOne(db: SymbolDb | undefined, kind: 'relocation' | 'func', object: string, name: string, sympos: number, where: string, findings: Finding[]): Resolved {
  if (!db) return { kind, object, name, sympos, address: null, status: 'late', detail: 'no symbol database given', where };
  if (!db.hasObject(object)) return { kind, object, name, sympos, address: null, status: 'late', detail: 'object not in the database: resolved when it loads', where };
  const r = findObjectSymbol(db, object, name, sympos);
  if (!r.ok) {
    findings.push({ severity: 'error', code: 'UNRESOLVED', where, message: r.message, hint: `see klp symbols find ${name}`, kernelCatches: true });
    return { kind, object, name, sympos, address: null, status: 'error', detail: r.message, where };
  }
  const defs = db.lookup(name).filter((d) => d.object === object);
  // The definition the kernel will bind to, and the compilation unit it comes from when known.
  const picked = definitionAmong(defs, object, name, sympos);
  const from = picked?.file ? ` (from ${picked.file})` : '';
  if (defs.length > 1) {
    const units = defs.filter((d) => d.file !== null).map((d) => `${d.sympos}: ${d.file}`);
    const at = picked ? definitionWhere(picked) : '';
    findings.push({ severity: 'note', code: 'AMBIGUOUS_BY_SYMPOS', where, message: `'${name}' has ${defs.length} definitions in ${object}: sympos ${sympos} picks one${from}${units.length ? `; the others: ${units.filter((u) => !u.startsWith(`${sympos}:`)).join(', ')}` : ''}${at ? `; it sits${at}` : ''}`,
      hint: 'check that the position still means the same function on every kernel build you ship to', kernelCatches: false });
  }
  return { kind, object, name, sympos, address: r.address === null ? null : `0x${r.address.toString(16)}`, status: 'ok', detail: `${defs.length > 1 ? `position ${sympos} of ${defs.length}` : 'unique'}${from}`, where };
}

/**
 * The bindings klp convert recorded (klp/bindings.ts) against this build: the same sympos must
 * still name the definition from the same compilation unit, a name that was unique must still be
 * (else the kernel refuses sympos 0: "unresolvable ambiguity"), and the count and section of the
 * homonyms are compared. Objects the database lacks are left to the load (late patching).
 */
function verifyBindings(elf: ElfFile, db: SymbolDb): Finding[] {
  const out: Finding[] = [];
  for (const b of readBindings(elf)) {
    if (!db.hasObject(b.object)) continue;
    const defs = db.lookup(b.name).filter((d) => d.object === b.object);
    if (defs.length === 0) continue; // UNRESOLVED, from the relocation itself
    const where = `${BINDINGS_SECTION}: ${b.object}:${b.name},${b.sympos}`;
    const byUnit = b.unit === null ? [] : defs.filter((d) => d.file !== null && unitMatches(d.file, b.unit!));
    const fix = byUnit.length === 1 ? `convert again with --sym ${b.name}=${b.object}@${b.unit} (sympos ${byUnit[0]!.count > 1 ? byUnit[0]!.sympos : 0} on this build)` : `find the definition you meant with klp symbols find ${b.name}, and convert again for this build`;
    if (b.sympos === 0 && defs.length > 1) {
      out.push({ severity: 'error', code: 'BINDING_NOW_AMBIGUOUS', where,
        message: `'${b.name}' was unique in ${b.object} when the patch was converted${b.unit ? ` (from ${b.unit})` : ''}; this build has ${defs.length} definitions, so the kernel refuses sympos 0 ("unresolvable ambiguity")`,
        hint: fix, kernelCatches: true });
      continue;
    }
    const picked = definitionAmong(defs, b.object, b.name, b.sympos);
    if (!picked) continue; // UNRESOLVED, from the relocation itself
    if (b.unit !== null && picked.file !== null && !unitMatches(picked.file, b.unit)) {
      out.push({ severity: 'error', code: 'BINDING_MOVED', where,
        message: `sympos ${b.sympos} of '${b.name}' in ${b.object} is the definition from ${picked.file} on this build; the patch was converted for the one from ${b.unit} (${b.intent}): it would call or change the wrong one`,
        hint: fix, kernelCatches: false });
      continue;
    }
    // The fingerprint: the bytes (relocated fields zeroed) of the definition it was converted for.
    if (b.hash !== null && picked.hash !== null && picked.hash !== b.hash) {
      const same = defs.filter((d) => d !== picked && d.hash === b.hash);
      if (same.length === 1) {
        const to = same[0]!;
        out.push({ severity: 'error', code: 'BINDING_MOVED', where,
          message: `sympos ${b.sympos} of '${b.name}' in ${b.object} has other code on this build than the definition the patch was converted for (${b.intent}); that code is sympos ${to.sympos} here${to.file ? ` (from ${to.file})` : ''}: it would call or change the wrong one`,
          hint: `convert again with --sym ${b.name}=${b.object},${to.count > 1 ? to.sympos : 0} for this build${to.file ? `, or --sym ${b.name}=${b.object}@${to.file}` : ''}`, kernelCatches: false });
      } else {
        out.push({ severity: 'error', code: 'BINDING_BYTES_CHANGED', where,
          message: `the code of '${b.name}' (sympos ${b.sympos}${picked.file ? `, from ${picked.file}` : ''}) in ${b.object} is not the code the patch was converted against (fingerprint ${fingerprintHex(b.hash)}, on this build ${fingerprintHex(picked.hash)})`,
          hint: 'review what changed: the patch replaces or calls code other than the code it was written for; once it fits, convert it again against this build (the new fingerprint is recorded)', kernelCatches: false });
      }
      continue;
    }
    if (defs.length !== b.homonyms) {
      out.push({ severity: 'warning', code: 'BINDING_HOMONYMS_CHANGED', where,
        message: `'${b.name}' had ${b.homonyms} definition(s) in ${b.object} when the patch was converted, this build has ${defs.length}${b.unit === null || picked.file === null ? ': the compilation units are not known, so the position cannot be checked' : `; sympos ${b.sympos} still names the one from ${picked.file}`}`,
        hint: b.unit === null || picked.file === null ? 'build the databases from modules with STT_FILE symbols (Kbuild) to check by unit' : 'nothing to do if the unit is the one you meant', kernelCatches: false });
    }
    if (b.section !== null && picked.section !== null && picked.section !== b.section) {
      out.push({ severity: 'warning', code: 'BINDING_SECTION_CHANGED', where,
        message: `'${b.name}' was in ${b.section} when the patch was converted, in ${picked.section} on this build`,
        hint: 'check that it is still the same kind of symbol (code, data) and the same function', kernelCatches: false });
    }
  }
  return out;
}
