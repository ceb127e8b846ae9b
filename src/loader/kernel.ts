/**
 * An emulated kernel: the module loader's load_module()/delete_module() around loadModuleImage(),
 * and the livepatch core's handling of livepatch relocations (kernel/livepatch/core.c), under the
 * 6.1 design (early vmlinux relocations, late module relocations through text_poke, no clearing)
 * or the 6.3 one (the same, plus klp_clear_object_relocs when a patched module goes).
 *
 * insmod/rmmod return what busybox's insmod/rmmod exit with (0 or the errno), and `log` collects
 * the kernel's messages with their prefixes as dmesg shows them, so runs compare with a real boot.
 */
import { archForMachine } from '../arch/index.js';
import { SHN } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol, Section } from '../elf/model.js';
import { isLivepatchModule, moduleName } from '../elf/module.js';
import { readKlpPatches, type KlpObjectInfo } from '../convert/klp-objects.js';
import { parseKlpRelaObject, parseKlpSym } from '../convert/names.js';
import { findObjectSymbol } from '../check/check.js';
import { klpFindAmong } from '../symbols/sympos.js';
import type { SymbolDb } from '../symbols/database.js';
import { Memory } from './memory.js';
import { loadModuleImage, type KernelEnv, type LoadedModule } from './module-loader.js';

export type Design = '6.1' | '6.3';

const ERRNO: Record<string, number> = { ENOENT: 2, ENOEXEC: 8, EBUSY: 16, EEXIST: 17, EINVAL: 22 };

interface Patch {
  name: string;
  mod: LoadedModule;
  objects: KlpObjectInfo[];
  enabled: boolean;
  /** st_value the livepatch core stored for each .klp.sym symbol (6.3 clearing recomputes from it). */
  klpValues: Map<ElfSymbol, bigint>;
}

export class EmulatedKernel {
  readonly log: string[] = [];
  readonly memory = new Memory();
  private readonly modules = new Map<string, LoadedModule>();
  private readonly patches = new Map<string, Patch>();
  /** Exports of the loaded modules, and vmlinux exports looked up so far (resolve_symbol). */
  private readonly moduleExports = new Map<string, bigint>();
  private readonly vmlinuxExports = new Map<string, bigint | undefined>();
  /** Relocations written by the module loader (apply_relocations) so far. */
  relocationsApplied = 0;
  private nextModule = 0xffffffffc0000000n;
  private nextPercpu: bigint;
  private readonly env: KernelEnv;
  private readonly k: { major: number; minor: number };

  private readonly db: SymbolDb;
  readonly design: Design;

  constructor(db: SymbolDb, design: Design) {
    this.db = db;
    this.design = design;
    this.k = design === '6.3' ? { major: 6, minor: 3 } : { major: 6, minor: 1 };
    this.nextPercpu = db.lookup('__per_cpu_end')[0]?.address ?? 0x40000n;
    this.env = {
      kernel: this.k,
      memory: this.memory,
      resolveExport: (name) => {
        const a = this.moduleExports.get(name);
        if (a !== undefined) return a;
        if (!this.vmlinuxExports.has(name)) {
          this.vmlinuxExports.set(name, db.lookup(name).find((d) => d.object === 'vmlinux' && d.exported)?.address ?? undefined);
        }
        return this.vmlinuxExports.get(name);
      },
      findVmlinuxSymbol: (name, pos) => findObjectSymbol(db, 'vmlinux', name, pos),
      allocModule: (size) => {
        const at = this.nextModule;
        this.nextModule += BigInt(size);
        return at;
      },
      allocPercpu: (size, align) => {
        const a = BigInt(align);
        this.nextPercpu = ((this.nextPercpu + a - 1n) / a) * a;
        const at = this.nextPercpu;
        this.nextPercpu += BigInt(size);
        return at;
      },
    };
  }

  isLoaded(name: string): boolean {
    return this.modules.has(name);
  }

