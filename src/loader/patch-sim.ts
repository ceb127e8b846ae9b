/**
 * Load one livepatch module into a fresh emulated kernel under a design: what `klp check --design`
 * and `klp demo` report next to the static check (the modules it patches are not loaded, so their
 * relocations stay pending, as for a patch loaded before them).
 */
import type { ElfFile } from '../elf/file.js';
import { isLivepatchModule, moduleName } from '../elf/module.js';
import { readElf } from '../elf/reader.js';
import { writeElf } from '../elf/writer.js';
import { splitModule } from '../convert/split.js';
import type { SymbolDb } from '../symbols/database.js';
import { DESIGN_HOOKS, type Design } from './designs/index.js';
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
  /** The insmod order when other modules were loaded with the patch (`klp check --with`). */
  order?: string[];
}

/**
 * The per-object designs need a split patch: split a livepatch module that is not split yet, in
 * memory (the ElfFile is edited; the loader reads the edited model). Returns what it did, for the log.
 */
export function splitForDesign(elf: ElfFile, design: Design): string[] {
  if (!DESIGN_HOOKS[design].perObject || !isLivepatchModule(elf)) return [];
  const name = moduleName(elf) ?? elf.path;
  const r = splitModule(elf);
  return [
    ...(r.changed ? [`${name}: split in memory for the per-object design (klp split): ${r.objects.map((o) => `.klp.*.${o.object}`).join(', ')}`] : []),
    ...r.problems.map((p) => `${name}: not split for the per-object design: ${p.message}`),
  ];
}

export function simulatePatchLoad(db: SymbolDb, design: Design, elf: ElfFile): PatchSimulation {
  // The patch alone: no order to report.
  const { order: _order, ...alone } = simulateLoads(db, design, [elf]);
  return alone;
}

/**
 * Load the patch and the modules it patches into a fresh emulated kernel, in the order given
 * (`klp check --with`): the late-patching path (patch first) or the ordinary one (modules first).
 * The status is the first failing insmod's, or 0.
 */
export function simulateLoads(db: SymbolDb, design: Design, files: readonly ElfFile[]): PatchSimulation {
  const k = new EmulatedKernel(db, design);
  const notes: SimEvent[] = [];
  let status = 0;
  const order: string[] = [];
  for (const elf of files) {
    // A private copy: insmod must not see (or leave) edits, and per-object designs split it first.
    const copy = readElf(writeElf(elf), { path: elf.path });
    notes.push(...splitForDesign(copy, design).map((text): SimEvent => ({ stage: 'insmod', kind: 'trace', text })));
    order.push(moduleName(copy) ?? copy.path);
    const rc = k.insmod(copy);
    if (rc !== 0) {
      status = rc;
      break;
    }
  }
  return { design, summary: DESIGN_HOOKS[design].summary, status, log: k.log, events: [...notes, ...k.events], violations: k.violations, flips: k.flips, order };
}
