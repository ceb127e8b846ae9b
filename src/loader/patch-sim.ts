/**
 * Load one livepatch module into a fresh emulated kernel under a design: what `klp check --design`
 * and `klp demo` report next to the static check (the modules it patches are not loaded, so their
 * relocations stay pending, as for a patch loaded before them).
 */
import type { ElfFile } from '../elf/file.js';
import { readElf } from '../elf/reader.js';
import { writeElf } from '../elf/writer.js';
import { splitModule } from '../convert/split.js';
import type { SymbolDb } from '../symbols/database.js';
import { DESIGN_TRAITS, type Design } from './designs.js';
import { EmulatedKernel, type SimEvent } from './kernel.js';

export interface PatchSimulation {
  design: Design;
  summary: string;
  /** What insmod exits with. */
  status: number;
  /** The kernel's messages. */
  log: string[];
  events: SimEvent[];
  violations: number;
  flips: number;
}

export function simulatePatchLoad(db: SymbolDb, design: Design, elf: ElfFile): PatchSimulation {
  // A private copy: insmod must not see (or leave) edits, and per-object designs split it first.
  let copy = readElf(writeElf(elf), { path: elf.path });
  const notes: SimEvent[] = [];
  if (DESIGN_TRAITS[design].relocs === 'per-object') {
    const r = splitModule(copy);
    if (r.changed) {
      notes.push({ stage: 'insmod', kind: 'trace', text: `klp split applied in memory: ${r.objects.map((o) => `.klp.*.${o.object}`).join(', ')}` });
      copy = readElf(writeElf(copy), { path: elf.path });
    }
    for (const p of r.problems) notes.push({ stage: 'insmod', kind: 'trace', text: `not split: ${p.message}` });
  }
  const k = new EmulatedKernel(db, design);
  const status = k.insmod(copy);
  return { design, summary: DESIGN_TRAITS[design].summary, status, log: k.log, events: [...notes, ...k.events], violations: k.violations, flips: k.flips };
}
