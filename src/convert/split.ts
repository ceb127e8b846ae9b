/**
 * klp split: the post-link step the per-object loader design needs
 * (shared/design/per-object-loader.md, "What the patch-creation side must do"). Each module
 * object's replacement functions, and the code and data that only they reach, move into
 * `.klp.text.<obj>`, `.klp.rodata.<obj>` and `.klp.data.<obj>`, with their relocations; the
 * special-section entries that need one of the object's symbols (a `__jump_table` entry on a
 * module key, a `.static_call_sites` entry on a module static call) move into
 * `.klp.arch.<obj>.<section>`. vmlinux is always present, so its code stays where it is.
 *
 * The unit of moving is the section, so the patch must be built with -ffunction-sections
 * -fdata-sections (as kpatch-build and objtool klp-build build theirs): inside one `.text`,
 * calls between functions are resolved by the assembler with no relocation left to follow.
 */
import { SHF, SHT, STB, STT } from '../elf/constants.js';
import { altInstrLayout, altRelocationCount, type AltInstrLayout } from '../arch/x86-alt-instr.js';
import type { ElfFile } from '../elf/file.js';
import { ElfSymbol, type Relocation, type Section } from '../elf/model.js';
import { isInitSection } from '../elf/module.js';
import { readKlpPatches, type KLP_LAYOUTS } from '../klp/objects.js';
import { klpRelaName, parseKlpRelaObject } from '../klp/names.js';
import { specialSection, splittableEntrySize } from '../klp/special.js';
import type { Problem } from './convert.js';

export interface SplitObject {
  object: string;
  /** Functions moved into .klp.text.<obj>. */
  functions: string[];
  /** Input sections merged into each new section. */
  sections: Record<string, string[]>;
  /** Special-section entries moved into .klp.arch.<obj>.<section>. */
  entries: Record<string, number>;
}

export interface SplitResult {
  objects: SplitObject[];
  /** Replacement functions left in shared code, and why. */
  kept: Array<{ object: string; function: string; reason: string }>;
  problems: Problem[];
  changed: boolean;
}


