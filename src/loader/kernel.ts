/**
 * An emulated kernel: load_module()/delete_module() (kernel/module/main.c) stage by stage, the
 * livepatch core's klp_enable_patch/klp_module_coming/klp_module_going (kernel/livepatch/core.c)
 * and the jump label notifier, under one of the designs of designs.ts.
 *
 * insmod/rmmod return what busybox's insmod/rmmod exit with (0 or the errno). `log` collects the
 * kernel's messages with their prefixes as dmesg shows them, so runs compare with a real boot;
 * `events` adds the emulator's trace: stages, module states, every livepatch relocation with its
 * symbol, object, sympos and address, and every permission change.
 */
import type { KernelVersion } from '../kernel-version.js';
import { hashedPointer } from '../arch/printk.js';
import type { Arch } from '../arch/types.js';
import { SHN } from '../elf/constants.js';
import type { ElfFile } from '../elf/file.js';
import type { ElfSymbol, Section } from '../elf/model.js';
import { isLivepatchModule, modinfoValue, moduleName } from '../elf/module.js';
import { readKlpPatches, type KlpObjectInfo } from '../klp/objects.js';
import { parseKlpRelaObject, parseKlpSym } from '../klp/names.js';
import { findObjectSymbol } from '../symbols/sympos.js';
import { klpFindAmong } from '../symbols/sympos.js';
import type { SymbolDb } from '../symbols/database.js';
import { DESIGN_TRAITS, type Design, type DesignTraits } from './designs.js';
import { applyAlternatives, readAlternatives } from './alternatives.js';
import { JumpLabels } from './jump-label.js';
import { Memory, RO_NX, RO_X, RW_NX, RW_X, permString, type PermChange, type Perms, type Writer } from './memory.js';
import {
  allocateModule, applyRelocations, archOf, collectExports, freeModule, relocatedBytes, simplifySymbols, writeRelocations,
  type KernelEnv, type LoadedModule, type StageError,
} from './module-loader.js';

export type { Design } from './designs.js';

/** The errnos the emulated loader returns, as the kernel's (include/uapi/asm-generic/errno-base.h). */
export const ERRNO: Record<string, number> = { ENOENT: 2, ENOEXEC: 8, EWOULDBLOCK: 11, ENOMEM: 12, EBUSY: 16, EEXIST: 17, EINVAL: 22 };
const MODULES_VADDR = 0xffffffffc0000000n;

export interface SimEvent {
  stage: string;
  /** kernel: a message the kernel prints (also in `log`); trace: the emulator's account of a step. */
  kind: 'kernel' | 'trace';
  text: string;
}

interface Patch {
  name: string;
  mod: LoadedModule;
  objects: KlpObjectInfo[];
  enabled: boolean;
  /** st_value the livepatch core stored for each .klp.sym symbol (6.3 clearing recomputes from it). */
  klpValues: Map<ElfSymbol, bigint>;
}

const isErr = (x: unknown): x is StageError => typeof x === 'object' && x !== null && 'errno' in x;

export class EmulatedKernel {
  readonly log: string[] = [];
  readonly events: SimEvent[] = [];
  readonly memory = new Memory();
  readonly jumpLabels: JumpLabels;
  private readonly modules = new Map<string, LoadedModule>();
  private readonly patches = new Map<string, Patch>();
  /** Exports of the loaded modules, and vmlinux exports looked up so far (resolve_symbol). */
  private readonly moduleExports = new Map<string, { address: bigint; owner: string }>();
  /** Modules that resolved a symbol against each module's exports (its source_list: lsmod's "Used by"). */
  private readonly holders = new Map<string, Set<string>>();
  private readonly uses = new Map<string, Set<string>>();
  /** The modules whose exports the module being loaded has resolved so far (simplify_symbols). */
  private resolvedFrom = new Set<string>();
  private readonly vmlinuxExports = new Map<string, bigint | undefined>();
  /** Relocations written by the module loader (apply_relocations) so far. */
  relocationsApplied = 0;
  /**
   * module_alloc() gives every layout of a module the same place each time it is loaded (a slot
   * per module and layout), and modules named in reserve() a window of their own, so runs in
   * different orders put the same code at the same address and final bytes compare directly. The
   * kernel's vmalloc makes no such promise; nothing here relies on addresses being different.
   */
  private readonly slots = new Map<string, { base: bigint; size: number }>();
  private readonly windows = new Map<string, { next: bigint; end: bigint }>();
  private nextModule = MODULES_VADDR;
  private nextPercpu: bigint;
  private readonly env: KernelEnv;
  private readonly k: KernelVersion;
  private readonly db: SymbolDb;
  readonly design: Design;
  readonly traits: DesignTraits;
  private stage = 'init';

