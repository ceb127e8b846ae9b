/**
 * Module memory layout, as kernel/module/main.c layout_sections() computes it in 6.1.
 *
 * Sections are taken in four passes by flags (text, rodata, ro_after_init, data), each
 * `ALIGN(size, sh_addralign)` after the previous one, and every pass ends page-aligned
 * (CONFIG_STRICT_MODULE_RWX). `.init*` sections go to a separate init layout, laid out the same
 * way. Before layout the loader stops allocating `.modinfo`, `__versions` and the per-cpu section
 * (rewrite_section_headers, percpu_modalloc) and marks `.data..ro_after_init` and `__jump_table`
 * SHF_RO_AFTER_INIT (layout_and_allocate).
 */
import { SHF } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { Section } from '../elf/model.js';
import { pageAlign } from './memory.js';

/** kernel/module/main.c module_init_section() (x86 has no override). */
export const isInitSection = (name: string): boolean => name.startsWith('.init');

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
  /** Offset of each allocated section inside its layout. */
  placement: Map<Section, { init: boolean; offset: number }>;
  percpu: Section | undefined;
}

const MASKS: ReadonlyArray<readonly [bigint, bigint]> = [
  [SHF.EXECINSTR | SHF.ALLOC, 0n], // text
  [SHF.ALLOC, SHF.WRITE], // rodata
  [SHF.RO_AFTER_INIT | SHF.ALLOC, 0n], // ro_after_init (also SHF_WRITE)
  [SHF.WRITE | SHF.ALLOC, 0n], // data
];

/** The flags the loader sees for a section after its own adjustments. */
export function loaderFlags(s: Section): bigint {
  let f = s.flags;
  if (s.name === '.modinfo' || s.name === '__versions' || s.name === '.data..percpu') f &= ~SHF.ALLOC;
  if (s.name === '.data..ro_after_init' || s.name === '__jump_table') f |= SHF.RO_AFTER_INIT;
  return f;
}

export function layoutSections(elf: ElfFile): ModuleLayout {
  const placement = new Map<Section, { init: boolean; offset: number }>();
  const parts: Record<'core' | 'init', LayoutPart> = {
    core: { textSize: 0, roSize: 0, roAfterInitSize: 0, size: 0 },
    init: { textSize: 0, roSize: 0, roAfterInitSize: 0, size: 0 },
  };
  for (const which of ['core', 'init'] as const) {
    const p = parts[which];
    MASKS.forEach(([want, notWanted], m) => {
      for (const s of elf.sections) {
        const f = loaderFlags(s);
        if ((f & want) !== want || (f & notWanted) !== 0n || placement.has(s) || isInitSection(s.name) !== (which === 'init')) continue;
        const align = Number(s.addralign > 0n ? s.addralign : 1n);
        p.size = Math.ceil(p.size / align) * align;
        placement.set(s, { init: which === 'init', offset: p.size });
        p.size += s.size;
      }
      p.size = pageAlign(p.size);
      if (m === 0) p.textSize = p.size;
      if (m === 1) p.roSize = p.size;
      if (m === 2) p.roAfterInitSize = p.size;
    });
  }
  return { core: parts.core, init: parts.init, placement, percpu: elf.findSectionByName('.data..percpu') };
}