export function splitModule(elf: ElfFile, layout?: (typeof KLP_LAYOUTS)[string]): SplitResult {
  const problems: Problem[] = [];
  const kept: SplitResult['kept'] = [];
  const none = (): SplitResult => ({ objects: [], kept, problems, changed: false });
  const symtab = elf.symtab;
  if (!symtab) {
    problems.push({ symbol: '', where: elf.path, message: 'the module has no symbol table', hint: 'do not strip the module' });
    return none();
  }
  if (elf.sections.some((s) => s.type === SHT.REL)) {
    problems.push({ symbol: '', where: elf.path, message: 'REL relocations (implicit addends) are not supported by klp split', hint: 'klp split handles RELA architectures (x86_64 first)' });
    return none();
  }
  if (elf.sections.some((s) => s.name.startsWith('.klp.text.') || s.name.startsWith('.klp.arch.'))) {
    return none(); // already split
  }
  const patches = readKlpPatches(elf, layout);
  if (patches.length === 0) {
    problems.push({ symbol: '', where: elf.path, message: 'no struct klp_patch found: klp split needs the klp_object data to know which code belongs to which object', hint: 'split a livepatch module built against 6.1 headers' });
    return none();
  }

  // klp_func.new_func fields: references that register a replacement, not calls into it.
  const newFuncFields = new Set<string>();
  for (const p of patches) for (const o of p.objects) for (const f of o.funcs) newFuncFields.add(`${f.at.section}\0${f.at.offset + 8}`);
  const isSpecial = (s: Section): boolean => specialSection(s.name) !== undefined || s.name.startsWith('.discard') || s.name.startsWith('.klp.');

  // Who references each section: allocated, non-special sections only (metadata does not call).
  const referrers = new Map<Section, Set<Section>>();
  const references = new Map<Section, Set<Section>>();
  for (const rs of elf.sections) {
    const from = rs.infoSection;
    if (!rs.isRelocation || !from || !from.hasFlag(SHF.ALLOC) || isSpecial(from)) continue;
    for (const r of elf.relocations(rs)) {
      const to = r.symbol.section;
      if (!to || to === from) continue;
      if (newFuncFields.has(`${from.name}\0${Number(r.offset)}`)) continue;
      if (!referrers.has(to)) referrers.set(to, new Set());
      referrers.get(to)!.add(from);
      if (!references.has(from)) references.set(from, new Set());
      references.get(from)!.add(to);
    }
  }
  const grouped = new Set(elf.sections.filter((s) => s.type === SHT.GROUP).flatMap((g) => elf.group(g).members));
  const movable = (s: Section): boolean => s.hasFlag(SHF.ALLOC) && !isSpecial(s) && !grouped.has(s) && !s.hasFlag(SHF.MERGE)
    && !isInitSection(s.name) && !s.name.startsWith('.exit') && s.name !== '.gnu.linkonce.this_module' && s.name !== '.modinfo'
    && !s.name.startsWith('.data..percpu') && s.name !== '__versions' && !s.hasFlag(SHF.TLS);
  // __pfx_<fn> (CONFIG_FUNCTION_PADDING_CFI, 6.2+) and __cfi_<fn> (kCFI) mark the padding in front
  // of a function in its own section: part of that function, not another one.
  const functionsIn = (s: Section): ElfSymbol[] => elf.allSymbols.filter((y) => y.type === STT.FUNC && y.section === s && !/^__(pfx|cfi)_/.test(y.name));

  const objects: SplitObject[] = [];
  const claimed = new Map<Section, string>();
  const plans: Array<{ object: string; members: Section[] }> = [];
  for (const o of patches.flatMap((p) => p.objects)) {
    if (o.name === null) continue; // vmlinux: always present
    const obj = o.name;
    const set = new Set<Section>();
    for (const f of o.funcs) {
      const s = f.newFunc?.section;
      if (!f.newFunc || !s) continue;
      const fns = functionsIn(s);
      if (fns.length !== 1) {
        problems.push({ symbol: f.newFunc.name, where: s.name, message: `${s.name} holds ${fns.length} functions, so ${f.newFunc.name} cannot move alone (calls inside one section carry no relocation)`,
          hint: 'build the patch with ccflags-y += -ffunction-sections -fdata-sections, as kpatch-build and objtool klp-build do' });
        continue;
      }
      set.add(s);
    }
    // Grow: a section joins when everything that references it is already in (a replacement's
    // callees, its data, gcc's .cold fragments, which also jump back into it).
    for (let grew = true; grew;) {
      grew = false;
      for (const m of [...set]) {
        for (const t of references.get(m) ?? []) {
          if (set.has(t) || !movable(t) || claimed.has(t)) continue;
          if (t.hasFlag(SHF.EXECINSTR) && functionsIn(t).length > 1) continue;
          if ([...(referrers.get(t) ?? [])].every((x) => set.has(x))) {
            set.add(t);
            grew = true;
          }
        }
      }
    }
    // Shrink: a section that something outside still references stays in shared code.
    for (let shrank = true; shrank;) {
      shrank = false;
      for (const m of [...set]) {
        const outside = [...(referrers.get(m) ?? [])].filter((x) => !set.has(x));
        if (outside.length === 0) continue;
        set.delete(m);
        shrank = true;
        for (const f of functionsIn(m).filter((y) => o.funcs.some((g) => g.newFunc === y))) {
          kept.push({ object: obj, function: f.name, reason: `also referenced from ${outside.map((x) => x.name).join(', ')}` });
        }
      }
    }
    for (const s of set) claimed.set(s, obj);
    plans.push({ object: obj, members: [...set] });
  }
  if (problems.length > 0) return none();

  // Special-section entries that need an object's symbol.
  const entryMoves: Array<{ object: string; special: Section; offsets: number[] }> = [];
  const altMoves: Array<{ object: string; klp: Section; layout: AltInstrLayout }> = [];
  for (const rs of elf.sections) {
    if (!rs.isLivepatchRela || !rs.infoSection) continue;
    const obj = parseKlpRelaObject(rs.name);
    const special = rs.infoSection;
    if (!obj || obj === 'vmlinux' || !specialSection(special.name)) continue;
    const altTable = special.name === '.altinstr_replacement' ? elf.findSectionByName('.altinstructions') : undefined;
    if (altTable) {
      const layout = altInstrLayout(elf, altTable);
      if (layout) altMoves.push({ object: obj, klp: rs, layout });
      else problems.push({ symbol: '', where: `${elf.path}: ${altTable.name}`, message: `${altTable.size} bytes with ${altRelocationCount(elf, altTable)} relocations fit neither struct alt_instr (12 bytes up to 6.2, 14 from 6.3, two relocations each)`, hint: 'the object is not a kernel module as Kbuild builds it; rebuild it, or leave out --per-object' });
      continue;
    }
    const size = splittableEntrySize(special.name);
    if (!size) {
      problems.push({ symbol: elf.relocations(rs)[0]?.symbol.name ?? '', where: `${rs.name}`, message: `${special.name} entries that need ${obj} symbols cannot be split per object yet`,
        hint: specialSection(special.name)!.wayOut });
      continue;
    }
    const offsets = [...new Set(elf.relocations(rs).map((r) => Math.floor(Number(r.offset) / size) * size))].sort((a, b) => a - b);
    entryMoves.push({ object: obj, special, offsets });
  }
  if (problems.length > 0) return none();
  if (plans.every((p) => p.members.length === 0) && entryMoves.length === 0 && altMoves.length === 0) return none();

  for (const plan of plans) {
    const so: SplitObject = { object: plan.object, functions: [], sections: {}, entries: {} };
    for (const kind of ['text', 'rodata', 'data'] as const) {
      const members = plan.members.filter((s) => (kind === 'text' ? s.hasFlag(SHF.EXECINSTR) : kind === 'data' ? !s.hasFlag(SHF.EXECINSTR) && s.hasFlag(SHF.WRITE) : !s.hasFlag(SHF.EXECINSTR) && !s.hasFlag(SHF.WRITE)));
      if (members.length === 0) continue;
      const name = `.klp.${kind}.${plan.object}`;
      so.sections[name] = members.map((s) => s.name);
      if (kind === 'text') so.functions.push(...members.flatMap(functionsIn).map((y) => y.name));
      mergeSections(elf, symtab, members, name, kind);
    }
    objects.push(so);
  }
  for (const m of entryMoves) {
    const so = objects.find((x) => x.object === m.object) ?? (objects.push({ object: m.object, functions: [], sections: {}, entries: {} }), objects.at(-1)!);
    so.entries[m.special.name] = (so.entries[m.special.name] ?? 0) + m.offsets.length;
    const size = splittableEntrySize(m.special.name)!;
    const order = m.special.name === '__jump_table' ? groupByKey(elf, m.special, size, m.offsets) : m.offsets;
    moveEntries(elf, symtab, m.special, size, order, `.klp.arch.${m.object}.${m.special.name}`);
  }
  for (const m of altMoves) {
    const so = objects.find((x) => x.object === m.object) ?? (objects.push({ object: m.object, functions: [], sections: {}, entries: {} }), objects.at(-1)!);
    so.entries['.altinstructions'] = (so.entries['.altinstructions'] ?? 0) + moveAlternatives(elf, symtab, m.object, m.klp, m.layout);
  }
  return { objects, kept, problems, changed: true };
}