  constructor(db: SymbolDb, design: Design) {
    this.db = db;
    this.design = design;
    this.traits = DESIGN_TRAITS[design];
    this.k = this.traits.kernel;
    this.jumpLabels = new JumpLabels(this.memory, (line) => this.trace(line));
    this.nextPercpu = db.lookup('__per_cpu_end')[0]?.address ?? 0x40000n;
    this.env = {
      kernel: this.k,
      memory: this.memory,
      resolveExport: (name) => {
        const e = this.moduleExports.get(name);
        if (e !== undefined) {
          this.resolvedFrom.add(e.owner);
          return e.address;
        }
        if (!this.vmlinuxExports.has(name)) {
          this.vmlinuxExports.set(name, db.lookup(name).find((d) => d.object === 'vmlinux' && d.exported)?.address ?? undefined);
        }
        return this.vmlinuxExports.get(name);
      },
      allocModule: (module, part, size) => {
        const key = `${module}/${part}`;
        const slot = this.slots.get(key);
        if (slot && size <= slot.size) return slot.base;
        const w = this.windows.get(module);
        const inWindow = w !== undefined && w.next + BigInt(size) <= w.end;
        const base = inWindow ? w.next : this.nextModule;
        if (inWindow) w.next += BigInt(size);
        else this.nextModule += BigInt(size);
        this.slots.set(key, { base, size });
        return base;
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

  /**
   * Give each named module a fixed 16 MiB window at the start of the modules area, in this order,
   * whatever order they load in (scenarios reserve their modules, so load orders compare).
   */
  reserve(names: readonly string[]): void {
    const WINDOW = 16n << 20n;
    for (const n of names) {
      if (this.windows.has(n)) continue;
      this.windows.set(n, { next: this.nextModule, end: this.nextModule + WINDOW });
      this.nextModule += WINDOW;
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Output

  private kernel(...lines: string[]): void {
    for (const text of lines) {
      this.log.push(text);
      this.events.push({ stage: this.stage, kind: 'kernel', text });
    }
  }

  private trace(text: string): void {
    if (this.memory.record) this.events.push({ stage: this.stage, kind: 'trace', text });
  }

  private at(stage: string): void {
    this.stage = stage;
  }

  private setState(mod: LoadedModule, state: LoadedModule['state']): void {
    mod.state = state;
    this.trace(`${mod.name}: MODULE_STATE_${state}`);
  }

  private protect(mod: LoadedModule, part: string, to: Perms, kind: PermChange['kind']): void {
    const r = mod.regions.get(part);
    if (!r) return;
    const from = r.perms;
    this.memory.protect(r, to, this.stage, kind);
    if (r.bytes.length > 0 && permString(from) !== permString(to)) this.trace(`${kind}: ${r.name} ${permString(from)} -> ${permString(to)}`);
  }

  // -----------------------------------------------------------------------------------------------
  // Queries (scenario expectations, reports)

  isLoaded(name: string): boolean {
    return this.modules.has(name);
  }

  module(name: string): LoadedModule | undefined {
    return this.modules.get(name);
  }

  /** A symbol's address: vmlinux from the database, a module's from its loaded image. */
  symbolAddress(obj: string, name: string, pos = 0): bigint | undefined {
    const r = this.findSymbol(obj, this.modules.get(obj), name, pos);
    return r.ok ? r.address : undefined;
  }

  sectionAddress(module: string, section: string): bigint | undefined {
    const mod = this.modules.get(module);
    const s = mod?.elf.sections.find((x) => x.name === section);
    return s ? mod!.sectionAddr.get(s) : undefined;
  }

  get violations(): number {
    return this.memory.writes.filter((w) => w.violation).length;
  }

  /** text_poke() writes: 6.3's late relocations, and per-object's into patches not split. */
  get textPokes(): number {
    return this.memory.writes.filter((w) => w.by === 'text_poke').length;
  }

  /** Patch parts ('patch:object') that the per-object design met unsplit. */
  readonly unsplit = new Set<string>();

  get flips(): number {
    return this.memory.permChanges.filter((c) => c.kind === 'flip').length;
  }

  // -----------------------------------------------------------------------------------------------
  // insmod

  insmod(elf: ElfFile): number {
    const name = moduleName(elf) ?? '?';
    this.at('load_module');
    this.resolvedFrom = new Set();
    if (this.modules.has(name)) return ERRNO.EEXIST!;
    const arch = archOf(elf);
    if (isErr(arch)) return this.failLoad(undefined, arch);
    const perObjectLayout = this.traits.relocs === 'per-object';
    const mod = allocateModule(elf, this.env, perObjectLayout);
    if (isErr(mod)) return this.failLoad(undefined, mod);
    const core = mod.regions.get('core.text')!;
    this.at('layout_and_allocate');
    this.taintOnLoad(elf, name);
    this.trace(`${name}: ${mod.livepatch ? 'livepatch module, ' : ''}core at 0x${core.base.toString(16)} (text ${mod.layout.core.textSize}, rodata ${mod.layout.core.roSize - mod.layout.core.textSize}, ro_after_init ${mod.layout.core.roAfterInitSize - mod.layout.core.roSize}, data ${mod.layout.core.size - mod.layout.core.roAfterInitSize} bytes)`
      + [...mod.layout.klp.keys()].map((o) => `, .klp sections of ${o} at 0x${mod.regions.get(`klp.${o}.text`)!.base.toString(16)}`).join(''));
    this.setState(mod, 'UNFORMED');

    this.at('simplify_symbols');
    const unknown = simplifySymbols(mod, this.env);
    if (unknown) return this.failLoad(mod, unknown);

    // apply_relocations, with each design's treatment of livepatch relocation sections.
    this.at('apply_relocations');
    const patch: Patch | undefined = mod.livepatch ? { name, mod, objects: readKlpPatches(elf)[0]?.objects ?? [], enabled: false, klpValues: new Map() } : undefined;
    // (6.1's apply_relocations() does not ask whether the module is a livepatch before it applies a
    // SHF_RELA_LIVEPATCH section for vmlinux, so neither does this.)
    const owner: Patch = patch ?? { name, mod, objects: [], enabled: false, klpValues: new Map() };
    const applied = applyRelocations(mod, arch, this.env, (rs) => {
      const obj = parseKlpRelaObject(rs.name) ?? '';
      switch (this.traits.relocs) {
        case 'late-flip': return 0; // "Livepatch relocation sections are applied by livepatch"
        case 'early-vmlinux': return obj === 'vmlinux' ? this.applyKlpSection(owner, rs, arch, 'memcpy') : 0;
        case 'per-object': return obj === 'vmlinux' || this.modules.has(obj) ? this.applyKlpSection(owner, rs, arch, 'memcpy') : 0;
      }
    });
    if (isErr(applied)) return this.failLoad(mod, applied);
    this.relocationsApplied += applied;
    if (this.traits.relocs === 'per-object') {
      // The hook on the other side: every loaded patch's relocations for this module.
      for (const p of this.patchesFor(name)) {
        if (this.traits.absentReadOnly) this.protectKlp(p.mod, name, RW_NX, 'flip');
        for (const rs of this.klpRelaSections(p, name)) {
          const n = this.applyKlpSection(p, rs, arch, this.klpWriter(p, rs, name), mod);
          if (isErr(n)) return this.failPerObject(mod, p, n);
        }
      }
    }

    // post_relocation -> module_finalize: x86 applies the module's alternatives (ORC, retpoline
    // and return sites, paravirt and SMP locks are not modelled byte for byte).
    this.at('module_finalize');
    const alt = elf.findSectionByName('.altinstructions');
    if (alt && mod.sectionAddr.has(alt)) applyAlternatives(this.memory, mod, alt, this.stage, (m) => this.trace(m));
    if (patch && this.traits.relocs === 'per-object') {
      for (const o of patch.objects) if (o.name !== null && this.modules.has(o.name)) this.applyKlpArch(patch, o.name);
    }
    if (this.traits.relocs === 'per-object') for (const p of this.patchesFor(name)) this.applyKlpArch(p, name);

    // complete_formation: module_enable_ro(mod, false), module_enable_nx(), module_enable_x()
    this.at('complete_formation');
    for (const l of ['core', 'init']) {
      this.protect(mod, `${l}.text`, RO_X, 'protect');
      this.protect(mod, `${l}.rodata`, RO_NX, 'protect');
    }
    if (patch && this.traits.relocs === 'per-object') {
      for (const obj of mod.layout.klp.keys()) {
        if (this.modules.has(obj)) {
          this.protect(mod, `klp.${obj}.text`, RO_X, 'protect');
          this.protect(mod, `klp.${obj}.rodata`, RO_NX, 'protect');
        } else if (this.traits.absentReadOnly) {
          this.protectKlp(mod, obj, RO_NX, 'protect');
        }
      }
    }
    if (this.traits.relocs === 'per-object') {
      for (const p of this.patchesFor(name)) {
        this.protectKlp(p.mod, name, 'present', 'protect');
      }
    }
    this.setState(mod, 'COMING');

    // prepare_coming_module: klp_module_coming(mod), then the COMING notifiers.
    this.at('klp_module_coming');
    const coming = this.patchesFor(name);
    for (const [i, p] of coming.entries()) {
      const obj = p.objects.find((o) => o.name === name)!;
      const err = this.initObjectLoaded(p, obj, mod);
      if (err) {
        this.kernel(`livepatch: failed to initialize patch '${p.name}' for module '${name}' (-${err})`);
        this.kernel(`livepatch: patch '${p.name}' failed for module '${name}', refusing to load module '${name}'`);
        // klp_cleanup_module_patches_limited(mod, patch): the patches before the failing one are
        // reverted, each with the kernel's notice (kernel/livepatch/core.c), and, 6.3, cleared;
        // per-object retires every patch's part for this module.
        for (const q of coming.slice(0, i)) this.kernel(`livepatch: reverting patch '${q.name}' on unloading module '${name}'`);
        if (this.traits.relocs === 'per-object') for (const q of coming) this.retireObject(q, name);
        else if (this.traits.clearOnGoing) for (const q of coming.slice(0, i)) this.clearObjectRelocs(q, name, 'text_poke');
        this.setState(mod, 'GOING');
        freeModule(mod, this.memory);
        return err;
      }
      // Printed only once the object is initialised (kernel/livepatch/core.c klp_module_coming).
      this.kernel(`livepatch: applying patch '${p.name}' to loading module '${name}'`);
    }
    this.at('jump_label_module_notify');
    const table = elf.findSectionByName('__jump_table');
    if (table) this.jumpLabels.addModule(mod, table, this.stage, (a) => this.within(mod, a));

    this.modules.set(name, mod);
    collectExports(mod);
    for (const [n, address] of mod.exports) this.moduleExports.set(n, { address, owner: name });
    // ref_module(): this module now holds every module whose export it resolved.
    const uses = this.resolvedFrom;
    this.uses.set(name, uses);
    for (const u of uses) {
      if (!this.holders.has(u)) this.holders.set(u, new Set());
      this.holders.get(u)!.add(name);
    }

    // do_init_module: a livepatch module's init calls klp_enable_patch().
    if (patch) {
      this.at('klp_enable_patch');
      for (const o of patch.objects) {
        const target = o.name === null ? undefined : this.modules.get(o.name);
        if (o.name !== null && !target) {
          this.trace(`${name}: object '${o.name}' is not loaded: its livepatch relocations wait for it`);
          continue;
        }
        const err = this.initObjectLoaded(patch, o, target);
        if (err) {
          this.forget(mod);
          return err;
        }
      }
      // What the kernel never looks at (klp check flags it): sections for undeclared objects.
      const declared = new Set(patch.objects.map((o) => o.name ?? 'vmlinux'));
      const early = this.traits.relocs !== 'late-flip';
      for (const rs of elf.sections) {
        const obj = rs.isLivepatchRela ? parseKlpRelaObject(rs.name) : undefined;
        if (obj && !declared.has(obj) && !(early && obj === 'vmlinux')) this.trace(`${name}: ${rs.name} is never applied: the patch has no klp_object '${obj}' (its targets stay zero)`);
      }
      patch.enabled = true;
      this.patches.set(name, patch);
      this.kernel(`livepatch: enabling patch '${name}'`, `livepatch: '${name}': starting patching transition`, `livepatch: '${name}': patching complete`);
    }
    // do_init_module: LIVE, module_enable_ro(mod, true), free the init layout.
    this.at('do_init_module');
    this.setState(mod, 'LIVE');
    this.protect(mod, 'core.ro_after_init', RO_NX, 'protect');
    if (patch && this.traits.relocs === 'per-object') {
      for (const obj of mod.layout.klp.keys()) if (this.modules.has(obj)) this.protect(mod, `klp.${obj}.ro_after_init`, RO_NX, 'protect');
    }
    for (const [key, r] of mod.regions) {
      if (key.startsWith('init.')) {
        this.memory.unmap(r);
        mod.regions.delete(key);
      }
    }
    return 0;
  }

  /** What the running kernel has printed once (pr_*_once) or is tainted with (test_taint). */
  private readonly once = new Set<string>();

  /**
   * The taint messages of a load, each once per boot: layout_and_allocate -> check_modinfo prints
   * "loading out-of-tree module taints kernel." unless already TAINT_OOT_MODULE, and
   * check_modinfo_livepatch pr_notice_once(".. tainting kernel with TAINT_LIVEPATCH"); then
   * load_module, for a module without a valid signature (CONFIG_MODULE_SIG without _FORCE, as
   * Debian builds), pr_notice_once(".. module verification failed: ..."). kernel/module/main.c,
   * 6.1 and 6.12 alike. A signature is taken as valid when one is appended (it is not verified).
   */
  private taintOnLoad(elf: ElfFile, name: string): void {
    const first = (key: string, line: string): void => {
      if (this.once.has(key)) return;
      this.once.add(key);
      this.kernel(line);
    };
    if (modinfoValue(elf, 'intree') === undefined) first('oot', `${name}: loading out-of-tree module taints kernel.`);
    if (isLivepatchModule(elf)) first('livepatch', `${name}: tainting kernel with TAINT_LIVEPATCH`);
    const tail = Buffer.from(elf.source.subarray(Math.max(0, elf.source.length - 28))).toString('latin1');
    if (tail !== '~Module signature appended~\n') first('unsigned', `${name}: module verification failed: signature and/or required key missing - tainting kernel`);
  }

  private failLoad(mod: LoadedModule | undefined, e: StageError): number {
    this.kernel(...e.messages);
    if (mod) freeModule(mod, this.memory);
    return ERRNO[e.errno] ?? ERRNO.ENOEXEC!;
  }

  /** Per-object: a patch's relocations for the arriving module failed; the module is refused. */
  private failPerObject(mod: LoadedModule, p: Patch, e: StageError): number {
    this.kernel(...e.messages);
    this.kernel(`livepatch: patch '${p.name}' failed for module '${mod.name}', refusing to load module '${mod.name}'`);
    for (const q of this.patchesFor(mod.name)) this.retireObject(q, mod.name);
    freeModule(mod, this.memory);
    return ERRNO[e.errno] ?? ERRNO.ENOEXEC!;
  }

  private within(mod: LoadedModule, a: bigint): boolean {
    for (const r of mod.regions.values()) if (a >= r.base && a < r.base + BigInt(r.bytes.length)) return true;
    return false;
  }

  /** Enabled patches that have an object named `name`. */
  private patchesFor(name: string): Patch[] {
    return [...this.patches.values()].filter((p) => p.enabled && p.objects.some((o) => o.name === name));
  }

  private klpRelaSections(p: Patch, obj: string): Section[] {
    return p.mod.elf.sections.filter((rs) => rs.isLivepatchRela && parseKlpRelaObject(rs.name) === obj && rs.infoSection && p.mod.sectionAddr.has(rs.infoSection));
  }

  // -----------------------------------------------------------------------------------------------
  // rmmod, disable, static keys

  /** echo 0 > /sys/kernel/livepatch/<patch>/enabled */
  disablePatch(name: string): number {
    const p = this.patches.get(name);
    this.at('klp_disable_patch');
    if (!p || !p.enabled) return ERRNO.EINVAL!;
    p.enabled = false;
    this.kernel(`livepatch: '${name}': starting unpatching transition`, `livepatch: '${name}': unpatching complete`);
    return 0;
  }

  rmmod(name: string): number {
    const mod = this.modules.get(name);
    this.at('delete_module');
    if (!mod) return ERRNO.ENOENT!;
    // delete_module(): modules that use this one must go first; an enabled patch holds a reference
    // on its own module (klp_init_patch's try_module_get), and busybox's rmmod passes O_NONBLOCK,
    // so try_stop_module() fails with -EWOULDBLOCK (kernel/module/main.c).
    const usedBy = [...(this.holders.get(name) ?? [])];
    if (usedBy.length > 0) {
      this.trace(`${name}: in use by ${usedBy.join(', ')}`);
      return ERRNO.EWOULDBLOCK!;
    }
    const p = this.patches.get(name);
    if (p?.enabled) {
      this.trace(`${name}: the enabled patch holds a reference on its module`);
      return ERRNO.EWOULDBLOCK!;
    }
    this.setState(mod, 'GOING');
    // klp_module_going(): revert patches on this module; 6.3 also clears their relocations.
    this.at('klp_module_going');
    for (const q of this.patchesFor(name)) {
      this.kernel(`livepatch: reverting patch '${q.name}' on unloading module '${name}'`);
      if (this.traits.relocs === 'per-object') {
        this.retireObject(q, name);
      } else if (this.traits.clearOnGoing) {
        this.clearObjectRelocs(q, name, 'text_poke');
      }
    }
    this.at('jump_label_module_notify');
    this.jumpLabels.delModule(name);
    this.patches.delete(name);
    this.forget(mod);
    return 0;
  }

  /**
   * Per-object: a patch's part for an object that goes (or failed to arrive) is retired: released
   * to RW+NX, its relocations zeroed, its .klp.arch entries unlinked and their sites restored, so
   * the next arrival starts from the state of the first.
   */
  private retireObject(q: Patch, name: string): void {
    this.protectKlp(q.mod, name, RW_NX, 'release');
    this.clearObjectRelocs(q, name, 'per-object');
    this.revertKlpArch(q, name);
    if (this.traits.absentReadOnly) this.protectKlp(q.mod, name, RO_NX, 'protect');
  }

  /**
   * How per-object writes a patch's relocations for `obj` into their target: a split patch's
   * targets are its own `.klp.*.<obj>` parts, writable while the object arrives (memcpy); a patch
   * built without -ffunction-sections keeps them in its core text, read-only since it was formed,
   * so the design takes 6.3's path for them (text_poke, and text_poke again to clear them when the
   * object goes): every existing livepatch keeps working, at the cost of late text pokes.
   */
  private klpWriter(p: Patch, rs: Section, obj: string): Writer {
    const addr = p.mod.sectionAddr.get(rs.infoSection!);
    const inPart = addr !== undefined && [...p.mod.regions.entries()].some(([k, r]) =>
      k.startsWith(`klp.${obj}.`) && addr >= r.base && addr < r.base + BigInt(r.bytes.length));
    if (inPart) return 'memcpy';
    const key = `${p.name}:${obj}`;
    if (!this.unsplit.has(key)) {
      this.unsplit.add(key);
      this.trace(`${p.name}: ${rs.name} targets ${rs.infoSection!.name}, not a .klp part of ${obj} (the patch is not split): written with text_poke, as 6.3 does`);
    }
    return 'text_poke';
  }

  /**
   * Set the permissions of a patch's per-object text, rodata and arch entries for `obj`: all the
   * same, or 'present' (text RO+X, the rest RO+NX, as module_enable_ro() leaves a formed object).
   */
  private protectKlp(mod: LoadedModule, obj: string, to: Perms | 'present', kind: PermChange['kind']): void {
    for (const part of ['text', 'rodata', 'ro_after_init']) {
      this.protect(mod, `klp.${obj}.${part}`, to !== 'present' ? to : part === 'text' ? RO_X : RO_NX, kind);
    }
  }

  /**
   * static_branch_enable()/disable() on `<obj>:<name>` (a module's key, e.g. through a module
   * parameter, or a vmlinux key); returns 0, or ENOENT when the key is not in emulated memory.
   */
  setStaticKey(obj: string, name: string, on: boolean): number {
    this.at('static_key');
    const addr = this.symbolAddress(obj, name);
    if (addr === undefined || this.jumpLabels.keyEnabled(addr) === undefined) return ERRNO.ENOENT!;
    this.jumpLabels.setKey(addr, on, this.stage, `${obj}:${name}`);
    return 0;
  }

  /** Drop a module that was registered: its exports, its entry, its memory. */
  private forget(mod: LoadedModule): void {
    for (const n of mod.exports.keys()) this.moduleExports.delete(n);
    for (const u of this.uses.get(mod.name) ?? []) this.holders.get(u)?.delete(mod.name);
    this.uses.delete(mod.name);
    this.modules.delete(mod.name);
    freeModule(mod, this.memory);
  }

  // -----------------------------------------------------------------------------------------------
  // The livepatch core

  /**
   * klp_init_object_loaded(): write the object's livepatch relocations where the design has the
   * livepatch core do it, then look up every function. Returns an errno on failure, with the
   * kernel's message logged.
   */
  private initObjectLoaded(p: Patch, obj: KlpObjectInfo, target: LoadedModule | undefined): number {
    const objName = obj.name ?? 'vmlinux';
    const arch = archOf(p.mod.elf) as Arch;
    const sections = this.klpRelaSections(p, objName);
    if (this.traits.relocs === 'late-flip' && (sections.length > 0 || this.klpArchSections(p, objName).length > 0)) {
      // mutex_lock(&text_mutex); module_disable_ro(patch->mod); klp_write_object_relocations();
      // arch_klp_init_object_loaded(); module_enable_ro(patch->mod, true)  (5.4 kernel/livepatch/core.c)
      this.disableRo(p.mod);
      for (const rs of sections) {
        const n = this.applyKlpSection(p, rs, arch, 'memcpy', target);
        if (isErr(n)) {
          this.kernel(...n.messages);
          this.enableRo(p.mod);
          return ERRNO[n.errno]!;
        }
      }
      for (const s of this.klpArchSections(p, objName)) {
        const what = s.name.slice(`.klp.arch.${objName}.`.length);
        if (what === '.altinstructions') applyAlternatives(this.memory, p.mod, s, this.stage, (m) => this.trace(`arch_klp_init_object_loaded: ${m}`));
        else this.trace(`arch_klp_init_object_loaded: ${p.name}: ${what === '.parainstructions' ? 'apply_paravirt (not modelled)' : 'ignored'} on ${s.name}`);
      }
      this.enableRo(p.mod);
    } else if (this.traits.relocs === 'early-vmlinux' && obj.name !== null) {
      for (const rs of sections) {
        const n = this.applyKlpSection(p, rs, arch, 'text_poke', target);
        if (isErr(n)) {
          this.kernel(...n.messages);
          return ERRNO[n.errno]!;
        }
      }
    }
    for (const f of obj.funcs) {
      const r = this.findSymbol(objName, target, f.oldName, f.oldSympos);
      if (!r.ok) {
        this.kernel(`livepatch: ${r.message}`);
        return ERRNO.EINVAL!;
      }
      this.trace(`${p.name}: ${objName}:${f.oldName},${f.oldSympos} (old_func) at 0x${r.address.toString(16)} -> ${f.newFunc?.name ?? '?'}`);
    }
    return 0;
  }

  /** module_disable_ro() before 5.8: text stays executable while it is writable. */
  private disableRo(mod: LoadedModule): void {
    this.protect(mod, 'core.text', RW_X, 'flip');
    this.protect(mod, 'core.rodata', RW_NX, 'flip');
    this.protect(mod, 'core.ro_after_init', RW_NX, 'flip');
  }

  private enableRo(mod: LoadedModule): void {
    this.protect(mod, 'core.text', RO_X, 'flip');
    this.protect(mod, 'core.rodata', RO_NX, 'flip');
    this.protect(mod, 'core.ro_after_init', RO_NX, 'flip');
  }

  /**
   * klp_resolve_symbols() + apply_relocate_add() for one `.klp.rela.<obj>.<sec>` section of a
   * patch (klp_apply_section_relocs), with the kernel's messages; records each symbol's value.
   */
  private applyKlpSection(p: Patch, rs: Section, arch: Arch, by: Writer, target?: LoadedModule): number | StageError {
    const objName = parseKlpRelaObject(rs.name) ?? '';
    const einval = (m: string): StageError => ({ errno: 'EINVAL', kind: 'klp', messages: [`livepatch: ${m}`] });
    const values = new Map<ElfSymbol, bigint>();
    for (const r of p.mod.elf.relocations(rs)) {
      const y = r.symbol;
      if (values.has(y)) continue;
      if (!(y.section === null && y.shndx === SHN.LIVEPATCH)) return einval(`symbol ${y.name} is not marked as a livepatch symbol`);
      const s = parseKlpSym(y.name, this.k);
      if (!s) return einval(`symbol ${y.name} has an incorrectly formatted name`);
      if (objName !== 'vmlinux' && s.obj === 'vmlinux') return einval(`invalid access to vmlinux symbol '${s.name}' from module-specific livepatch relocation section`);
      const mod = s.obj === 'vmlinux' ? undefined : s.obj === target?.name ? target : this.modules.get(s.obj);
      const found = this.findSymbol(s.obj, mod, s.name, s.pos);
      if (!found.ok) return einval(found.message);
      values.set(y, found.address);
      p.klpValues.set(y, found.address);
    }
    // klp_resolve_symbols() has resolved every symbol of the section; now each relocation.
    if (this.memory.record) {
      for (const r of p.mod.elf.relocations(rs)) {
        const s = parseKlpSym(r.symbol.name, this.k)!;
        this.trace(`${p.name}:${rs.infoSection!.name}+0x${r.offset.toString(16)} ${arch.relocs.get(r.type)?.name ?? r.type} -> ${s.name} in ${s.obj} sympos ${s.pos} = 0x${values.get(r.symbol)!.toString(16)} (${rs.name})`);
      }
    }
    return writeRelocations(p.mod, rs, arch, this.env, this.stage, by, (r) => values.get(r.symbol)!);
  }

  private klpArchSections(p: Patch, obj: string): Section[] {
    return p.mod.elf.sections.filter((s) => s.name.startsWith(`.klp.arch.${obj}.`) && !s.isRelocation && p.mod.sectionAddr.has(s));
  }

  /** Per-object module_finalize() hook: the `.klp.arch.<obj>.*` entries of a present object. */
  private applyKlpArch(p: Patch, obj: string): void {
    for (const s of this.klpArchSections(p, obj)) {
      const special = s.name.slice(`.klp.arch.${obj}.`.length);
      if (special === '__jump_table') {
        this.jumpLabels.addModule(p.mod, s, this.stage, (a) => this.within(p.mod, a));
      } else if (special === '.altinstructions') {
        applyAlternatives(this.memory, p.mod, s, this.stage, (m) => this.trace(m));
      } else if (special !== '.altinstr_replacement') {
        this.trace(`${p.name}: ${s.name}: ${special} entries for ${obj} processed (their instruction bytes are not modelled)`);
      }
    }
  }

  /** Undo applyKlpArch when the object goes: unlink the sites and restore their compiled bytes. */
  private revertKlpArch(p: Patch, obj: string): void {
    for (const s of this.klpArchSections(p, obj)) {
      if (s.name.endsWith('..altinstructions')) {
        for (const a of readAlternatives(this.memory, p.mod, s)) this.restore(p, a.instr, a.instrlen, 'alternative');
        continue;
      }
      if (!s.name.endsWith('.__jump_table')) continue;
      for (const site of this.jumpLabels.readEntries(p.mod, s)) this.restore(p, site.code, 5, 'jump label');
      this.jumpLabels.delModule(p.name, s.name);
    }
  }

  /** Put back the compiled bytes of a patched site (from the section's file contents). */
  private restore(p: Patch, at: bigint, size: number, what: string): void {
    for (const [s, base] of p.mod.sectionAddr) {
      if (s.isNobits || at < base || at + BigInt(size) > base + BigInt(s.size)) continue;
      const off = Number(at - base);
      this.memory.write(at, s.data.subarray(off, off + size), this.stage, 'memcpy', `${p.name}: ${what} at 0x${at.toString(16)} restored`);
      return;
    }
  }

  /**
   * klp_clear_object_relocs() (6.3): for each relocation, the target must still hold the value
   * computed from the stored st_value, then it is zeroed (arch/x86/kernel/module.c
   * __write_relocate_add with apply=false). Per-object clears the same way, with plain stores
   * into memory it has just made writable again.
   */
  private clearObjectRelocs(p: Patch, objName: string, by: Writer | 'per-object'): void {
    const arch = archOf(p.mod.elf) as Arch;
    for (const rs of this.klpRelaSections(p, objName)) {
      const writer: Writer = by === 'per-object' ? this.klpWriter(p, rs, objName) : by;
      const base = p.mod.sectionAddr.get(rs.infoSection!)!;
      for (const r of p.mod.elf.relocations(rs)) {
        const loc = base + r.offset;
        const size = arch.relocs.get(r.type)?.size ?? 0;
        if (size === 0) continue;
        const value = p.klpValues.get(r.symbol);
        const expected = value === undefined ? undefined : relocatedBytes(arch, r.type, value + r.addend, loc, this.k);
        const cur = this.memory.read(loc, size);
        if (!cur) continue;
        if (by === 'per-object' && cur.every((b) => b === 0)) continue; // a failed arrival stopped before it
        if (expected && !expected.every((b, i) => b === cur[i])) {
          // 6.3's __write_relocate_add(apply=false) prints val as computed: S+A-P for PC relocations.
          const sa = BigInt.asUintN(64, value! + r.addend);
          const val = arch.relocs.get(r.type)?.kind === 'pcrel' ? BigInt.asUintN(64, sa - loc) : sa;
          this.kernel(`module: x86/modules: Invalid relocation target, existing value does not match expected value for type ${r.type}, loc ${hashedPointer(loc)}, val ${val.toString(16)}`);
          return;
        }
        this.memory.write(loc, new Uint8Array(size), this.stage, writer, `${p.name}:${rs.infoSection!.name}+0x${r.offset.toString(16)} cleared`);
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