  insmod(elf: ElfFile): number {
    const name = moduleName(elf) ?? '?';
    if (this.modules.has(name)) return ERRNO.EEXIST!;
    const r = loadModuleImage(elf, this.env);
    if (!r.ok) {
      this.log.push(...r.log.map((m) => (m.startsWith('x86/modules:') || m.startsWith('overflow') || m.startsWith('`') ? `module: ${m}` : m)));
      return ERRNO[r.errno] ?? ERRNO.ENOEXEC!;
    }
    const mod = r.module;
    this.relocationsApplied += r.applied;
    // prepare_coming_module -> klp_module_coming(mod). (complete_formation's RO/NX and the
    // permission audit of late writes are not modelled yet: text_poke writes are recorded as such.)
    for (const p of this.patches.values()) {
      const obj = p.objects.find((o) => o.name === name);
      if (!obj || !p.enabled) continue;
      const err = this.initObjectLoaded(p, obj, mod);
      if (err) {
        this.log.push(`livepatch: failed to initialize patch '${p.name}' for module '${name}' (-${err})`);
        this.log.push(`livepatch: patch '${p.name}' failed for module '${name}', refusing to load module '${name}'`);
        this.free(mod);
        return err;
      }
      // Printed only once the object is initialised (kernel/livepatch/core.c klp_module_coming).
      this.log.push(`livepatch: applying patch '${p.name}' to loading module '${name}'`);
    }
    this.modules.set(name, mod);
    for (const [n, a] of mod.exports) this.moduleExports.set(n, a);
    // do_init_module: a livepatch module's init calls klp_enable_patch().
    if (isLivepatchModule(elf)) {
      const objects = readKlpPatches(elf)[0]?.objects ?? [];
      const p: Patch = { name, mod, objects, enabled: false, klpValues: new Map() };
      for (const o of objects) {
        const target = o.name === null ? undefined : this.modules.get(o.name);
        if (o.name !== null && !target) continue; // not loaded: klp_module_coming will do it
        const err = this.initObjectLoaded(p, o, target);
        if (err) {
          this.forget(mod);
          return err;
        }
      }
      p.enabled = true;
      this.patches.set(name, p);
      this.log.push(`livepatch: enabling patch '${name}'`, `livepatch: '${name}': starting patching transition`, `livepatch: '${name}': patching complete`);
    }
    return 0;
  }

  /** echo 0 > /sys/kernel/livepatch/<patch>/enabled */
  disablePatch(name: string): number {
    const p = this.patches.get(name);
    if (!p || !p.enabled) return ERRNO.EINVAL!;
    p.enabled = false;
    this.log.push(`livepatch: '${name}': starting unpatching transition`, `livepatch: '${name}': unpatching complete`);
    return 0;
  }

  rmmod(name: string): number {
    const mod = this.modules.get(name);
    if (!mod) return ERRNO.ENOENT!;
    const p = this.patches.get(name);
    if (p?.enabled) return ERRNO.EBUSY!; // an enabled patch holds a reference on its own module
    // klp_module_going(): revert patches on this module; 6.3 also clears their relocations.
    for (const q of this.patches.values()) {
      const obj = q.objects.find((o) => o.name === name);
      if (!obj || !q.enabled) continue;
      this.log.push(`livepatch: reverting patch '${q.name}' on unloading module '${name}'`);
      if (this.design === '6.3') this.clearObjectRelocs(q, name);
    }
    this.patches.delete(name);
    this.forget(mod);
    return 0;
  }

  /** Drop a module that was registered: its exports, its entry, its memory. */
  private forget(mod: LoadedModule): void {
    for (const n of mod.exports.keys()) this.moduleExports.delete(n);
    this.modules.delete(mod.name);
    this.free(mod);
  }

  private free(mod: LoadedModule): void {
    this.memory.unmap(mod.core);
    this.memory.unmap(mod.init);
  }