/**
 * Alternatives whose replacement code needs `obj`'s symbols: their `.altinstructions` entries move
 * to `.klp.arch.<obj>..altinstructions` and their replacement bytes (with every relocation in
 * them) to `.klp.arch.<obj>..altinstr_replacement`, the entries' repl_offset pointing there. An
 * entry is 12 bytes up to 6.2 and 14 from 6.3 (src/arch/x86-alt-instr.ts, read off the table);
 * repl_offset's PC32 relocation gives S + A = the replacement's place.
 */
function moveAlternatives(elf: ElfFile, symtab: Section, obj: string, klp: Section, layout: AltInstrLayout): number {
  const alt = elf.findSectionByName('.altinstructions')!;
  const repl = klp.infoSection!;
  const size = layout.size;
  const altRelocs = elf.relocationSectionsFor(alt).flatMap((rs) => elf.relocations(rs));
  const needs = elf.relocations(klp).map((r) => Number(r.offset));
  const ranges: Array<{ entry: number; start: number; len: number }> = [];
  for (let off = 0; off + size <= alt.data.length; off += size) {
    const r = altRelocs.find((x) => Number(x.offset) === off + 4);
    if (!r || r.symbol.section !== repl) continue;
    const start = Number(r.symbol.value + r.addend);
    const len = alt.data[off + layout.replacementlen]!;
    if (needs.some((o) => o >= start && o < start + len)) ranges.push({ entry: off, start, len });
  }
  if (ranges.length === 0) return 0;
  // The replacement bytes, each range at its new offset.
  const bytes: number[] = [];
  const newStart = new Map<number, number>();
  for (const g of ranges) {
    newStart.set(g.start, bytes.length);
    bytes.push(...repl.data.subarray(g.start, g.start + g.len));
  }
  const moved = elf.addSection({ name: `.klp.arch.${obj}..altinstr_replacement`, type: repl.type, flags: repl.flags, addralign: 1n, data: Uint8Array.from(bytes) }, elf.indexOf(repl) + 1);
  for (const rs of elf.relocationSectionsFor(repl)) {
    const stay: Relocation[] = [];
    const go: Relocation[] = [];
    for (const r of elf.relocations(rs)) {
      const o = Number(r.offset);
      const g = ranges.find((x) => o >= x.start && o < x.start + x.len);
      if (g) go.push({ ...r, offset: BigInt(newStart.get(g.start)! + o - g.start) });
      else stay.push(r);
    }
    elf.setRelocations(rs, stay);
    if (go.length > 0) elf.addRelocations(relaFor(elf, symtab, moved, rs.isLivepatchRela ? parseKlpRelaObject(rs.name) : undefined), ...go);
  }
  const emptied = elf.relocationSectionsFor(repl).filter((rs) => rs.isLivepatchRela && elf.relocations(rs).length === 0);
  if (emptied.length > 0) elf.removeSections(emptied);
  // The entries, then their repl_offset relocations re-aimed at the moved bytes.
  const archName = `.klp.arch.${obj}..altinstructions`;
  moveEntries(elf, symtab, alt, size, ranges.map((g) => g.entry), archName);
  const arch = elf.sections.find((x) => x.name === archName)!;
  const movedSym = sectionSymbol(elf, symtab, moved);
  for (const rs of elf.relocationSectionsFor(arch)) {
    for (const r of elf.relocations(rs)) {
      const i = Math.floor(Number(r.offset) / size);
      if (Number(r.offset) % size !== 4 || !ranges[i]) continue;
      r.symbol = movedSym;
      r.addend = BigInt(newStart.get(ranges[i]!.start)!);
    }
  }
  return ranges.length;
}

