/**
 * Module memory layout, as kernel/module/main.c layout_sections() computes it in 6.1.
 *
 * Sections are taken in four passes by flags (text, rodata, ro_after_init, data), each
 * `ALIGN(size, sh_addralign)` after the previous one, and every pass ends page-aligned
 * (CONFIG_STRICT_MODULE_RWX). `.init*` sections go to a separate init layout, laid out the same
 * way. Before layout the loader stops allocating `.modinfo`, `__versions` and the per-cpu section
 * (rewrite_section_headers, percpu_modalloc) and marks `.data..ro_after_init` and `__jump_table`
 * SHF_RO_AFTER_INIT (layout_and_allocate).
 *
 * Under the per-object design a livepatch module's `.klp.text.<obj>`, `.klp.rodata.<obj>`,
 * `.klp.data.<obj>` and `.klp.arch.<obj>.*` sections get a layout of their own per object (text,
 * rodata, arch, data, each page-aligned), so the loader can protect and release them apart from the
 * rest (shared/design/per-object-loader.md).
 */
import { SHF } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { Section } from '../elf/model.js';
import { isInitSection } from '../elf/module.js';
import { pageAlign } from './memory.js';


export interface LayoutPart {
  /** Bytes from the start of the layout where each part ends (text, text+rodata, ...). */
  textSize: number;
  roSize: number;
  roAfterInitSize: number;
  size: number;
}

export interface ModuleLayout {
  core: LayoutPart;
  init: LayoutPart;
  /** Per-object layouts (per-object design only), by object name. */
  klp: Map<string, LayoutPart>;
  /** Offset of each allocated section inside its layout: core, init or `klp.<obj>`. */
  placement: Map<Section, { layout: string; offset: number }>;
  percpu: Section | undefined;
}

/** The object whose per-object layout a section belongs to, or undefined for an ordinary section. */
export function klpSectionObject(name: string): string | undefined {
  const m = /^\.klp\.(?:text|rodata|data)\.([^.]+)$/.exec(name) ?? /^\.klp\.arch\.([^.]+)\./.exec(name);
  return m?.[1];
}

const MASKS: ReadonlyArray<readonly [bigint, bigint]> = [
  [SHF.EXECINSTR | SHF.ALLOC, 0n], // text
  [SHF.ALLOC, SHF.WRITE], // rodata
  [SHF.RO_AFTER_INIT | SHF.ALLOC, 0n], // ro_after_init (also SHF_WRITE)
  [SHF.WRITE | SHF.ALLOC, 0n], // data
];
// The masks are flags of the low 32 bits: tested as numbers, on each section's flags worked out
// once (the BigInt way made two BigInts a section a mask, 1.6 million for Debian's 4,023 modules).
const MASKS32 = MASKS.map(([want, notWanted]) => [Number(want), Number(notWanted)] as const);

/** The flags the loader sees for a section after its own adjustments. */
export function loaderFlags(s: Section, perObject = false): bigint {
  let f = s.flags;
  if (s.name === '.modinfo' || s.name === '__versions' || s.name === '.data..percpu') f &= ~SHF.ALLOC;
  if (s.name === '.data..ro_after_init' || s.name === '__jump_table' || (perObject && s.name.startsWith('.klp.arch.'))) f |= SHF.RO_AFTER_INIT;
  return f;
}

export function layout_sections(elf: ElfFile, perObject = false): ModuleLayout {
  const placement = new Map<Section, { layout: string; offset: number }>();
  const groups = new Map<string, Section[]>([['core', []], ['init', []]]);
  for (const s of elf.sections) {
    const obj = perObject ? klpSectionObject(s.name) : undefined;
    const key = obj !== undefined ? `klp.${obj}` : isInitSection(s.name) ? 'init' : 'core';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(s);
  }
  const parts = new Map<string, LayoutPart>();
  for (const [key, sections] of groups) {
    const p: LayoutPart = { textSize: 0, roSize: 0, roAfterInitSize: 0, size: 0 };
    const flags = sections.map((s) => Number(loaderFlags(s, perObject) & 0xffffffffn));
    const placed = new Uint8Array(sections.length);
    MASKS32.forEach(([want, notWanted], m) => {
      for (let i = 0; i < sections.length; i++) {
        const s = sections[i]!, f = flags[i]!;
        // A section is placed once (each of a group's sections is one of `sections`).
        if ((f & want) !== want || (f & notWanted) !== 0 || placed[i]) continue;
        placed[i] = 1;
        const align = Number(s.addralign > 0n ? s.addralign : 1n);
        p.size = Math.ceil(p.size / align) * align;
        placement.set(s, { layout: key, offset: p.size });
        p.size += s.size;
      }
      p.size = pageAlign(p.size);
      if (m === 0) p.textSize = p.size;
      if (m === 1) p.roSize = p.size;
      if (m === 2) p.roAfterInitSize = p.size;
    });
    parts.set(key, p);
  }
  const klp = new Map([...parts].filter(([k]) => k.startsWith('klp.')).map(([k, v]) => [k.slice(4), v]));
  return { core: parts.get('core')!, init: parts.get('init')!, klp, placement, percpu: elf.findSectionByName('.data..percpu') };
}