  /**
   * klp_init_object_loaded(): write the object's livepatch relocations (klp_apply_object_relocs:
   * klp_resolve_symbols, then apply_relocate_add through text_poke) and look up every function.
   * Returns an errno on failure, with the kernel's message logged.
   */
  private initObjectLoaded(p: Patch, obj: KlpObjectInfo, target: LoadedModule | undefined): number {
    const objName = obj.name ?? 'vmlinux';
    const elf = p.mod.elf;
    const arch = archForMachine(elf.machine)!;
    if (obj.name !== null) {
      for (const rs of elf.sections) {
        if (!rs.isLivepatchRela || parseKlpRelaObject(rs.name) !== objName) continue;
        const err = this.applyKlpSection(p, rs, target!, arch);
        if (err) return err;
      }
    }
    for (const f of obj.funcs) {
      const r = this.findSymbol(objName, target, f.oldName, f.oldSympos);
      if (!r.ok) {
        this.log.push(`livepatch: ${r.message}`);
        return ERRNO.EINVAL!;
      }
    }
    return 0;
  }

  private applyKlpSection(p: Patch, rs: Section, target: LoadedModule, arch: NonNullable<ReturnType<typeof archForMachine>>): number {
    const elf = p.mod.elf;
    const base = p.mod.sectionAddr.get(rs.infoSection!);
    if (base === undefined) return 0;
    for (const r of elf.relocations(rs)) {
      const y = r.symbol;
      if (!(y.section === null && y.shndx === SHN.LIVEPATCH)) {
        this.log.push(`livepatch: symbol ${y.name} is not marked as a livepatch symbol`);
        return ERRNO.EINVAL!;
      }
      const s = parseKlpSym(y.name, this.k);
      if (!s) {
        this.log.push(`livepatch: symbol ${y.name} has an incorrectly formatted name`);
        return ERRNO.EINVAL!;
      }
      if (s.obj === 'vmlinux') {
        this.log.push(`livepatch: invalid access to vmlinux symbol '${s.name}' from module-specific livepatch relocation section`);
        return ERRNO.EINVAL!;
      }
      const found = this.findSymbol(s.obj, s.obj === target.name ? target : this.modules.get(s.obj), s.name, s.pos);
      if (!found.ok) {
        this.log.push(`livepatch: ${found.message}`);
        return ERRNO.EINVAL!;
      }
      p.klpValues.set(y, found.address);
      const loc = base + r.offset;
      const out = arch.applyRela!({ type: r.type, val: found.address + r.addend, loc, module: p.name, read: (n) => this.memory.read(loc, n) }, this.k);
      if (!out.ok) {
        this.log.push(...out.messages.map((m) => `module: ${m}`));
        return ERRNO[out.errno]!;
      }
      if ('bytes' in out) this.memory.write(loc, out.bytes, 'klp_init_object_loaded', 'text_poke');
    }
    return 0;
  }

  /** klp_clear_object_relocs() (6.3): zero every target after checking it holds the expected value. */
  private clearObjectRelocs(p: Patch, objName: string): void {
    const elf = p.mod.elf;
    for (const rs of elf.sections) {
      if (!rs.isLivepatchRela || parseKlpRelaObject(rs.name) !== objName) continue;
      const base = p.mod.sectionAddr.get(rs.infoSection!);
      if (base === undefined) continue;
      for (const r of elf.relocations(rs)) {
        const loc = base + r.offset;
        const size = archForMachine(elf.machine)?.relocs.get(r.type)?.size ?? 0;
        if (size > 0) this.memory.write(loc, new Uint8Array(size), 'klp_module_going', 'text_poke');
      }
    }
  }

  /** klp_find_object_symbol() on vmlinux (database) or on a module's full (COMING) symbol table. */
  private findSymbol(obj: string, mod: LoadedModule | undefined, name: string, pos: number): { ok: true; address: bigint } | { ok: false; message: string } {
    if (obj === 'vmlinux') {
      const r = findObjectSymbol(this.db, 'vmlinux', name, pos);
      return r.ok ? { ok: true, address: r.address ?? 0n } : r;
    }
    const matches: bigint[] = [];
    for (const [y, v] of mod?.symbolValue ?? []) if (y.section && y.name === name) matches.push(v);
    const r = klpFindAmong(matches, obj, name, pos);
    return r.ok ? { ok: true, address: r.match } : r;
  }
}