/** The section symbol of `s`, created when missing. */
function sectionSymbol(elf: ElfFile, symtab: Section, s: Section): ElfSymbol {
  return elf.symbols(symtab).find((y) => y.type === STT.SECTION && y.section === s)
    ?? elf.addSymbol(new ElfSymbol({ name: '', type: STT.SECTION, bind: STB.LOCAL, section: s }), symtab);
}

/** The relocation section for `target` named `name` (reused when it exists). */
function relaFor(elf: ElfFile, symtab: Section, target: Section, livepatchObj?: string): Section {
  const name = livepatchObj ? klpRelaName(livepatchObj, target.name) : `.rela${target.name}`;
  return elf.sections.find((s) => s.name === name && s.infoSection === target)
    ?? elf.createRelaSection(name, target, livepatchObj ? SHF.ALLOC | SHF.RELA_LIVEPATCH : 0n, symtab);
}

/**
 * Concatenate `members` (each at its alignment) into one new section `name`: symbols move with
 * their bytes, relocations of the members follow with shifted offsets, and every reference through
 * a member's section symbol is rewritten to the new section's symbol with a shifted addend.
 */
function mergeSections(elf: ElfFile, symtab: Section, members: Section[], name: string, kind: 'text' | 'rodata' | 'data'): void {
  let size = 0;
  let align = 1n;
  const delta = new Map<Section, number>();
  for (const s of members) {
    const a = Number(s.addralign > 0n ? s.addralign : 1n);
    size = Math.ceil(size / a) * a;
    delta.set(s, size);
    size += s.size;
    if (s.addralign > align) align = s.addralign;
  }
  const data = new Uint8Array(size);
  if (kind === 'text') data.fill(0xcc); // int3 between functions, as padding
  for (const s of members) if (!s.isNobits) data.set(s.data, delta.get(s)!);
    else data.fill(0, delta.get(s)!, delta.get(s)! + s.size);
  const flags = SHF.ALLOC | (kind === 'text' ? SHF.EXECINSTR : kind === 'data' ? SHF.WRITE : 0n);
  const last = Math.max(...members.map((s) => elf.indexOf(s)));
  const merged = elf.addSection({ name, type: SHT.PROGBITS, flags, addralign: align, data }, last + 1);
  const mergedSym = sectionSymbol(elf, symtab, merged);
  const memberSyms = new Map<ElfSymbol, Section>();
  for (const y of elf.symbols(symtab)) {
    if (!y.section || !delta.has(y.section)) continue;
    if (y.type === STT.SECTION) memberSyms.set(y, y.section);
    else {
      y.value += BigInt(delta.get(y.section)!);
      y.section = merged;
    }
  }
  const membersSet = new Set(members);
  for (const rs of [...elf.sections]) {
    if (!rs.isRelocation) continue;
    const relocs = elf.relocations(rs);
    for (const r of relocs) {
      const via = memberSyms.get(r.symbol);
      if (via) {
        r.symbol = mergedSym;
        r.addend += BigInt(delta.get(via)!);
      }
    }
    if (rs.infoSection && membersSet.has(rs.infoSection)) {
      const d = BigInt(delta.get(rs.infoSection)!);
      const lpObj = rs.isLivepatchRela ? parseKlpRelaObject(rs.name) : undefined;
      const into = relaFor(elf, symtab, merged, lpObj);
      elf.relocations(into).push(...relocs.map((r): Relocation => ({ ...r, offset: r.offset + d })));
    }
  }
  elf.removeSymbols((y) => memberSyms.has(y), symtab);
  elf.removeSections(members);
}

/**
 * `__jump_table` entries in an order that keeps each key's entries together, keys in the order
 * they first appear: the per-object kernel links a part's table to its keys without writing it
 * (its key fields are livepatch relocations, cleared and written again on every arrival of the
 * module), so it cannot sort it as jump_label_add_module() does, and refuses a table whose keys
 * are not grouped (jump_label_link_entries(), kernel/patches/0003). A key is the key field's
 * relocation (x86_64's struct jump_entry: key at offset 8), its low two bits (branch, init) apart.
 */
function groupByKey(elf: ElfFile, special: Section, size: number, offsets: readonly number[]): number[] {
  const keyOf = new Map<number, string>();
  for (const rs of elf.relocationSectionsFor(special)) {
    for (const r of elf.relocations(rs)) {
      const off = Number(r.offset);
      if (off % size === 8) keyOf.set(off - 8, `${r.symbol.name}+${r.addend & ~3n}`);
    }
  }
  const groups = new Map<string, number[]>();
  for (const o of offsets) {
    const key = keyOf.get(o) ?? `entry ${o}`;
    const g = groups.get(key);
    if (g) g.push(o);
    else groups.set(key, [o]);
  }
  return [...groups.values()].flat();
}

/** Move the entries at `offsets` of a special section into `name`, in that order, compacting what stays. */
function moveEntries(elf: ElfFile, symtab: Section, special: Section, size: number, offsets: readonly number[], name: string): void {
  const moving = new Set(offsets);
  const newOff = new Map<number, { into: 'moved' | 'kept'; at: number }>();
  const keptBytes: number[] = [];
  const movedBytes: number[] = [];
  for (let off = 0; off + size <= special.data.length; off += size) {
    if (moving.has(off)) continue;
    newOff.set(off, { into: 'kept', at: keptBytes.length });
    keptBytes.push(...special.data.subarray(off, off + size));
  }
  for (const off of offsets) {
    newOff.set(off, { into: 'moved', at: movedBytes.length });
    movedBytes.push(...special.data.subarray(off, off + size));
  }
  const arch = elf.addSection({ name, type: special.type, flags: special.flags, addralign: special.addralign, entsize: BigInt(size), data: Uint8Array.from(movedBytes) }, elf.indexOf(special) + 1);
  for (const rs of elf.relocationSectionsFor(special)) {
    const lpObj = rs.isLivepatchRela ? parseKlpRelaObject(rs.name) : undefined;
    const stay: Relocation[] = [];
    const go: Relocation[] = [];
    for (const r of elf.relocations(rs)) {
      const off = Number(r.offset);
      const entry = Math.floor(off / size) * size;
      const where = newOff.get(entry);
      if (!where) { stay.push(r); continue; }
      const moved = { ...r, offset: BigInt(where.at + (off - entry)) };
      (where.into === 'moved' ? go : stay).push(moved);
    }
    elf.setRelocations(rs, stay);
    if (go.length > 0) elf.addRelocations(relaFor(elf, symtab, arch, lpObj), ...go);
  }
  special.setData(Uint8Array.from(keptBytes));
  const empty = elf.relocationSectionsFor(special).filter((rs) => elf.relocations(rs).length === 0);
  if (special.data.length === 0) elf.removeSections([special]);
  else if (empty.length > 0) elf.removeSections(empty);
}
